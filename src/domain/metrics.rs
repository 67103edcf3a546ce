//! GPU and workload metrics: what one scrape reads of each GPU, the sample
//! kept per workload and minute, the hourly rollup kept for reports, and the
//! report's arithmetic (GPU usage hours, GPU utilization %). Pure: no I/O.
//!
//! A minute counts for a workload only when its GPUs were measured in that
//! minute: a gap (an exporter down, a container restarting) adds neither
//! container hours nor GPU hours, so it never reads as idle or as busy.

use super::validation::FieldErrors;

/// Milliseconds in a minute, the step of the stored samples.
pub const MINUTE_MS: i64 = 60_000;

/// Minutes in an hour, the step of the rollups.
pub const MINUTES_PER_HOUR: u64 = 60;

/// One GPU as an exporter reported it in one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuReading {
    /// The node the exporter runs on (`Hostname` label).
    pub host: String,
    /// The device's UUID (`GPU-…`).
    pub uuid: String,
    /// The device index on its node (`gpu` label, what CUDA numbers).
    pub index: u32,
    /// `(namespace, pod)` when the exporter maps GPUs to Kubernetes pods.
    pub pod: Option<(String, String)>,
    /// GPU utilization in percent (0–100), when reported and valid.
    pub util_pct: Option<f64>,
    /// Frame buffer memory used in MiB, when reported and valid.
    pub mem_used_mib: Option<f64>,
}

/// A workload's GPUs in one minute, averaged over the scrapes of that minute.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MinuteSample {
    /// How many scrapes the averages cover.
    pub scrapes: u16,
    /// GPUs measured for the workload.
    pub gpus: u16,
    /// Mean utilization of its GPUs, in percent.
    pub gpu_util_pct: f32,
    /// Frame buffer memory used on all its GPUs together, in MiB.
    pub gpu_mem_mib: f32,
}

impl MinuteSample {
    /// The sample of one scrape: the workload's GPU readings (each with a
    /// valid utilization), or None when there are none.
    pub fn of_readings(readings: &[&GpuReading]) -> Option<MinuteSample> {
        let utils: Vec<f64> = readings.iter().filter_map(|r| r.util_pct).collect();
        if utils.is_empty() {
            return None;
        }
        let mem: f64 = readings.iter().filter_map(|r| r.mem_used_mib).sum();
        Some(MinuteSample {
            scrapes: 1,
            gpus: u16::try_from(utils.len()).unwrap_or(u16::MAX),
            gpu_util_pct: (utils.iter().sum::<f64>() / utils.len() as f64) as f32,
            gpu_mem_mib: mem as f32,
        })
    }

    /// This minute's sample with one more scrape folded in (running means;
    /// the GPU count is the largest seen).
    pub fn merged(self, scrape: MinuteSample) -> MinuteSample {
        if self.scrapes == 0 {
            return scrape;
        }
        let n = f32::from(self.scrapes) + 1.0;
        MinuteSample {
            scrapes: self.scrapes.saturating_add(1),
            gpus: self.gpus.max(scrape.gpus),
            gpu_util_pct: self.gpu_util_pct + (scrape.gpu_util_pct - self.gpu_util_pct) / n,
            gpu_mem_mib: self.gpu_mem_mib + (scrape.gpu_mem_mib - self.gpu_mem_mib) / n,
        }
    }

    /// GPU-minutes of use in this minute: utilization × GPUs.
    pub fn busy_gpu_minutes(&self) -> f64 {
        f64::from(self.gpu_util_pct) / 100.0 * f64::from(self.gpus)
    }
}

/// A workload's hour, summed from its minutes, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HourRollup {
    /// Minutes with a sample (the container ran and was measured).
    pub minutes: u16,
    /// Σ GPUs held over those minutes (GPU-minutes of capacity).
    pub gpu_minutes: f64,
    /// Σ utilization × GPUs over those minutes (GPU-minutes of use).
    pub busy_gpu_minutes: f64,
}

