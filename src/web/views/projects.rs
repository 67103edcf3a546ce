//! Project List, the project application and edit forms, and Project Detail
//! (manual §5.2, §5.3).

use maud::{Markup, html};

use super::components::{
    BadgeColor, Confirm, Field, PagerView, Tone, badge, confirm_dialog_with, csrf_field, input,
    notice, pager,
};
use super::format;
use super::layout::{Crumb, Shell, page, section_page};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::project::{ApplicationKind, ProjectRole, ProjectStatus};
use crate::domain::quota::{MemberCap, Milli, Resources};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::service::projects::{ApplicationView, ProjectSummary};
use crate::web::paths;

/// Translation key and colour of a project status.
pub fn status_badge(tr: Tr, status: ProjectStatus) -> Markup {
    let (key, color) = match status {
        ProjectStatus::Reviewing => ("project.status.reviewing", BadgeColor::Amber),
        ProjectStatus::Active => ("project.status.active", BadgeColor::Green),
        ProjectStatus::BufferPeriod => ("project.status.buffer_period", BadgeColor::Amber),
        ProjectStatus::Declined => ("project.status.declined", BadgeColor::Red),
        ProjectStatus::Revoked => ("project.status.revoked", BadgeColor::Grey),
        ProjectStatus::Released => ("project.status.released", BadgeColor::Grey),
    };
    html! {
        (badge(color, tr.t(key)))
        @if status == ProjectStatus::BufferPeriod {
            " " span class="warning-mark" title=(tr.t("project.buffer_warning")) aria-label=(tr.t("project.buffer_warning")) { "!" }
        }
    }
}

fn gpu_quota(p: &ProjectSummary) -> String {
    if matches!(
        p.project.status,
        ProjectStatus::Active | ProjectStatus::BufferPeriod
    ) {
        format!(
            "{} / {}",
            Milli(p.used.gpu_milli),
            Milli(p.project.quota.gpu_milli)
        )
    } else {
        "---".into()
    }
}

fn members_text(tr: Tr, p: &ProjectSummary) -> String {
    let managers = p
        .project
        .members
        .iter()
        .filter(|m| m.role == ProjectRole::Manager)
        .count();
    tr.f(
        "project.members_count",
        &[
            ("count", &p.project.members.len().to_string()),
            ("managers", &managers.to_string()),
        ],
    )
}

fn dates(tr: Tr, p: &ProjectSummary) -> Markup {
    html! {
        (format::date(p.project.start)) " – " (format::date(p.project.end))
        @if p.extended {
            " " span class="extended-mark" title=(tr.f("project.extended_title", &[("start", &format::date(p.project.start)), ("end", &format::date(p.project.end))])) {
                (tr.t("project.extended"))
            }
        }
    }
}

/// A manager's actions on a project (manual §5.2: edit, period extension,
/// delete), the same on cards and in the table.
fn manager_actions(tr: Tr, p: &ProjectSummary) -> Markup {
    html! {
        @if p.role == Some(ProjectRole::Manager) && p.project.status.is_open() {
            a class="btn small" href=(paths::project_action(p.project.id, "edit")) { (tr.t("project.edit")) }
            @if p.project.status.is_selectable() {
                a class="btn small" href=(format!("{}#extension", paths::project(p.project.id))) { (tr.t("project.extension")) }
            }
            a class="btn small danger" href=(format!("{}#delete", paths::project(p.project.id))) { (tr.t("project.delete")) }
        }
    }
}

/// What the Project List shows.
pub struct ProjectListView<'a> {
    pub items: &'a [ProjectSummary],
    pub query: &'a str,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub total: usize,
    pub table: bool,
    pub notice: Option<String>,
}

fn list_url(view: &ProjectListView, page: usize, table: bool) -> String {
    let mut url = format!("{}?page={page}", paths::PROJECTS);
    if table {
        url.push_str("&view=table");
    }
    if !view.query.is_empty() {
        let q = serde_urlencoded::to_string([("q", view.query)]).unwrap_or_default();
        url.push('&');
        url.push_str(&q);
    }
    url
}

