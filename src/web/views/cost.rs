//! Advanced Settings › Cost Center (manual §5.9): a project's cost for one
//! month by member and by workload — running hours × the hourly price each
//! was ordered at —, with totals in the platform currency and a CSV copy.

use maud::{Markup, html};

use super::components::{Tone, notice};
use super::format;
use super::layout::{Shell, section_page};
use crate::domain::cost::{csv_line, hours_text};
use crate::domain::quota::Milli;
use crate::i18n::Tr;
use crate::service::cost::{CostProject, CostReport};
use crate::store::orders::OrderKind;
use crate::web::paths;

/// An amount in thousandths of `currency`: `TWD 12.5`.
pub fn money(currency: &str, milli: u64) -> String {
    format!("{currency} {}", Milli(milli))
}

pub fn kind_key(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Container => "order.kind.container",
        OrderKind::Job => "order.kind.job",
        OrderKind::Volume => "order.kind.volume",
        OrderKind::CustomImage => "order.kind.custom_image",
    }
}

/// The cost center's address for a project and month.
pub fn page_path(base: &str, project: &str, month: &str) -> String {
    format!("{base}?project={project}&month={month}")
}

/// What the page shows.
pub struct CostView<'a> {
    /// The projects the viewer may choose.
    pub projects: &'a [CostProject],
    /// The report of the chosen project (None: no project chosen).
    pub report: Option<&'a CostReport>,
    /// The month field as typed, and its error (a month it cannot read).
    pub month_input: &'a str,
    pub month_error: Option<&'static str>,
}

pub fn page(shell: &Shell, view: &CostView) -> Markup {
    let tr = shell.tr;
    let title = tr.t("nav.cost_center");
    section_page(
        shell,
        "nav.section.advanced",
        title,
        html! {
            p class="lead" { (tr.t("cost.explain")) }
            form method="get" action=(paths::COST_CENTER) class="toolbar cost-filter" {
                div class="field" {
                    label for="f-project" { (tr.t("cost.project")) }
                    select id="f-project" name="project" {
                        @for p in view.projects {
                            option value=(p.id) selected[view.report.is_some_and(|r| r.project == p.id)] { (p.name) }
                        }
                    }
                }
                div.field.has-error[view.month_error.is_some()] {
                    label for="f-month" { (tr.t("cost.month")) }
                    input id="f-month" name="month" type="month" value=(view.month_input)
                        aria-invalid=[view.month_error.map(|_| "true")]
                        aria-describedby=[view.month_error.map(|_| "month-error")];
                    @if let Some(key) = view.month_error {
                        p class="field-error" id="month-error" { (tr.t(key)) }
                    }
                }
                button type="submit" class="btn" { (tr.t("cost.show")) }
            }
            @match view.report {
                Some(report) => (report_body(shell, report)),
                None => (notice(Tone::Info, html! { (tr.t("cost.no_project")) })),
            }
        },
    )
}

