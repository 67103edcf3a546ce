//! The page shell: sidebar with every area of the manual, header with
//! breadcrumbs, project selector and user menu, and the main landmark.

use maud::{DOCTYPE, Markup, html};

use super::components::csrf_field;
use crate::domain::ids::ProjectId;
use crate::domain::project::ProjectRole;
use crate::domain::user::{Lang, Theme};
use crate::i18n::Tr;
use crate::service::auth::ProjectChoice;
use crate::web::{assets, paths};

/// The signed-in user, as the shell shows them.
#[derive(Debug, Clone, Copy)]
pub struct ShellUser<'a> {
    pub username: &'a str,
    pub is_admin: bool,
    /// Still using the password printed at first run.
    pub initial_password: bool,
}

/// What every page's shell needs.
#[derive(Debug, Clone, Copy)]
pub struct Shell<'a> {
    pub tr: Tr<'a>,
    pub theme: Theme,
    pub csrf: &'a str,
    /// The request's path and query.
    pub path: &'a str,
    pub user: Option<ShellUser<'a>>,
    /// The user's open projects, for the project selector.
    pub projects: &'a [ProjectChoice],
    pub current_project: Option<ProjectId>,
    /// Workloads run without a sandbox: admins see a warning.
    pub unsandboxed: bool,
}

/// One step of the breadcrumb trail; the last one is the current page.
pub struct Crumb<'a> {
    pub label: &'a str,
    pub href: Option<&'a str>,
}

struct NavItem {
    label: &'static str,
    path: &'static str,
}

const fn item(label: &'static str, path: &'static str) -> NavItem {
    NavItem { label, path }
}

/// The sidebar, in the manual's order.
const SECTIONS: &[(&str, &[NavItem])] = &[
    (
        "nav.section.project",
        &[
            item("nav.project_reviews", paths::PROJECT_REVIEWS),
            item("nav.projects", paths::PROJECTS),
            item("nav.project_detail", paths::PROJECT_DETAIL),
            item("nav.containers", paths::CONTAINERS),
            item("nav.jobs", paths::JOBS),
            item("nav.job_schedules", paths::JOB_SCHEDULES),
            item("nav.gpu_utilization", paths::GPU_UTILIZATION),
            item("nav.storage", paths::STORAGE),
        ],
    ),
    (
        "nav.section.advanced",
        &[
            item("nav.custom_images", paths::CUSTOM_IMAGES),
            item("nav.job_templates", paths::JOB_TEMPLATES),
            item("nav.key_pairs", paths::KEY_PAIRS),
            item("nav.cloud_provisioning", paths::CLOUD_PROVISIONING),
            item("nav.cost_center", paths::COST_CENTER),
        ],
    ),
    (
        "nav.section.account",
        &[
            item("nav.profile", paths::PROFILE),
            item("nav.password", paths::PASSWORD),
            item("nav.orders", paths::ORDERS),
            item("nav.settings", paths::SETTINGS),
        ],
    ),
];

const ADMIN_SECTION: (&str, &[NavItem]) = (
    "nav.section.admin",
    &[
        item("nav.admin_users", paths::ADMIN_USERS),
        item("nav.admin_reviews", paths::ADMIN_REVIEWS),
        item("nav.admin_projects", paths::ADMIN_PROJECTS),
        item("nav.admin_catalog", paths::ADMIN_CATALOG),
        item("nav.admin_settings", paths::ADMIN_SETTINGS),
        item("nav.admin_outbox", paths::ADMIN_OUTBOX),
        item("nav.admin_metrics", paths::ADMIN_METRICS),
        item("nav.admin_audit", paths::ADMIN_AUDIT),
    ],
);

/// The nav item the current path belongs to: the longest matching prefix.
fn active_path(current: &str, admin: bool) -> Option<&'static str> {
    let path = current.split('?').next().unwrap_or(current);
    // A project's own pages (/projects/<id>/...) belong to Project Detail.
    let is_project_page = path.strip_prefix("/projects/").is_some_and(|rest| {
        !rest.is_empty()
            && !["reviews", "new", "select", "detail"]
                .iter()
                .any(|p| rest.starts_with(p))
    });
    if is_project_page {
        return Some(paths::PROJECT_DETAIL);
    }
    SECTIONS
        .iter()
        .chain(admin.then_some(&ADMIN_SECTION))
        .flat_map(|(_, items)| items.iter())
        .filter(|i| {
            path.strip_prefix(i.path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .max_by_key(|i| i.path.len())
        .map(|i| i.path)
}

fn head(tr: Tr, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · mlstack" }
            link rel="icon" href=(assets::url("logo.svg")) type="image/svg+xml";
            link rel="stylesheet" href=(assets::url("app.css"));
            script src=(assets::url("app.js")) defer {}
            meta name="description" content=(tr.t("meta.tagline"));
        }
    }
}

/// Translation key of a theme's name.
pub fn theme_label(theme: Theme) -> &'static str {
    match theme {
        Theme::System => "theme.system",
        Theme::Light => "theme.light",
        Theme::Dark => "theme.dark",
    }
}