pub fn list(shell: &Shell, view: &ProjectListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.projects");
    section_page(
        shell,
        "nav.section.project",
        title,
        html! {
            @if let Some(text) = &view.notice { (notice(Tone::Success, html! { (text) })) }
            div class="toolbar" {
                form method="get" action=(paths::PROJECTS) class="search" role="search" {
                    @if view.table { input type="hidden" name="view" value="table"; }
                    label for="q" class="sr-only" { (tr.t("common.search")) }
                    input id="q" type="search" name="q" value=(view.query) placeholder=(tr.t("common.search"));
                    button type="submit" class="btn" { (tr.t("common.search")) }
                }
                (pager(tr, &PagerView {
                    first: if view.total == 0 { 0 } else { (view.page - 1) * view.page_size + 1 },
                    last: ((view.page - 1) * view.page_size + view.items.len()).min(view.total),
                    total: view.total,
                    previous: (view.page > 1).then(|| list_url(view, view.page - 1, view.table)),
                    next: (view.page < view.pages).then(|| list_url(view, view.page + 1, view.table)),
                }))
                a class="btn small" href=(list_url(view, view.page, view.table)) { "↻ " (tr.t("common.refresh")) }
                @if view.table {
                    a class="btn small" href=(list_url(view, 1, false)) { (tr.t("project.view_cards")) }
                } @else {
                    a class="btn small" href=(list_url(view, 1, true)) { (tr.t("project.view_table")) }
                }
                a class="btn primary" href=(paths::PROJECT_NEW) { "+ " (tr.t("project.create")) }
            }
            @if view.items.is_empty() {
                div class="empty" {
                    p { (tr.t(if view.query.is_empty() { "project.empty" } else { "project.no_match" })) }
                    a class="btn primary" href=(paths::PROJECT_NEW) { (tr.t("project.create")) }
                }
            } @else if view.table {
                table class="table" {
                    caption class="sr-only" { (title) }
                    thead { tr {
                        th scope="col" { (tr.t("project.name")) }
                        th scope="col" { (tr.t("project.start")) }
                        th scope="col" { (tr.t("project.end")) }
                        th scope="col" { (tr.t("project.members")) }
                        th scope="col" { (tr.t("project.containers")) }
                        th scope="col" { (tr.t("project.jobs")) }
                        th scope="col" { (tr.t("project.gpu_quota")) }
                        th scope="col" { (tr.t("project.status_label")) }
                        th scope="col" { (tr.t("users.actions")) }
                    } }
                    tbody {
                        @for p in view.items {
                            tr {
                                td { a href=(paths::project(p.project.id)) { (p.project.name) } }
                                td { (format::date(p.project.start)) }
                                td { (format::date(p.project.end)) @if p.extended { " " span class="extended-mark" { (tr.t("project.extended")) } } }
                                td { (members_text(tr, p)) }
                                td { (p.containers) }
                                td { (p.jobs) }
                                td { (gpu_quota(p)) }
                                td { (status_badge(tr, p.project.status)) }
                                td { (manager_actions(tr, p)) }
                            }
                        }
                    }
                }
            } @else {
                div class="cards" {
                    @for p in view.items {
                        article class="card project-card" {
                            header class="card-head" {
                                h2 { a href=(paths::project(p.project.id)) { (p.project.name) } }
                                (status_badge(tr, p.project.status))
                            }
                            dl class="facts" {
                                dt { (tr.t("project.period")) } dd { (dates(tr, p)) }
                                dt { (tr.t("project.members")) } dd { (members_text(tr, p)) }
                                dt { (tr.t("project.containers")) } dd { (p.containers) }
                                dt { (tr.t("project.jobs")) } dd { (p.jobs) }
                                dt { (tr.t("project.gpu_quota")) } dd { (gpu_quota(p)) }
                            }
                            div class="card-actions" { (manager_actions(tr, p)) }
                        }
                    }
                }
            }
        },
    )
}