impl HourRollup {
    /// The rollup after minute `old` (None: new) became `new`.
    pub fn with_minute(self, old: Option<MinuteSample>, new: MinuteSample) -> HourRollup {
        let mut next = self;
        if let Some(old) = old {
            next.minutes = next.minutes.saturating_sub(1);
            next.gpu_minutes -= f64::from(old.gpus);
            next.busy_gpu_minutes -= old.busy_gpu_minutes();
        }
        next.minutes = next.minutes.saturating_add(1);
        next.gpu_minutes += f64::from(new.gpus);
        next.busy_gpu_minutes += new.busy_gpu_minutes();
        next
    }
}

/// A workload's use over a period, as the GPU Utilization Rate page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Hours the container ran and was measured.
    pub container_hours: f64,
    /// The time integral of utilization × GPUs held, in hours.
    pub gpu_hours: f64,
    /// Σ GPUs held over the measured time, in hours.
    pub held_gpu_hours: f64,
}

impl Usage {
    /// The sum of the rollups of the period's hours.
    pub fn of_rollups<'a>(rollups: impl IntoIterator<Item = &'a HourRollup>) -> Usage {
        let mut usage = Usage::default();
        for r in rollups {
            usage.container_hours += f64::from(r.minutes) / 60.0;
            usage.gpu_hours += r.busy_gpu_minutes.max(0.0) / 60.0;
            usage.held_gpu_hours += r.gpu_minutes.max(0.0) / 60.0;
        }
        usage
    }

    /// GPU utilization % = GPU usage hours / (container hours × GPUs held);
    /// None without GPU time.
    pub fn utilization_pct(&self) -> Option<f64> {
        (self.held_gpu_hours > 0.0).then(|| self.gpu_hours / self.held_gpu_hours * 100.0)
    }
}

/// The minute (since the Unix epoch) a time in milliseconds falls in.
pub fn minute_of_ms(ms: i64) -> u64 {
    u64::try_from(ms.div_euclid(MINUTE_MS)).unwrap_or(0)
}

/// The hour a minute falls in (minutes since the epoch / 60).
pub fn hour_of_minute(minute: u64) -> u64 {
    minute / MINUTES_PER_HOUR
}

/// When a container's GPUs count as idle: every measured minute of the last
/// `window_minutes` below `threshold_pct`, with at least nine tenths of the
/// window measured (a container that just started, or whose exporter was
/// down, is not judged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleRule {
    pub threshold_pct: f64,
    pub window_minutes: u64,
}

impl Default for IdleRule {
    fn default() -> Self {
        IdleRule {
            threshold_pct: 5.0,
            window_minutes: 120,
        }
    }
}

impl IdleRule {
    /// Whether `minutes` (the container's, up to and including `now`)
    /// show idle GPUs.
    pub fn is_idle(&self, minutes: &[(u64, MinuteSample)], now: u64) -> bool {
        let from = now.saturating_sub(self.window_minutes.saturating_sub(1));
        let window: Vec<&MinuteSample> = minutes
            .iter()
            .filter(|(m, s)| (from..=now).contains(m) && s.gpus > 0)
            .map(|(_, s)| s)
            .collect();
        let needed = self.window_minutes.saturating_mul(9).div_ceil(10).max(1);
        window.len() as u64 >= needed
            && window
                .iter()
                .all(|s| f64::from(s.gpu_util_pct) < self.threshold_pct)
    }
}

/// An admin's automatic stop of a project's containers whose GPUs stayed
/// idle ([`IdleRule`] over this many hours): the hours allowed.
pub const AUTO_STOP_HOURS: std::ops::RangeInclusive<u32> = 1..=168;

/// The admin's field: empty turns the automatic stop off, else whole hours
/// within [`AUTO_STOP_HOURS`] (the message names them).
pub fn parse_auto_stop_hours(text: &str) -> Result<Option<u32>, FieldErrors> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(hours) if AUTO_STOP_HOURS.contains(&hours) => Ok(Some(hours)),
        _ => Err(FieldErrors::single(
            "auto_stop_hours",
            "error.metrics.auto_stop_hours",
        )),
    }
}

