//! Container Management (manual §5.4): the container list of the current
//! project, a container's detail with its tabs (Deployment Detail,
//! Services, Monitor, Events), the live status fragment the pages poll,
//! and the delete confirmation.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::catalog::service_label;
use super::components::{
    self, BadgeColor, ListPlace, Tone, badge, csrf_field, notice, search_and_pager,
};
use super::format;
use super::layout::{Crumb, Shell, page, section_page};
use crate::cluster::{Endpoint, WorkloadEvent};
use crate::domain::catalog::{Protocol, ServiceKind};
use crate::domain::quota::Milli;
use crate::domain::workload::{ContainerSpec, FailureReason, Resources, WorkloadStatus};
use crate::i18n::Tr;
use crate::store::workloads::{Desired, WorkloadRecord, WorkloadSpec};
use crate::web::paths;

/// Where a container is, as the pages show it: the driver's status with
/// what the user asked for laid over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// To start at a time still to come.
    Scheduled,
    Creating,
    Running,
    Stopping,
    Stopped,
    Failed(FailureReason),
    /// Deletion asked for; the driver is removing it.
    Deleting,
}

impl ContainerState {
    /// Its word in the pages' `data-state` and CSS.
    pub fn code(&self) -> &'static str {
        match self {
            ContainerState::Scheduled => "scheduled",
            ContainerState::Creating => "creating",
            ContainerState::Running => "running",
            ContainerState::Stopping => "stopping",
            ContainerState::Stopped => "stopped",
            ContainerState::Failed(_) => "failed",
            ContainerState::Deleting => "deleting",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ContainerState::Scheduled => "container.state.scheduled",
            ContainerState::Creating => "container.state.creating",
            ContainerState::Running => "container.state.running",
            ContainerState::Stopping => "container.state.stopping",
            ContainerState::Stopped => "container.state.stopped",
            ContainerState::Failed(_) => "container.state.failed",
            ContainerState::Deleting => "container.state.deleting",
        }
    }

    fn color(&self) -> BadgeColor {
        match self {
            ContainerState::Running => BadgeColor::Green,
            ContainerState::Scheduled => BadgeColor::Blue,
            ContainerState::Creating | ContainerState::Stopping | ContainerState::Deleting => {
                BadgeColor::Amber
            }
            ContainerState::Stopped => BadgeColor::Grey,
            ContainerState::Failed(_) => BadgeColor::Red,
        }
    }

    /// Whether it can be stopped (it runs or is on its way to).
    pub fn can_stop(&self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Creating | ContainerState::Scheduled
        )
    }

    /// Whether it can be started again.
    pub fn can_start(&self) -> bool {
        matches!(self, ContainerState::Stopped | ContainerState::Failed(_))
    }
}

/// The state of a container record at `now`.
pub fn state_of(record: &WorkloadRecord, now: Timestamp) -> ContainerState {
    let status = record.status();
    match record.desired {
        Desired::Deleted => ContainerState::Deleting,
        Desired::Stopped => match status {
            WorkloadStatus::Failed { reason } => ContainerState::Failed(reason),
            s if s.is_terminal() => ContainerState::Stopped,
            _ => ContainerState::Stopping,
        },
        Desired::Running => {
            let scheduled = matches!(&record.spec, WorkloadSpec::Container(c)
                if c.start_at.is_some_and(|at| at > now));
            // Asked to start again: the old end is not the news.
            let restarting = record.due_at.is_some() && status.is_terminal();
            match status {
                _ if scheduled && record.observed.is_none() => ContainerState::Scheduled,
                _ if restarting && record.error.is_none() => ContainerState::Creating,
                WorkloadStatus::Scheduled => ContainerState::Scheduled,
                WorkloadStatus::Queued | WorkloadStatus::Creating => ContainerState::Creating,
                WorkloadStatus::Running => ContainerState::Running,
                WorkloadStatus::Stopping => ContainerState::Stopping,
                WorkloadStatus::Stopped | WorkloadStatus::Succeeded => ContainerState::Stopped,
                WorkloadStatus::Failed { reason } => ContainerState::Failed(reason),
            }
        }
    }
}