fn theme_attr(theme: Theme) -> Option<&'static str> {
    match theme {
        Theme::System => None,
        other => Some(other.code()),
    }
}

fn sidebar(shell: &Shell, admin: bool) -> Markup {
    let tr = shell.tr;
    let active = active_path(shell.path, admin);
    html! {
        nav class="sidebar" id="sidebar" aria-label=(tr.t("nav.main")) {
            a class="brand" href=(paths::HOME) {
                img src=(assets::url("logo.svg")) alt="" width="28" height="28";
                span { "mlstack" }
            }
            @for (section, items) in SECTIONS.iter().chain(admin.then_some(&ADMIN_SECTION)) {
                h2 class="nav-section" { (tr.t(section)) }
                ul {
                    @for i in items.iter() {
                        li {
                            a href=(i.path) aria-current=[(Some(i.path) == active).then_some("page")] { (tr.t(i.label)) }
                        }
                    }
                }
            }
            p class="version" { (tr.f("nav.version", &[("version", crate::VERSION)])) }
        }
    }
}

fn user_menu(shell: &Shell, user: &ShellUser) -> Markup {
    let tr = shell.tr;
    html! {
        details class="user-menu" {
            // The accessible name is the visible text (the username) and
            // what the control is, so speech input can say what it sees.
            summary {
                span class="avatar" aria-hidden="true" { (user.username.chars().next().unwrap_or('?').to_ascii_uppercase()) }
                span class="username" { (user.username) }
                span class="sr-only" { " " (tr.t("menu.user")) }
            }
            div class="menu" {
                p class="menu-who" {
                    (user.username)
                    @if user.is_admin { " · " (tr.t("role.admin")) }
                }
                a href=(paths::PROFILE) { (tr.t("nav.profile")) }
                a href=(paths::SETTINGS) { (tr.t("nav.settings")) }
                h3 class="menu-label" { (tr.t("menu.language")) }
                @for lang in Lang::ALL {
                    form method="post" action=(paths::SET_LANGUAGE) {
                        (csrf_field(shell))
                        input type="hidden" name="language" value=(lang.tag());
                        input type="hidden" name="next" value=(shell.path);
                        button type="submit" class="menu-item" lang=(lang.tag())
                            aria-pressed=(if tr.lang() == lang { "true" } else { "false" }) { (lang.native_name()) }
                    }
                }
                h3 class="menu-label" { (tr.t("menu.theme")) }
                @for theme in Theme::ALL {
                    form method="post" action=(paths::SET_THEME) {
                        (csrf_field(shell))
                        input type="hidden" name="theme" value=(theme.code());
                        input type="hidden" name="next" value=(shell.path);
                        button type="submit" class="menu-item"
                            aria-pressed=(if shell.theme == theme { "true" } else { "false" }) { (tr.t(theme_label(theme))) }
                    }
                }
                form method="post" action=(paths::LOGOUT) class="menu-logout" {
                    (csrf_field(shell))
                    button type="submit" class="menu-item" { (tr.t("menu.logout")) }
                }
            }
        }
    }
}

/// The header's project selector: every page that works on a project works
/// on the one chosen here.
fn project_selector(shell: &Shell) -> Markup {
    let tr = shell.tr;
    html! {
        @if shell.projects.is_empty() {
            div class="project-selector" {
                span class="label" { (tr.t("project_selector.label")) }
                a href=(paths::PROJECT_NEW) class="selector-value" { (tr.t("project_selector.none_create")) }
            }
        } @else {
            form class="project-selector" method="post" action=(paths::PROJECT_SELECT) {
                (csrf_field(shell))
                input type="hidden" name="next" value=(shell.path);
                label for="project-select" class="label" { (tr.t("project_selector.label")) }
                select id="project-select" name="project" data-autosubmit {
                    @if shell.current_project.is_none() {
                        option value="" selected disabled { (tr.t("project_selector.none")) }
                    }
                    @for p in shell.projects {
                        option value=(p.id) selected[shell.current_project == Some(p.id)] {
                            (p.name)
                            @if p.role == ProjectRole::Manager { " · " (tr.t("project.role.manager")) }
                        }
                    }
                }
                button type="submit" class="btn small" { (tr.t("project_selector.switch")) }
            }
        }
    }
}

