//! Job Management (manual §5.5): the job list of the current project with
//! the manual's statuses (Queued, Job Creating, Running, Succeeded, Fail to
//! execute with the reason, Cancelled) and, for a queued job, its place in
//! the project's queue and why it waits, in numbers.

use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    self, BadgeColor, ListPlace, Tone, badge, csrf_field, notice, search_and_pager,
};
use super::containers::{gpu_summary, spec_summary};
use super::format;
use super::layout::{Crumb, Shell, page, section_page};
use crate::cluster::WorkloadEvent;
use crate::domain::queue::{QueuePlace, Short, Wait};
use crate::domain::quota::Milli;
use crate::domain::workload::{FailureReason, JobOrigin, JobSpec, WorkloadStatus};
use crate::i18n::Tr;
use crate::store::job_schedules::JobScheduleRecord;
use crate::store::workloads::{Desired, WorkloadRecord, WorkloadSpec};
use crate::web::paths;

/// One job as a row of the list.
pub struct JobRow<'a> {
    pub record: &'a WorkloadRecord,
    pub spec: &'a JobSpec,
    pub owner: &'a str,
    /// Its place in the queue while it is queued.
    pub place: Option<QueuePlace>,
}

impl<'a> JobRow<'a> {
    /// The row of `record` when it is a job.
    pub fn of(
        record: &'a WorkloadRecord,
        owner: &'a str,
        place: Option<QueuePlace>,
    ) -> Option<Self> {
        match &record.spec {
            WorkloadSpec::Job(spec) => Some(JobRow {
                record,
                spec,
                owner,
                place,
            }),
            _ => None,
        }
    }
}

/// The job list of the current project.
pub struct JobListView<'a> {
    /// The current project's name (None: no project chosen).
    pub project: Option<&'a str>,
    pub rows: &'a [JobRow<'a>],
    pub query: &'a str,
    /// The search was refused (too long): its message.
    pub query_error: Option<String>,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub total: usize,
    pub zone: &'a TimeZone,
    /// The project's schedules with a next run, soonest first.
    pub upcoming: &'a [JobScheduleRecord],
}

/// The manual's word for a job's status (translation key) and its colour.
pub fn status_label(record: &WorkloadRecord) -> (&'static str, BadgeColor) {
    match record.status() {
        WorkloadStatus::Queued => ("job.status.queued", BadgeColor::Grey),
        WorkloadStatus::Scheduled | WorkloadStatus::Creating => {
            ("job.status.creating", BadgeColor::Amber)
        }
        WorkloadStatus::Running if record.desired != Desired::Running => {
            ("job.status.cancelling", BadgeColor::Amber)
        }
        WorkloadStatus::Running => ("job.status.running", BadgeColor::Green),
        WorkloadStatus::Stopping => ("job.status.cancelling", BadgeColor::Amber),
        WorkloadStatus::Stopped => ("job.status.cancelled", BadgeColor::Grey),
        WorkloadStatus::Succeeded => ("job.status.succeeded", BadgeColor::Green),
        WorkloadStatus::Failed { .. } => ("job.status.failed", BadgeColor::Red),
    }
}

/// GPUs, CPU cores or RAM in the words of a queue reason.
fn amount(tr: Tr, short: Short, milli_or_mib: u64, gpu_type: Option<&str>) -> String {
    match short {
        Short::Gpu => {
            let gpus = Milli(milli_or_mib).to_string();
            match gpu_type {
                Some(kind) => tr.f("job.queue.gpus_of", &[("n", &gpus), ("type", kind)]),
                None => tr.f("job.queue.gpus", &[("n", &gpus)]),
            }
        }
        Short::Cpu => tr.f("job.queue.cpus", &[("n", &Milli(milli_or_mib).to_string())]),
        Short::Ram => tr.f("job.queue.ram", &[("n", &format::ram_gb(milli_or_mib))]),
    }
}