/// Why it failed, or what it waits for, in the reader's language.
pub fn state_reason(tr: Tr, state: &ContainerState, record: &WorkloadRecord) -> Option<String> {
    match state {
        ContainerState::Failed(FailureReason::ExitCode(code)) => Some(tr.f(
            "container.failure.exit_code",
            &[("code", &code.to_string())],
        )),
        ContainerState::Failed(FailureReason::MissingProgram(program)) => {
            Some(tr.f("container.failure.missing_program", &[("program", program)]))
        }
        ContainerState::Failed(FailureReason::Unschedulable) => Some(tr.f(
            "container.failure.unschedulable",
            &[("spec", &spec_summary(tr, resources_of(record)?))],
        )),
        ContainerState::Failed(reason) => Some(tr.t(reason.message_key()).to_owned()),
        ContainerState::Creating => {
            let error = record.error.as_ref()?;
            Some(match &error.reason[..] {
                "NotEnoughGpus" => tr.f(
                    "container.waiting.gpus",
                    &[("gpus", &gpu_summary(tr, resources_of(record)?))],
                ),
                "Unreachable" | "Timeout" => tr.t("container.waiting.cluster").to_owned(),
                _ => tr.t("container.waiting.retry").to_owned(),
            })
        }
        _ => None,
    }
}

fn resources_of(record: &WorkloadRecord) -> Option<&Resources> {
    match &record.spec {
        WorkloadSpec::Container(c) => Some(&c.resources),
        _ => None,
    }
}

/// The status badge with its reason beside it.
pub fn state_markup(tr: Tr, state: &ContainerState, record: &WorkloadRecord) -> Markup {
    html! {
        (badge(state.color(), tr.t(state.label())))
        @if let Some(reason) = state_reason(tr, state, record) {
            " " span class="state-reason" { (reason) }
        }
    }
}

/// "1 × A100 80GB", or "CPU only".
pub fn gpu_summary(tr: Tr, resources: &Resources) -> String {
    match &resources.gpu {
        Some(gpu) => format!("{} × {}", gpu.count, gpu.type_name),
        None => tr.t("container.cpu_only").to_owned(),
    }
}

/// "1 × T4 + 2 CPU + 4.0 GB RAM".
pub fn spec_summary(tr: Tr, resources: &Resources) -> String {
    let cpu = tr.f(
        "container.cpu_amount",
        &[("cpu", &Milli(resources.cpu_milli).to_string())],
    );
    let ram = tr.f(
        "container.ram_amount",
        &[("ram", &format::ram_gb(resources.ram_mib))],
    );
    match &resources.gpu {
        Some(_) => format!("{} + {cpu} + {ram}", gpu_summary(tr, resources)),
        None => format!("{cpu} + {ram}"),
    }
}

/// One container as a row of a list.
pub struct ContainerRow<'a> {
    pub record: &'a WorkloadRecord,
    pub spec: &'a ContainerSpec,
    pub owner: &'a str,
    pub state: ContainerState,
}

impl<'a> ContainerRow<'a> {
    /// The row of `record` when it is a container.
    pub fn of(record: &'a WorkloadRecord, owner: &'a str, now: Timestamp) -> Option<Self> {
        match &record.spec {
            WorkloadSpec::Container(spec) => Some(ContainerRow {
                record,
                spec,
                owner,
                state: state_of(record, now),
            }),
            _ => None,
        }
    }
}

/// The container list of the current project.
pub struct ContainerListView<'a> {
    /// The current project's name (None: no project chosen).
    pub project: Option<&'a str>,
    pub rows: &'a [ContainerRow<'a>],
    pub query: &'a str,
    /// The search was refused (too long): its message.
    pub query_error: Option<String>,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub total: usize,
    pub notice: Option<String>,
    pub zone: &'a TimeZone,
}

fn list_url(view: &ContainerListView, page: usize) -> String {
    components::list_url(paths::CONTAINERS, view.query, page)
}

/// The address the list's rows are polled at.
fn rows_url(view: &ContainerListView) -> String {
    components::rows_url(paths::CONTAINERS, view.query, view.page)
}

pub fn list(shell: &Shell, view: &ContainerListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.containers");
    section_page(
        shell,
        "nav.section.project",
        title,
        html! {
            @if let Some(text) = &view.notice { (notice(Tone::Success, html! { (text) })) }
            @match view.project {
                None => div class="empty" {
                    p { (tr.t("container.no_project")) }
                    a class="btn primary" href=(paths::PROJECTS) { (tr.t("nav.projects")) }
                },
                Some(project) => {
                    p class="lead" { (tr.f("container.list_lead", &[("project", project)])) }
                    div class="toolbar" {
                        (search_and_pager(tr, &ListPlace {
                            base: paths::CONTAINERS,
                            search_key: "container.search",
                            query: view.query,
                            query_refused: view.query_error.is_some(),
                            page: view.page,
                            pages: view.pages,
                            page_size: view.page_size,
                            shown: view.rows.len(),
                            total: view.total,
                        }))
                        a class="btn small" href=(list_url(view, view.page)) { "↻ " (tr.t("common.refresh")) }
                        a class="btn primary" href=(paths::CONTAINER_NEW) { "+ " (tr.t("container.create")) }
                    }
                    @if let Some(error) = &view.query_error {
                        p class="field-error" id="q-error" role="alert" { (error) }
                    }
                    @if view.rows.is_empty() {
                        div class="empty" {
                            p { (tr.t(if view.query.is_empty() { "container.empty" } else { "container.no_match" })) }
                        }
                    } @else {
                        div class="panel" {
                            table class="table container-table" {
                                caption class="sr-only" { (title) }
                                (head(tr, true))
                                tbody data-poll=(rows_url(view)) {
                                    (rows(shell, view.rows, view.zone, true))
                                }
                            }
                        }
                        script src=(crate::web::assets::url("containers.js")) defer {}
                    }
                }
            }
        },
    )
}

