//! Administration of projects (all projects, platform settings, the mail
//! outbox) and the user's Cloud Provisioning page (manual §4).

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, PagerView, Tone, badge, confirm_dialog, csrf_field, described_by,
    hint_and_error, input, notice, pager,
};
use super::format;
use super::layout::{Shell, section_page};
use super::projects::status_badge;
use crate::domain::ids::ProjectId;
use crate::domain::quota::Milli;
use crate::domain::validation::FieldErrors;
use crate::service::projects::{OutboxPage, PlatformSettingsForm, ProjectSummary};
use crate::store::activations::{ActivationRecord, ActivationStatus};
use crate::store::outbox::MailStatus;
use crate::web::paths;

/// A refused revision: the project, its errors and what was typed.
pub type RefusedRevision<'a> = (ProjectId, &'a FieldErrors, &'a [(String, String)]);

/// Every project, with the admin's direct changes.
pub fn all_projects(
    shell: &Shell,
    list: &[ProjectSummary],
    errors: Option<RefusedRevision>,
    message: Option<(Tone, String)>,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_projects");
    let none = FieldErrors::new();
    section_page(
        shell,
        "nav.section.admin",
        title,
        html! {
            @if let Some((tone, text)) = &message { (notice(*tone, html! { (text) })) }
            @if list.is_empty() { div class="empty" { p { (tr.t("project.empty_all")) } } }
            @for s in list {
                @let p = &s.project;
                @let errs = match errors { Some((id, e, _)) if id == p.id => e, _ => &none };
                @let typed = match errors { Some((id, _, typed)) if id == p.id => Some(typed), _ => None };
                // A refused revision shows what was typed, else the project's values.
                @let value = |name: &str, stored: String| match typed {
                    Some(typed) => typed.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default(),
                    None => stored,
                };
                article class="panel" aria-labelledby=(format!("p-{}", p.id)) {
                    header class="card-head" {
                        h2 id=(format!("p-{}", p.id)) { (p.name) }
                        (status_badge(tr, p.status))
                    }
                    dl class="facts two-columns" {
                        dt { (tr.t("project.code")) } dd { (p.code) }
                        dt { (tr.t("project.period")) } dd { (format::date(p.start)) " – " (format::date(p.end)) }
                        dt { (tr.t("project.members")) } dd { (p.members.len()) }
                        dt { (tr.t("project.quota")) } dd {
                            (tr.f("project.quota_text", &[
                                ("gpu", &Milli(p.quota.gpu_milli).to_string()),
                                ("cpu", &Milli(p.quota.cpu_milli).to_string()),
                                ("ram", &format::ram_gb(p.quota.ram_mib)),
                                ("storage", &format::storage_gb(p.quota.storage_gib)),
                            ]))
                        }
                        dt { (tr.t("auto_stop.title")) } dd {
                            @match p.auto_stop_idle_hours {
                                Some(hours) => (tr.f("auto_stop.after", &[("hours", &hours.to_string())])),
                                None => (tr.t("auto_stop.off")),
                            }
                        }
                    }
                    @if matches!(p.status, crate::domain::project::ProjectStatus::Active | crate::domain::project::ProjectStatus::BufferPeriod) {
                        @if !errs.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
                        form method="post" action=(paths::admin_project_action(p.id, "revise")) class="form inline" novalidate {
                            (csrf_field(shell))
                            @let scope = format!("{}-", p.id);
                            (input(tr, Field::text("gpu", "review.quota_gpu", &value("gpu", Milli(p.quota.gpu_milli).to_string())).required().scoped(scope.clone()), errs))
                            (input(tr, Field::text("cpu", "review.quota_cpu", &value("cpu", Milli(p.quota.cpu_milli).to_string())).required().scoped(scope.clone()), errs))
                            (input(tr, Field::text("ram", "review.quota_ram", &value("ram", format::gb_field(p.quota.ram_mib))).required().scoped(scope.clone()), errs))
                            (input(tr, Field::text("storage", "review.quota_storage", &value("storage", p.quota.storage_gib.to_string())).required().scoped(scope.clone()), errs))
                            (input(tr, Field::text("start", "project.start", &value("start", p.start.to_string())).kind("date").required().scoped(scope.clone()), errs))
                            (input(tr, Field::text("end", "project.end", &value("end", p.end.to_string())).kind("date").required().scoped(scope.clone()), errs))
                            button type="submit" class="btn primary" { (tr.t("project.save")) }
                        }
                        form method="post" action=(paths::admin_project_action(p.id, "auto-stop")) class="form inline" novalidate {
                            (csrf_field(shell))
                            @let stored = p.auto_stop_idle_hours.map(|h| h.to_string()).unwrap_or_default();
                            (input(tr, Field::text("auto_stop_hours", "auto_stop.hours", &value("auto_stop_hours", stored)).kind("number").hint("auto_stop.hint").scoped(format!("{}-", p.id)), errs))
                            button type="submit" class="btn" { (tr.t("auto_stop.save")) }
                        }
                        (confirm_dialog(shell, Confirm {
                            id: format!("release-{}", p.id),
                            open_label: tr.t("project.force_release"),
                            title: tr.t("project.force_release"),
                            text: &tr.f("project.force_release_confirm", &[("project", &p.name)]),
                            action: &paths::admin_project_action(p.id, "release"),
                            confirm_label: tr.t("project.force_release"),
                            danger: true,
                            reopen: false,
                        }))
                    }
                }
            }
        },
    )
}