/// A page of the signed-in workspace.
pub fn page(shell: &Shell, title: &str, crumbs: &[Crumb], body: Markup) -> Markup {
    let tr = shell.tr;
    let admin = shell.user.is_some_and(|u| u.is_admin);
    html! {
        (DOCTYPE)
        html lang=(tr.lang().tag()) data-theme=[theme_attr(shell.theme)] {
            (head(tr, title))
            body {
                a class="skip-link" href="#main" { (tr.t("nav.skip")) }
                div class="shell" {
                    (sidebar(shell, admin))
                    div class="main-col" {
                        header class="topbar" {
                            button type="button" class="btn icon nav-toggle" data-toggle="sidebar"
                                aria-controls="sidebar" aria-expanded="false" { (tr.t("nav.menu")) }
                            nav class="breadcrumbs" aria-label=(tr.t("nav.breadcrumbs")) {
                                ol {
                                    @for (i, crumb) in crumbs.iter().enumerate() {
                                        li {
                                            @match crumb.href {
                                                Some(href) if i + 1 < crumbs.len() => a href=(href) { (crumb.label) },
                                                _ => span aria-current="page" { (crumb.label) },
                                            }
                                        }
                                    }
                                }
                            }
                            div class="topbar-end" {
                                (project_selector(shell))
                                @if let Some(user) = &shell.user {
                                    (user_menu(shell, user))
                                }
                            }
                        }
                        main id="main" tabindex="-1" {
                            @if admin && shell.unsandboxed {
                                div class="notice warning" role="alert" { (tr.t("sandbox.unsandboxed_warning")) }
                            }
                            @if shell.user.is_some_and(|u| u.initial_password) {
                                div class="notice warning" role="status" {
                                    (tr.t("account.initial_password_warning")) " "
                                    a href=(paths::PASSWORD) { (tr.t("account.change_now")) }
                                }
                            }
                            h1 { (title) }
                            (body)
                        }
                    }
                }
            }
        }
    }
}

/// A page whose breadcrumbs are its sidebar section, then itself.
pub fn section_page(shell: &Shell, section_key: &str, title: &str, body: Markup) -> Markup {
    let crumbs = [
        Crumb {
            label: shell.tr.t(section_key),
            href: None,
        },
        Crumb {
            label: title,
            href: None,
        },
    ];
    page(shell, title, &crumbs, body)
}

/// A page outside the workspace (login, errors for visitors): no sidebar.
pub fn bare_page(shell: &Shell, title: &str, body: Markup) -> Markup {
    let tr = shell.tr;
    html! {
        (DOCTYPE)
        html lang=(tr.lang().tag()) data-theme=[theme_attr(shell.theme)] {
            (head(tr, title))
            body class="bare" {
                main id="main" class="bare-card" {
                    div class="brand" {
                        img src=(assets::url("logo.svg")) alt="" width="36" height="36";
                        span { "mlstack" }
                    }
                    h1 { (title) }
                    (body)
                    p class="version" { (tr.f("nav.version", &[("version", crate::VERSION)])) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn the_shell_has_landmarks_every_area_and_the_active_item() {
        let s = shell(Lang::En, member());
        let html = page(
            &s,
            "My Profile",
            &[Crumb {
                label: "My Profile",
                href: None,
            }],
            html! {},
        )
        .into_string();
        for landmark in [
            "<nav class=\"sidebar\"",
            "<header class=\"topbar\"",
            "<main id=\"main\"",
        ] {
            assert!(html.contains(landmark), "{landmark}");
        }
        for area in [
            "Project Review List",
            "Project List",
            "Project Detail",
            "Container Management",
            "Job Management",
            "GPU Utilization",
            "Storage Management",
            "Cost Center",
            "My Profile",
        ] {
            assert!(html.contains(area), "{area}");
        }
        assert!(html.contains("href=\"/account/profile\" aria-current=\"page\""));
        assert!(
            !html.contains("/admin/users"),
            "members see no admin section"
        );
        assert!(html.contains("value=\"csrf-token-value\""));
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn admins_see_the_admin_section_and_chinese_is_chinese() {
        let admin = ShellUser {
            username: "admin",
            is_admin: true,
            initial_password: true,
        };
        let s = shell(Lang::ZhTw, Some(admin));
        let html = page(&s, "x", &[], html! {}).into_string();
        assert!(html.contains("/admin/users"));
        assert!(html.contains("lang=\"zh-TW\""));
        assert!(html.contains("專案列表"));
        assert!(
            html.contains("href=\"/account/password\""),
            "initial password warning links to the change"
        );
    }

    #[test]
    fn the_user_menu_is_named_by_its_visible_text() {
        let s = shell(Lang::En, member());
        let html = page(&s, "x", &[], html! {}).into_string();
        let start = html.find("<summary>").expect("the user menu's summary");
        let summary = &html[start..start + html[start..].find("</summary>").expect("its end")];
        assert!(!summary.contains("aria-label"), "{summary}");
        assert!(
            summary.contains("<span class=\"username\">alice</span>")
                && summary.contains("<span class=\"sr-only\"> User menu</span>"),
            "{summary}"
        );
    }

    #[test]
    fn active_item_is_the_longest_prefix() {
        assert_eq!(
            active_path("/jobs/schedules?x=1", false),
            Some(paths::JOB_SCHEDULES)
        );
        assert_eq!(active_path("/jobs", false), Some(paths::JOBS));
        assert_eq!(
            active_path("/projects/0190a0a0-0000-7000-8000-000000000000/edit", false),
            Some(paths::PROJECT_DETAIL)
        );
        assert_eq!(
            active_path("/projects/reviews?id=1", false),
            Some(paths::PROJECT_REVIEWS)
        );
        assert_eq!(active_path("/admin/users/1/disable", false), None);
        assert_eq!(
            active_path("/admin/users/1/disable", true),
            Some(paths::ADMIN_USERS)
        );
    }
}
