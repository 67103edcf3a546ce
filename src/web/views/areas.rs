//! The home page.

use maud::{Markup, html};

use super::components::{Tone, notice};
use super::layout::{Crumb, Shell, page};
use crate::web::paths;

/// Where a user lands after logging in.
pub fn home(shell: &Shell, display_name: &str, activated: bool) -> Markup {
    let tr = shell.tr;
    let title = tr.t("home.title");
    page(
        shell,
        title,
        &[Crumb {
            label: title,
            href: None,
        }],
        html! {
            p class="lead" { (tr.f("home.welcome", &[("name", display_name)])) }
            @if !activated {
                (notice(Tone::Info, html! {
                    (tr.t("home.activate")) " "
                    a href=(paths::CLOUD_PROVISIONING) { (tr.t("nav.cloud_provisioning")) }
                }))
            }
            div class="cards" {
                a class="card" href=(paths::PROJECTS) {
                    h2 { (tr.t("nav.projects")) }
                    p { (tr.t("home.projects_text")) }
                }
                a class="card" href=(paths::PROJECT_REVIEWS) {
                    h2 { (tr.t("nav.project_reviews")) }
                    p { (tr.t("home.reviews_text")) }
                }
            }
            div class="cards" {
                a class="card" href=(paths::PROFILE) {
                    h2 { (tr.t("nav.profile")) }
                    p { (tr.t("home.profile_text")) }
                }
                a class="card" href=(paths::SETTINGS) {
                    h2 { (tr.t("nav.settings")) }
                    p { (tr.t("home.settings_text")) }
                }
                @if shell.user.is_some_and(|u| u.is_admin) {
                    a class="card" href=(paths::ADMIN_USERS) {
                        h2 { (tr.t("nav.admin_users")) }
                        p { (tr.t("home.users_text")) }
                    }
                }
            }
        },
    )
}