/// The GPU Utilization Rate page's periods, in days back from now; the
/// first is the default.
pub const REPORT_PERIOD_DAYS: [u32; 4] = [7, 1, 30, 90];

/// One field of a CSV line: quoted when it holds a comma, quote or line
/// break, and prefixed with `'` when a spreadsheet would read it as a
/// formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The Monitor tab's interval, in hours: its slider's range and default.
pub const MONITOR_HOURS: std::ops::RangeInclusive<u32> = 1..=24;
pub const MONITOR_DEFAULT_HOURS: u32 = 6;
/// The most columns a chart draws (24 hours: one per 12 minutes).
pub const CHART_COLUMNS: u64 = 120;

/// One chart column: the means of the minutes in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub gpu_util_pct: f64,
    pub gpu_mem_mib: f64,
}

/// The minutes `from..to` (end exclusive) in at most [`CHART_COLUMNS`]
/// equal columns, each the mean of its measured minutes, or None when it has
/// none. `minutes` is sorted by minute.
pub fn columns(minutes: &[(u64, MinuteSample)], from: u64, to: u64) -> Vec<Option<Column>> {
    let span = to.saturating_sub(from);
    if span == 0 {
        return Vec::new();
    }
    let count = span.min(CHART_COLUMNS);
    let mut sums = vec![(0.0f64, 0.0f64, 0u32); count as usize];
    for (minute, sample) in minutes.iter().filter(|(m, _)| (from..to).contains(m)) {
        let index = ((minute - from) * count / span) as usize;
        let slot = &mut sums[index];
        slot.0 += f64::from(sample.gpu_util_pct);
        slot.1 += f64::from(sample.gpu_mem_mib);
        slot.2 += 1;
    }
    sums.into_iter()
        .map(|(util, mem, n)| {
            (n > 0).then(|| Column {
                gpu_util_pct: util / f64::from(n),
                gpu_mem_mib: mem / f64::from(n),
            })
        })
        .collect()
}

/// What a container used as one scrape read it (cAdvisor, or the local
/// driver's view of its processes): counters since it started — CPU
/// seconds, bytes received and sent — and memory in use now. A part the
/// source does not report is None.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourceReading {
    pub cpu_seconds: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub rx_bytes: Option<f64>,
    pub tx_bytes: Option<f64>,
}

/// A mean over the scrapes of a minute that measured its value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Mean {
    /// Scrapes that measured it (0: not measured this minute).
    pub n: u16,
    pub value: f32,
}

impl Mean {
    /// The mean with one more measurement (None and non-finite values
    /// change nothing).
    pub fn with(self, value: Option<f64>) -> Mean {
        match value.filter(|v| v.is_finite()) {
            None => self,
            Some(v) if self.n == 0 => Mean {
                n: 1,
                value: v as f32,
            },
            Some(v) => {
                let n = f32::from(self.n) + 1.0;
                Mean {
                    n: self.n.saturating_add(1),
                    value: self.value + (v as f32 - self.value) / n,
                }
            }
        }
    }

    /// The value, when measured.
    pub fn get(&self) -> Option<f64> {
        (self.n > 0).then_some(f64::from(self.value))
    }

    fn merged(self, other: Mean) -> Mean {
        if other.n == 0 {
            return self;
        }
        if self.n == 0 {
            return other;
        }
        let (a, b) = (f32::from(self.n), f32::from(other.n));
        Mean {
            n: self.n.saturating_add(other.n),
            value: (self.value * a + other.value * b) / (a + b),
        }
    }
}

/// A container's CPU, memory and network in one minute: each the mean of
/// the scrapes that measured it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourceSample {
    /// CPU in use, in cores (CPU seconds per second).
    pub cpu_cores: Mean,
    /// Memory in use (cAdvisor's working set; the resident size of the
    /// local driver's processes), in MiB.
    pub memory_mib: Mean,
    /// Bytes received per second.
    pub rx_bytes_per_s: Mean,
    /// Bytes sent per second.
    pub tx_bytes_per_s: Mean,
}

