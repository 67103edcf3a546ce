//! The home page and the areas that later releases fill in.

use maud::{Markup, html};

use super::components::{Tone, notice};
use super::layout::{Crumb, Shell, page, section_page};
use crate::web::paths;

/// An area of the manual that this release does not offer yet. It says so
/// plainly and shows no data.
pub fn not_available(shell: &Shell, section_key: &str, title_key: &str) -> Markup {
    let tr = shell.tr;
    let title = tr.t(title_key);
    section_page(
        shell,
        section_key,
        title,
        notice(
            Tone::Info,
            html! {
                strong { (tr.f("area.not_available", &[("area", title)])) }
                " " (tr.t("area.not_available_detail"))
            },
        ),
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn an_area_not_built_yet_says_so_and_shows_no_data() {
        let html = not_available(
            &shell(Lang::En, member()),
            "nav.section.project",
            "nav.containers",
        )
        .into_string();
        assert!(html.contains("Container Management is not available yet"));
        assert!(!html.contains("<table"));
        let zh = not_available(
            &shell(Lang::ZhTw, member()),
            "nav.section.project",
            "nav.containers",
        )
        .into_string();
        assert!(zh.contains("容器管理"));
    }
}