fn head(tr: Tr, actions: bool) -> Markup {
    html! {
        thead { tr {
            th scope="col" { (tr.t("container.name")) }
            th scope="col" { (tr.t("container.specification")) }
            th scope="col" { (tr.t("container.environment")) }
            th scope="col" { (tr.t("container.created")) }
            th scope="col" { (tr.t("container.owner")) }
            th scope="col" { (tr.t("container.status")) }
            @if actions { th scope="col" { span class="sr-only" { (tr.t("container.actions")) } } }
        } }
    }
}

/// The rows of a container table; rows not Running are greyed, and the
/// actions that need a running container are disabled in them.
pub fn rows(shell: &Shell, rows: &[ContainerRow], zone: &TimeZone, actions: bool) -> Markup {
    let tr = shell.tr;
    html! {
        @for row in rows {
            @let id = row.record.id();
            @let running = row.state == ContainerState::Running;
            tr class=[(!running).then_some("inactive")] data-state=(row.state.code()) {
                td { a href=(paths::container(id)) { (row.spec.meta.name) } }
                td { (gpu_summary(tr, &row.spec.resources)) }
                td { (row.spec.image) }
                td { (format::date_time(row.record.created_at, zone)) }
                td { (row.owner) }
                td { (state_markup(tr, &row.state, row.record)) }
                @if actions {
                    td class="row-actions" {
                        @if running {
                            a class="btn small" href=(paths::container_tab(id, "services")) { (tr.t("container.tab.services")) }
                        } @else {
                            span class="btn small" aria-disabled="true" { (tr.t("container.tab.services")) }
                        }
                        (action_buttons(shell, row, true))
                    }
                }
            }
        }
    }
}

/// Stop (or Start) and Delete; `back_to_list`: the forms return to the
/// list rather than the detail page (`next` is `list` or `detail`).
fn action_buttons(shell: &Shell, row: &ContainerRow, back_to_list: bool) -> Markup {
    let tr = shell.tr;
    let id = row.record.id();
    let name = &row.spec.meta.name;
    let next = if back_to_list { "list" } else { "detail" };
    let deleting = row.state == ContainerState::Deleting;
    html! {
        @if row.state.can_start() {
            form method="post" action=(paths::container_action(id, "start")) class="inline-form" {
                (csrf_field(shell))
                input type="hidden" name="next" value=(next);
                button type="submit" class="btn small" aria-label=(tr.f("container.start_named", &[("name", name)])) { (tr.t("container.start")) }
            }
        } @else {
            form method="post" action=(paths::container_action(id, "stop")) class="inline-form" {
                (csrf_field(shell))
                input type="hidden" name="next" value=(next);
                button type="submit" class="btn small" disabled[!row.state.can_stop()] aria-label=(tr.f("container.stop_named", &[("name", name)])) { (tr.t("container.stop")) }
            }
        }
        @if deleting {
            span class="btn small danger" aria-disabled="true" { (tr.t("container.delete")) }
        } @else {
            // On the detail page a script opens the dialog instead of
            // following the link; without it the link's page asks.
            a class="btn small danger" href=(paths::container_action(id, "delete"))
                data-dialog=[(!back_to_list).then_some(DELETE_DIALOG)]
                aria-label=(tr.f("container.delete_named", &[("name", name)])) { (tr.t("container.delete")) }
        }
    }
}

/// How many containers Project Detail lists (the newest); the container
/// list has them all.
pub const PROJECT_DETAIL_ROWS: usize = 10;

/// The id of the delete dialog on a container's page.
const DELETE_DIALOG: &str = "delete-dialog";

