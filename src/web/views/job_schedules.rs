//! Job Management › Job Scheduling (manual §5.5.2): the schedules of the
//! current project, the create and edit form (trigger fields or a cron
//! expression, zone, window, concurrency, with the next 10 trigger times),
//! and a schedule's page with its run history.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{
    Confirm, Field, ListPlace, Tone, confirm_dialog_with, csrf_field, input, notice,
    search_and_pager,
};
use super::format;
use super::layout::{Crumb, Shell, page, section_page};
use crate::domain::schedule::{DayRule, Pick, TriggerFields};
use crate::domain::validation::FieldErrors;
use crate::i18n::Tr;
use crate::store::job_schedules::{JobScheduleRecord, RunOutcome, ScheduleRun};
use crate::web::paths;

/// One schedule as a row of the list.
pub struct ScheduleRow<'a> {
    pub record: &'a JobScheduleRecord,
    /// Its template's name.
    pub template: &'a str,
}

/// The schedule list of the current project.
pub struct ScheduleListView<'a> {
    /// The current project's name (None: no project chosen).
    pub project: Option<&'a str>,
    pub rows: &'a [ScheduleRow<'a>],
    pub query: &'a str,
    /// The search was refused (too long): its message.
    pub query_error: Option<String>,
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub total: usize,
}

/// The form's values as typed (or as a schedule holds them).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ScheduleFormValues {
    pub name: String,
    pub description: String,
    pub template: String,
    /// `*` or a comma list of months (1-12).
    pub month: String,
    /// `day` (days of the month) or `weekday`.
    pub switch: String,
    /// `*` or a comma list of days of the month or weekdays.
    pub days: String,
    pub hour: String,
    pub minute: String,
    /// A cron expression typed instead of the fields (empty: the fields).
    pub cron: String,
    pub zone: String,
    /// `YYYY-MM-DDTHH:MM` in the zone.
    pub start: String,
    pub end: String,
    /// `single` or `multi`.
    pub concurrency: String,
    /// `preview`: show the trigger times without saving.
    pub go: String,
}

impl ScheduleFormValues {
    /// A saved schedule's values: its fields when the form can show them,
    /// else its cron expression in the cron box.
    pub fn of(record: &JobScheduleRecord) -> Self {
        let zone = TimeZone::get(&record.zone).unwrap_or(TimeZone::UTC);
        let local = |t: Timestamp| {
            t.to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        };
        let mut values = ScheduleFormValues {
            name: record.name.clone(),
            description: record.description.clone(),
            template: record.template.to_string(),
            zone: record.zone.clone(),
            start: local(record.start),
            end: local(record.end),
            concurrency: record.concurrency.code().to_owned(),
            ..ScheduleFormValues::default()
        };
        match TriggerFields::from_cron(&record.cron) {
            Some(fields) => values.set_fields(&fields),
            None => {
                values.set_fields(&every_day_at(0, 0));
                values.cron = record.cron.clone();
            }
        }
        values
    }

    /// A new schedule's values: every day at 00:00 from `start` to `end`.
    pub fn new_in(zone: &str, start: String, end: String) -> Self {
        let mut values = ScheduleFormValues {
            zone: zone.to_owned(),
            start,
            end,
            concurrency: "single".to_owned(),
            ..ScheduleFormValues::default()
        };
        values.set_fields(&every_day_at(0, 0));
        values
    }

    fn set_fields(&mut self, fields: &TriggerFields) {
        let cron = fields.to_cron();
        let parts: Vec<&str> = cron.split(' ').collect();
        if let [minute, hour, day_of_month, month, weekday] = parts.as_slice() {
            self.minute = (*minute).to_owned();
            self.hour = (*hour).to_owned();
            self.month = (*month).to_owned();
            let (switch, days) = match fields.day {
                DayRule::Weekday(_) => ("weekday", weekday),
                DayRule::DayOfMonth(_) => ("day", day_of_month),
            };
            switch.clone_into(&mut self.switch);
            (*days).clone_into(&mut self.days);
        }
    }

    /// The cron expression the form stands for: the cron box when typed,
    /// else the fields'.
    pub fn to_cron(&self) -> Result<String, FieldErrors> {
        if !self.cron.trim().is_empty() {
            return Ok(self.cron.trim().to_owned());
        }
        TriggerFields::from_form(
            &self.month,
            &self.switch,
            &self.days,
            &self.hour,
            &self.minute,
        )
        .map(|f| f.to_cron())
    }
}

