//! The audit log page (admins): a filter by actor, action and dates, the
//! events newest first with their time in the platform zone, a pager, the
//! exports, and the retention setting.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    BadgeColor, Field, PagerView, Tone, badge, csrf_field, input, notice, pager, select,
};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::audit::{AuditAction, AuditEvent, AuditOutcome};
use crate::domain::validation::FieldErrors;
use crate::web::paths;

/// What the filter form holds, as typed.
#[derive(Debug, Clone, Default)]
pub struct AuditFilterView {
    pub actor: String,
    pub action: String,
    pub from: String,
    pub to: String,
}

pub struct AuditView<'a> {
    pub events: &'a [AuditEvent],
    pub zone: &'a TimeZone,
    pub filter: &'a AuditFilterView,
    pub filter_errors: &'a FieldErrors,
    pub pager: PagerView,
    /// The filter as a query string, for the export links.
    pub query: &'a str,
    pub retention_days: &'a str,
    pub retention_errors: &'a FieldErrors,
    /// Shown after the retention was saved.
    pub saved: bool,
}

/// The translation key of an action's name.
pub fn action_key(action: AuditAction) -> &'static str {
    match action {
        AuditAction::Login => "audit.action.login",
        AuditAction::Logout => "audit.action.logout",
        AuditAction::UserCreated => "audit.action.user_created",
        AuditAction::UserDisabled => "audit.action.user_disabled",
        AuditAction::UserEnabled => "audit.action.user_enabled",
        AuditAction::AdminGranted => "audit.action.admin_granted",
        AuditAction::AdminRevoked => "audit.action.admin_revoked",
        AuditAction::PasswordReset => "audit.action.password_reset",
        AuditAction::ApplicationApproved => "audit.action.application_approved",
        AuditAction::ApplicationDeclined => "audit.action.application_declined",
        AuditAction::MembersChanged => "audit.action.members_changed",
        AuditAction::ProjectRevised => "audit.action.project_revised",
        AuditAction::CatalogSaved => "audit.action.catalog_saved",
        AuditAction::CatalogRetired => "audit.action.catalog_retired",
        AuditAction::CatalogDeleted => "audit.action.catalog_deleted",
        AuditAction::ProjectDeleted => "audit.action.project_deleted",
        AuditAction::WorkloadDeleted => "audit.action.workload_deleted",
        AuditAction::StorageDeleted => "audit.action.storage_deleted",
        AuditAction::KeyPairDeleted => "audit.action.key_pair_deleted",
        AuditAction::ImageDeleted => "audit.action.image_deleted",
        AuditAction::ProxyOpened => "audit.action.proxy_opened",
        AuditAction::TerminalOpened => "audit.action.terminal_opened",
        AuditAction::RetentionChanged => "audit.action.retention_changed",
        AuditAction::SettingsChanged => "audit.action.settings_changed",
        AuditAction::ProjectReleased => "audit.action.project_released",
        AuditAction::ContainerStopped => "audit.action.container_stopped",
        AuditAction::ContainerStarted => "audit.action.container_started",
        AuditAction::JobCancelled => "audit.action.job_cancelled",
        AuditAction::ImageCreated => "audit.action.image_created",
    }
}

fn outcome_badge(shell: &Shell, outcome: AuditOutcome) -> Markup {
    let tr = shell.tr;
    match outcome {
        AuditOutcome::Succeeded => badge(BadgeColor::Green, tr.t("audit.outcome.succeeded")),
        AuditOutcome::BadCredentials => {
            badge(BadgeColor::Red, tr.t("audit.outcome.bad_credentials"))
        }
        AuditOutcome::Throttled => badge(BadgeColor::Red, tr.t("audit.outcome.throttled")),
        AuditOutcome::Disabled => badge(BadgeColor::Red, tr.t("audit.outcome.disabled")),
        AuditOutcome::Refused => badge(BadgeColor::Amber, tr.t("audit.outcome.refused")),
    }
}