/// The project application (new) or edit form.
pub struct ProjectFormView<'a> {
    pub editing: Option<ProjectId>,
    pub name: &'a str,
    pub start: &'a str,
    pub end: &'a str,
    pub purpose: &'a str,
    pub description: &'a str,
    pub purposes: &'a [(String, String, String)],
    /// Usernames as typed, separated by commas.
    pub managers: &'a str,
    pub members: &'a str,
    pub errors: &'a FieldErrors,
}

pub fn form(shell: &Shell, view: &ProjectFormView) -> Markup {
    let tr = shell.tr;
    let title = tr.t(if view.editing.is_some() {
        "project.edit_title"
    } else {
        "project.create"
    });
    let action = view.editing.map_or(paths::PROJECT_NEW.to_owned(), |id| {
        paths::project_action(id, "edit")
    });
    let members_error = view.errors.get("members");
    page(
        shell,
        title,
        &[
            Crumb {
                label: tr.t("nav.projects"),
                href: Some(paths::PROJECTS),
            },
            Crumb {
                label: title,
                href: None,
            },
        ],
        html! {
            @if !view.errors.is_empty() { (notice(Tone::Error, html! { (tr.t("form.fix_errors")) })) }
            @if view.editing.is_none() {
                p class="lead" { (tr.t("project.apply_intro")) }
                (notice(Tone::Warning, html! { (tr.t("pages.release_warning")) }))
            }
            section class="panel" {
                form method="post" action=(action) class="form wide" novalidate {
                    (csrf_field(shell))
                    (input(tr, Field::text("name", "project.name", view.name).required(), view.errors))
                    @if view.editing.is_none() {
                        div class="row" {
                            (input(tr, Field::text("start", "project.start", view.start).kind("date").required(), view.errors))
                            (input(tr, Field::text("end", "project.end", view.end).kind("date").required(), view.errors))
                        }
                        @if !view.purposes.is_empty() {
                            div.field.has-error[view.errors.get("purpose").is_some()] {
                                label for="f-purpose" { (tr.t("project.purpose")) span class="req" aria-hidden="true" { "*" } }
                                select id="f-purpose" name="purpose" aria-describedby="purpose-hint" {
                                    option value="" { (tr.t("project.purpose_choose")) }
                                    @for (id, name, _) in view.purposes {
                                        option value=(id) selected[id == view.purpose] { (name) }
                                    }
                                }
                                p class="hint" id="purpose-hint" { (tr.t("project.purpose_hint")) }
                                @for (_, name, description) in view.purposes {
                                    @if !description.is_empty() { p class="hint" { strong { (name) } ": " (description) } }
                                }
                                @if let Some(e) = view.errors.get("purpose") { p class="field-error" id="purpose-error" { (tr.t(e)) } }
                            }
                        }
                    }
                    div.field.has-error[view.errors.get("description").is_some()] {
                        label for="f-description" { (tr.t("project.description")) }
                        textarea id="f-description" name="description" rows="4" { (view.description) }
                        @if let Some(e) = view.errors.get("description") { p class="field-error" { (tr.t(e)) } }
                    }
                    fieldset.field.has-error[members_error.is_some()] {
                        legend { (tr.t("project.members")) span class="req" aria-hidden="true" { "*" } }
                        p class="hint" id="members-hint" { (tr.t("auth.user_search.hint")) }
                        // Typed usernames; app.js suggests matches from the
                        // user search (never a list of every account).
                        div class="row" {
                            div class="field" {
                                label for="f-manager" { (tr.t("project.role.manager")) }
                                input type="text" id="f-manager" name="manager" value=(view.managers)
                                    list="user-matches" autocomplete="off" data-user-search=(paths::USER_SEARCH)
                                    aria-describedby="members-hint";
                            }
                            div class="field" {
                                label for="f-member" { (tr.t("project.role.member")) }
                                input type="text" id="f-member" name="member" value=(view.members)
                                    list="user-matches" autocomplete="off" data-user-search=(paths::USER_SEARCH)
                                    aria-describedby="members-hint";
                            }
                        }
                        datalist id="user-matches" {}
                        script src=(crate::web::assets::url("user-search.js")) defer {}
                        @if let Some(e) = members_error { p class="field-error" id="members-error" { (tr.t(e)) } }
                    }
                    div class="actions" {
                        button type="submit" class="btn primary" { (tr.t(if view.editing.is_some() { "project.save" } else { "project.submit_application" })) }
                        a class="btn" href=(view.editing.map_or(paths::PROJECTS.to_owned(), paths::project)) { (tr.t("common.cancel")) }
                    }
                }
            }
        },
    )
}