/// Platform settings: buffer length, reminder days, currency, time zone.
pub fn settings(
    shell: &Shell,
    form: &PlatformSettingsForm,
    errors: &FieldErrors,
    saved: bool,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_settings");
    section_page(
        shell,
        "nav.section.admin",
        title,
        html! {
            @if saved { (notice(Tone::Success, html! { (tr.t("settings.saved")) })) }
            @if !errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            section class="panel" {
                form method="post" action=(paths::ADMIN_SETTINGS) class="form" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::text("buffer_days", "platform.buffer_days", &form.buffer_days).kind("number").required().hint("platform.buffer_days_hint"), errors))
                    (input(tr, Field::text("reminder_days", "platform.reminder_days", &form.reminder_days).hint("platform.reminder_days_hint"), errors))
                    (input(tr, Field::text("currency", "platform.currency", &form.currency).required(), errors))
                    (input(tr, Field::text("time_zone", "platform.time_zone", &form.time_zone).required().hint("platform.time_zone_hint"), errors))
                    (usage_terms_field(tr, &form.usage_terms, errors))
                    (input(tr, Field::text("queued_jobs_per_member", "platform.queue_cap", &form.queued_jobs_per_member).kind("number").hint("platform.queue_cap_hint"), errors))
                    div class="actions" { button type="submit" class="btn primary" { (tr.t("settings.submit")) } }
                }
            }
        },
    )
}

/// The usage terms, a text area with its hint and error.
fn usage_terms_field(tr: crate::i18n::Tr, value: &str, errors: &FieldErrors) -> Markup {
    let error = errors.get("usage_terms");
    html! {
        div.field.has-error[error.is_some()] {
            label for="f-usage_terms" { (tr.t("platform.usage_terms")) }
            textarea id="f-usage_terms" name="usage_terms" rows="10" class="terms-text"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=(described_by("usage_terms", error.is_some(), true).unwrap_or_default()) { (value) }
            (hint_and_error(tr, "usage_terms", Some("platform.usage_terms_hint"), error))
        }
    }
}

/// The mail outbox: what mlstack has written, whether it left, each
/// mail's tries (count, last error, next try) and Resend. `delivering`:
/// whether an SMTP relay is configured (else the page says mail stays).
/// What the outbox page shows: a page of mails, the recipients' names, the
/// zone of its times, and whether mail is delivered at all.
pub struct OutboxView<'a> {
    pub outbox: &'a OutboxPage,
    pub page_size: usize,
    pub names: &'a dyn Fn(crate::domain::ids::UserId) -> String,
    pub zone: &'a TimeZone,
    pub delivering: bool,
}

