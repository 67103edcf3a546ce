//! Error pages (403, 404, 413, 429, 500 ...).

use maud::{Markup, html};

use super::layout::{Crumb, Shell, bare_page, page};
use crate::web::paths;

pub fn error_page(shell: &Shell, status: u16, title_key: &str, message: &str) -> Markup {
    let tr = shell.tr;
    let title = tr.t(title_key);
    let body = html! {
        p class="error-status" { (status) }
        p { (message) }
        p { a class="btn" href=(paths::HOME) { (tr.t("error.page.home")) } }
    };
    if shell.user.is_some() {
        page(
            shell,
            title,
            &[Crumb {
                label: title,
                href: None,
            }],
            body,
        )
    } else {
        bare_page(shell, title, body)
    }
}