/// The rate of a counter between two readings `seconds` apart; None
/// without an earlier reading, or when the counter went down (the
/// container restarted, or a process of the local driver's group ended):
/// a reset gives no rate rather than a wrong one.
fn rate(before: Option<f64>, now: Option<f64>, seconds: f64) -> Option<f64> {
    let (before, now) = (before?, now?);
    (seconds > 0.0 && now >= before).then(|| (now - before) / seconds)
}

impl ResourceSample {
    /// One scrape's sample: the memory as read, the counters as rates
    /// against `before`, the reading taken `seconds` earlier.
    pub fn of_readings(
        before: Option<(&ResourceReading, f64)>,
        now: &ResourceReading,
    ) -> ResourceSample {
        let (earlier, seconds) = match before {
            Some((r, s)) => (*r, s),
            None => (ResourceReading::default(), 0.0),
        };
        ResourceSample {
            cpu_cores: Mean::default().with(rate(earlier.cpu_seconds, now.cpu_seconds, seconds)),
            memory_mib: Mean::default().with(now.memory_bytes.map(|b| b / 1_048_576.0)),
            rx_bytes_per_s: Mean::default().with(rate(earlier.rx_bytes, now.rx_bytes, seconds)),
            tx_bytes_per_s: Mean::default().with(rate(earlier.tx_bytes, now.tx_bytes, seconds)),
        }
    }

    /// This minute's sample with another scrape's folded in.
    pub fn merged(self, other: ResourceSample) -> ResourceSample {
        ResourceSample {
            cpu_cores: self.cpu_cores.merged(other.cpu_cores),
            memory_mib: self.memory_mib.merged(other.memory_mib),
            rx_bytes_per_s: self.rx_bytes_per_s.merged(other.rx_bytes_per_s),
            tx_bytes_per_s: self.tx_bytes_per_s.merged(other.tx_bytes_per_s),
        }
    }

    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        [
            self.cpu_cores,
            self.memory_mib,
            self.rx_bytes_per_s,
            self.tx_bytes_per_s,
        ]
        .iter()
        .all(|m| m.n == 0)
    }
}