/// The delete confirmation's form: the warning's checkbox, with its error.
fn delete_form(shell: &Shell, row: &ContainerRow, form_id: &str, refused: bool) -> Markup {
    let tr = shell.tr;
    let error_id = format!("{form_id}-error");
    html! {
        form method="post" action=(paths::container_action(row.record.id(), "delete")) id=(form_id) class="form" {
            (csrf_field(shell))
            div.field.has-error[refused] {
                label class="choice" {
                    input type="checkbox" name="confirm" value="yes" required
                        aria-invalid=[refused.then_some("true")]
                        aria-describedby=[refused.then_some(error_id.as_str())];
                    (tr.t("container.delete_understood"))
                }
                @if refused {
                    p class="field-error" id=(error_id) role="alert" { (tr.t("container.delete_confirm_required")) }
                }
            }
        }
    }
}

/// The delete dialog of a container's page (the script's way to ask).
fn delete_dialog(shell: &Shell, row: &ContainerRow) -> Markup {
    let tr = shell.tr;
    let title = tr.f("container.delete_title", &[("name", &row.spec.meta.name)]);
    let form_id = format!("{DELETE_DIALOG}-form");
    html! {
        dialog id=(DELETE_DIALOG) aria-labelledby=(format!("{DELETE_DIALOG}-title")) aria-describedby=(format!("{DELETE_DIALOG}-text")) {
            h2 id=(format!("{DELETE_DIALOG}-title")) { (title) }
            p id=(format!("{DELETE_DIALOG}-text")) { (tr.t("container.delete_warning")) }
            (delete_form(shell, row, &form_id, false))
            div class="dialog-actions" {
                form method="dialog" { button type="submit" class="btn" { (tr.t("common.cancel")) } }
                button type="submit" class="btn primary danger" form=(form_id) { (tr.t("container.delete")) }
            }
        }
    }
}

/// The containers of a project on its Project Detail.
pub fn project_table(shell: &Shell, rows_: &[ContainerRow], zone: &TimeZone) -> Markup {
    let tr = shell.tr;
    let shown = &rows_[..rows_.len().min(PROJECT_DETAIL_ROWS)];
    html! {
        @if rows_.is_empty() {
            p class="muted" { (tr.t("container.none_in_project")) }
        } @else {
            div class="table-scroll" {
                table class="table container-table" {
                    caption class="sr-only" { (tr.t("nav.containers")) }
                    (head(tr, false))
                    tbody { (rows(shell, shown, zone, false)) }
                }
            }
            @if shown.len() < rows_.len() {
                p class="hint" { (tr.f("container.newest_of", &[
                    ("shown", &shown.len().to_string()),
                    ("total", &rows_.len().to_string()),
                ])) }
            }
        }
        div class="actions" {
            a class="btn" href=(paths::CONTAINERS) { (tr.t("container.open_list")) }
        }
    }
}

/// The tabs of a container's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Detail,
    Services,
    Monitor,
    Events,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Detail, Tab::Services, Tab::Monitor, Tab::Events];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::Detail => "detail",
            Tab::Services => "services",
            Tab::Monitor => "monitor",
            Tab::Events => "events",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Detail => "container.tab.detail",
            Tab::Services => "container.tab.services",
            Tab::Monitor => "container.tab.monitor",
            Tab::Events => "container.tab.events",
        }
    }
}

/// A container's detail page.
pub struct ContainerDetailView<'a> {
    pub row: ContainerRow<'a>,
    pub tab: Tab,
    /// The events, newest first (the Events tab).
    pub events: &'a [WorkloadEvent],
    /// The driver did not answer: the events are the ones mlstack kept.
    pub events_partial: bool,
    pub notice: Option<String>,
    pub zone: &'a TimeZone,
    /// The Monitor tab's interval and charts (only on that tab).
    pub monitor: Option<&'a super::monitor::MonitorView>,
}

pub fn detail(shell: &Shell, view: &ContainerDetailView) -> Markup {
    let tr = shell.tr;
    let row = &view.row;
    let id = row.record.id();
    let name = row.spec.meta.name.as_str();
    let here = |on: bool| on.then_some("page");
    page(
        shell,
        name,
        &[
            Crumb {
                label: tr.t("nav.containers"),
                href: Some(paths::CONTAINERS),
            },
            Crumb {
                label: name,
                href: None,
            },
        ],
        html! {
            @if let Some(text) = &view.notice { (notice(Tone::Success, html! { (text) })) }
            div class="container-head" {
                p class="live-state" role="status" data-poll-status=(paths::container_action(id, "status")) data-state=(row.state.code()) {
                    (state_markup(tr, &row.state, row.record))
                }
                div class="actions" {
                    @if row.state == ContainerState::Running {
                        a class="btn small" href=(paths::container_action(id, "terminal")) { (tr.t("container.terminal")) }
                    }
                    (action_buttons(shell, row, false))
                }
            }
            @if row.state != ContainerState::Deleting { (delete_dialog(shell, row)) }
            nav class="actions" aria-label=(tr.t("container.tabs")) {
                @for tab in Tab::ALL {
                    a.btn.primary[tab == view.tab] href=(paths::container_tab(id, tab.slug())) aria-current=[here(tab == view.tab)] {
                        (tr.t(tab.label()))
                    }
                }
            }
            @match view.tab {
                Tab::Detail => (deployment(tr, row, view.zone)),
                Tab::Services => (services(tr, row)),
                Tab::Monitor => {
                    @if let Some(monitor) = view.monitor {
                        (super::monitor::tab(tr, id, monitor, view.zone))
                    }
                },
                Tab::Events => (events(tr, view)),
            }
            script src=(crate::web::assets::url("containers.js")) defer {}
        },
    )
}