fn export_url(base: &str, query: &str) -> String {
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

pub fn audit(shell: &Shell, view: &AuditView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_audit");
    let mut actions: Vec<(&str, &str)> = vec![("", "audit.any_action")];
    actions.extend(AuditAction::ALL.iter().map(|a| (a.code(), action_key(*a))));
    let zone = format::zone_name(view.zone);
    section_page(
        shell,
        "nav.section.admin",
        title,
        html! {
            p class="hint" { (tr.t("audit.intro")) }
            form method="get" action=(paths::ADMIN_AUDIT) class="toolbar audit-filter" role="search" {
                (input(tr, Field::text("actor", "audit.actor", &view.filter.actor), view.filter_errors))
                (select(tr, "action", "audit.action_label", &actions, &view.filter.action, view.filter_errors))
                (input(tr, Field::text("from", "audit.from", &view.filter.from).kind("date"), view.filter_errors))
                (input(tr, Field::text("to", "audit.to", &view.filter.to).kind("date"), view.filter_errors))
                button type="submit" class="btn" { (tr.t("audit.show")) }
            }
            p class="muted" { (tr.f("audit.times_in", &[("zone", &zone)])) }
            p class="toolbar" {
                a class="btn small" href=(export_url(paths::ADMIN_AUDIT_CSV, view.query)) download { (tr.t("audit.export_csv")) }
                a class="btn small" href=(export_url(paths::ADMIN_AUDIT_JSONL, view.query)) download { (tr.t("audit.export_jsonl")) }
            }
            @if view.events.is_empty() {
                div class="empty" { p { (tr.t("audit.empty")) } }
            } @else {
                section class="panel table-scroll" {
                    table class="table audit-table" {
                        caption class="sr-only" { (title) }
                        thead { tr {
                            th scope="col" { (tr.t("audit.time")) }
                            th scope="col" { (tr.t("audit.actor")) }
                            th scope="col" { (tr.t("audit.client")) }
                            th scope="col" { (tr.t("audit.action_label")) }
                            th scope="col" { (tr.t("audit.target")) }
                            th scope="col" { (tr.t("audit.outcome_label")) }
                        } }
                        tbody {
                            @for e in view.events {
                                tr {
                                    td class="nowrap" { (format::date_time(e.at, view.zone)) }
                                    td { (e.actor_name) }
                                    td { @if let Some(c) = e.client { (c.to_string()) } }
                                    td { (tr.t(action_key(e.action))) }
                                    td class="audit-target" { (e.target) }
                                    td { (outcome_badge(shell, e.outcome)) }
                                }
                            }
                        }
                    }
                }
                (pager(tr, &view.pager))
            }
            section class="panel" aria-labelledby="audit-retention" {
                h2 id="audit-retention" { (tr.t("audit.retention")) }
                @if view.saved {
                    (notice(Tone::Success, html! { (tr.t("audit.retention_saved")) }))
                }
                form method="post" action=(paths::ADMIN_AUDIT_RETENTION) {
                    (csrf_field(shell))
                    (input(tr, Field::text("retention_days", "audit.retention_days", view.retention_days)
                        .kind("number").required().hint("audit.retention_hint"), view.retention_errors))
                    button type="submit" class="btn primary" { (tr.t("audit.save")) }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::layout::ShellUser;
    use crate::web::views::test_support::shell;

    fn admin() -> Option<ShellUser<'static>> {
        Some(ShellUser {
            username: "root",
            is_admin: true,
            initial_password: false,
        })
    }

    #[test]
    fn events_render_as_text_with_their_zone_in_both_languages() {
        let event = AuditEvent {
            at: "2026-12-01T10:00:00Z".parse().expect("t"),
            actor: None,
            actor_name: "<script>alert(1)</script>".into(),
            client: Some("192.0.2.7".parse().expect("ip")),
            action: AuditAction::Login,
            target: "\"><img src=x onerror=alert(1)>".into(),
            outcome: AuditOutcome::BadCredentials,
        };
        let zone = TimeZone::get("Asia/Taipei").expect("zone");
        for lang in [Lang::En, Lang::ZhTw] {
            let s = shell(lang, admin());
            let html = audit(
                &s,
                &AuditView {
                    events: std::slice::from_ref(&event),
                    zone: &zone,
                    filter: &AuditFilterView::default(),
                    filter_errors: &FieldErrors::new(),
                    pager: PagerView {
                        first: 1,
                        last: 1,
                        total: 1,
                        previous: None,
                        next: None,
                    },
                    query: "action=login",
                    retention_days: "365",
                    retention_errors: &FieldErrors::new(),
                    saved: false,
                },
            )
            .into_string();
            assert!(html.contains("2026/12/01 18:00 (Asia/Taipei)"));
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
            assert!(!html.contains("<img src=x"));
            assert!(html.contains("/admin/audit/export.csv?action=login"));
            assert!(html.contains("192.0.2.7"));
        }
    }
}
