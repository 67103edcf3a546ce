//! Views: pure maud functions from view models to markup. One layout shell,
//! shared components, one module per area.

pub mod account;
pub mod admin;
pub mod areas;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod charts;
pub mod components;
pub mod containers;
pub mod containers_new;
pub mod cost;
pub mod emails;
pub mod errors;
pub mod format;
pub mod images;
pub mod job_schedules;
pub mod job_templates;
pub mod jobs;
pub mod jobs_new;
pub mod key_pairs;
pub mod layout;
pub mod metrics;
pub mod monitor;
pub mod orders;
pub mod platform;
pub mod projects;
pub mod reviews;
pub mod storage;
pub mod terminal;
pub mod wizard_parts;

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::LazyLock;

    use super::layout::{Shell, ShellUser};
    use crate::domain::user::{Lang, Theme};
    use crate::i18n::Catalog;

    pub static CATALOG: LazyLock<Catalog> =
        LazyLock::new(|| Catalog::load().unwrap_or_else(|e| panic!("{e}")));

    pub fn shell(lang: Lang, user: Option<ShellUser<'static>>) -> Shell<'static> {
        Shell {
            tr: CATALOG.tr(lang),
            theme: Theme::System,
            csrf: "csrf-token-value",
            path: "/account/profile",
            user,
            projects: &[],
            current_project: None,
            unsandboxed: false,
        }
    }

    pub fn member() -> Option<ShellUser<'static>> {
        Some(ShellUser {
            username: "alice",
            is_admin: false,
            initial_password: false,
        })
    }
}