/// The SSH endpoint of a running container, if it has one.
fn ssh_endpoint<'a>(row: &'a ContainerRow) -> Option<&'a Endpoint> {
    let ssh = row
        .spec
        .services
        .iter()
        .find(|s| s.kind == ServiceKind::Ssh)?;
    endpoint(row, &ssh.name)
}

fn endpoint<'a>(row: &'a ContainerRow, service: &str) -> Option<&'a Endpoint> {
    if row.state != ContainerState::Running {
        return None;
    }
    row.record
        .observed
        .as_ref()?
        .endpoints
        .iter()
        .find(|e| e.service == service)
}

fn deployment(tr: Tr, row: &ContainerRow, zone: &TimeZone) -> Markup {
    let spec = row.spec;
    let resources = &spec.resources;
    let shm = if resources.shm_mib == 0 {
        tr.t("container.shm_default").to_owned()
    } else {
        let percent = resources.shm_mib * 100 / resources.ram_mib.max(1);
        tr.f(
            "container.shm_size",
            &[
                ("size", &format::ram_gb(resources.shm_mib)),
                ("percent", &percent.to_string()),
            ],
        )
    };
    let firewall = match ssh_endpoint(row) {
        Some(e) => tr.f("container.firewall_ssh", &[("port", &e.port.to_string())]),
        None => tr.t("container.firewall_none").to_owned(),
    };
    html! {
        section class="panel" aria-labelledby="deployment" {
            h2 id="deployment" { (tr.t("container.tab.detail")) }
            dl class="facts" {
                dt { (tr.t("container.name")) } dd { (spec.meta.name) }
                dt { (tr.t("container.status")) } dd { (state_markup(tr, &row.state, row.record)) }
                dt { (tr.t("container.deployment_id")) } dd { code { (row.record.id()) } }
                dt { (tr.t("container.owner")) } dd { (row.owner) }
                dt { (tr.t("container.created")) } dd { (format::date_time(row.record.created_at, zone)) }
                @if let Some(start) = spec.start_at {
                    dt { (tr.t("container.start_time")) } dd { (format::date_time(start, zone)) }
                }
                dt { (tr.t("container.environment")) } dd { (spec.image) }
                dt { (tr.t("container.end_time")) }
                dd { @match spec.end_at { Some(end) => (format::date_time(end, zone)), None => (tr.t("container.no_end")) } }
                dt { (tr.t("container.specification")) } dd { (spec_summary(tr, resources)) }
                dt { (tr.t("container.shm")) } dd { (shm) }
                dt { (tr.t("container.volumes")) }
                dd {
                    @if spec.volumes.is_empty() { (tr.t("container.no_volumes")) }
                    @for (n, v) in spec.volumes.iter().enumerate() {
                        @if n > 0 { ", " }
                        (v.volume) " → " code { (v.mount_path) }
                    }
                }
                dt { (tr.t("container.firewall")) } dd { (firewall) }
            }
        }
    }
}

