//! Project Review List (the user's applications, manual §5.1) and the
//! admin's review queue.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, Tone, badge, confirm_dialog, csrf_field, input, notice,
};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::ids::ApplicationId;
use crate::domain::project::{ApplicationKind, ApplicationStatus};
use crate::domain::quota::Milli;
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::projects::ApplicationView;
use crate::web::paths;

fn kind_label<'a>(tr: Tr<'a>, kind: &ApplicationKind) -> &'a str {
    tr.t(match kind {
        ApplicationKind::Project => "application.kind.project",
        ApplicationKind::Extension { .. } => "application.kind.extension",
        ApplicationKind::Quota { .. } => "application.kind.quota",
    })
}

fn status_badge(tr: Tr, status: ApplicationStatus) -> Markup {
    let (key, color) = match status {
        ApplicationStatus::Reviewing => ("application.status.reviewing", BadgeColor::Amber),
        ApplicationStatus::Approved => ("application.status.approved", BadgeColor::Green),
        ApplicationStatus::Declined => ("application.status.declined", BadgeColor::Red),
        ApplicationStatus::Revoked => ("application.status.revoked", BadgeColor::Grey),
    };
    badge(color, tr.t(key))
}

fn quota_text(tr: Tr, kind: &ApplicationKind) -> Option<String> {
    match kind {
        ApplicationKind::Quota { add } => Some(tr.f(
            "application.quota_add",
            &[
                ("gpu", &Milli(add.gpu_milli).to_string()),
                ("cpu", &Milli(add.cpu_milli).to_string()),
                ("ram", &format::ram_gb(add.ram_mib)),
                ("storage", &format::storage_gb(add.storage_gib)),
            ],
        )),
        _ => None,
    }
}

/// The detail pane below the selected row (the manual's field list).
fn detail_pane(shell: &Shell, a: &ApplicationView, can_revoke: bool, zone: &TimeZone) -> Markup {
    let tr = shell.tr;
    let app = &a.application;
    let or_dash = |s: &str| {
        if s.is_empty() {
            "---".to_owned()
        } else {
            s.to_owned()
        }
    };
    html! {
        section class="panel" aria-labelledby="detail-title" {
            h2 id="detail-title" { (tr.t("application.detail")) }
            dl class="facts two-columns" {
                dt { (tr.t("project.code")) } dd { (a.project_code) }
                dt { (tr.t("application.date")) } dd { (format::date_time(app.created_at, zone)) }
                dt { (tr.t("project.name")) } dd { (a.project_name) }
                dt { (tr.t("application.applicant")) } dd { (a.applicant) }
                dt { (tr.t("application.type")) } dd { (kind_label(tr, &app.kind)) }
                dt { (tr.t("application.status_label")) } dd { (status_badge(tr, app.status)) }
                dt { (tr.t("application.start_time")) } dd { (format::date_at(a.project_start, "00:00", zone)) }
                dt { (tr.t("application.end_time")) } dd { (format::date_at(a.project_end, "23:59", zone)) }
                @if let ApplicationKind::Extension { days, next_start, next_end } = app.kind {
                    dt { (tr.t("application.next_start")) } dd { (format::date_at(next_start, "00:00", zone)) }
                    dt { (tr.t("application.next_end")) } dd { (format::date_at(next_end, "23:59", zone)) }
                    dt { (tr.t("application.extension_days")) } dd { (days) }
                }
                @if let Some(text) = quota_text(tr, &app.kind) {
                    dt { (tr.t("application.requested")) } dd { (text) }
                }
                dt { (tr.t("application.reason")) } dd { (or_dash(&app.reason)) }
                dt { (tr.t("application.remark")) } dd { (or_dash(&app.remark)) }
            }
            @if can_revoke && app.status == ApplicationStatus::Reviewing {
                (confirm_dialog(shell, Confirm {
                    id: format!("revoke-{}", app.id),
                    open_label: tr.t("application.revoke"),
                    title: tr.t("application.revoke_title"),
                    text: &tr.f("application.revoke_confirm", &[
                        ("project", &a.project_name),
                        ("type", kind_label(tr, &app.kind)),
                        ("date", &format::date(app.created_at.to_zoned(zone.clone()).date())),
                    ]),
                    action: &paths::review_action(app.id, "revoke"),
                    confirm_label: tr.t("common.confirm"),
                    danger: true,
                    reopen: false,
                }))
            }
        }
    }
}