fn report_body(shell: &Shell, report: &CostReport) -> Markup {
    let tr = shell.tr;
    let project = report.project.to_string();
    let month = report.month.to_string();
    let (start, end) = report
        .month
        .bounds(&report.zone)
        .map(|(s, e)| {
            (
                format::date_time(s, &report.zone),
                format::date_time(e, &report.zone),
            )
        })
        .unwrap_or_default();
    html! {
        p {
            (tr.f("cost.period", &[("project", &report.project_name), ("month", &month), ("start", &start), ("end", &end)]))
        }
        @if !report.whole_project {
            (notice(Tone::Info, html! { (tr.t("cost.own_only")) }))
        }
        nav class="toolbar" aria-label=(tr.t("cost.months")) {
            a class="btn small" href=(page_path(paths::COST_CENTER, &project, &report.month.previous().to_string())) { "← " (tr.t("cost.previous")) }
            a class="btn small" href=(page_path(paths::COST_CENTER, &project, &report.month.next().to_string())) { (tr.t("cost.next")) " →" }
            a class="btn small primary" href=(page_path(paths::COST_CENTER_CSV, &project, &month)) download { (tr.t("cost.download_csv")) }
        }
        dl class="cost-total" {
            dt { (tr.t("cost.total")) }
            dd id="cost-total" { (money(&report.currency, report.total_milli)) }
            dt { (tr.t("cost.total_hours")) }
            dd { (hours_text(report.total_ms)) }
        }
        @if report.lines.is_empty() {
            p { (tr.t("cost.none")) }
        } @else {
            h2 { (tr.t("cost.by_member")) }
            div class="table-wrap" {
                table class="table cost-table" id="cost-members" {
                    thead { tr {
                        th scope="col" { (tr.t("cost.member")) }
                        th scope="col" { (tr.t("cost.hours")) }
                        th scope="col" { (tr.f("cost.amount", &[("currency", &report.currency)])) }
                    } }
                    tbody {
                        @for m in &report.members {
                            tr {
                                th scope="row" { (m.owner_name) }
                                td { (hours_text(m.running_ms)) }
                                td { (Milli(m.cost_milli)) }
                            }
                        }
                    }
                }
            }
            h2 { (tr.t("cost.by_workload")) }
            div class="table-wrap" {
                table class="table cost-table" id="cost-workloads" {
                    thead { tr {
                        th scope="col" { (tr.t("cost.workload")) }
                        th scope="col" { (tr.t("cost.kind")) }
                        th scope="col" { (tr.t("cost.member")) }
                        th scope="col" { (tr.f("cost.hourly", &[("currency", &report.currency)])) }
                        th scope="col" { (tr.t("cost.hours")) }
                        th scope="col" { (tr.f("cost.amount", &[("currency", &report.currency)])) }
                    } }
                    tbody {
                        @for line in &report.lines {
                            tr {
                                th scope="row" { (line.name) }
                                td { (tr.t(kind_key(line.kind))) }
                                td { (line.owner_name) }
                                td { (Milli(line.hourly_milli)) }
                                td { (hours_text(line.running_ms)) }
                                td { (Milli(line.cost_milli)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The report as CSV: one line per workload, then one per member, then the
/// total; amounts in the platform currency.
pub fn csv(tr: Tr, report: &CostReport) -> String {
    let month = report.month.to_string();
    let mut out = csv_line(&[
        tr.t("cost.project"),
        tr.t("cost.month"),
        tr.t("cost.workload"),
        tr.t("cost.kind"),
        tr.t("cost.member"),
        tr.t("cost.hourly_plain"),
        tr.t("cost.hours"),
        tr.t("cost.amount_plain"),
        tr.t("cost.currency"),
    ]);
    for line in &report.lines {
        out.push_str(&csv_line(&[
            &report.project_name,
            &month,
            &line.name,
            tr.t(kind_key(line.kind)),
            &line.owner_name,
            &Milli(line.hourly_milli).to_string(),
            &hours_text(line.running_ms),
            &Milli(line.cost_milli).to_string(),
            &report.currency,
        ]));
    }
    for member in &report.members {
        out.push_str(&csv_line(&[
            &report.project_name,
            &month,
            "",
            tr.t("cost.member_total"),
            &member.owner_name,
            "",
            &hours_text(member.running_ms),
            &Milli(member.cost_milli).to_string(),
            &report.currency,
        ]));
    }
    out.push_str(&csv_line(&[
        &report.project_name,
        &month,
        "",
        tr.t("cost.total"),
        "",
        "",
        &hours_text(report.total_ms),
        &Milli(report.total_milli).to_string(),
        &report.currency,
    ]));
    out
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;
    use crate::domain::cost::Month;
    use crate::domain::ids::{OrderId, ProjectId};
    use crate::domain::user::Lang;
    use crate::service::cost::{CostLine, MemberCost};
    use crate::web::views::test_support::{member, shell};

    fn report() -> CostReport {
        let line = CostLine {
            id: OrderId::from_u128(1),
            kind: OrderKind::Container,
            name: "web<b>".into(),
            owner_name: "bob".into(),
            hourly_milli: 1_250,
            running_ms: 7_200_000,
            cost_milli: 2_500,
        };
        CostReport {
            project: ProjectId::from_u128(2),
            project_name: "Vision, \"A\"".into(),
            month: Month {
                year: 2026,
                month: 11,
            },
            currency: "TWD".into(),
            zone: TimeZone::get("Asia/Taipei").unwrap_or(TimeZone::UTC),
            whole_project: false,
            lines: vec![line],
            members: vec![MemberCost {
                owner_name: "bob".into(),
                running_ms: 7_200_000,
                cost_milli: 2_500,
            }],
            total_ms: 7_200_000,
            total_milli: 2_500,
        }
    }

    #[test]
    fn the_page_shows_totals_rows_escaped_names_and_the_own_only_notice() {
        let s = shell(Lang::En, member());
        let report = report();
        let html = page(
            &s,
            &CostView {
                projects: &[CostProject {
                    id: report.project,
                    name: report.project_name.clone(),
                }],
                report: Some(&report),
                month_input: "2026-11",
                month_error: None,
            },
        )
        .into_string();
        assert!(html.contains("TWD 2.5"), "{html}");
        assert!(html.contains("web&lt;b&gt;") && !html.contains("web<b>"));
        assert!(html.contains("2.00"));
        assert!(html.contains(s.tr.t("cost.own_only")));
        assert!(html.contains("month=2026-10") && html.contains("month=2026-12"));
    }

    #[test]
    fn the_csv_quotes_names_and_ends_with_the_totals() {
        let s = shell(Lang::En, member());
        let text = csv(s.tr, &report());
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[1],
            "\"Vision, \"\"A\"\"\",2026-11,web<b>,Container,bob,1.25,2.00,2.5,TWD"
        );
        assert_eq!(
            lines[3],
            "\"Vision, \"\"A\"\"\",2026-11,,Total,,,2.00,2.5,TWD"
        );
    }
}