/// A member as Project Detail shows them.
pub struct MemberView {
    pub user: UserId,
    pub username: String,
    pub role: ProjectRole,
    pub cap: MemberCap,
}

/// Project Detail.
pub struct DetailView<'a> {
    pub project: &'a ProjectSummary,
    pub members: &'a [MemberView],
    pub used: Resources,
    /// The code a manager types back to delete.
    pub deletion_code: &'a str,
    pub errors: &'a FieldErrors,
    /// Which form the errors belong to: "extension", "quota", "delete", "caps".
    pub errors_for: &'a str,
    pub notice: Option<String>,
    /// Values typed into the form that was refused.
    pub typed: &'a [(String, String)],
    /// The member whose cap was refused (with `errors_for` "caps").
    pub cap_member: Option<UserId>,
    /// Extension and quota applications waiting for an admin.
    pub pending: &'a [ApplicationView],
    /// The platform's time zone.
    pub zone: &'a jiff::tz::TimeZone,
    /// The project's containers the viewer may see, newest first.
    pub containers: &'a [super::containers::ContainerRow<'a>],
    /// The project's storages the viewer may see, newest first.
    pub storage: &'a [crate::service::storage::StorageItem],
}

fn typed<'a>(view: &'a DetailView, form: &str, field: &str) -> &'a str {
    if view.errors_for != form {
        return "";
    }
    view.typed
        .iter()
        .find(|(k, _)| k == field)
        .map_or("", |(_, v)| v.as_str())
}

fn form_errors<'a>(view: &'a DetailView, form: &str) -> &'a FieldErrors {
    static NONE: std::sync::LazyLock<FieldErrors> = std::sync::LazyLock::new(FieldErrors::new);
    if view.errors_for == form {
        view.errors
    } else {
        &NONE
    }
}

/// A member's cap: "No limit" when none is set, which is not 0.
fn cap_text(tr: Tr, value: Option<u64>, milli: bool) -> String {
    match (value, milli) {
        (None, _) => tr.t("project.no_limit").to_owned(),
        (Some(v), true) => Milli(v).to_string(),
        (Some(v), false) => format::ram_gb(v),
    }
}

/// What a pending application asks for, in a line.
fn pending_text(tr: Tr, a: &ApplicationView) -> String {
    match &a.application.kind {
        ApplicationKind::Extension { days, next_end, .. } => tr.f(
            "pages.pending_extension",
            &[
                ("days", &days.to_string()),
                ("end", &format::date(*next_end)),
            ],
        ),
        ApplicationKind::Quota { add } => tr.f(
            "pages.pending_quota",
            &[
                ("gpu", &Milli(add.gpu_milli).to_string()),
                ("cpu", &Milli(add.cpu_milli).to_string()),
                ("ram", &format::ram_gb(add.ram_mib)),
                ("storage", &format::storage_gb(add.storage_gib)),
            ],
        ),
        ApplicationKind::Project => tr.t("application.kind.project").to_owned(),
    }
}