/// The user's Project Review List (their applications and those of the
/// projects they manage, filtered by `query`) with the selected
/// application's detail.
pub fn my_list(
    shell: &Shell,
    list: &[ApplicationView],
    query: &str,
    selected: Option<ApplicationId>,
    message: Option<(Tone, String)>,
    zone: &TimeZone,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.project_reviews");
    let chosen = selected
        .and_then(|id| list.iter().find(|a| a.application.id == id))
        .or_else(|| list.first());
    section_page(
        shell,
        "nav.section.project",
        title,
        html! {
            @if let Some((tone, text)) = &message { (notice(*tone, html! { (text) })) }
            div class="toolbar" {
                form method="get" action=(paths::PROJECT_REVIEWS) class="search" role="search" {
                    label for="q" class="sr-only" { (tr.t("common.search")) }
                    input id="q" type="search" name="q" value=(query) placeholder=(tr.t("common.search"));
                    button type="submit" class="btn" { (tr.t("common.search")) }
                }
            }
            @if list.is_empty() && !query.is_empty() {
                div class="empty" { p { (tr.t("pages.reviews_no_match")) } }
            } @else if list.is_empty() {
                div class="empty" {
                    p { (tr.t("application.empty")) }
                    a class="btn primary" href=(paths::PROJECT_NEW) { (tr.t("project.create")) }
                }
            } @else {
                section class="panel" {
                    table class="table selectable" {
                        caption class="sr-only" { (title) }
                        thead { tr {
                            th scope="col" { (tr.t("project.name")) }
                            th scope="col" { (tr.t("application.applicant")) }
                            th scope="col" { (tr.t("application.date")) }
                            th scope="col" { (tr.t("application.type")) }
                            th scope="col" { (tr.t("application.status_label")) }
                        } }
                        tbody {
                            @for a in list {
                                @let is_chosen = chosen.is_some_and(|c| c.application.id == a.application.id);
                                tr aria-selected=(if is_chosen { "true" } else { "false" }) {
                                    td { a href=(paths::review(a.application.id)) aria-current=[is_chosen.then_some("true")] { (a.project_name) } }
                                    td { (a.applicant) }
                                    td { (format::date(a.application.created_at.to_zoned(zone.clone()).date())) }
                                    td { (kind_label(tr, &a.application.kind)) }
                                    td { (status_badge(tr, a.application.status)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(a) = chosen {
                    @let mine = shell.user.is_some_and(|u| u.username == a.applicant);
                    (detail_pane(shell, a, mine, zone))
                }
            }
        },
    )
}

/// The admin's review queue: every application waiting for a decision.
pub fn queue(
    shell: &Shell,
    list: &[ApplicationView],
    errors: Option<(ApplicationId, bool, &FieldErrors)>,
    message: Option<(Tone, String)>,
    zone: &TimeZone,
) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.admin_reviews");
    let no_errors = FieldErrors::new();
    section_page(
        shell,
        "nav.section.admin",
        title,
        html! {
            @if let Some((tone, text)) = &message { (notice(*tone, html! { (text) })) }
            @if list.is_empty() {
                div class="empty" { p { (tr.t("review.empty")) } }
            }
            @for a in list {
                @let app = &a.application;
                @let approve_errs = match errors { Some((id, true, e)) if id == app.id => e, _ => &no_errors };
                @let decline_errs = match errors { Some((id, false, e)) if id == app.id => e, _ => &no_errors };
                @let scope = format!("{}-", app.id);
                article class="panel review" aria-labelledby=(format!("r-{}", app.id)) {
                    h2 id=(format!("r-{}", app.id)) { (a.project_name) " · " (kind_label(tr, &app.kind)) }
                    dl class="facts two-columns" {
                        dt { (tr.t("project.code")) } dd { (a.project_code) }
                        dt { (tr.t("application.applicant")) } dd { (a.applicant) }
                        dt { (tr.t("application.date")) } dd { (format::date_time(app.created_at, zone)) }
                        dt { (tr.t("project.period")) } dd { (format::date(a.project_start)) " – " (format::date(a.project_end)) }
                        @if let ApplicationKind::Extension { days, next_start, next_end } = app.kind {
                            dt { (tr.t("application.extension_days")) } dd { (days) }
                            dt { (tr.t("application.next_period")) } dd { (format::date(next_start)) " – " (format::date(next_end)) }
                        }
                        @if let Some(text) = quota_text(tr, &app.kind) {
                            dt { (tr.t("application.requested")) } dd { (text) }
                        }
                        dt { (tr.t("application.reason")) } dd { (if app.reason.is_empty() { "---" } else { &app.reason }) }
                    }
                    @if !approve_errs.is_empty() || !decline_errs.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
                    div class="review-forms" {
                        form method="post" action=(paths::admin_review_action(app.id, "approve")) class="form inline" novalidate {
                            (csrf_field(shell))
                            @if app.kind == ApplicationKind::Project {
                                (input(tr, Field::text("gpu", "review.quota_gpu", "").required().hint("project.gpu_hint").scoped(format!("{scope}approve-")), approve_errs))
                                (input(tr, Field::text("cpu", "review.quota_cpu", "").scoped(format!("{scope}approve-")), approve_errs))
                                (input(tr, Field::text("ram", "review.quota_ram", "").scoped(format!("{scope}approve-")), approve_errs))
                                (input(tr, Field::text("storage", "review.quota_storage", "").scoped(format!("{scope}approve-")), approve_errs))
                            }
                            (input(tr, Field::text("remark", "application.remark", "").scoped(format!("{scope}approve-")), approve_errs))
                            button type="submit" class="btn primary" { (tr.t("review.approve")) }
                        }
                        form method="post" action=(paths::admin_review_action(app.id, "decline")) class="form inline" novalidate {
                            (csrf_field(shell))
                            (input(tr, Field::text("remark", "review.decline_reason", "").required().scoped(format!("{scope}decline-")), decline_errs))
                            button type="submit" class="btn danger" { (tr.t("review.decline")) }
                        }
                    }
                }
            }
        },
    )
}
