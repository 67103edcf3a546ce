//! A container's Monitor tab: the interval slider (a GET form, so a reload
//! and the address bar keep it) and the GPU charts drawn on the server.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use maud::{Markup, html};

use super::charts::{Chart, chart, nice_ceiling};
use super::components::{Tone, notice};
use crate::domain::metrics::{Column, MONITOR_HOURS};
use crate::domain::workload::WorkloadId;
use crate::i18n::Tr;
use crate::web::paths;

/// What the Monitor tab shows.
pub struct MonitorView {
    pub hours: u32,
    /// The asked interval was refused (the message names the limits).
    pub hours_error: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub columns: Vec<Option<Column>>,
}

pub fn tab(tr: Tr, id: WorkloadId, view: &MonitorView, zone: &TimeZone) -> Markup {
    let util: Vec<Option<f64>> = view
        .columns
        .iter()
        .map(|c| c.map(|c| c.gpu_util_pct))
        .collect();
    let mem_gib: Vec<Option<f64>> = view
        .columns
        .iter()
        .map(|c| c.map(|c| c.gpu_mem_mib / 1024.0))
        .collect();
    let mem_top = nice_ceiling(mem_gib.iter().flatten().copied().fold(0.0, f64::max), 1.0);
    let empty = tr.t("monitor.no_data");
    html! {
        form class="monitor-interval" method="get" action=(paths::container(id)) {
            input type="hidden" name="tab" value="monitor";
            label for="monitor-hours" { (tr.t("monitor.interval")) }
            input id="monitor-hours" type="range" name="hours" min=(MONITOR_HOURS.start()) max=(MONITOR_HOURS.end()) step="1" value=(view.hours)
                aria-describedby=[view.hours_error.as_ref().map(|_| "monitor-hours-error")];
            output for="monitor-hours" data-template=(tr.f("monitor.hours", &[("hours", "{hours}")])) {
                (tr.f("monitor.hours", &[("hours", &view.hours.to_string())]))
            }
            button class="btn small" type="submit" { (tr.t("monitor.show")) }
        }
        @if let Some(error) = &view.hours_error {
            p class="field-error" id="monitor-hours-error" { (error) }
        }
        div class="monitor-charts" {
            (chart(&Chart {
                title: tr.t("monitor.gpu_util"),
                unit: "%",
                start: view.start,
                end: view.end,
                columns: &util,
                y_max: 100.0,
                empty,
            }, zone))
            (chart(&Chart {
                title: tr.t("monitor.gpu_memory"),
                unit: "GiB",
                start: view.start,
                end: view.end,
                columns: &mem_gib,
                y_max: mem_top,
                empty,
            }, zone))
        }
        (notice(Tone::Info, html! { (tr.t("monitor.gpu_only")) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Lang;
    use crate::web::views::test_support::CATALOG;

    #[test]
    fn the_tab_draws_both_charts_with_the_interval_in_both_languages() {
        let start = Timestamp::from_second(1_700_000_000).expect("time");
        let view = MonitorView {
            hours: 30,
            hours_error: Some("The interval is 1 to 24 hours".into()),
            start,
            end: start + jiff::SignedDuration::from_hours(1),
            columns: vec![
                Some(Column {
                    gpu_util_pct: 34.0,
                    gpu_mem_mib: 3072.0,
                }),
                None,
            ],
        };
        let id = WorkloadId::generate();
        for (lang, title) in [(Lang::En, "GPU utilization"), (Lang::ZhTw, "GPU 使用率")] {
            let html = tab(CATALOG.tr(lang), id, &view, &TimeZone::UTC).into_string();
            assert!(html.contains(title), "{html}");
            assert_eq!(html.matches("<svg").count(), 2);
            assert!(html.contains("34 %</title>"), "{html}");
            assert!(html.contains("3 GiB</title>"), "{html}");
            assert!(html.contains("type=\"range\""));
            assert!(html.contains("name=\"tab\" value=\"monitor\""));
            assert!(html.contains("The interval is 1 to 24 hours"));
            assert!(!html.contains("style="));
        }
    }
}