/// Why a queued job waits, in words with the numbers: "needs 2 GPUs (H100);
/// the project has 0.5 free; 3 jobs ahead".
pub fn queue_reason(tr: Tr, spec: &JobSpec, place: &QueuePlace) -> String {
    let gpu_type = spec.resources.gpu.as_ref().map(|g| g.type_name.as_str());
    let mut parts = Vec::new();
    match place.wait {
        Wait::Turn => {}
        Wait::Project { short, needs, free } => {
            parts.push(tr.f(
                "job.queue.needs",
                &[("amount", &amount(tr, short, needs, gpu_type))],
            ));
            let free = match short {
                Short::Ram => format::ram_gb(free),
                Short::Gpu | Short::Cpu => Milli(free).to_string(),
            };
            parts.push(tr.f("job.queue.project_free", &[("free", &free)]));
        }
        Wait::Member { short, needs, free } => {
            parts.push(tr.f(
                "job.queue.needs",
                &[("amount", &amount(tr, short, needs, gpu_type))],
            ));
            let free = match short {
                Short::Ram => format::ram_gb(free),
                Short::Gpu | Short::Cpu => Milli(free).to_string(),
            };
            parts.push(tr.f("job.queue.member_free", &[("free", &free)]));
        }
    }
    parts.push(match place.ahead {
        0 => tr.t("job.queue.first").to_owned(),
        1 => tr.t("job.queue.one_ahead").to_owned(),
        n => tr.f("job.queue.ahead", &[("n", &n.to_string())]),
    });
    parts.join(tr.t("job.queue.separator"))
}

/// The status badge with the failure or queue reason beside it.
pub fn status_markup(tr: Tr, row: &JobRow) -> Markup {
    let (label, color) = status_label(row.record);
    let reason = match (row.record.status(), &row.place) {
        (WorkloadStatus::Queued, Some(place)) => Some(format!(
            "{} · {}",
            tr.f("job.queue.position", &[("n", &place.position.to_string())]),
            queue_reason(tr, row.spec, place)
        )),
        (WorkloadStatus::Failed { reason }, _) => Some(tr.t(reason.message_key()).to_owned()),
        _ => None,
    };
    html! {
        (badge(color, tr.t(label)))
        @if let Some(reason) = reason {
            " " span class="state-reason" { (reason) }
        }
    }
}

fn list_url(view: &JobListView, page: usize) -> String {
    components::list_url(paths::JOBS, view.query, page)
}

/// The address the list's rows are polled at.
fn rows_url(view: &JobListView) -> String {
    components::rows_url(paths::JOBS, view.query, view.page)
}

