//! A container's Monitor tab: the interval slider (a GET form, so a reload
//! and the address bar keep it) and the charts drawn on the server: GPU
//! utilization and memory, CPU, memory, network received and sent.
//! `containers.js` fetches the page again every 15 seconds and swaps the
//! charts in (live refresh; without it a reload does the same).

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
    /// CPU cores, memory MiB, bytes received and sent per second.
    pub cpu_cores: Vec<Option<f64>>,
    pub memory_mib: Vec<Option<f64>>,
    pub rx_bytes_per_s: Vec<Option<f64>>,
    pub tx_bytes_per_s: Vec<Option<f64>>,
}

fn top(values: &[Option<f64>], floor: f64) -> f64 {
    nice_ceiling(values.iter().flatten().copied().fold(0.0, f64::max), floor)
}

fn kib(values: &[Option<f64>]) -> Vec<Option<f64>> {
    values.iter().map(|v| v.map(|b| b / 1024.0)).collect()
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
    let mem_top = top(&mem_gib, 1.0);
    let rx = kib(&view.rx_bytes_per_s);
    let tx = kib(&view.tx_bytes_per_s);
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
        div class="monitor-charts" id="monitor-charts" data-refresh-seconds="15" {
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
            (chart(&Chart {
                title: tr.t("monitor.cpu"),
                unit: tr.t("monitor.cores"),
                start: view.start,
                end: view.end,
                columns: &view.cpu_cores,
                y_max: top(&view.cpu_cores, 1.0),
                empty,
            }, zone))
            (chart(&Chart {
                title: tr.t("monitor.memory"),
                unit: "MiB",
                start: view.start,
                end: view.end,
                columns: &view.memory_mib,
                y_max: top(&view.memory_mib, 1.0),
                empty,
            }, zone))
            (chart(&Chart {
                title: tr.t("monitor.received"),
                unit: "KiB/s",
                start: view.start,
                end: view.end,
                columns: &rx,
                y_max: top(&rx, 1.0),
                empty,
            }, zone))
            (chart(&Chart {
                title: tr.t("monitor.sent"),
                unit: "KiB/s",
                start: view.start,
                end: view.end,
                columns: &tx,
                y_max: top(&tx, 1.0),
                empty,
            }, zone))
        }
        (notice(Tone::Info, html! { (tr.t("monitor.sources_note")) }))
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
            cpu_cores: vec![Some(1.5), None],
            memory_mib: vec![Some(700.0), None],
            rx_bytes_per_s: vec![Some(2048.0), None],
            tx_bytes_per_s: vec![None, None],
        };
        let id = WorkloadId::generate();
        for (lang, title, cores) in [
            (Lang::En, "GPU utilization", "1.5 cores</title>"),
            (Lang::ZhTw, "GPU 使用率", "1.5 核心</title>"),
        ] {
            let html = tab(CATALOG.tr(lang), id, &view, &TimeZone::UTC).into_string();
            assert!(html.contains(title), "{html}");
            assert_eq!(html.matches("<svg").count(), 6);
            assert!(html.contains(cores), "{html}");
            assert!(html.contains("700 MiB</title>"), "{html}");
            assert!(html.contains("2 KiB/s</title>"), "{html}");
            assert!(html.contains("data-refresh-seconds"), "{html}");
            assert!(html.contains("34 %</title>"), "{html}");
            assert!(html.contains("3 GiB</title>"), "{html}");
            assert!(html.contains("type=\"range\""));
            assert!(html.contains("name=\"tab\" value=\"monitor\""));
            assert!(html.contains("The interval is 1 to 24 hours"));
            assert!(!html.contains("style="));
        }
    }

    /// The automatic stop's messages name the real limits.
    #[test]
    fn the_auto_stop_texts_name_the_limits() {
        use crate::domain::metrics::AUTO_STOP_HOURS;
        for lang in [Lang::En, Lang::ZhTw] {
            let tr = CATALOG.tr(lang);
            for key in ["error.metrics.auto_stop_hours", "auto_stop.hint"] {
                let text = tr.t(key);
                assert!(
                    text.contains(&format!(
                        "{} 到 {}",
                        AUTO_STOP_HOURS.start(),
                        AUTO_STOP_HOURS.end()
                    )) || text.contains(&format!(
                        "{} to {}",
                        AUTO_STOP_HOURS.start(),
                        AUTO_STOP_HOURS.end()
                    )),
                    "{key}: {text}"
                );
            }
        }
    }
}