fn every_day_at(hour: u8, minute: u8) -> TriggerFields {
    TriggerFields {
        month: Pick::Every,
        day: DayRule::DayOfMonth(Pick::Every),
        hour: Pick::Chosen([hour].into_iter().collect()),
        minute,
    }
}

/// The form's errors with the day field's (`day` or `weekday`) under the
/// one input that holds both, `days`.
pub fn form_errors(errors: &FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for e in errors.iter() {
        let field = match e.field {
            "day" | "weekday" => "days",
            other => other,
        };
        out.add(field, e.message);
    }
    out
}

/// The preview under the form: the trigger times, or why there are none.
pub enum PreviewShown {
    /// The input has errors (shown beside the fields).
    None,
    /// The next trigger times in the zone (empty: the window holds none).
    Times(Vec<String>),
}

/// The create or edit form.
pub struct ScheduleFormView<'a> {
    /// The schedule being edited (None: a new one).
    pub editing: Option<&'a JobScheduleRecord>,
    pub values: &'a ScheduleFormValues,
    /// The project's templates: (id, name).
    pub templates: &'a [(String, String)],
    /// IANA zone names.
    pub zones: &'a [String],
    pub errors: &'a FieldErrors,
    pub preview: PreviewShown,
}

/// The IANA zone names the zone select offers (region/city names and UTC).
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("posix"))
        .collect();
    names.push("UTC".to_owned());
    names.sort();
    names.dedup();
    names
}

/// A list of numbers as words: "1, 15".
fn numbers(values: &std::collections::BTreeSet<u8>) -> String {
    values
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A trigger in words: "Every day at 20:00", "Monday, Friday at 09:30 in
/// months 1, 6"; an expression the fields cannot show is named as custom.
pub fn trigger_words(tr: Tr, cron: &str) -> String {
    let Some(fields) = TriggerFields::from_cron(cron) else {
        return tr.t("schedule.words.custom").to_owned();
    };
    let days = match &fields.day {
        DayRule::DayOfMonth(Pick::Every) | DayRule::Weekday(Pick::Every) => {
            tr.t("schedule.words.every_day").to_owned()
        }
        DayRule::DayOfMonth(Pick::Chosen(days)) => {
            tr.f("schedule.words.days_of_month", &[("days", &numbers(days))])
        }
        DayRule::Weekday(Pick::Chosen(days)) => days
            .iter()
            .map(|d| tr.t(weekday_key(*d)))
            .collect::<Vec<_>>()
            .join(tr.t("schedule.words.list_separator")),
    };
    let minute = format!("{:02}", fields.minute);
    let times = match &fields.hour {
        Pick::Every => tr.f("schedule.words.every_hour", &[("minute", &minute)]),
        Pick::Chosen(hours) => {
            let at = hours
                .iter()
                .map(|h| format!("{h:02}:{minute}"))
                .collect::<Vec<_>>()
                .join(", ");
            tr.f("schedule.words.at", &[("times", &at)])
        }
    };
    let mut words = format!("{days} {times}");
    if let Pick::Chosen(months) = &fields.month {
        words.push_str(&tr.f("schedule.words.months", &[("months", &numbers(months))]));
    }
    words
}

fn weekday_key(day: u8) -> &'static str {
    match day {
        0 => "schedule.weekday.sun",
        1 => "schedule.weekday.mon",
        2 => "schedule.weekday.tue",
        3 => "schedule.weekday.wed",
        4 => "schedule.weekday.thu",
        5 => "schedule.weekday.fri",
        _ => "schedule.weekday.sat",
    }
}

fn zone_of(record: &JobScheduleRecord) -> TimeZone {
    TimeZone::get(&record.zone).unwrap_or(TimeZone::UTC)
}

fn concurrency_key(record: &JobScheduleRecord) -> &'static str {
    match record.concurrency {
        crate::domain::schedule::Concurrency::Single => "schedule.single",
        crate::domain::schedule::Concurrency::Multi => "schedule.multi",
    }
}