fn services(tr: Tr, row: &ContainerRow) -> Markup {
    let id = row.record.id();
    let running = row.state == ContainerState::Running;
    html! {
        section class="panel" aria-labelledby="services" {
            h2 id="services" { (tr.t("container.tab.services")) }
            @if !running {
                p class="muted" { (tr.t("container.services_when_running")) }
            }
            table class="table" {
                thead { tr {
                    th scope="col" { (tr.t("container.service_name")) }
                    th scope="col" { (tr.t("container.service_kind")) }
                    th scope="col" { (tr.t("container.service_access")) }
                } }
                tbody {
                    tr {
                        td { (tr.t("container.builtin")) }
                        td { (tr.t("catalog.service.webterminal")) }
                        td {
                            @if running {
                                a href=(paths::container_action(id, "terminal")) { (tr.t("container.terminal")) }
                            } @else { span class="muted" { "—" } }
                        }
                    }
                    @for service in &row.spec.services {
                        tr {
                            td { (service.name) }
                            td { (tr.t(service_label(service.kind))) }
                            td {
                                @match (endpoint(row, &service.name), service.protocol) {
                                    (Some(_), Protocol::Http | Protocol::Https) => {
                                        a href=(paths::container_service(id, &service.name)) { (tr.t("container.open_service")) }
                                    }
                                    (Some(e), Protocol::Tcp) if service.kind == ServiceKind::Ssh => {
                                        code class="copy" { "ssh " (e.login.as_deref().unwrap_or("root")) "@" (e.host) " -p " (e.port) }
                                        @if e.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
                                            p class="hint" { (tr.t("container.ssh_loopback")) }
                                        }
                                    }
                                    (Some(e), Protocol::Tcp) => { code class="copy" { (e.host) ":" (e.port) } }
                                    (None, _) => { span class="muted" { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What an event's reason is called and what it means, for the reasons
/// mlstack and the drivers write (the translation keys of its name and
/// its sentence).
fn event_text(reason: &str) -> Option<(&'static str, &'static str)> {
    let keys = match reason {
        "Created" => ("container.event.created", "container.event_text.created"),
        "StartRequested" => (
            "container.event.start_requested",
            "container.event_text.start_requested",
        ),
        "StopRequested" => (
            "container.event.stop_requested",
            "container.event_text.stop_requested",
        ),
        "DeleteRequested" => (
            "container.event.delete_requested",
            "container.event_text.delete_requested",
        ),
        "Released" => ("container.event.released", "container.event_text.released"),
        "BufferPeriod" => (
            "container.event.buffer_period",
            "container.event_text.buffer_period",
        ),
        "MemberRemoved" => (
            "container.event.member_removed",
            "container.event_text.member_removed",
        ),
        "OwnerDisabled" => (
            "container.event.owner_disabled",
            "container.event_text.owner_disabled",
        ),
        "IdleStopped" => (
            "container.event.idle_stopped",
            "container.event_text.idle_stopped",
        ),
        "Creating" => ("container.state.creating", "container.event_text.creating"),
        "Running" => ("container.state.running", "container.event_text.running"),
        "Stopping" => ("container.state.stopping", "container.event_text.stopping"),
        "Stopped" => ("container.state.stopped", "container.event_text.stopped"),
        "Succeeded" => (
            "container.event.succeeded",
            "container.event_text.succeeded",
        ),
        "Failed" => ("container.state.failed", "container.event_text.failed"),
        "NotEnoughGpus" | "FailedScheduling" => (
            "container.event.not_enough_gpus",
            "container.event_text.not_enough_gpus",
        ),
        "Unreachable" | "Timeout" => ("container.event.unreachable", "container.waiting.cluster"),
        "Invalid" | "Rejected" | "Conflict" | "Forbidden" | "Unsupported" | "Io" | "NotFound" => {
            ("container.event.refused", "container.event_text.refused")
        }
        "Scheduled" => (
            "container.event.scheduled",
            "container.event_text.scheduled",
        ),
        "Ended" => ("container.event.ended", "container.event_text.ended"),
        "Pulling" => ("container.event.pulling", "container.event_text.pulling"),
        "Pulled" => ("container.event.pulled", "container.event_text.pulled"),
        "Started" => ("container.event.started", "container.event_text.started"),
        "Killing" => ("container.event.killing", "container.event_text.killing"),
        "BackOff" => ("container.event.back_off", "container.event_text.back_off"),
        "FailedMount" => (
            "container.event.failed_mount",
            "container.event_text.failed_mount",
        ),
        "ErrImagePull" | "ImagePullBackOff" => {
            ("container.event.image_pull", "workload.failure.image_pull")
        }
        "OOMKilling" | "OOMKilled" => ("container.event.oom", "workload.failure.out_of_memory"),
        _ => return None,
    };
    Some(keys)
}

fn events(tr: Tr, view: &ContainerDetailView) -> Markup {
    html! {
        section class="panel" aria-labelledby="events" {
            h2 id="events" { (tr.t("container.tab.events")) }
            @if view.events_partial {
                (notice(Tone::Warning, html! { (tr.t("container.events_partial")) }))
            }
            @if view.events.is_empty() {
                p class="muted" { (tr.t("container.no_events")) }
            } @else {
                div class="table-scroll" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { (tr.t("container.event_time")) }
                            th scope="col" { (tr.t("container.event_type")) }
                            th scope="col" { (tr.t("container.event_reason")) }
                            th scope="col" { (tr.t("container.event_message")) }
                        } }
                        tbody {
                            @for e in view.events {
                                tr {
                                    td class="nowrap" { (format::date_time(e.at, view.zone)) }
                                    td {
                                        @if e.warning { (badge(BadgeColor::Amber, tr.t("container.event_warning"))) }
                                        @else { (badge(BadgeColor::Grey, tr.t("container.event_normal"))) }
                                    }
                                    @match event_text(&e.reason) {
                                        Some((name, text)) => {
                                            td { (tr.t(name)) }
                                            td { (tr.t(text)) }
                                        }
                                        None => {
                                            td lang="en" { (e.reason) }
                                            td lang="en" { (e.message) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The status fragment the detail page polls.
pub fn status_fragment(tr: Tr, row: &ContainerRow) -> Markup {
    html! {
        span data-state=(row.state.code()) { (state_markup(tr, &row.state, row.record)) }
    }
}

/// The delete confirmation: data outside mounted volumes is lost.
pub fn delete_confirm(shell: &Shell, row: &ContainerRow, refused: bool) -> Markup {
    let tr = shell.tr;
    let id = row.record.id();
    let name = row.spec.meta.name.as_str();
    let title = tr.f("container.delete_title", &[("name", name)]);
    page(
        shell,
        &title,
        &[
            Crumb {
                label: tr.t("nav.containers"),
                href: Some(paths::CONTAINERS),
            },
            Crumb {
                label: name,
                href: Some(&paths::container(id)),
            },
            Crumb {
                label: tr.t("container.delete"),
                href: None,
            },
        ],
        html! {
            section class="panel danger-zone" aria-labelledby="delete-title" {
                h2 id="delete-title" { (title) }
                p { (tr.t("container.delete_warning")) }
                @if !row.spec.volumes.is_empty() {
                    p { (tr.t("container.delete_volumes_kept")) }
                    ul {
                        @for v in &row.spec.volumes { li { (v.volume) " → " code { (v.mount_path) } } }
                    }
                }
                (delete_form(shell, row, "delete-form", refused))
                div class="actions" {
                    a class="btn" href=(paths::container(id)) { (tr.t("common.cancel")) }
                    button type="submit" class="btn primary danger" form="delete-form" { (tr.t("container.delete")) }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Observed;
    use crate::domain::ids::{ProjectId, UserId};
    use crate::domain::user::Lang;
    use crate::domain::workload::{
        GpuRequest, ImageRef, ServiceSpec, SshAccess, WorkloadId, WorkloadMeta,
    };
    use crate::web::views::test_support::{member, shell};
    use std::collections::BTreeMap;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn record(status: Option<WorkloadStatus>) -> WorkloadRecord {
        let id = WorkloadId::generate();
        let spec = ContainerSpec {
            meta: WorkloadMeta {
                id,
                project: ProjectId::generate(),
                owner: UserId::generate(),
                name: "notebook".into(),
            },
            image: ImageRef {
                name: "pytorch/pytorch".into(),
                tag: "2.4".into(),
            },
            command: None,
            env: BTreeMap::new(),
            resources: Resources {
                cpu_milli: 2000,
                ram_mib: 4096,
                shm_mib: 1024,
                gpu: Some(GpuRequest {
                    resource_name: "nvidia.com/gpu".into(),
                    type_name: "A100 80GB".into(),
                    node_selector: BTreeMap::new(),
                    count: 1,
                    units_milli: 1000,
                }),
            },
            volumes: Vec::new(),
            services: vec![
                ServiceSpec {
                    name: "jupyter".into(),
                    kind: ServiceKind::JupyterLab,
                    port: 8888,
                    protocol: Protocol::Http,
                    local_command: None,
                },
                ServiceSpec {
                    name: "ssh".into(),
                    kind: ServiceKind::Ssh,
                    port: 22,
                    protocol: Protocol::Tcp,
                    local_command: None,
                },
            ],
            ssh: SshAccess::None,
            start_at: None,
            end_at: None,
        };
        let now = at("2026-12-04T06:05:00Z");
        WorkloadRecord {
            spec: WorkloadSpec::Container(spec),
            desired: Desired::Running,
            generation: 1,
            observed: status.map(|status| Observed {
                id,
                status,
                endpoints: vec![
                    Endpoint {
                        service: "ssh".into(),
                        host: "10.0.0.5".into(),
                        port: 30022,
                        url: "tcp://10.0.0.5:30022".into(),
                        login: None,
                    },
                    Endpoint {
                        service: "jupyter".into(),
                        host: "127.0.0.1".into(),
                        port: 40000,
                        url: "http://127.0.0.1:40000/".into(),
                        login: None,
                    },
                ],
                gpus: vec![0],
                started_at: Some(now),
                finished_at: None,
            }),
            error: None,
            events: Vec::new(),
            due_at: None,
            hold: None,
            queued: false,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn states_lay_the_wish_over_the_drivers_status() {
        let now = at("2026-12-04T06:05:00Z");
        assert_eq!(state_of(&record(None), now), ContainerState::Creating);
        let running = record(Some(WorkloadStatus::Running));
        assert_eq!(state_of(&running, now), ContainerState::Running);
        let mut stopping = running.clone();
        stopping.desired = Desired::Stopped;
        assert_eq!(state_of(&stopping, now), ContainerState::Stopping);
        let mut deleting = running.clone();
        deleting.desired = Desired::Deleted;
        assert_eq!(state_of(&deleting, now), ContainerState::Deleting);
        let mut restarting = record(Some(WorkloadStatus::Stopped));
        assert_eq!(state_of(&restarting, now), ContainerState::Stopped);
        restarting.due_at = Some(now);
        assert_eq!(state_of(&restarting, now), ContainerState::Creating);
        let mut scheduled = record(None);
        if let WorkloadSpec::Container(c) = &mut scheduled.spec {
            c.start_at = Some(at("2026-12-05T00:00:00Z"));
        }
        assert_eq!(state_of(&scheduled, now), ContainerState::Scheduled);
        let failed = record(Some(WorkloadStatus::failed(FailureReason::ExitCode(3))));
        assert_eq!(
            state_of(&failed, now),
            ContainerState::Failed(FailureReason::ExitCode(3))
        );
        assert!(ContainerState::Stopped.can_start() && !ContainerState::Stopped.can_stop());

        // What is missing, in the reader's language.
        let en = shell(Lang::En, member());
        let mut waiting = record(None);
        waiting.error = Some(crate::store::workloads::LastError {
            at: now,
            reason: "NotEnoughGpus".into(),
            message: "not enough free GPUs".into(),
            attempts: 1,
            retry_at: Some(now),
        });
        let state = state_of(&waiting, now);
        assert_eq!(state, ContainerState::Creating);
        let reason = state_reason(en.tr, &state, &waiting).unwrap_or_default();
        assert!(reason.contains("1 × A100 80GB"), "{reason}");
        let zh = shell(Lang::ZhTw, member());
        let unschedulable = ContainerState::Failed(FailureReason::Unschedulable);
        let reason = state_reason(zh.tr, &unschedulable, &waiting).unwrap_or_default();
        assert!(
            reason.contains("1 × A100 80GB + 2 CPU + 4.0 GB 記憶體"),
            "{reason}"
        );
    }

    #[test]
    fn the_detail_tabs_render_in_both_languages() {
        let now = at("2026-12-04T06:05:00Z");
        let zone = TimeZone::get("Asia/Taipei").unwrap_or_else(|e| panic!("{e}"));
        let record = record(Some(WorkloadStatus::Running));
        let events = vec![
            WorkloadEvent {
                at: now,
                warning: false,
                reason: "StopRequested".into(),
                message: "stop requested by bob".into(),
            },
            WorkloadEvent {
                at: now,
                warning: true,
                reason: "SomethingNew".into(),
                message: "raw <b>text</b>".into(),
            },
        ];
        for (lang, running_word, stop_word) in [
            (Lang::En, "Running", "Stop requested"),
            (Lang::ZhTw, "執行中", "已要求停止"),
        ] {
            let s = shell(lang, member());
            let render = |tab: Tab| {
                let row = ContainerRow::of(&record, "bob", now).unwrap_or_else(|| panic!("row"));
                detail(
                    &s,
                    &ContainerDetailView {
                        row,
                        tab,
                        events: &events,
                        events_partial: false,
                        notice: None,
                        zone: &zone,
                        monitor: None,
                    },
                )
                .into_string()
            };
            let html = render(Tab::Detail);
            assert!(html.contains(running_word), "{html}");
            assert!(html.contains("1 × A100 80GB + 2"), "{html}");
            assert!(html.contains("2026/12/04 14:05 (Asia/Taipei)"), "{html}");
            assert!(html.contains("30022"), "the SSH port is the firewall rule");
            assert!(html.contains("(25%)") || html.contains("25%"), "{html}");
            assert!(!html.contains("<script>"), "no inline script");
            let html = render(Tab::Services);
            assert!(html.contains("ssh root@10.0.0.5 -p 30022"), "{html}");
            assert!(html.contains("/services/jupyter/"), "{html}");
            assert!(html.contains("/terminal"), "{html}");
            let html = render(Tab::Events);
            assert!(html.contains(stop_word), "{html}");
            assert!(!html.contains("stop requested by bob"), "translated");
            assert!(html.contains("raw &lt;b&gt;text&lt;/b&gt;"), "escaped");
        }
    }
}
