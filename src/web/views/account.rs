//! Account Management (manual §6): My Profile, Change password, Settings.

use maud::{Markup, html};

use super::components::{Field, Tone, csrf_field, input, notice, select};
use super::layout::{Crumb, Shell, page, theme_label};
use crate::domain::user::{AccountCategory, Lang, Settings, Theme, UpdateProfileRequest};
use crate::domain::validation::FieldErrors;
use crate::web::paths;

fn crumbs<'a>(shell: &Shell<'a>, title: &'a str) -> [Crumb<'a>; 2] {
    [
        Crumb {
            label: shell.tr.t("nav.section.account"),
            href: Some(paths::PROFILE),
        },
        Crumb {
            label: title,
            href: None,
        },
    ]
}

fn category_label(category: AccountCategory) -> &'static str {
    match category {
        AccountCategory::Personal => "profile.category_personal",
        AccountCategory::Organization => "profile.category_organization",
    }
}

/// My Profile, showing `form` (the stored profile, or the rejected input).
pub fn profile(
    shell: &Shell,
    username: &str,
    login_email: &str,
    form: &UpdateProfileRequest,
    errors: &FieldErrors,
    saved: bool,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.profile");
    let categories: Vec<(&str, &str)> = AccountCategory::ALL
        .iter()
        .map(|c| (c.code(), category_label(*c)))
        .collect();
    page(
        shell,
        title,
        &crumbs(shell, title),
        html! {
            @if saved { (notice(Tone::Success, html! { (tr.t("profile.saved")) })) }
            @if !errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            section class="panel" {
                dl class="facts" {
                    dt { (tr.t("profile.username")) } dd { (username) }
                    dt { (tr.t("profile.email")) }
                    dd {
                        @if login_email.is_empty() { span class="muted" { (tr.t("emails.none")) } } @else { (login_email) }
                        " " a href=(paths::EMAILS) { (tr.t("profile.email_manage")) }
                    }
                }
                form method="post" action=(paths::PROFILE) class="form" novalidate {
                    (csrf_field(shell))
                    (select(tr, "category", "profile.category", &categories, &form.category, errors))
                    @let given = input(tr, Field::text("first_name", "profile.first_name", &form.first_name).autocomplete("given-name"), errors);
                    @let family = input(tr, Field::text("last_name", "profile.last_name", &form.last_name).autocomplete("family-name"), errors);
                    div class="row" {
                        // Chinese names are written family name first.
                        @if tr.lang() == Lang::ZhTw { (family) (given) } @else { (given) (family) }
                    }
                    (input(tr, Field::text("address", "profile.address", &form.address).autocomplete("street-address"), errors))
                    (input(tr, Field::text("phone", "profile.phone", &form.phone).kind("tel").autocomplete("tel"), errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("profile.submit")) }
                        a class="btn" href=(paths::PASSWORD) { (tr.t("nav.password")) }
                    }
                }
            }
        },
    )
}

/// Change password.
pub fn password(shell: &Shell, errors: &FieldErrors, changed: bool) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.password");
    page(
        shell,
        title,
        &crumbs(shell, title),
        html! {
            @if changed { (notice(Tone::Success, html! { (tr.t("password.changed")) })) }
            @if !errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            section class="panel" {
                form method="post" action=(paths::PASSWORD) class="form" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::password("current_password", "password.current", "current-password"), errors))
                    (input(tr, Field::password("new_password", "password.new", "new-password").hint("password.rules"), errors))
                    (input(tr, Field::password("confirm_password", "password.confirm", "new-password"), errors))
                    p class="hint" { (tr.t("password.other_sessions")) }
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("password.submit")) }
                    }
                }
            }
        },
    )
}

/// Settings: theme and language.
pub fn settings(shell: &Shell, current: Settings, errors: &FieldErrors, saved: bool) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.settings");
    let mut languages: Vec<(&str, &str)> = vec![("browser", "settings.language_browser")];
    languages.extend(Lang::ALL.iter().map(|l| (l.tag(), l.native_name())));
    page(
        shell,
        title,
        &crumbs(shell, title),
        html! {
            @if saved { (notice(Tone::Success, html! { (tr.t("settings.saved")) })) }
            section class="panel" {
                form method="post" action=(paths::SETTINGS) class="form" novalidate {
                    (csrf_field(shell))
                    fieldset.field.has-error[errors.get("theme").is_some()] {
                        legend { (tr.t("settings.theme")) }
                        div class="choices" {
                            @for theme in Theme::ALL {
                                label class="choice" {
                                    input type="radio" name="theme" value=(theme.code()) checked[current.theme == theme];
                                    span { (tr.t(theme_label(theme))) }
                                }
                            }
                        }
                        @if let Some(error) = errors.get("theme") { p class="field-error" { (tr.t(error)) } }
                    }
                    (select(tr, "language", "settings.language", &languages, current.language.code(), errors))
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t("settings.submit")) }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn profile_re_renders_input_with_errors_beside_fields() {
        let form = UpdateProfileRequest {
            category: "personal".into(),
            phone: "nope".into(),
            ..Default::default()
        };
        let errors = FieldErrors::single("phone", "error.phone.invalid");
        let html = profile(
            &shell(Lang::En, member()),
            "alice",
            "alice@lab.example",
            &form,
            &errors,
            false,
        )
        .into_string();
        assert!(html.contains("value=\"nope\""));
        assert!(html.contains("id=\"phone-error\""));
        assert!(html.contains("alice@lab.example") && html.contains("href=\"/account/emails\""));
        assert!(html.contains("aria-invalid=\"true\""));
    }

    #[test]
    fn settings_marks_the_current_choices() {
        let current = Settings {
            theme: Theme::Dark,
            language: crate::domain::user::LanguageSetting::Fixed(Lang::ZhTw),
        };
        let html = settings(
            &shell(Lang::ZhTw, member()),
            current,
            &FieldErrors::new(),
            true,
        )
        .into_string();
        assert!(html.contains("value=\"dark\" checked"));
        assert!(html.contains("value=\"zh-TW\" selected"));
    }
}