/// A refused cap's message, naming the member and the quota it must fit.
fn cap_error(tr: Tr, member: &str, key: &str, quota: &Resources) -> String {
    let message = tr.f(
        key,
        &[
            ("gpu", &Milli(quota.gpu_milli).to_string()),
            ("cpu", &Milli(quota.cpu_milli).to_string()),
            ("ram", &format::ram_gb(quota.ram_mib)),
        ],
    );
    tr.f(
        "error.cap.member.message",
        &[("member", member), ("message", &message)],
    )
}

pub fn detail(shell: &Shell, view: &DetailView) -> Markup {
    let tr = shell.tr;
    let p = &view.project.project;
    let is_manager = view.project.role == Some(ProjectRole::Manager);
    let can_apply = is_manager
        && matches!(
            p.status,
            ProjectStatus::Active | ProjectStatus::BufferPeriod
        );
    let quota_row = |label: &'static str, used: String, total: String, left: String| {
        html! { tr { th scope="row" { (tr.t(label)) } td { (used) } td { (total) } td { (left) } } }
    };
    let left = p.quota.saturating_sub(view.used);
    page(
        shell,
        &p.name,
        &[
            Crumb {
                label: tr.t("nav.projects"),
                href: Some(paths::PROJECTS),
            },
            Crumb {
                label: &p.name,
                href: None,
            },
        ],
        html! {
            @if let Some(text) = &view.notice { (notice(Tone::Success, html! { (text) })) }
            @if !view.errors.is_empty() {
                (notice(Tone::Error, html! {
                    (tr.t("form.fix_errors")) " "
                    a href=(format!("#{}", match view.errors_for { "quota" => "quota-application", "caps" => "members", other => other })) { (tr.t("project.go_to_form")) }
                }))
            }
            @if p.status == ProjectStatus::BufferPeriod {
                (notice(Tone::Warning, html! { (tr.t("project.buffer_notice")) }))
            }
            div class="detail-grid" {
                section class="panel" aria-labelledby="general" {
                    h2 id="general" { (tr.t("project.general")) }
                    dl class="facts" {
                        dt { (tr.t("project.code")) } dd { (p.code) }
                        dt { (tr.t("project.status_label")) } dd { (status_badge(tr, p.status)) }
                        dt { (tr.t("project.start")) } dd { (format::date(p.start)) }
                        dt { (tr.t("project.end")) } dd { (format::date(p.end)) @if view.project.extended { " " span class="extended-mark" { (tr.t("project.extended")) } } }
                        dt { (tr.t("project.containers")) } dd { (view.project.containers) }
                        dt { (tr.t("project.jobs")) } dd { (view.project.jobs) }
                        @if !p.description.is_empty() { dt { (tr.t("project.description")) } dd { (p.description) } }
                    }
                    @if is_manager && p.status.is_open() {
                        div class="actions" {
                            a class="btn" href=(paths::project_action(p.id, "edit")) { (tr.t("project.edit")) }
                        }
                    }
                }
                section class="panel" aria-labelledby="quota" {
                    h2 id="quota" { (tr.t("project.quota")) }
                    table class="table compact" {
                        thead { tr {
                            th scope="col" { span class="sr-only" { (tr.t("project.resource")) } }
                            th scope="col" { (tr.t("project.used")) }
                            th scope="col" { (tr.t("project.quota_total")) }
                            th scope="col" { (tr.t("project.available")) }
                        } }
                        tbody {
                            (quota_row("project.gpu_units", Milli(view.used.gpu_milli).to_string(), Milli(p.quota.gpu_milli).to_string(), Milli(left.gpu_milli).to_string()))
                            (quota_row("project.cpu_cores", Milli(view.used.cpu_milli).to_string(), Milli(p.quota.cpu_milli).to_string(), Milli(left.cpu_milli).to_string()))
                            (quota_row("project.ram", format::ram_gb(view.used.ram_mib), format::ram_gb(p.quota.ram_mib), format::ram_gb(left.ram_mib)))
                            (quota_row("project.storage", format::storage_gb(view.used.storage_gib), format::storage_gb(p.quota.storage_gib), format::storage_gb(left.storage_gib)))
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="members" {
                h2 id="members" { (tr.t("project.members")) }
                @if is_manager { p class="hint" { (tr.t("project.caps_hint")) } }
                table class="table" {
                    thead { tr {
                        th scope="col" { (tr.t("users.username")) }
                        th scope="col" { (tr.t("project.role_label")) }
                        th scope="col" { (tr.t("project.cap_gpu")) }
                        th scope="col" { (tr.t("project.cap_cpu")) }
                        th scope="col" { (tr.t("project.cap_ram")) }
                        @if is_manager { th scope="col" { span class="sr-only" { (tr.t("users.actions")) } } }
                    } }
                    tbody {
                        @for m in view.members {
                            tr {
                                td { (m.username) }
                                td { @if m.role == ProjectRole::Manager { (badge(BadgeColor::Blue, tr.t("project.role.manager"))) } @else { (tr.t("project.role.member")) } }
                                @if is_manager && p.status.is_open() {
                                    @let form_id = format!("cap-{}", m.user);
                                    @let refused = view.cap_member == Some(m.user) && view.errors_for == "caps";
                                    @let value = |name: &str, stored: String| if refused { typed(view, "caps", name).to_owned() } else { stored };
                                    @let invalid = |name: &str| (refused && view.errors.get(name).is_some()).then_some("true");
                                    @let error_id = format!("cap-error-{}", m.user);
                                    @let described = |name: &str| invalid(name).map(|_| error_id.clone());
                                    td { input form=(form_id) name="gpu" size="5" value=(value("gpu", m.cap.gpu_milli.map(|v| Milli(v).to_string()).unwrap_or_default())) placeholder=(tr.t("project.no_limit")) aria-invalid=[invalid("gpu")] aria-describedby=[described("gpu")] aria-label=(format!("{} {}", tr.t("project.cap_gpu"), m.username)); }
                                    td { input form=(form_id) name="cpu" size="5" value=(value("cpu", m.cap.cpu_milli.map(|v| Milli(v).to_string()).unwrap_or_default())) placeholder=(tr.t("project.no_limit")) aria-invalid=[invalid("cpu")] aria-describedby=[described("cpu")] aria-label=(format!("{} {}", tr.t("project.cap_cpu"), m.username)); }
                                    td { input form=(form_id) name="ram" size="7" value=(value("ram", m.cap.ram_mib.map(format::gb_field).unwrap_or_default())) placeholder=(tr.t("project.no_limit")) aria-invalid=[invalid("ram")] aria-describedby=[described("ram")] aria-label=(format!("{} {} (GB)", tr.t("project.cap_ram"), m.username)); " GB" }
                                    td {
                                        form id=(form_id) method="post" action=(paths::project_action(p.id, &format!("caps/{}", m.user))) {
                                            (csrf_field(shell))
                                            button type="submit" class="btn small" { (tr.t("project.save_cap")) }
                                        }
                                    }
                                } @else {
                                    td { (cap_text(tr, m.cap.gpu_milli, true)) }
                                    td { (cap_text(tr, m.cap.cpu_milli, true)) }
                                    td { (cap_text(tr, m.cap.ram_mib, false)) }
                                    @if is_manager { td {} }
                                }
                            }
                            @if view.cap_member == Some(m.user) && view.errors_for == "caps" {
                                tr class="row-error" {
                                    td colspan="6" id=(format!("cap-error-{}", m.user)) {
                                        @for e in view.errors.iter() {
                                            p class="field-error" role="alert" { (cap_error(tr, &m.username, e.message, &p.quota)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !view.pending.is_empty() {
                section class="panel" aria-labelledby="pending-title" {
                    h2 id="pending-title" { (tr.t("pages.pending_title")) }
                    ul {
                        @for a in view.pending {
                            li {
                                a href=(paths::review(a.application.id)) { (pending_text(tr, a)) }
                                " · " (a.applicant) " · " (format::date(a.application.created_at.to_zoned(view.zone.clone()).date()))
                            }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="project-containers" {
                h2 id="project-containers" { (tr.t("nav.containers")) }
                (super::containers::project_table(shell, view.containers, view.zone))
            }
            (super::storage::project_panel(shell, p.id, view.storage))
            section class="panel" aria-labelledby="project-jobs" {
                h2 id="project-jobs" { (tr.t("project.jobs")) }
                p class="muted" { (tr.t("project.jobs_later")) }
            }
            @if can_apply {
                section class="panel" id="extension" aria-labelledby="extension-title" {
                    h2 id="extension-title" { (tr.t("project.extension")) }
                    form method="post" action=(paths::project_action(p.id, "extension")) class="form inline" novalidate {
                        (csrf_field(shell))
                        (input(tr, Field::text("days", "project.extension_days", typed(view, "extension", "days")).kind("number").required().hint("project.extension_days_hint").scoped("extension-"), form_errors(view, "extension")))
                        (input(tr, Field::text("reason", "project.reason", typed(view, "extension", "reason")).scoped("extension-"), form_errors(view, "extension")))
                        button type="submit" class="btn primary" { (tr.t("project.apply")) }
                    }
                }
                section class="panel" id="quota-application" aria-labelledby="quota-application-title" {
                    h2 id="quota-application-title" { (tr.t("project.quota_application")) }
                    form method="post" action=(paths::project_action(p.id, "quota")) class="form inline" novalidate {
                        (csrf_field(shell))
                        (input(tr, Field::text("gpu", "project.more_gpu", typed(view, "quota", "gpu")).hint("project.gpu_hint").scoped("quota-"), form_errors(view, "quota")))
                        (input(tr, Field::text("cpu", "project.more_cpu", typed(view, "quota", "cpu")).scoped("quota-"), form_errors(view, "quota")))
                        (input(tr, Field::text("ram", "project.more_ram", typed(view, "quota", "ram")).scoped("quota-"), form_errors(view, "quota")))
                        (input(tr, Field::text("storage", "project.more_storage", typed(view, "quota", "storage")).scoped("quota-"), form_errors(view, "quota")))
                        (input(tr, Field::text("reason", "project.reason", typed(view, "quota", "reason")).required().scoped("quota-"), form_errors(view, "quota")))
                        button type="submit" class="btn primary" { (tr.t("project.apply")) }
                    }
                }
            }
            @if is_manager {
                section class="panel danger-zone" id="delete" aria-labelledby="delete-title" {
                    h2 id="delete-title" { (tr.t("project.delete")) }
                    p { (tr.t("project.delete_warning")) }
                    (confirm_dialog_with(shell, Confirm {
                        id: "delete-project".into(),
                        open_label: tr.t("project.delete"),
                        title: tr.t("project.delete"),
                        text: &tr.f("project.delete_confirm", &[("project", &p.name), ("code", view.deletion_code)]),
                        action: &paths::project_action(p.id, "delete"),
                        confirm_label: tr.t("project.delete"),
                        danger: true,
                        reopen: view.errors_for == "delete",
                    }, html! {
                        (input(tr, Field::text("code", "project.verification_code", "").required(), form_errors(view, "delete")))
                    }))
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    use super::*;
    use crate::domain::project::{ApplicationStatus, Membership};
    use crate::domain::user::Lang;
    use crate::store::projects::{ApplicationRecord, ProjectRecord};
    use crate::web::views::test_support::{member, shell};

    fn summary() -> ProjectSummary {
        let alice = UserId::from_u128(1);
        ProjectSummary {
            project: ProjectRecord {
                id: ProjectId::from_u128(2),
                code: "project1".into(),
                name: "Vision".into(),
                description: String::new(),
                purpose: None,
                start: date(2026, 12, 4),
                end: date(2026, 12, 31),
                members: vec![Membership {
                    user: alice,
                    role: ProjectRole::Manager,
                    cap: MemberCap::default(),
                }],
                quota: Resources {
                    gpu_milli: 3000,
                    cpu_milli: 16000,
                    ram_mib: 65536,
                    storage_gib: 500,
                },
                status: ProjectStatus::Active,
                applicant: alice,
                created_at: jiff::Timestamp::UNIX_EPOCH,
                reminders_sent: Vec::new(),
                deleted: false,
                released_at: None,
                released_in_cluster: false,
                auto_stop_idle_hours: None,
            },
            role: Some(ProjectRole::Manager),
            used: Resources::ZERO,
            containers: 0,
            jobs: 0,
            extended: false,
        }
    }

    #[test]
    fn the_table_view_has_the_managers_actions_and_slashed_dates() {
        let items = [summary()];
        for (lang, actions, range) in [
            (Lang::En, ">Actions<", "1 - 1 of 1"),
            (Lang::ZhTw, ">操作<", "1 - 1，共 1 筆"),
        ] {
            let view = ProjectListView {
                items: &items,
                query: "",
                page: 1,
                pages: 1,
                page_size: 12,
                total: 1,
                table: true,
                notice: None,
            };
            let html = list(&shell(lang, member()), &view).into_string();
            assert!(html.contains(actions), "{lang:?}");
            assert!(html.contains(range), "{lang:?}");
            assert!(html.contains("/projects/00000000-0000-0000-0000-000000000002/edit"));
            assert!(html.contains("2026/12/04") && !html.contains("2026-12-04"));
        }
    }

    #[test]
    fn detail_shows_pending_applications_ram_in_gb_and_a_refused_deletion_in_its_dialog() {
        let s = summary();
        let members = [MemberView {
            user: UserId::from_u128(1),
            username: "alice".into(),
            role: ProjectRole::Manager,
            cap: MemberCap::default(),
        }];
        let pending = [ApplicationView {
            application: ApplicationRecord {
                id: crate::domain::ids::ApplicationId::from_u128(3),
                project: s.project.id,
                applicant: UserId::from_u128(1),
                kind: ApplicationKind::Extension {
                    days: 7,
                    next_start: date(2027, 1, 1),
                    next_end: date(2027, 1, 7),
                },
                status: ApplicationStatus::Reviewing,
                created_at: jiff::Timestamp::UNIX_EPOCH,
                reason: String::new(),
                remark: String::new(),
                decided_by: None,
                decided_at: None,
                period: Some((s.project.start, s.project.end)),
            },
            project_name: "Vision".into(),
            project_code: "project1".into(),
            project_start: s.project.start,
            project_end: s.project.end,
            applicant: "alice".into(),
        }];
        let errors = FieldErrors::single("code", "error.project.code_mismatch");
        let zone = TimeZone::UTC;
        let view = DetailView {
            project: &s,
            members: &members,
            used: Resources::ZERO,
            deletion_code: "123456",
            errors: &errors,
            errors_for: "delete",
            notice: None,
            typed: &[],
            cap_member: None,
            pending: &pending,
            zone: &zone,
            containers: &[],
            storage: &[],
        };
        let html = detail(&shell(Lang::En, member()), &view).into_string();
        assert!(html.contains("Period extension of 7 days, to 2027/01/07"));
        assert!(html.contains("64.0 GB"));
        assert!(html.contains("No limit"));
        let dialog = &html[html.find("<dialog").unwrap_or(0)..];
        let dialog = &dialog[..dialog.find("</dialog>").unwrap_or(0)];
        assert!(dialog.contains(" open") && dialog.contains("data-reopen"));
        assert!(dialog.contains("Type the verification code exactly as shown."));
    }
}