/// What became of a trigger, in words, with the job linked.
fn outcome(tr: Tr, run: &ScheduleRun) -> Markup {
    html! {
        @match &run.outcome {
            RunOutcome::Started { job, late } => {
                (tr.t("schedule.outcome.started")) " "
                a href=(paths::job(*job)) { (tr.t("schedule.outcome.job")) }
                @if *late { " · " (tr.t("schedule.outcome.late")) }
            }
            RunOutcome::Skipped { previous } => {
                (tr.t("schedule.outcome.skipped")) " "
                a href=(paths::job(*previous)) { (tr.t("schedule.outcome.previous")) }
            }
            RunOutcome::Paused => (tr.t("schedule.outcome.paused")),
            RunOutcome::Failed { reason } => {
                (tr.t("schedule.outcome.failed")) ": " (tr.t(reason))
            }
        }
    }
}

fn next_run(tr: Tr, record: &JobScheduleRecord) -> String {
    match record.next_run {
        Some(at) => format::date_time(at, &zone_of(record)),
        None => tr.t("schedule.no_next_run").to_owned(),
    }
}

fn window(record: &JobScheduleRecord) -> String {
    let zone = zone_of(record);
    format!(
        "{} – {}",
        format::date_time(record.start, &zone),
        format::date_time(record.end, &zone)
    )
}