/// One value of the minutes `from..to` (end exclusive) in at most
/// [`CHART_COLUMNS`] equal columns, each the mean of the minutes that
/// measured it, or None. `minutes` is sorted by minute.
pub fn series<T>(
    minutes: &[(u64, T)],
    from: u64,
    to: u64,
    value: impl Fn(&T) -> Option<f64>,
) -> Vec<Option<f64>> {
    let span = to.saturating_sub(from);
    if span == 0 {
        return Vec::new();
    }
    let count = span.min(CHART_COLUMNS);
    let mut sums = vec![(0.0f64, 0u32); count as usize];
    for (minute, sample) in minutes.iter().filter(|(m, _)| (from..to).contains(m)) {
        if let Some(v) = value(sample) {
            let slot = &mut sums[((minute - from) * count / span) as usize];
            slot.0 += v;
            slot.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(sum, n)| (n > 0).then(|| sum / f64::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(util: Option<f64>, mem: Option<f64>) -> GpuReading {
        GpuReading {
            host: "n".into(),
            uuid: "GPU-1".into(),
            index: 0,
            pod: None,
            util_pct: util,
            mem_used_mib: mem,
        }
    }

    fn sample(gpus: u16, util: f32) -> MinuteSample {
        MinuteSample {
            scrapes: 1,
            gpus,
            gpu_util_pct: util,
            gpu_mem_mib: 0.0,
        }
    }

    #[test]
    fn a_scrape_averages_utilization_and_sums_memory() {
        let a = reading(Some(90.0), Some(1000.0));
        let b = reading(Some(30.0), Some(24.0));
        let none = reading(None, Some(5.0));
        let s = MinuteSample::of_readings(&[&a, &b, &none]).expect("a sample");
        assert_eq!(s.gpus, 2);
        assert_eq!(s.gpu_util_pct, 60.0);
        assert_eq!(s.gpu_mem_mib, 1029.0);
        assert_eq!(MinuteSample::of_readings(&[&none]), None);
    }

    #[test]
    fn scrapes_of_a_minute_are_averaged() {
        let m = sample(1, 10.0)
            .merged(sample(1, 40.0))
            .merged(sample(1, 70.0));
        assert_eq!(m.scrapes, 3);
        assert!((m.gpu_util_pct - 40.0).abs() < 1e-4);
        assert_eq!(
            MinuteSample::default().merged(sample(2, 5.0)),
            sample(2, 5.0)
        );
    }

    #[test]
    fn a_rewritten_minute_replaces_its_part_of_the_hour() {
        let hour = HourRollup::default()
            .with_minute(None, sample(2, 50.0))
            .with_minute(Some(sample(2, 50.0)), sample(2, 100.0));
        assert_eq!(hour.minutes, 1);
        assert_eq!(hour.gpu_minutes, 2.0);
        assert!((hour.busy_gpu_minutes - 2.0).abs() < 1e-9);
    }

    /// The manual's example row: 90 container hours on one GPU at 34 %
    /// reads 30.6 GPU hours and 34.0 %.
    #[test]
    fn the_manuals_example_row() {
        let mut hour = HourRollup::default();
        for _ in 0..60 {
            hour = hour.with_minute(None, sample(1, 34.0));
        }
        let usage = Usage::of_rollups(std::iter::repeat_n(&hour, 90));
        assert!((usage.container_hours - 90.0).abs() < 1e-9);
        assert!((usage.gpu_hours - 30.6).abs() < 1e-6, "{}", usage.gpu_hours);
        let pct = usage.utilization_pct().expect("GPU time");
        assert_eq!(format!("{pct:.1}"), "34.0");
    }

    /// Constructed series checked by hand: two GPUs at 100 % for 30 minutes,
    /// a 20-minute gap (exporter down), then a restart where the container
    /// ran 10 minutes at 25 % on both GPUs.
    /// Container hours = 40/60; GPU hours = (30·2·1 + 10·2·0.25)/60 = 65/60;
    /// utilization = 65 / (40·2) = 81.25 %.
    #[test]
    fn gaps_and_restarts_count_only_measured_minutes() {
        let mut hour = HourRollup::default();
        for _ in 0..30 {
            hour = hour.with_minute(None, sample(2, 100.0));
        }
        for _ in 0..10 {
            hour = hour.with_minute(None, sample(2, 25.0));
        }
        let usage = Usage::of_rollups([&hour]);
        assert!((usage.container_hours - 40.0 / 60.0).abs() < 1e-9);
        assert!((usage.gpu_hours - 65.0 / 60.0).abs() < 1e-9);
        let pct = usage.utilization_pct().expect("GPU time");
        assert!((pct - 81.25).abs() < 1e-9, "{pct}");
        assert_eq!(Usage::default().utilization_pct(), None);
    }

    #[test]
    fn minutes_and_hours_of_times() {
        assert_eq!(minute_of_ms(0), 0);
        assert_eq!(minute_of_ms(59_999), 0);
        assert_eq!(minute_of_ms(120_000), 2);
        assert_eq!(minute_of_ms(-5), 0);
        assert_eq!(hour_of_minute(119), 1);
    }

    #[test]
    fn minutes_fall_into_columns_averaged_with_gaps_kept() {
        let at = |m: u64, util: f32| (m, sample(1, util));
        // Six hours from minute 1000: 360 minutes in 120 columns of 3.
        let minutes = [
            at(1000, 10.0),
            at(1001, 20.0),
            at(1002, 30.0),
            at(1009, 90.0),
            at(999, 5.0),
            at(1360, 5.0),
        ];
        let cols = columns(&minutes, 1000, 1360);
        assert_eq!(cols.len(), 120);
        assert_eq!(cols[0].map(|c| c.gpu_util_pct), Some(20.0));
        assert_eq!(cols[1], None);
        assert_eq!(cols[3].map(|c| c.gpu_util_pct), Some(90.0));
        assert_eq!(
            cols.iter().flatten().count(),
            2,
            "outside minutes are left out"
        );
        // One hour: a column per minute.
        assert_eq!(columns(&minutes, 1000, 1060).len(), 60);
        assert!(columns(&minutes, 5, 5).is_empty());
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("train-1"), "train-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }

    #[test]
    fn idle_means_a_measured_window_below_the_threshold() {
        let rule = IdleRule {
            threshold_pct: 5.0,
            window_minutes: 10,
        };
        let quiet: Vec<(u64, MinuteSample)> = (100..=109).map(|m| (m, sample(1, 2.0))).collect();
        assert!(rule.is_idle(&quiet, 109));
        // One busy minute in the window: not idle.
        let mut busy = quiet.clone();
        busy[4].1 = sample(1, 50.0);
        assert!(!rule.is_idle(&busy, 109));
        // A busy minute before the window does not count.
        let mut earlier = quiet.clone();
        earlier.insert(0, (90, sample(1, 90.0)));
        assert!(rule.is_idle(&earlier, 109));
        // Too little of the window measured (8 of 10 minutes): not judged.
        assert!(!rule.is_idle(&quiet[2..], 109));
        assert!(rule.is_idle(&quiet[1..], 109), "9 of 10 suffice");
        assert!(!rule.is_idle(&[], 109));
    }

    /// Counters become rates between scrapes (hand-computed), memory is
    /// read as it is, and a counter that went down gives no rate.
    #[test]
    fn resource_counters_become_rates_and_resets_give_none() {
        let first = ResourceReading {
            cpu_seconds: Some(100.0),
            memory_bytes: Some(512.0 * 1_048_576.0),
            rx_bytes: Some(1_000.0),
            tx_bytes: Some(4_000.0),
        };
        let alone = ResourceSample::of_readings(None, &first);
        assert_eq!(alone.cpu_cores.get(), None);
        assert_eq!(alone.memory_mib.get(), Some(512.0));
        let second = ResourceReading {
            cpu_seconds: Some(130.0),
            memory_bytes: Some(256.0 * 1_048_576.0),
            rx_bytes: Some(16_000.0),
            tx_bytes: Some(1_000.0),
        };
        let s = ResourceSample::of_readings(Some((&first, 15.0)), &second);
        assert_eq!(s.cpu_cores.get(), Some(2.0), "30 s of CPU in 15 s");
        assert_eq!(s.rx_bytes_per_s.get(), Some(1_000.0));
        assert_eq!(s.tx_bytes_per_s.get(), None, "the counter went down");
        let minute = alone.merged(s);
        assert_eq!(minute.memory_mib.get(), Some(384.0));
        assert_eq!(minute.cpu_cores.get(), Some(2.0));
        assert!(!minute.is_empty());
        assert!(ResourceSample::default().is_empty());
        let nan = ResourceReading {
            memory_bytes: Some(f64::NAN),
            ..ResourceReading::default()
        };
        assert!(ResourceSample::of_readings(None, &nan).is_empty());
    }

    #[test]
    fn series_average_each_columns_measured_minutes() {
        let minutes = [
            (10u64, Some(1.0)),
            (11, Some(3.0)),
            (12, None),
            (14, Some(5.0)),
        ];
        let cols = series(&minutes, 10, 16, |v| *v);
        assert_eq!(
            cols,
            vec![Some(1.0), Some(3.0), None, None, Some(5.0), None]
        );
        assert!(series(&minutes, 5, 5, |v| *v).is_empty());
    }

    #[test]
    fn the_auto_stop_hours_are_empty_or_within_the_limits() {
        assert_eq!(parse_auto_stop_hours(" "), Ok(None));
        assert_eq!(parse_auto_stop_hours("1"), Ok(Some(1)));
        assert_eq!(parse_auto_stop_hours("168"), Ok(Some(168)));
        for bad in ["0", "169", "2.5", "-1", "two"] {
            let errors = parse_auto_stop_hours(bad).expect_err(bad);
            assert_eq!(
                errors.get("auto_stop_hours"),
                Some("error.metrics.auto_stop_hours")
            );
        }
    }
}
