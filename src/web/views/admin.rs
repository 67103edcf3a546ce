//! Admin: the users page.

use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, Tone, badge, confirm_dialog, csrf_field, input, notice,
};
use super::layout::{Crumb, Shell, page};
use crate::domain::ids::UserId;
use crate::domain::validation::FieldErrors;
use crate::web::paths;

/// One row of the users table.
pub struct UserRowView {
    pub id: UserId,
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created: String,
    pub is_self: bool,
}

/// What the page says above the table.
pub enum UsersNotice {
    None,
    /// A password was generated: shown once, never stored in clear.
    Password {
        username: String,
        password: String,
    },
    Changed(String),
    Refused(String),
}

pub struct UsersView<'a> {
    pub rows: Vec<UserRowView>,
    pub notice: UsersNotice,
    pub new_username: &'a str,
    pub new_is_admin: bool,
    pub errors: FieldErrors,
}

pub fn users(shell: &Shell, view: &UsersView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_users");
    page(
        shell,
        title,
        &[
            Crumb {
                label: tr.t("nav.section.admin"),
                href: Some(paths::ADMIN_USERS),
            },
            Crumb {
                label: title,
                href: None,
            },
        ],
        html! {
            @match &view.notice {
                UsersNotice::None => {},
                UsersNotice::Password { username, password } => (notice(Tone::Success, html! {
                    p { (tr.f("users.password_once", &[("username", username)])) }
                    p { code class="secret" { (password) } }
                })),
                UsersNotice::Changed(text) => (notice(Tone::Success, html! { (text) })),
                UsersNotice::Refused(text) => (notice(Tone::Error, html! { (text) })),
            }
            section class="panel" aria-labelledby="create-user" {
                h2 id="create-user" { (tr.t("users.create")) }
                form method="post" action=(paths::ADMIN_USERS) class="form inline" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::text("username", "users.username", view.new_username).required().hint("users.username_rules"), &view.errors))
                    label class="choice" {
                        input type="checkbox" name="is_admin" value="on" checked[view.new_is_admin];
                        span { (tr.t("users.make_admin")) }
                    }
                    button type="submit" class="btn primary" { (tr.t("users.create_submit")) }
                }
            }
            section class="panel" {
                table class="table" {
                    caption class="sr-only" { (title) }
                    thead { tr {
                        th scope="col" { (tr.t("users.username")) }
                        th scope="col" { (tr.t("users.name")) }
                        th scope="col" { (tr.t("profile.email")) }
                        th scope="col" { (tr.t("users.role")) }
                        th scope="col" { (tr.t("users.status")) }
                        th scope="col" { (tr.t("users.created")) }
                        th scope="col" { span class="sr-only" { (tr.t("users.actions")) } }
                    } }
                    tbody {
                        @for row in &view.rows { (user_row(shell, row)) }
                    }
                }
            }
        },
    )
}

fn user_row(shell: &Shell, row: &UserRowView) -> Markup {
    let tr = shell.tr;
    let action = |name: &str| paths::admin_user_action(row.id, name);
    let dialog =
        |name: &str, open: &'static str, title: &'static str, text: &'static str, danger: bool| {
            let url = action(name);
            let text = tr.f(text, &[("username", &row.username)]);
            confirm_dialog(
                shell,
                Confirm {
                    id: format!("d-{name}-{}", row.id),
                    open_label: tr.t(open),
                    title: tr.t(title),
                    text: &text,
                    action: &url,
                    confirm_label: tr.t("common.confirm"),
                    danger,
                    reopen: false,
                },
            )
        };
    html! {
        tr {
            td { (row.username) @if row.is_self { " " span class="muted" { (tr.t("users.you")) } } }
            td { (row.full_name) }
            td { (row.email) }
            td { @if row.is_admin { (badge(BadgeColor::Blue, tr.t("role.admin"))) } @else { (tr.t("role.member")) } }
            td { @if row.disabled { (badge(BadgeColor::Grey, tr.t("users.disabled"))) } @else { (badge(BadgeColor::Green, tr.t("users.active"))) } }
            td { (row.created) }
            td class="row-actions" {
                @if !row.is_self {
                    @if row.disabled {
                        (dialog("enable", "users.enable", "users.enable", "users.enable_confirm", false))
                    } @else {
                        (dialog("disable", "users.disable", "users.disable", "users.disable_confirm", true))
                    }
                    @if row.is_admin {
                        (dialog("revoke-admin", "users.revoke_admin", "users.revoke_admin", "users.revoke_admin_confirm", true))
                    } @else {
                        (dialog("grant-admin", "users.grant_admin", "users.grant_admin", "users.grant_admin_confirm", false))
                    }
                    (dialog("reset-password", "users.reset_password", "users.reset_password", "users.reset_password_confirm", true))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::layout::ShellUser;
    use crate::web::views::test_support::shell;

    #[test]
    fn rows_offer_actions_except_on_oneself() {
        let admin = ShellUser {
            username: "admin",
            is_admin: true,
            initial_password: false,
        };
        let row = |name: &str, is_self| UserRowView {
            id: UserId::generate(),
            username: name.into(),
            full_name: String::new(),
            email: String::new(),
            is_admin: is_self,
            disabled: false,
            created: "2026-11-29".into(),
            is_self,
        };
        let view = UsersView {
            rows: vec![row("admin", true), row("bob", false)],
            notice: UsersNotice::Password {
                username: "bob".into(),
                password: "s3cret-once".into(),
            },
            new_username: "",
            new_is_admin: false,
            errors: FieldErrors::new(),
        };
        let html = users(&shell(Lang::En, Some(admin)), &view).into_string();
        assert_eq!(
            html.matches("/disable\"").count(),
            1,
            "only bob can be disabled"
        );
        assert!(html.contains("s3cret-once"));
        assert!(html.contains("<dialog"));
    }
}