pub fn list(shell: &Shell, view: &ScheduleListView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.job_schedules");
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
                    p class="lead" { (tr.f("schedule.list_lead", &[("project", project)])) }
                    div class="toolbar" {
                        (search_and_pager(tr, &ListPlace {
                            base: paths::JOB_SCHEDULES,
                            search_key: "schedule.search",
                            query: view.query,
                            query_refused: view.query_error.is_some(),
                            page: view.page,
                            pages: view.pages,
                            page_size: view.page_size,
                            shown: view.rows.len(),
                            total: view.total,
                        }))
                        a class="btn primary small" href=(paths::JOB_SCHEDULE_NEW) { "+ " (tr.t("schedule.create")) }
                    }
                    @if let Some(error) = &view.query_error {
                        p class="field-error" id="q-error" role="alert" { (error) }
                    }
                    @if view.rows.is_empty() {
                        div class="empty" {
                            p { (tr.t(if view.query.is_empty() { "schedule.empty" } else { "schedule.no_match" })) }
                        }
                    } @else {
                        div class="panel table-scroll" {
                            table class="table schedule-table" {
                                caption class="sr-only" { (title) }
                                thead { tr {
                                    th scope="col" { (tr.t("schedule.name")) }
                                    th scope="col" { (tr.t("schedule.template")) }
                                    th scope="col" { (tr.t("schedule.trigger")) }
                                    th scope="col" { (tr.t("schedule.window")) }
                                    th scope="col" { (tr.t("schedule.concurrency")) }
                                    th scope="col" { (tr.t("schedule.next_run")) }
                                    th scope="col" { (tr.t("schedule.last_outcome")) }
                                } }
                                tbody {
                                    @for row in view.rows {
                                        @let r = row.record;
                                        tr {
                                            td { a href=(paths::job_schedule(r.id)) { (r.name) } }
                                            td { (row.template) }
                                            td { (trigger_words(tr, &r.cron)) br; code { (r.cron) } br; span class="muted" { (r.zone) } }
                                            td { (window(r)) }
                                            td { (tr.t(concurrency_key(r))) }
                                            td { (next_run(tr, r)) }
                                            td { @match r.history.last() {
                                                Some(run) => (outcome(tr, run)),
                                                None => "--",
                                            } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn crumbs<'a>(tr: Tr<'a>, last: &'a str, middle: Option<(&'a str, &'a str)>) -> Vec<Crumb<'a>> {
    let mut crumbs = vec![Crumb {
        label: tr.t("nav.job_schedules"),
        href: Some(paths::JOB_SCHEDULES),
    }];
    if let Some((label, href)) = middle {
        crumbs.push(Crumb {
            label,
            href: Some(href),
        });
    }
    crumbs.push(Crumb {
        label: last,
        href: None,
    });
    crumbs
}

pub fn form(shell: &Shell, view: &ScheduleFormView) -> Markup {
    let tr = shell.tr;
    let v = view.values;
    let errors = view.errors;
    let (title, action, detail) = match view.editing {
        Some(r) => (
            tr.t("schedule.edit"),
            format!("{}/edit", paths::job_schedule(r.id)),
            Some((r.name.as_str(), paths::job_schedule(r.id))),
        ),
        None => (
            tr.t("schedule.create"),
            paths::JOB_SCHEDULE_NEW.to_owned(),
            None,
        ),
    };
    let crumbs = crumbs(tr, title, detail.as_ref().map(|(n, h)| (*n, h.as_str())));
    let template_error = errors.get("template");
    let zone_error = errors.get("zone");
    let concurrency_error = errors.get("concurrency");
    page(
        shell,
        title,
        &crumbs,
        html! {
            @if view.templates.is_empty() {
                (notice(Tone::Warning, html! {
                    (tr.t("schedule.no_templates")) " "
                    a href=(paths::JOB_TEMPLATES) { (tr.t("nav.job_templates")) }
                }))
            }
            form method="post" action=(action) id="schedule-form" class="panel form schedule-form" novalidate {
                (csrf_field(shell))
                (input(tr, Field::text("name", "schedule.name", &v.name).required().hint("schedule.name_hint"), errors))
                div.field.has-error[errors.get("description").is_some()] {
                    label for="f-description" { (tr.t("schedule.description")) }
                    textarea id="f-description" name="description" rows="2" maxlength="1024"
                        aria-invalid=[errors.get("description").map(|_| "true")] { (v.description) }
                    @if let Some(e) = errors.get("description") { p class="field-error" { (tr.t(e)) } }
                }
                div.field.has-error[template_error.is_some()] {
                    label for="f-template" { (tr.t("schedule.template")) span class="req" aria-hidden="true" { "*" } }
                    select id="f-template" name="template" required aria-invalid=[template_error.map(|_| "true")]
                        aria-describedby=[template_error.map(|_| "template-error")] {
                        @for (id, name) in view.templates {
                            option value=(id) selected[*id == v.template] { (name) }
                        }
                    }
                    @if let Some(e) = template_error { p class="field-error" id="template-error" { (tr.t(e)) } }
                }
                fieldset class="trigger" {
                    legend { (tr.t("schedule.trigger")) }
                    p class="hint" { (tr.t("schedule.fields_hint")) }
                    div class="trigger-fields" {
                        (input(tr, Field::text("month", "schedule.month", &v.month).hint("schedule.month_hint"), errors))
                        div class="field" {
                            label for="f-switch" { (tr.t("schedule.switch")) }
                            select id="f-switch" name="switch" {
                                option value="day" selected[v.switch != "weekday"] { (tr.t("schedule.switch_day")) }
                                option value="weekday" selected[v.switch == "weekday"] { (tr.t("schedule.switch_weekday")) }
                            }
                        }
                        (input(tr, Field::text("days", "schedule.days", &v.days).hint("schedule.days_hint"), errors))
                        (input(tr, Field::text("hour", "schedule.hour", &v.hour).hint("schedule.hour_hint"), errors))
                        (input(tr, Field::text("minute", "schedule.minute", &v.minute).kind("number").hint("schedule.minute_hint"), errors))
                    }
                    (input(tr, Field::text("cron", "schedule.cron", &v.cron).hint("schedule.cron_hint"), errors))
                }
                div.field.has-error[zone_error.is_some()] {
                    label for="f-zone" { (tr.t("schedule.zone")) }
                    select id="f-zone" name="zone" aria-invalid=[zone_error.map(|_| "true")]
                        aria-describedby=[zone_error.map(|_| "zone-error")] {
                        @if !view.zones.contains(&v.zone) {
                            option value=(v.zone) selected { (v.zone) }
                        }
                        @for zone in view.zones {
                            option value=(zone) selected[*zone == v.zone] { (zone) }
                        }
                    }
                    @if let Some(e) = zone_error { p class="field-error" id="zone-error" { (tr.t(e)) } }
                }
                div class="trigger-fields" {
                    (input(tr, Field::text("start", "schedule.start", &v.start).kind("datetime-local").required(), errors))
                    (input(tr, Field::text("end", "schedule.end", &v.end).kind("datetime-local").required(), errors))
                }
                fieldset.field.has-error[concurrency_error.is_some()] {
                    legend { (tr.t("schedule.concurrency")) }
                    label { input type="radio" name="concurrency" value="single" checked[v.concurrency != "multi"]; " " (tr.t("schedule.single_hint")) }
                    label { input type="radio" name="concurrency" value="multi" checked[v.concurrency == "multi"]; " " (tr.t("schedule.multi_hint")) }
                    @if let Some(e) = concurrency_error { p class="field-error" { (tr.t(e)) } }
                }
                section class="schedule-preview" aria-labelledby="preview-title" {
                    h2 id="preview-title" { (tr.t("schedule.preview_title")) }
                    div id="schedule-preview" data-preview=(paths::JOB_SCHEDULE_PREVIEW) aria-live="polite" {
                        @match &view.preview {
                            PreviewShown::None => p class="muted" { (tr.t("schedule.preview_fix")) },
                            PreviewShown::Times(times) if times.is_empty() => p class="muted" { (tr.t("schedule.preview.empty")) },
                            PreviewShown::Times(times) => ol class="preview-times" {
                                @for t in times { li { (t) } }
                            },
                        }
                    }
                    button type="submit" name="go" value="preview" class="btn small" { (tr.t("schedule.preview_button")) }
                }
                div class="form-actions" {
                    a class="btn" href=(paths::JOB_SCHEDULES) { (tr.t("common.cancel")) }
                    button type="submit" name="go" value="save" class="btn primary" { (tr.t("schedule.save")) }
                }
            }
            script src=(crate::web::assets::url("schedule-form.js")) defer {}
        },
    )
}

/// A schedule's page.
pub struct ScheduleDetailView<'a> {
    pub record: &'a JobScheduleRecord,
    pub template: &'a str,
    pub owner: &'a str,
}

pub fn detail(shell: &Shell, view: &ScheduleDetailView) -> Markup {
    let tr = shell.tr;
    let r = view.record;
    let zone = zone_of(r);
    let crumbs = crumbs(tr, &r.name, None);
    let delete_action = format!("{}/delete", paths::job_schedule(r.id));
    let delete_text = tr.f("schedule.delete_text", &[("name", &r.name)]);
    html! {
        (page(shell, &r.name, &crumbs, html! {
            div class="container-head" {
                div class="actions" {
                    a class="btn small" href=(format!("{}/edit", paths::job_schedule(r.id))) { (tr.t("schedule.edit")) }
                    (confirm_dialog_with(shell, Confirm {
                        id: "delete-schedule".into(),
                        open_label: tr.t("schedule.delete"),
                        title: tr.t("schedule.delete"),
                        text: &delete_text,
                        action: &delete_action,
                        confirm_label: tr.t("schedule.delete"),
                        danger: true,
                        reopen: false,
                    }, html! { input type="hidden" name="confirm" value="yes"; }))
                }
            }
            section class="panel" aria-labelledby="schedule-facts" {
                h2 id="schedule-facts" { (tr.t("schedule.detail")) }
                dl class="facts" {
                    dt { (tr.t("schedule.name")) } dd { (r.name) }
                    dt { (tr.t("schedule.description")) } dd { @if r.description.is_empty() { "--" } @else { (r.description) } }
                    dt { (tr.t("schedule.owner")) } dd { (view.owner) }
                    dt { (tr.t("schedule.template")) } dd { (view.template) }
                    dt { (tr.t("schedule.trigger")) } dd { (trigger_words(tr, &r.cron)) " · " code { (r.cron) } }
                    dt { (tr.t("schedule.zone")) } dd { (r.zone) }
                    dt { (tr.t("schedule.window")) } dd { (window(r)) }
                    dt { (tr.t("schedule.concurrency")) } dd { (tr.t(concurrency_key(r))) }
                    dt { (tr.t("schedule.next_run")) } dd { (next_run(tr, r)) }
                    dt { (tr.t("schedule.runs")) } dd { (r.runs) }
                }
            }
            section class="panel" aria-labelledby="schedule-history" {
                h2 id="schedule-history" { (tr.t("schedule.history")) }
                @if r.history.is_empty() {
                    p class="muted" { (tr.t("schedule.history_empty")) }
                } @else {
                    div class="table-scroll" {
                        table class="table schedule-history" {
                            thead { tr {
                                th scope="col" { (tr.t("schedule.trigger_time")) }
                                th scope="col" { (tr.t("schedule.handled_at")) }
                                th scope="col" { (tr.t("schedule.outcome_column")) }
                            } }
                            tbody {
                                @for run in r.history.iter().rev() {
                                    tr data-outcome=(outcome_code(&run.outcome)) {
                                        td class="nowrap" { (format::date_time(run.scheduled, &zone)) }
                                        td class="nowrap" { (format::date_time(run.at, &zone)) }
                                        td { (outcome(tr, run)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }))
    }
}

fn outcome_code(outcome: &RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Started { .. } => "started",
        RunOutcome::Skipped { .. } => "skipped",
        RunOutcome::Paused => "paused",
        RunOutcome::Failed { .. } => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::{member, shell};

    #[test]
    fn a_trigger_reads_in_words_in_both_languages() {
        let en = shell(Lang::En, member());
        assert_eq!(trigger_words(en.tr, "0 20 * * *"), "Every day at 20:00");
        assert_eq!(
            trigger_words(en.tr, "30 9 * 1,6 1,5"),
            "Monday, Friday at 09:30 in months 1, 6"
        );
        assert_eq!(
            trigger_words(en.tr, "5 * 1,15 * *"),
            "Days 1, 15 of the month every hour at minute 05"
        );
        assert_eq!(
            trigger_words(en.tr, "*/5 * * * *"),
            "Custom cron expression"
        );
        let zh = shell(Lang::ZhTw, member());
        assert_eq!(trigger_words(zh.tr, "0 20 * * *"), "每天 20:00");
    }

    #[test]
    fn a_saved_schedule_fills_the_fields_or_the_cron_box() {
        let values = ScheduleFormValues::new_in("Asia/Taipei", String::new(), String::new());
        assert_eq!(values.to_cron().ok().as_deref(), Some("0 0 * * *"));
        let typed = ScheduleFormValues {
            switch: "weekday".into(),
            days: "1,5".into(),
            hour: "20".into(),
            ..values.clone()
        };
        assert_eq!(typed.to_cron().ok().as_deref(), Some("0 20 * * 1,5"));
        let bad = ScheduleFormValues {
            switch: "weekday".into(),
            days: "9".into(),
            ..values
        };
        let errors = form_errors(&bad.to_cron().err().unwrap_or_default());
        assert_eq!(errors.get("days"), Some("schedule.error.weekday"));
    }

    #[test]
    fn the_history_names_runs_skips_pauses_and_failures_with_their_zone() {
        use crate::domain::ids::{JobScheduleId, JobTemplateId, ProjectId, UserId, WorkloadId};
        use crate::domain::schedule::Concurrency;
        let at = |s: &str| s.parse::<Timestamp>().unwrap_or_else(|e| panic!("{e}"));
        let (job, previous) = (WorkloadId::generate(), WorkloadId::generate());
        let run = |scheduled: &str, outcome: RunOutcome| ScheduleRun {
            scheduled: at(scheduled),
            at: at(scheduled),
            outcome,
        };
        let record = JobScheduleRecord {
            id: JobScheduleId::generate(),
            project: ProjectId::generate(),
            owner: UserId::generate(),
            name: "nightly".into(),
            description: String::new(),
            template: JobTemplateId::generate(),
            cron: "0 20 * * *".into(),
            zone: "Asia/Taipei".into(),
            start: at("2026-11-30T16:00:00Z"),
            end: at("2026-12-31T15:59:00Z"),
            concurrency: Concurrency::Single,
            next_run: None,
            runs: 1,
            last_job: Some(job),
            history: vec![
                run(
                    "2026-12-01T12:00:00Z",
                    RunOutcome::Started { job, late: true },
                ),
                run("2026-12-02T12:00:00Z", RunOutcome::Skipped { previous }),
                run("2026-12-03T12:00:00Z", RunOutcome::Paused),
                run(
                    "2026-12-04T12:00:00Z",
                    RunOutcome::Failed {
                        reason: "schedule.run.over_quota".into(),
                    },
                ),
            ],
            created_at: at("2026-11-29T08:00:00Z"),
            updated_at: at("2026-11-29T08:00:00Z"),
        };
        let en = shell(Lang::En, member());
        let page = detail(
            &en,
            &ScheduleDetailView {
                record: &record,
                template: "hello",
                owner: "bob",
            },
        )
        .into_string();
        for words in [
            "2026/12/01 20:00 (Asia/Taipei)",
            &format!("href=\"/jobs/{job}\""),
            "late (the server was down",
            "Skipped: the previous run was still queued or running",
            &format!("href=\"/jobs/{previous}\""),
            "Paused: the project is in its buffer period",
            "Failed: The job does not fit the project's quota.",
            "None left in the window",
            "name=\"confirm\" value=\"yes\"",
        ] {
            assert!(page.contains(words), "{words}: {page}");
        }
        let newest = page.find("2026/12/04 20:00").unwrap_or(usize::MAX);
        let oldest = page.find("2026/12/01 20:00").unwrap_or(0);
        assert!(newest < oldest, "newest first");
    }
}