pub fn list(shell: &Shell, view: &JobListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.jobs");
    section_page(
        shell,
        "nav.section.project",
        title,
        html! {
            @match view.project {
                None => div class="empty" {
                    p { (tr.t("job.no_project")) }
                    a class="btn primary" href=(paths::PROJECTS) { (tr.t("nav.projects")) }
                },
                Some(project) => {
                    p class="lead" { (tr.f("job.list_lead", &[("project", project)])) }
                    div class="toolbar" {
                        (search_and_pager(tr, &ListPlace {
                            base: paths::JOBS,
                            search_key: "job.search",
                            query: view.query,
                            query_refused: view.query_error.is_some(),
                            page: view.page,
                            pages: view.pages,
                            page_size: view.page_size,
                            shown: view.rows.len(),
                            total: view.total,
                        }))
                        a class="btn small" href=(list_url(view, view.page)) { "↻ " (tr.t("common.refresh")) }
                        a class="btn primary small" href=(paths::JOB_NEW) { "+ " (tr.t("job.create")) }
                    }
                    @if let Some(error) = &view.query_error {
                        p class="field-error" id="q-error" role="alert" { (error) }
                    }
                    (upcoming(tr, view.upcoming))
                    @if view.rows.is_empty() {
                        div class="empty" {
                            p { (tr.t(if view.query.is_empty() { "job.empty" } else { "job.no_match" })) }
                        }
                    } @else {
                        div class="panel" {
                            table class="table job-table" {
                                caption class="sr-only" { (title) }
                                thead { tr {
                                    th scope="col" { (tr.t("job.name")) }
                                    th scope="col" { (tr.t("job.environment")) }
                                    th scope="col" { (tr.t("job.owner")) }
                                    th scope="col" { (tr.t("job.created_on")) }
                                    th scope="col" { (tr.t("job.create_type")) }
                                    th scope="col" { (tr.t("job.status_column")) }
                                } }
                                tbody data-poll=(rows_url(view)) {
                                    (rows(tr, view.rows, view.zone))
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

/// The next run of each schedule of the project, soonest first, each
/// linked to its schedule.
fn upcoming(tr: Tr, schedules: &[JobScheduleRecord]) -> Markup {
    html! {
        @if !schedules.is_empty() {
            section class="panel upcoming-runs" aria-labelledby="upcoming-title" {
                h2 id="upcoming-title" { (tr.t("job.upcoming")) }
                ul {
                    @for s in schedules {
                        @if let Some(next) = s.next_run {
                            @let zone = TimeZone::get(&s.zone).unwrap_or(TimeZone::UTC);
                            li {
                                a href=(paths::job_schedule(s.id)) { (s.name) }
                                " · " (format::date_time(next, &zone))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A job's create type; a scheduled run links to its schedule.
fn origin(tr: Tr, origin: &JobOrigin) -> Markup {
    html! {
        @match origin {
            JobOrigin::Immediately => (tr.t(origin.label_key())),
            JobOrigin::Schedule { schedule, name } => {
                (tr.t(origin.label_key())) " · "
                a href=(paths::job_schedule(*schedule)) { (name) }
            }
        }
    }
}

/// The rows of the job table. "Created on" is when the job started ("--"
/// until it does).
pub fn rows(tr: Tr, rows: &[JobRow], zone: &TimeZone) -> Markup {
    html! {
        @for row in rows {
            @let started = row.record.observed.as_ref().and_then(|o| o.started_at);
            tr data-state=(row.record.status().code()) {
                td { a href=(paths::job(row.record.id())) { (row.spec.meta.name) } }
                td { (row.spec.image) " · " (gpu_summary(tr, &row.spec.resources)) }
                td { (row.owner) }
                td { @match started { Some(at) => (format::date_time(at, zone)), None => "--" } }
                td { (origin(tr, &row.spec.origin)) }
                td { (status_markup(tr, row)) }
            }
        }
    }
}

/// The tabs of a job's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Detail,
    Log,
    Events,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Detail, Tab::Log, Tab::Events];

    pub fn slug(self) -> &'static str {
        match self {
            Tab::Detail => "detail",
            Tab::Log => "log",
            Tab::Events => "events",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Detail => "job.tab.detail",
            Tab::Log => "job.tab.log",
            Tab::Events => "job.tab.events",
        }
    }
}

/// A job's page.
pub struct JobDetailView<'a> {
    pub row: &'a JobRow<'a>,
    pub tab: Tab,
    /// The Log tab: the log (None: the driver did not answer).
    pub log: Option<&'a str>,
    /// The Events tab: newest first.
    pub events: &'a [WorkloadEvent],
    pub zone: &'a TimeZone,
}

fn tab_url(row: &JobRow, tab: Tab) -> String {
    format!("{}?tab={}", paths::job(row.record.id()), tab.slug())
}

pub fn detail(shell: &Shell, view: &JobDetailView) -> Markup {
    let tr = shell.tr;
    let row = view.row;
    let id = row.record.id();
    let name = row.spec.meta.name.as_str();
    let status = row.record.status();
    let can_cancel = row.record.desired == Desired::Running && !status.is_terminal();
    let can_delete = row.record.queued || status.is_terminal();
    page(
        shell,
        name,
        &[
            Crumb {
                label: tr.t("nav.jobs"),
                href: Some(paths::JOBS),
            },
            Crumb {
                label: name,
                href: None,
            },
        ],
        html! {
            div class="container-head" {
                p class="live-state" role="status" { (status_markup(tr, row)) }
                div class="actions" {
                    a class="btn small" href=(format!("{}?job={id}", paths::JOB_TEMPLATE_NEW)) { (tr.t("job.save_as_template")) }
                    @if can_cancel {
                        form method="post" action=(format!("{}/cancel", paths::job(id))) {
                            (csrf_field(shell))
                            button type="submit" class="btn small" { (tr.t("job.cancel")) }
                        }
                    }
                    @if can_delete {
                        form method="post" action=(format!("{}/delete", paths::job(id))) class="inline-confirm" {
                            (csrf_field(shell))
                            label {
                                input type="checkbox" name="confirm" value="yes" required;
                                " " (tr.t("job.delete_confirm"))
                            }
                            " "
                            button type="submit" class="btn small danger" { (tr.t("job.delete")) }
                        }
                    }
                }
            }
            nav class="actions" aria-label=(tr.t("job.tabs")) {
                @for tab in Tab::ALL {
                    a.btn.primary[tab == view.tab] href=(tab_url(row, tab)) aria-current=[(tab == view.tab).then_some("page")] {
                        (tr.t(tab.label()))
                    }
                }
            }
            @match view.tab {
                Tab::Detail => (facts(tr, row, view.zone)),
                Tab::Log => (log(tr, row, view.log)),
                Tab::Events => (events(tr, view.events, view.zone)),
            }
        },
    )
}

fn facts(tr: Tr, row: &JobRow, zone: &TimeZone) -> Markup {
    let spec = row.spec;
    let observed = row.record.observed.as_ref();
    let when =
        |t: Option<jiff::Timestamp>| t.map_or("--".to_owned(), |t| format::date_time(t, zone));
    let shm = if spec.resources.shm_mib == 0 {
        tr.t("job.shm_default").to_owned()
    } else {
        format::ram_gb(spec.resources.shm_mib)
    };
    let exit_code = match row.record.status() {
        WorkloadStatus::Succeeded => Some(0),
        WorkloadStatus::Failed {
            reason: FailureReason::ExitCode(code),
        } => Some(code),
        _ => None,
    };
    html! {
        section class="panel" aria-labelledby="job-detail" {
            h2 id="job-detail" { (tr.t("job.tab.detail")) }
            dl class="facts" {
                dt { (tr.t("job.name")) } dd { (spec.meta.name) }
                dt { (tr.t("job.owner")) } dd { (row.owner) }
                dt { (tr.t("job.hardware")) } dd { (spec_summary(tr, &spec.resources)) }
                dt { (tr.t("job.shm")) } dd { (shm) }
                dt { (tr.t("job.create_type")) } dd { (origin(tr, &spec.origin)) }
                dt { (tr.t("job.environment")) } dd { (spec.image) }
                dt { (tr.t("job.command")) } dd { pre class="command" { (spec.command) } }
                dt { (tr.t("job.created")) } dd { (format::date_time(row.record.created_at, zone)) }
                dt { (tr.t("job.started")) } dd { (when(observed.and_then(|o| o.started_at))) }
                dt { (tr.t("job.finished")) } dd { (when(observed.and_then(|o| o.finished_at))) }
                dt { (tr.t("job.exit_code")) } dd { @match exit_code { Some(code) => (code), None => "--" } }
                dt { (tr.t("job.schedule")) } dd { @match &spec.origin {
                    JobOrigin::Immediately => "--",
                    JobOrigin::Schedule { schedule, name } => a href=(paths::job_schedule(*schedule)) { (name) },
                } }
            }
        }
    }
}

fn log(tr: Tr, row: &JobRow, text: Option<&str>) -> Markup {
    let url = format!("{}/log", paths::job(row.record.id()));
    // While it may still write, the log can be followed (job-log.js).
    let live = !row.record.queued && !row.record.status().is_terminal();
    html! {
        section class="panel" aria-labelledby="job-log" {
            h2 id="job-log" { (tr.t("job.tab.log")) }
            p class="toolbar" {
                a class="btn small" href=(url) download { (tr.t("job.download_log")) }
                @if live {
                    label { input type="checkbox" id="follow-log" checked; " " (tr.t("job.follow_log")) }
                }
            }
            @match text {
                None => (notice(Tone::Warning, html! { (tr.t("job.log_unavailable")) })),
                Some(text) => {
                    @if text.is_empty() { p class="muted" { (tr.t("job.log_empty")) } }
                    @if live {
                        pre class="log" tabindex="0" data-follow=(url) aria-live="polite" { (text) }
                        script src=(crate::web::assets::url("job-log.js")) defer {}
                    } @else if !text.is_empty() {
                        pre class="log" tabindex="0" { (text) }
                    }
                }
            }
        }
    }
}

fn events(tr: Tr, events: &[WorkloadEvent], zone: &TimeZone) -> Markup {
    html! {
        section class="panel" aria-labelledby="job-events" {
            h2 id="job-events" { (tr.t("job.tab.events")) }
            @if events.is_empty() {
                p class="muted" { (tr.t("container.no_events")) }
            } @else {
                div class="table-scroll" {
                    table class="table" {
                        thead { tr {
                            th scope="col" { (tr.t("container.event_time")) }
                            th scope="col" { (tr.t("container.event_reason")) }
                            th scope="col" { (tr.t("container.event_message")) }
                        } }
                        tbody {
                            @for e in events {
                                tr {
                                    td class="nowrap" { (format::date_time(e.at, zone)) }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::Timestamp;

    use super::*;
    use crate::domain::ids::{ProjectId, UserId};
    use crate::domain::user::Lang;
    use crate::domain::workload::{
        GpuRequest, ImageRef, JobOrigin, Resources, WorkloadId, WorkloadMeta,
    };
    use crate::store::workloads::Desired;
    use crate::web::views::test_support::{member, shell};

    fn queued_job() -> WorkloadRecord {
        let at: Timestamp = "2026-12-05T08:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let spec = JobSpec {
            meta: WorkloadMeta {
                id: WorkloadId::generate(),
                project: ProjectId::generate(),
                owner: UserId::generate(),
                name: "train".into(),
            },
            image: ImageRef {
                name: "pytorch/pytorch".into(),
                tag: "2.4".into(),
            },
            command: "echo \"Hello World\"".into(),
            env: BTreeMap::new(),
            resources: Resources {
                cpu_milli: 2000,
                ram_mib: 4096,
                shm_mib: 0,
                gpu: Some(GpuRequest {
                    resource_name: "nvidia.com/gpu".into(),
                    type_name: "H100".into(),
                    node_selector: BTreeMap::new(),
                    count: 2,
                    units_milli: 2000,
                }),
            },
            volumes: Vec::new(),
            time_limit_secs: None,
            origin: JobOrigin::Immediately,
        };
        WorkloadRecord {
            spec: WorkloadSpec::Job(spec),
            desired: Desired::Running,
            generation: 1,
            observed: None,
            error: None,
            events: Vec::new(),
            due_at: None,
            hold: None,
            queued: true,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_queued_job_shows_its_place_and_why_it_waits_in_both_languages() {
        let record = queued_job();
        let place = QueuePlace {
            position: 4,
            ahead: 3,
            wait: Wait::Project {
                short: Short::Gpu,
                needs: 2000,
                free: 500,
            },
        };
        let row = JobRow::of(&record, "bob", Some(place)).unwrap_or_else(|| panic!("a job"));
        for (lang, words) in [
            (
                Lang::En,
                [
                    "Queued",
                    "needs 2 GPUs (H100); the project has 0.5 free; 3 jobs ahead",
                    "--",
                    "Immediately",
                ],
            ),
            (
                Lang::ZhTw,
                [
                    "排隊中",
                    "需要 2 個 GPU (H100)",
                    "前面還有 3 個工作",
                    "立即",
                ],
            ),
        ] {
            let shell = shell(lang, member());
            let markup = rows(shell.tr, std::slice::from_ref(&row), &TimeZone::UTC).into_string();
            for word in words {
                assert!(markup.contains(word), "{word}: {markup}");
            }
        }
    }

    #[test]
    fn a_job_page_shows_its_facts_its_log_and_its_actions() {
        let record = queued_job();
        let row = JobRow::of(&record, "bob", None).unwrap_or_else(|| panic!("a job"));
        let shell = shell(Lang::En, member());
        let mut view = JobDetailView {
            row: &row,
            tab: Tab::Detail,
            log: None,
            events: &[],
            zone: &TimeZone::UTC,
        };
        let page = detail(&shell, &view).into_string();
        for words in [
            "train",
            "echo &quot;Hello World&quot;",
            "Immediately",
            "/cancel",
            "/delete",
            "csrf",
        ] {
            assert!(page.contains(words), "{words}: {page}");
        }
        view.tab = Tab::Log;
        view.log = Some("Hello World\n");
        let page = detail(&shell, &view).into_string();
        assert!(
            page.contains("Hello World") && page.contains("/log\""),
            "{page}"
        );
        assert!(
            !page.contains("data-follow"),
            "nothing to follow yet: {page}"
        );
        view.log = None;
        let page = detail(&shell, &view).into_string();
        assert!(page.contains("could not be read"), "{page}");
        // Started: its log can be followed.
        let started = WorkloadRecord {
            queued: false,
            ..queued_job()
        };
        let row = JobRow::of(&started, "bob", None).unwrap_or_else(|| panic!("a job"));
        let view = JobDetailView {
            row: &row,
            tab: Tab::Log,
            log: Some("step 1\n"),
            events: &[],
            zone: &TimeZone::UTC,
        };
        let page = detail(&shell, &view).into_string();
        assert!(
            page.contains("data-follow") && page.contains("job-log.js") && page.contains("Follow"),
            "{page}"
        );
    }

    #[test]
    fn a_job_waiting_for_its_turn_or_its_cap_says_so() {
        let record = queued_job();
        let WorkloadSpec::Job(spec) = &record.spec else {
            panic!("a job")
        };
        let shell = shell(Lang::En, member());
        let turn = QueuePlace {
            position: 2,
            ahead: 1,
            wait: Wait::Turn,
        };
        assert_eq!(queue_reason(shell.tr, spec, &turn), "1 job ahead");
        let cap = QueuePlace {
            position: 1,
            ahead: 0,
            wait: Wait::Member {
                short: Short::Cpu,
                needs: 2000,
                free: 500,
            },
        };
        assert_eq!(
            queue_reason(shell.tr, spec, &cap),
            "needs 2 CPU cores; your cap leaves 0.5; first in line"
        );
    }
}
