//! The login page.

use maud::{Markup, html};

use super::components::{Field, Tone, csrf_field, input, notice};
use super::layout::{Shell, bare_page};
use crate::domain::validation::FieldErrors;
use crate::web::paths;

/// The login form as last submitted (the password is never echoed).
#[derive(Debug, Default)]
pub struct LoginView<'a> {
    pub username: &'a str,
    pub next: &'a str,
    pub errors: FieldErrors,
    /// A message for the whole form, already translated.
    pub message: Option<String>,
    pub logged_out: bool,
}

pub fn login(shell: &Shell, view: &LoginView) -> Markup {
    let tr = shell.tr;
    bare_page(
        shell,
        tr.t("login.title"),
        html! {
            @if view.logged_out {
                (notice(Tone::Info, html! { (tr.t("login.logged_out")) }))
            }
            @if let Some(message) = &view.message {
                (notice(Tone::Error, html! { (message) }))
            }
            form method="post" action=(paths::LOGIN) class="form" novalidate {
                (csrf_field(shell))
                @if !view.next.is_empty() {
                    input type="hidden" name="next" value=(view.next);
                }
                (input(tr, Field::text("username", "login.username", view.username).required().autocomplete("username"), &view.errors))
                (input(tr, Field::password("password", "login.password", "current-password"), &view.errors))
                button type="submit" class="btn primary wide" { (tr.t("login.submit")) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::shell;

    #[test]
    fn the_form_keeps_the_name_escapes_it_and_never_the_password() {
        let view = LoginView {
            username: "<script>alert(1)</script>",
            errors: FieldErrors::single("password", "error.password.required"),
            ..Default::default()
        };
        let html = login(&shell(Lang::En, None), &view).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("name=\"csrf\""));
        assert!(html.contains("for=\"f-username\""), "inputs are labelled");
        assert!(html.contains("Enter your password"));
        assert!(
            !html.contains("initial-admin-password"),
            "nothing about the first admin password is told to anonymous visitors"
        );
    }
}