pub fn outbox(shell: &Shell, view: &OutboxView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_outbox");
    let (mails, names, zone) = (&view.outbox.mails, view.names, view.zone);
    let page = view.outbox.page;
    let first = (page - 1) * view.page_size + 1;
    let link = |to: usize| {
        if to == 1 {
            paths::ADMIN_OUTBOX.to_owned()
        } else {
            format!("{}?page={to}", paths::ADMIN_OUTBOX)
        }
    };
    let place = PagerView {
        first,
        last: first + mails.len().saturating_sub(1),
        total: view.outbox.total,
        previous: (page > 1).then(|| link(page - 1)),
        next: (first + mails.len() <= view.outbox.total).then(|| link(page + 1)),
    };
    section_page(
        shell,
        "nav.section.admin",
        title,
        html! {
            p class="hint" { (tr.t("outbox.intro")) }
            @if !view.delivering {
                (notice(Tone::Warning, html! { (tr.t("outbox.no_smtp")) }))
            }
            @if mails.is_empty() { div class="empty" { p { (tr.t("outbox.empty")) } } }
            @else {
                (pager(tr, &place))
                section class="panel table-scroll" {
                    table class="table" {
                        caption class="sr-only" { (title) }
                        thead { tr {
                            th scope="col" { (tr.t("outbox.created")) }
                            th scope="col" { (tr.t("outbox.to")) }
                            th scope="col" { (tr.t("outbox.subject")) }
                            th scope="col" { (tr.t("outbox.status")) }
                            th scope="col" { (tr.t("outbox.delivery")) }
                            th scope="col" { span class="sr-only" { (tr.t("outbox.actions")) } }
                        } }
                        tbody {
                            @for m in mails {
                                tr {
                                    td { (format::date_time(m.created_at, zone)) }
                                    td { (names(m.to_user)) @if !m.to_address.is_empty() { " <" (m.to_address) ">" } }
                                    td { details { summary { (m.subject) } pre class="mail-body" { (m.body) } } }
                                    td {
                                        @match m.status {
                                            MailStatus::Pending => (badge(BadgeColor::Amber, tr.t("outbox.pending"))),
                                            MailStatus::Sent => (badge(BadgeColor::Green, tr.t("outbox.sent"))),
                                            MailStatus::Failed => (badge(BadgeColor::Red, tr.t("outbox.failed"))),
                                            MailStatus::NoAddress => (badge(BadgeColor::Grey, tr.t("outbox.no_address"))),
                                        }
                                    }
                                    td class="mail-delivery" {
                                        @if let Some(at) = m.sent_at {
                                            div { (tr.t("outbox.sent_at")) " " (format::date_time(at, zone)) }
                                        }
                                        @if m.attempts > 0 && m.status != MailStatus::Sent {
                                            div { (tr.f("outbox.attempts", &[("n", &m.attempts.to_string())])) }
                                        }
                                        @if let (Some(error), false) = (&m.last_error, m.status == MailStatus::Sent) {
                                            div class="mail-error" { (tr.t("outbox.last_error")) " " code { (error) } }
                                        }
                                        @if let (Some(at), MailStatus::Pending) = (m.next_try, m.status) {
                                            div { (tr.t("outbox.next_try")) " " (format::date_time(at, zone)) }
                                        }
                                    }
                                    td {
                                        @if !m.to_address.is_empty() && m.status != MailStatus::Pending {
                                            form method="post" action=(paths::admin_outbox_resend(m.id)) {
                                                (csrf_field(shell))
                                                button type="submit" class="btn small" { (tr.t("outbox.resend")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (pager(tr, &place))
            }
        },
    )
}

/// Cloud Provisioning: the user's activation status, Activate and refresh.
pub fn provisioning(
    shell: &Shell,
    username: &str,
    record: Option<&ActivationRecord>,
    zone: &TimeZone,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.cloud_provisioning");
    let status = record.map_or(ActivationStatus::NotActivated, |r| r.status);
    let (key, color) = match status {
        ActivationStatus::NotActivated => ("provisioning.not_activated", BadgeColor::Grey),
        ActivationStatus::Provisioning => ("provisioning.provisioning", BadgeColor::Amber),
        ActivationStatus::Passed => ("provisioning.passed", BadgeColor::Green),
        ActivationStatus::Failed => ("provisioning.failed", BadgeColor::Red),
    };
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            @match status {
                ActivationStatus::NotActivated => (notice(Tone::Info, html! { (tr.t("provisioning.intro")) })),
                ActivationStatus::Provisioning => (notice(Tone::Info, html! { (tr.t("provisioning.waiting")) })),
                ActivationStatus::Failed => (notice(Tone::Error, html! { (tr.t("provisioning.failed_help")) })),
                ActivationStatus::Passed => {},
            }
            section class="panel" {
                div class="card-head" {
                    h2 { (username) }
                    a class="btn small" href=(paths::CLOUD_PROVISIONING) { "↻ " (tr.t("common.refresh")) }
                }
                table class="table compact" {
                    tbody {
                        tr { th scope="row" { (tr.t("provisioning.status")) } td { (badge(color, tr.t(key))) } }
                        tr { th scope="row" { (tr.t("provisioning.request_time")) } td {
                            @if let Some(r) = record { (format::date_time(r.requested_at, zone)) } @else { "---" }
                        } }
                        @if let Some(r) = record.filter(|r| !r.message.is_empty()) {
                            tr { th scope="row" { (tr.t("provisioning.message")) } td { (r.message) } }
                        }
                    }
                }
                @if matches!(status, ActivationStatus::NotActivated | ActivationStatus::Failed) {
                    form method="post" action=(paths::CLOUD_PROVISIONING) {
                        (csrf_field(shell))
                        button type="submit" class="btn primary" { (tr.t("provisioning.activate")) }
                    }
                }
            }
        },
    )
}
