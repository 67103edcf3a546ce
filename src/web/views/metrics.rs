//! Admin: the metrics sources' status page.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::components::{BadgeColor, Tone, badge, notice};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::metrics::{IdleRule, REPORT_PERIOD_DAYS, Usage, csv_field};
use crate::i18n::Tr;
use crate::service::metrics::SourceStatus;
use crate::web::paths;

pub fn sources(shell: &Shell, all: &[SourceStatus], zone: &TimeZone) -> Markup {
    let tr = shell.tr;
    section_page(
        shell,
        "nav.section.admin",
        tr.t("nav.admin_metrics"),
        html! {
            p class="hint" { (tr.t("sources.intro")) }
            @if all.is_empty() {
                (notice(Tone::Info, html! { (tr.t("sources.none")) }))
            } @else {
                div class="table-scroll" {
                    table class="table" {
                        caption class="sr-only" { (tr.t("nav.admin_metrics")) }
                        thead { tr {
                            th scope="col" { (tr.t("sources.source")) }
                            th scope="col" { (tr.t("sources.state")) }
                            th scope="col" { (tr.t("sources.problem")) }
                            th scope="col" { (tr.t("sources.last_scrape")) }
                            th scope="col" { (tr.t("sources.last_success")) }
                            th scope="col" { (tr.t("sources.gpus")) }
                            th scope="col" { (tr.t("sources.mapped")) }
                            th scope="col" { (tr.t("sources.idle")) }
                        } }
                        tbody {
                            @for s in all {
                                tr {
                                    td { code { (s.source) } }
                                    td {
                                        @if s.healthy {
                                            (badge(BadgeColor::Green, tr.t("sources.healthy")))
                                        } @else {
                                            (badge(BadgeColor::Red, tr.t("sources.unhealthy")))
                                        }
                                    }
                                    td { (s.problem.as_deref().unwrap_or("")) }
                                    td { (format::date_time(s.last_scrape, zone)) }
                                    td {
                                        @match s.last_success {
                                            Some(t) => (format::date_time(t, zone)),
                                            None => (tr.t("sources.never")),
                                        }
                                    }
                                    td { (s.report.gpus) }
                                    td { (s.report.mapped_gpus) }
                                    td { (s.report.idle_gpus()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One container's row of the GPU Utilization Rate page.
pub struct UtilizationRowView {
    pub name: String,
    pub href: String,
    pub owner: String,
    pub usage: Usage,
    /// Running with idle GPUs.
    pub idle: bool,
}

/// The GPU Utilization Rate page.
pub struct UtilizationView<'a> {
    /// The current project's name (None: no project chosen).
    pub project: Option<&'a str>,
    pub days: u32,
    pub period_error: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub rows: Vec<UtilizationRowView>,
    pub idle_rule: IdleRule,
}

fn period_label(tr: Tr, days: u32) -> String {
    if days == 1 {
        tr.t("utilization.day").to_owned()
    } else {
        tr.f("utilization.days", &[("days", &days.to_string())])
    }
}

/// Hours with one decimal.
pub fn hours(value: f64) -> String {
    format!("{value:.1}")
}

/// A percentage with one decimal, or a dash without GPU time.
pub fn rate(usage: &Usage) -> String {
    usage
        .utilization_pct()
        .map_or_else(|| "–".to_owned(), |pct| format!("{pct:.1}%"))
}

pub fn utilization(shell: &Shell, view: &UtilizationView, zone: &TimeZone) -> Markup {
    let tr = shell.tr;
    let body = match view.project {
        None => html! { (notice(Tone::Info, html! { (tr.t("utilization.no_project")) })) },
        Some(project) => html! {
            p class="hint" { (tr.t("utilization.intro")) }
            form class="actions" method="get" action=(paths::GPU_UTILIZATION) {
                label for="utilization-days" { (tr.t("utilization.period")) }
                select id="utilization-days" name="days"
                    aria-describedby=[view.period_error.as_ref().map(|_| "utilization-days-error")] {
                    @for days in REPORT_PERIOD_DAYS {
                        option value=(days) selected[days == view.days] { (period_label(tr, days)) }
                    }
                }
                button class="btn small" type="submit" { (tr.t("utilization.show")) }
                a class="btn small" href=(format!("{}?days={}&format=csv", paths::GPU_UTILIZATION, view.days)) download {
                    (tr.t("utilization.csv"))
                }
            }
            @if let Some(error) = &view.period_error {
                p class="field-error" id="utilization-days-error" { (error) }
            }
            p class="hint" { (tr.f("utilization.idle_rule", &[
                ("threshold", &format!("{}", view.idle_rule.threshold_pct)),
                ("minutes", &view.idle_rule.window_minutes.to_string()),
            ])) }
            p { (tr.f("utilization.range", &[
                ("start", &format::date_time(view.start, zone)),
                ("end", &format::date_time(view.end, zone)),
            ])) }
            @if view.rows.is_empty() {
                (notice(Tone::Info, html! { (tr.t("utilization.none")) }))
            } @else {
                div class="table-scroll" {
                    table class="table" {
                        caption class="sr-only" { (project) }
                        thead { tr {
                            th scope="col" { (tr.t("utilization.container")) }
                            th scope="col" { (tr.t("utilization.container_hours")) }
                            th scope="col" { (tr.t("utilization.gpu_hours")) }
                            th scope="col" { (tr.t("utilization.rate")) }
                            th scope="col" { (tr.t("utilization.owner")) }
                            th scope="col" { (tr.t("utilization.idle_column")) }
                        } }
                        tbody {
                            @for row in &view.rows {
                                tr {
                                    td { a href=(row.href) { (row.name) } }
                                    td { (hours(row.usage.container_hours)) }
                                    td { (hours(row.usage.gpu_hours)) }
                                    td { (rate(&row.usage)) }
                                    td { (row.owner) }
                                    td {
                                        @if row.idle { (badge(BadgeColor::Amber, tr.t("utilization.idle"))) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    };
    section_page(
        shell,
        "nav.section.project",
        tr.t("nav.gpu_utilization"),
        body,
    )
}

/// The report as CSV (a header line, then one line per container).
pub fn utilization_csv(tr: Tr, rows: &[UtilizationRowView]) -> String {
    let mut text = [
        "utilization.container",
        "utilization.owner",
        "utilization.container_hours",
        "utilization.gpu_hours",
        "utilization.rate",
        "utilization.idle_column",
    ]
    .iter()
    .map(|key| csv_field(tr.t(key)))
    .collect::<Vec<_>>()
    .join(",");
    text.push_str("\r\n");
    for row in rows {
        let pct = row
            .usage
            .utilization_pct()
            .map_or_else(String::new, |p| format!("{p:.1}"));
        text.push_str(
            &[
                csv_field(&row.name),
                csv_field(&row.owner),
                hours(row.usage.container_hours),
                hours(row.usage.gpu_hours),
                pct,
                (if row.idle { "yes" } else { "no" }).to_owned(),
            ]
            .join(","),
        );
        text.push_str("\r\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::service::metrics::IngestReport;
    use crate::web::views::test_support::{CATALOG, shell};

    #[test]
    fn sources_show_their_state_problem_and_idle_gpus() {
        let at = Timestamp::from_second(1_700_000_000).expect("time");
        let all = [
            SourceStatus {
                source: "http://gpu-1:9400/metrics".into(),
                healthy: true,
                problem: None,
                last_scrape: at,
                last_success: Some(at),
                report: IngestReport {
                    gpus: 8,
                    mapped_gpus: 5,
                    workloads: 2,
                },
            },
            SourceStatus {
                source: "http://gpu-2:9400/metrics".into(),
                healthy: false,
                problem: Some("no answer within 5s <x>".into()),
                last_scrape: at,
                last_success: None,
                report: IngestReport::default(),
            },
        ];
        for (lang, word) in [(Lang::En, "Unhealthy"), (Lang::ZhTw, "異常")] {
            let html = sources(&shell(lang, None), &all, &TimeZone::UTC).into_string();
            assert!(html.contains(word), "{html}");
            assert!(html.contains("http://gpu-2:9400/metrics"));
            assert!(html.contains("no answer within 5s &lt;x&gt;"), "escaped");
            assert!(html.contains(">3<"), "idle GPUs: {html}");
        }
        let html = sources(&shell(Lang::En, None), &[], &TimeZone::UTC).into_string();
        assert!(html.contains("dcgm_endpoints"));
    }

    fn manual_row() -> UtilizationRowView {
        UtilizationRowView {
            name: "train".into(),
            href: "/containers/x".into(),
            owner: "alice".into(),
            usage: Usage {
                container_hours: 90.0,
                gpu_hours: 30.6,
                held_gpu_hours: 90.0,
            },
            idle: false,
        }
    }

    fn idle_row() -> UtilizationRowView {
        UtilizationRowView {
            name: "sleepy".into(),
            href: "/containers/y".into(),
            owner: "bob".into(),
            usage: Usage::default(),
            idle: true,
        }
    }

    /// The manual's example row reads 90.0, 30.6 and 34.0 %, on the page
    /// and in the CSV.
    #[test]
    fn the_report_shows_the_manuals_example_row() {
        let at = Timestamp::from_second(1_700_000_000).expect("time");
        for lang in [Lang::En, Lang::ZhTw] {
            let s = shell(lang, None);
            let view = UtilizationView {
                project: Some("lab"),
                days: 30,
                period_error: None,
                start: at,
                end: at,
                rows: vec![manual_row(), idle_row()],
                idle_rule: IdleRule::default(),
            };
            let html = utilization(&s, &view, &TimeZone::UTC).into_string();
            assert!(html.contains(">90.0<") && html.contains(">30.6<"), "{html}");
            assert!(html.contains(">34.0%<"), "{html}");
            assert!(html.contains("days=30&amp;format=csv"), "{html}");
            assert!(html.contains("value=\"30\" selected"), "{html}");
            assert_eq!(
                html.matches("badge amber").count(),
                1,
                "the idle row: {html}"
            );
            assert!(html.contains("120"), "the rule is stated: {html}");
        }
        let csv = utilization_csv(CATALOG.tr(Lang::En), &[manual_row()]);
        assert_eq!(
            csv,
            "Container,Owner,Container usage hours,GPU usage hours,GPU utilization,Idle GPUs\r\ntrain,alice,90.0,30.6,34.0,no\r\n"
        );
        let none = UtilizationView {
            project: None,
            days: 7,
            period_error: None,
            start: Timestamp::UNIX_EPOCH,
            end: Timestamp::UNIX_EPOCH,
            rows: Vec::new(),
            idle_rule: IdleRule::default(),
        };
        let html = utilization(&shell(Lang::En, None), &none, &TimeZone::UTC).into_string();
        assert!(html.contains("Choose a project"), "{html}");
    }
}
