//! Job schedules' trigger rules (manual §5.5.2): the form's trigger fields
//! and the 5-field cron expression they stand for, and the trigger times in
//! an IANA zone.
//!
//! The semantics, exactly as the issue states them:
//! - times are wall-clock times in the schedule's zone;
//! - a wall-clock time that does not exist (the clock springs forward over
//!   it) is skipped;
//! - a wall-clock time that happens twice (the clock falls back) fires once,
//!   at its first occurrence;
//! - when both day of month and weekday are restricted, a day matches when
//!   either matches (as Vixie cron does);
//! - triggers fall within the window [start, end], both ends included.
//!
//! `croner` matches the pattern on the wall clock and resolves it in the
//! zone. It follows the Open Cron Pattern Specification for the clock
//! changes, which differs from ours in two places, shown by the tests
//! `croner_moves_a_fixed_time_out_of_the_gap` and
//! `croner_fires_an_interval_pattern_in_both_halves_of_a_fold`: a fixed time
//! in a spring-forward gap runs at the first instant after the gap, and an
//! interval pattern (`*/15 …`) fires in both halves of a repeated hour.
//! [`Trigger::next_at_or_after`] drops those answers and searches on.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use super::validation::FieldErrors;

/// How many trigger times the preview shows (the manual's "Maximum preview:
/// 10 records").
pub const PREVIEW_COUNT: usize = 10;

/// A run started this long or more after its trigger time is recorded as
/// late: it fell due while the server was down.
pub const LATE_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// The longest cron expression accepted; five fields listing every value
/// stay well below it.
pub const CRON_MAX: usize = 512;

/// The longest schedule description.
pub const DESCRIPTION_MAX: usize = 1024;

/// Answers of croner that our rules drop (a time moved out of a gap, the
/// second half of a fold) before one is kept. Each clock change gives at
/// most a few; this bounds a pattern that only ever names missing times.
const SEARCH_STEPS_MAX: usize = 1000;

/// What a trigger does while the schedule's previous run has not ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// The trigger is skipped (and the skip recorded).
    Single,
    /// Runs overlap.
    Multi,
}

impl Concurrency {
    /// The form's and the store's word.
    pub fn code(self) -> &'static str {
        match self {
            Concurrency::Single => "single",
            Concurrency::Multi => "multi",
        }
    }

    pub fn from_code(code: &str) -> Option<Concurrency> {
        match code {
            "single" => Some(Concurrency::Single),
            "multi" => Some(Concurrency::Multi),
            _ => None,
        }
    }
}

/// One trigger field of the form: every value, or the chosen ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pick {
    Every,
    /// Sorted and without repeats; never empty.
    Chosen(BTreeSet<u8>),
}

impl Pick {
    fn cron_field(&self) -> String {
        match self {
            Pick::Every => "*".to_owned(),
            Pick::Chosen(values) => {
                let mut field = String::new();
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        field.push(',');
                    }
                    let _ = write!(field, "{value}");
                }
                field
            }
        }
    }

    /// Reads `*` or a comma list of plain numbers within `min..=max`; any
    /// other syntax (ranges, steps, names) is not a form field.
    fn from_cron_field(field: &str, min: u8, max: u8) -> Option<Pick> {
        if field == "*" {
            return Some(Pick::Every);
        }
        let mut values = BTreeSet::new();
        for part in field.split(',') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: u8 = part.parse().ok()?;
            if !(min..=max).contains(&value) {
                return None;
            }
            values.insert(value);
        }
        Some(Pick::Chosen(values))
    }

    fn is_within(&self, min: u8, max: u8) -> bool {
        match self {
            Pick::Every => true,
            Pick::Chosen(values) => {
                !values.is_empty() && values.iter().all(|v| (min..=max).contains(v))
            }
        }
    }
}

/// The form's day switch: days of the month, or weekdays (0 is Sunday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DayRule {
    DayOfMonth(Pick),
    Weekday(Pick),
}

/// The trigger as the form builds it: month, day of month or weekday, hour
/// and one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerFields {
    pub month: Pick,
    pub day: DayRule,
    pub hour: Pick,
    pub minute: u8,
}

impl TriggerFields {
    /// Checks each field's range; messages are translation keys.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if !self.month.is_within(1, 12) {
            errors.add("month", "schedule.error.month");
        }
        match &self.day {
            DayRule::DayOfMonth(pick) if !pick.is_within(1, 31) => {
                errors.add("day", "schedule.error.day_of_month");
            }
            DayRule::Weekday(pick) if !pick.is_within(0, 6) => {
                errors.add("weekday", "schedule.error.weekday");
            }
            _ => {}
        }
        if !self.hour.is_within(0, 23) {
            errors.add("hour", "schedule.error.hour");
        }
        if self.minute > 59 {
            errors.add("minute", "schedule.error.minute");
        }
        errors.into_result(())
    }

    /// The fields as the form sends them: `*` or a comma list for month,
    /// days and hour, `day` or `weekday` for the switch, one minute.
    pub fn from_form(
        month: &str,
        switch: &str,
        days: &str,
        hour: &str,
        minute: &str,
    ) -> Result<TriggerFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let month = Pick::from_cron_field(month.trim(), 1, 12);
        if month.is_none() {
            errors.add("month", "schedule.error.month");
        }
        let day = match switch.trim() {
            "weekday" => Pick::from_cron_field(days.trim(), 0, 6).map(DayRule::Weekday),
            _ => Pick::from_cron_field(days.trim(), 1, 31).map(DayRule::DayOfMonth),
        };
        if day.is_none() {
            let (field, key) = if switch.trim() == "weekday" {
                ("weekday", "schedule.error.weekday")
            } else {
                ("day", "schedule.error.day_of_month")
            };
            errors.add(field, key);
        }
        let hour = Pick::from_cron_field(hour.trim(), 0, 23);
        if hour.is_none() {
            errors.add("hour", "schedule.error.hour");
        }
        let minute = minute.trim().parse::<u8>().ok().filter(|m| *m <= 59);
        if minute.is_none() {
            errors.add("minute", "schedule.error.minute");
        }
        match (month, day, hour, minute) {
            (Some(month), Some(day), Some(hour), Some(minute)) => Ok(TriggerFields {
                month,
                day,
                hour,
                minute,
            }),
            _ => Err(errors),
        }
    }

    /// The 5-field cron expression: minute, hour, day of month, month,
    /// weekday.
    pub fn to_cron(&self) -> String {
        let (day_of_month, weekday) = match &self.day {
            DayRule::DayOfMonth(pick) => (pick.cron_field(), "*".to_owned()),
            DayRule::Weekday(pick) => ("*".to_owned(), pick.cron_field()),
        };
        format!(
            "{} {} {} {} {}",
            self.minute,
            self.hour.cron_field(),
            day_of_month,
            self.month.cron_field(),
            weekday
        )
    }

    /// The fields of an expression the form can show: one minute, and `*`
    /// or plain lists elsewhere, with at most one of day of month and
    /// weekday restricted. Any other valid expression is kept as cron only.
    pub fn from_cron(expression: &str) -> Option<TriggerFields> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let [minute, hour, day_of_month, month, weekday] = fields.as_slice() else {
            return None;
        };
        let minute = match Pick::from_cron_field(minute, 0, 59)? {
            Pick::Chosen(values) if values.len() == 1 => values.into_iter().next()?,
            _ => return None,
        };
        let day = match (
            Pick::from_cron_field(day_of_month, 1, 31)?,
            Pick::from_cron_field(weekday, 0, 6)?,
        ) {
            (days, Pick::Every) => DayRule::DayOfMonth(days),
            (Pick::Every, weekdays) => DayRule::Weekday(weekdays),
            _ => return None,
        };
        Some(TriggerFields {
            month: Pick::from_cron_field(month, 1, 12)?,
            day,
            hour: Pick::from_cron_field(hour, 0, 23)?,
            minute,
        })
    }
}

/// A checked cron expression.
#[derive(Debug, Clone)]
pub struct Trigger {
    expression: String,
    cron: Cron,
}

impl Trigger {
    /// Parses a 5-field expression (no seconds, no year). Day of month and
    /// weekday combine as in Vixie cron.
    pub fn parse(expression: &str) -> Result<Trigger, FieldErrors> {
        let expression = expression.split_whitespace().collect::<Vec<_>>().join(" ");
        if expression.is_empty() || expression.len() > CRON_MAX {
            return Err(FieldErrors::single("cron", "schedule.error.cron"));
        }
        if expression.split(' ').count() != 5 || expression.contains('@') {
            return Err(FieldErrors::single("cron", "schedule.error.cron_fields"));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build()
            .parse(&expression)
            .map_err(|_| FieldErrors::single("cron", "schedule.error.cron"))?;
        Ok(Trigger { expression, cron })
    }

    /// The expression, with its fields separated by single spaces.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first trigger time at or after `from` in `zone`, with the rules
    /// of this module; None when there is none before croner's search
    /// limit (year 5000).
    pub fn next_at_or_after(&self, zone: &TimeZone, from: Timestamp) -> Option<Timestamp> {
        self.next_within(zone, from, None)
    }

    /// Like [`Trigger::next_at_or_after`], and stops the search past
    /// `until`.
    fn next_within(
        &self,
        zone: &TimeZone,
        from: Timestamp,
        until: Option<Timestamp>,
    ) -> Option<Timestamp> {
        let mut cursor = from.to_zoned(zone.clone());
        let mut inclusive = true;
        for _ in 0..SEARCH_STEPS_MAX {
            let found = self.cron.find_next_occurrence(&cursor, inclusive).ok()?;
            if until.is_some_and(|until| found.timestamp() > until) {
                return None;
            }
            if found.timestamp() >= from && self.fires_at(zone, &found) {
                return Some(found.timestamp());
            }
            cursor = found;
            inclusive = false;
        }
        None
    }

    /// Whether the pattern fires at this instant: its wall-clock time
    /// matches the pattern exactly (croner may hand back the first instant
    /// after a gap instead) and is the first occurrence of that wall-clock
    /// time.
    fn fires_at(&self, zone: &TimeZone, instant: &Zoned) -> bool {
        if instant.second() != 0 || instant.subsec_nanosecond() != 0 {
            return false;
        }
        if !self.cron.is_time_matching(instant).unwrap_or(false) {
            return false;
        }
        zone.to_ambiguous_zoned(instant.datetime())
            .earlier()
            .is_ok_and(|first| first.timestamp() == instant.timestamp())
    }
}

/// The time range in which a schedule's triggers fall, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    /// Refuses an end before the start.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Window, FieldErrors> {
        if end < start {
            return Err(FieldErrors::single(
                "end",
                "schedule.error.end_before_start",
            ));
        }
        Ok(Window { start, end })
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Whether `now` is past the window's end.
    pub fn has_ended(&self, now: Timestamp) -> bool {
        now > self.end
    }
}

/// A trigger in a zone within a window: everything that decides when a
/// schedule fires.
#[derive(Debug, Clone)]
pub struct Timing {
    pub trigger: Trigger,
    pub zone: TimeZone,
    pub window: Window,
}

impl Timing {
    /// The first trigger time strictly after `after` (at or after the
    /// window's start) within the window.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let from = match after.checked_add(SignedDuration::from_secs(1)) {
            Ok(next_second) => next_second.max(self.window.start),
            Err(_) => return None,
        };
        self.trigger
            .next_within(&self.zone, from, Some(self.window.end))
    }

    /// The first trigger time at or after `now` within the window.
    pub fn next_at_or_after(&self, now: Timestamp) -> Option<Timestamp> {
        self.trigger.next_within(
            &self.zone,
            now.max(self.window.start),
            Some(self.window.end),
        )
    }

    /// Up to `count` trigger times from `now` on, in the zone; empty when
    /// the window holds none.
    pub fn preview(&self, now: Timestamp, count: usize) -> Vec<Zoned> {
        let mut times = Vec::with_capacity(count);
        let mut next = self.next_at_or_after(now);
        while let Some(time) = next {
            if times.len() == count {
                break;
            }
            times.push(time.to_zoned(self.zone.clone()));
            next = self.next_after(time);
        }
        times
    }

    /// What a schedule does when its stored next run `due` is reached at
    /// `now` (`due <= now`): one run, however many triggers passed since —
    /// a late one (it fell due while the server was down) only while the
    /// window is still open —, and the next run after `now`.
    pub fn fire(&self, due: Timestamp, now: Timestamp) -> Firing {
        let late = now.duration_since(due) >= LATE_AFTER;
        let run = (!late || !self.window.has_ended(now)).then_some(Run {
            scheduled: due,
            late,
        });
        Firing {
            run,
            next: self.next_after(now),
        }
    }
}

/// One run a schedule starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The trigger time it stands for (the earliest missed one after a
    /// downtime).
    pub scheduled: Timestamp,
    /// Started [`LATE_AFTER`] or more after that time.
    pub late: bool,
}

/// The outcome of a due schedule: at most one run, and the next run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub run: Option<Run>,
    pub next: Option<Timestamp>,
}

/// The IANA zone of that name, from the bundled database.
pub fn zone(name: &str) -> Result<TimeZone, FieldErrors> {
    if name.is_empty() || name.len() > 64 {
        return Err(FieldErrors::single("zone", "schedule.error.zone"));
    }
    TimeZone::get(name).map_err(|_| FieldErrors::single("zone", "schedule.error.zone"))
}

/// The description's limit.
pub fn check_description(description: &str, errors: &mut FieldErrors) {
    if description.chars().count() > DESCRIPTION_MAX {
        errors.add("description", "schedule.error.description");
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn tz(name: &str) -> TimeZone {
        zone(name).unwrap()
    }

    /// A wall-clock time in `zone` (the earlier one when it is repeated).
    fn at(zone: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        tz(zone)
            .to_ambiguous_zoned(date(y, mo, d).at(h, mi, 0, 0))
            .earlier()
            .unwrap()
            .timestamp()
    }

    fn timing(cron: &str, zone: &str, start: Timestamp, end: Timestamp) -> Timing {
        Timing {
            trigger: Trigger::parse(cron).unwrap(),
            zone: tz(zone),
            window: Window::new(start, end).unwrap(),
        }
    }

    fn wide(cron: &str, zone: &str) -> Timing {
        timing(
            cron,
            zone,
            "2000-01-01T00:00:00Z".parse().unwrap(),
            "2099-12-31T23:59:59Z".parse().unwrap(),
        )
    }

    /// The next `n` triggers from `from`, as wall-clock times with their
    /// offsets in the zone, e.g. `2025-03-09T03:30:00-04:00`.
    fn walls(timing: &Timing, from: Timestamp, n: usize) -> Vec<String> {
        timing
            .preview(from, n)
            .into_iter()
            .map(|z| {
                format!(
                    "{}{}",
                    z.datetime().strftime("%Y-%m-%dT%H:%M:%S"),
                    z.offset()
                )
            })
            .collect()
    }

    fn days(t: &Timing, from: Timestamp, n: usize) -> Vec<String> {
        t.preview(from, n)
            .into_iter()
            .map(|z| z.date().to_string())
            .collect()
    }

    fn chosen(values: &[u8]) -> Pick {
        Pick::Chosen(values.iter().copied().collect())
    }

    // Fields and cron

    #[test]
    fn fields_become_a_cron_expression() {
        let daily = TriggerFields {
            month: Pick::Every,
            day: DayRule::DayOfMonth(Pick::Every),
            hour: chosen(&[20]),
            minute: 0,
        };
        assert_eq!(daily.to_cron(), "0 20 * * *");
        let weekdays = TriggerFields {
            month: chosen(&[1, 7]),
            day: DayRule::Weekday(chosen(&[5, 1])),
            hour: chosen(&[9, 17]),
            minute: 30,
        };
        assert_eq!(weekdays.to_cron(), "30 9,17 * 1,7 1,5");
        let every_hour = TriggerFields {
            month: Pick::Every,
            day: DayRule::DayOfMonth(chosen(&[31])),
            hour: Pick::Every,
            minute: 5,
        };
        assert_eq!(every_hour.to_cron(), "5 * 31 * *");
    }

    #[test]
    fn the_form_reads_back_what_it_wrote() {
        for fields in [
            TriggerFields {
                month: Pick::Every,
                day: DayRule::DayOfMonth(Pick::Every),
                hour: chosen(&[20]),
                minute: 0,
            },
            TriggerFields {
                month: chosen(&[2]),
                day: DayRule::DayOfMonth(chosen(&[29])),
                hour: chosen(&[0, 12]),
                minute: 59,
            },
            TriggerFields {
                month: chosen(&[3, 11]),
                day: DayRule::Weekday(chosen(&[0, 6])),
                hour: Pick::Every,
                minute: 15,
            },
        ] {
            let cron = fields.to_cron();
            assert!(Trigger::parse(&cron).is_ok(), "{cron}");
            assert_eq!(TriggerFields::from_cron(&cron), Some(fields));
        }
    }

    #[test]
    fn expressions_beyond_the_form_stay_cron_only() {
        for cron in [
            "*/15 * * * *",
            "0 9-17 * * *",
            "0 0 1 * 1",
            "0 0 L * *",
            "0,30 * * * *",
            "0 0 * * MON",
            "0 0 * * 7",
        ] {
            assert!(Trigger::parse(cron).is_ok(), "{cron}");
            assert_eq!(TriggerFields::from_cron(cron), None, "{cron}");
        }
    }

    #[test]
    fn the_form_sends_lists_or_every() {
        let fields = TriggerFields::from_form("*", "weekday", "1,5", "20", "0").unwrap();
        assert_eq!(fields.to_cron(), "0 20 * * 1,5");
        let fields = TriggerFields::from_form("2", "day", "29", "*", "30").unwrap();
        assert_eq!(fields.to_cron(), "30 * 29 2 *");
        let errors = TriggerFields::from_form("13", "weekday", "7", "1-3", "60").unwrap_err();
        assert_eq!(errors.get("month"), Some("schedule.error.month"));
        assert_eq!(errors.get("weekday"), Some("schedule.error.weekday"));
        assert_eq!(errors.get("hour"), Some("schedule.error.hour"));
        assert_eq!(errors.get("minute"), Some("schedule.error.minute"));
        let errors = TriggerFields::from_form("*", "day", "0", "*", "x").unwrap_err();
        assert_eq!(errors.get("day"), Some("schedule.error.day_of_month"));
    }

    #[test]
    fn fields_out_of_range_are_named() {
        let fields = TriggerFields {
            month: chosen(&[13]),
            day: DayRule::Weekday(chosen(&[7])),
            hour: chosen(&[24]),
            minute: 60,
        };
        let errors = fields.validate().unwrap_err();
        assert_eq!(errors.get("month"), Some("schedule.error.month"));
        assert_eq!(errors.get("weekday"), Some("schedule.error.weekday"));
        assert_eq!(errors.get("hour"), Some("schedule.error.hour"));
        assert_eq!(errors.get("minute"), Some("schedule.error.minute"));
        let no_day = TriggerFields {
            month: Pick::Every,
            day: DayRule::DayOfMonth(Pick::Chosen(BTreeSet::new())),
            hour: Pick::Every,
            minute: 0,
        };
        assert_eq!(
            no_day.validate().unwrap_err().get("day"),
            Some("schedule.error.day_of_month")
        );
        let day_32 = TriggerFields {
            day: DayRule::DayOfMonth(chosen(&[32])),
            ..no_day
        };
        assert!(day_32.validate().is_err());
    }

    #[test]
    fn invalid_cron_expressions_are_refused() {
        for cron in [
            "",
            "* * * *",
            "0 * * * * *",
            "0 0 1 1 * 2030",
            "60 * * * *",
            "0 24 * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "x * * * *",
            "@daily",
        ] {
            assert!(Trigger::parse(cron).is_err(), "{cron:?}");
        }
        assert_eq!(
            Trigger::parse("0 0 * * 9").unwrap_err().get("cron"),
            Some("schedule.error.cron")
        );
        assert_eq!(
            Trigger::parse("0 0 * *").unwrap_err().get("cron"),
            Some("schedule.error.cron_fields")
        );
        assert_eq!(
            Trigger::parse(&"1,".repeat(300)).unwrap_err().get("cron"),
            Some("schedule.error.cron")
        );
    }

    #[test]
    fn spaces_in_an_expression_are_normalised() {
        assert_eq!(
            Trigger::parse("  0\t20  * * *\n").unwrap().expression(),
            "0 20 * * *"
        );
    }

    #[test]
    fn zones_are_iana_names() {
        assert!(zone("Asia/Taipei").is_ok());
        assert!(zone("UTC").is_ok());
        for name in [
            "",
            "Mars/Olympus",
            "Asia/Taipei ",
            "+08:00",
            &"A".repeat(100),
        ] {
            assert_eq!(
                zone(name).unwrap_err().get("zone"),
                Some("schedule.error.zone"),
                "{name:?}"
            );
        }
    }

    #[test]
    fn a_window_ends_at_or_after_its_start() {
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(Window::new(t, t).is_ok());
        assert_eq!(
            Window::new(t, t - SignedDuration::from_secs(1))
                .unwrap_err()
                .get("end"),
            Some("schedule.error.end_before_start")
        );
    }

    // Zones without and with daylight saving time

    #[test]
    fn every_day_at_20_in_taipei() {
        let t = timing(
            "0 20 * * *",
            "Asia/Taipei",
            at("Asia/Taipei", 2023, 5, 10, 15, 58),
            at("Asia/Taipei", 2023, 5, 20, 0, 0),
        );
        let times = walls(&t, at("Asia/Taipei", 2023, 5, 1, 0, 0), 20);
        assert_eq!(times.len(), 10);
        assert_eq!(times[0], "2023-05-10T20:00:00+08");
        assert_eq!(times[9], "2023-05-19T20:00:00+08");
        // The instant is 12:00 UTC.
        assert_eq!(
            t.preview(at("Asia/Taipei", 2023, 5, 1, 0, 0), 1)[0]
                .timestamp()
                .to_string(),
            "2023-05-10T12:00:00Z"
        );
    }

    #[test]
    fn wall_clock_time_follows_the_zone_across_daylight_saving() {
        // 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
        let t = wide("0 9 * * *", "America/New_York");
        let instants: Vec<String> = t
            .preview(at("America/New_York", 2025, 3, 8, 0, 0), 3)
            .iter()
            .map(|z| z.timestamp().to_string())
            .collect();
        assert_eq!(
            instants,
            [
                "2025-03-08T14:00:00Z",
                "2025-03-09T13:00:00Z",
                "2025-03-10T13:00:00Z"
            ]
        );
    }

    #[test]
    fn half_hour_zone_kolkata() {
        let t = wide("0 20 * * *", "Asia/Kolkata");
        let z = &t.preview(at("Asia/Kolkata", 2025, 6, 1, 0, 0), 1)[0];
        assert_eq!(z.timestamp().to_string(), "2025-06-01T14:30:00Z");
        // Every hour at :00 in Kolkata is :30 in UTC.
        let hourly = wide("0 * * * *", "Asia/Kolkata");
        for z in hourly.preview("2025-06-01T00:10:00Z".parse().unwrap(), 5) {
            assert_eq!(z.minute(), 0);
            assert_eq!(z.timestamp().to_zoned(TimeZone::UTC).minute(), 30);
        }
    }

    #[test]
    fn forty_five_minute_zone_kathmandu() {
        let t = wide("15 6 * * *", "Asia/Kathmandu");
        let z = &t.preview(at("Asia/Kathmandu", 2025, 6, 1, 0, 0), 1)[0];
        // 06:15 at +05:45 is 00:30 UTC.
        assert_eq!(z.timestamp().to_string(), "2025-06-01T00:30:00Z");
        assert_eq!(z.offset().to_string(), "+05:45");
    }

    // Spring forward: the missing hour

    #[test]
    fn a_time_in_the_spring_forward_gap_is_skipped() {
        // 2025-03-09 New York: 02:00 EST jumps to 03:00 EDT.
        let t = wide("30 2 * * *", "America/New_York");
        assert_eq!(
            walls(&t, at("America/New_York", 2025, 3, 8, 12, 0), 2),
            ["2025-03-10T02:30:00-04", "2025-03-11T02:30:00-04"]
        );
        // 2025-03-30 Berlin: 02:00 CET jumps to 03:00 CEST.
        let berlin = wide("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            walls(&berlin, at("Europe/Berlin", 2025, 3, 29, 12, 0), 2),
            ["2025-03-31T02:30:00+02", "2025-04-01T02:30:00+02"]
        );
    }

    #[test]
    fn croner_moves_a_fixed_time_out_of_the_gap() {
        // Why `fires_at` checks the wall clock: croner (OCPS) runs a fixed
        // time that falls in a gap at the first instant after it.
        let cron = Trigger::parse("30 2 * * *").unwrap().cron;
        let from = at("America/New_York", 2025, 3, 9, 0, 0).to_zoned(tz("America/New_York"));
        let found = cron.find_next_occurrence(&from, false).unwrap();
        assert_eq!(found.date(), date(2025, 3, 9));
        assert_eq!((found.hour(), found.minute()), (3, 0));
    }

    #[test]
    fn hourly_triggers_skip_only_the_missing_hour() {
        let t = wide("15 * * * *", "America/New_York");
        assert_eq!(
            walls(&t, at("America/New_York", 2025, 3, 9, 0, 30), 3),
            [
                "2025-03-09T01:15:00-05",
                "2025-03-09T03:15:00-04",
                "2025-03-09T04:15:00-04"
            ]
        );
    }

    #[test]
    fn a_trigger_at_the_end_of_the_gap_exists() {
        // 03:00 exists on the spring-forward day; it fires once.
        let t = wide("0 2,3 * * *", "America/New_York");
        assert_eq!(
            walls(&t, at("America/New_York", 2025, 3, 9, 0, 0), 3),
            [
                "2025-03-09T03:00:00-04",
                "2025-03-10T02:00:00-04",
                "2025-03-10T03:00:00-04"
            ]
        );
    }

    #[test]
    fn a_gap_of_half_an_hour_lord_howe() {
        // Australia/Lord_Howe moves by 30 minutes: on 2025-10-05 02:00
        // jumps to 02:30.
        let t = wide("15 2 * * *", "Australia/Lord_Howe");
        assert_eq!(
            days(&t, at("Australia/Lord_Howe", 2025, 10, 4, 12, 0), 2),
            ["2025-10-06", "2025-10-07"]
        );
        let late = wide("45 2 * * *", "Australia/Lord_Howe");
        assert_eq!(
            days(&late, at("Australia/Lord_Howe", 2025, 10, 4, 12, 0), 1),
            ["2025-10-05"]
        );
    }

    // Fall back: the repeated hour

    #[test]
    fn a_repeated_time_fires_once_at_its_first_occurrence() {
        // 2025-11-02 New York: 02:00 EDT falls back to 01:00 EST.
        let t = wide("30 1 * * *", "America/New_York");
        assert_eq!(
            walls(&t, at("America/New_York", 2025, 11, 1, 12, 0), 2),
            ["2025-11-02T01:30:00-04", "2025-11-03T01:30:00-05"]
        );
    }

    #[test]
    fn interval_triggers_fire_once_in_a_repeated_hour() {
        let t = wide("0,30 * * * *", "America/New_York");
        assert_eq!(
            walls(&t, at("America/New_York", 2025, 11, 2, 0, 30), 5),
            [
                "2025-11-02T00:30:00-04",
                "2025-11-02T01:00:00-04",
                "2025-11-02T01:30:00-04",
                "2025-11-02T02:00:00-05",
                "2025-11-02T02:30:00-05"
            ]
        );
        let quarter = wide("*/15 1 * * *", "America/New_York");
        assert_eq!(
            quarter
                .preview(at("America/New_York", 2025, 11, 2, 0, 0), 10)
                .len(),
            10
        );
        assert_eq!(
            days(&quarter, at("America/New_York", 2025, 11, 2, 0, 0), 5),
            [
                "2025-11-02",
                "2025-11-02",
                "2025-11-02",
                "2025-11-02",
                "2025-11-03"
            ]
        );
    }

    #[test]
    fn croner_fires_an_interval_pattern_in_both_halves_of_a_fold() {
        // Why `fires_at` checks for the first occurrence: croner (OCPS)
        // fires interval patterns on both instants of a repeated time.
        let cron = Trigger::parse("*/30 * * * *").unwrap().cron;
        let first = "2025-11-02T05:30:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .to_zoned(tz("America/New_York"));
        assert_eq!((first.hour(), first.minute()), (1, 30));
        let next = cron.find_next_occurrence(&first, false).unwrap();
        let again = cron.find_next_occurrence(&next, false).unwrap();
        assert_eq!((next.hour(), next.minute()), (1, 0));
        assert_eq!((again.hour(), again.minute()), (1, 30));
        assert_eq!(again.offset().seconds(), -5 * 3600);
    }

    #[test]
    fn a_search_from_inside_the_second_half_does_not_repeat() {
        // The server comes back at 01:10 EST, after the repeated 01:00-02:00
        // began again: 01:30 already fired at -04:00.
        let t = wide("30 1 * * *", "America/New_York");
        let from: Timestamp = "2025-11-02T06:10:00Z".parse().unwrap();
        assert_eq!(walls(&t, from, 1), ["2025-11-03T01:30:00-05"]);
        let every = wide("30 * * * *", "America/New_York");
        assert_eq!(walls(&every, from, 1), ["2025-11-02T02:30:00-05"]);
    }

    // Days of the month and weekdays

    #[test]
    fn the_31st_only_in_months_that_have_one() {
        let t = wide("0 0 31 * *", "UTC");
        assert_eq!(
            days(&t, at("UTC", 2025, 1, 1, 0, 0), 7),
            [
                "2025-01-31",
                "2025-03-31",
                "2025-05-31",
                "2025-07-31",
                "2025-08-31",
                "2025-10-31",
                "2025-12-31"
            ]
        );
    }

    #[test]
    fn the_29th_of_february_only_in_leap_years() {
        let t = wide("0 12 29 2 *", "Europe/London");
        assert_eq!(
            days(&t, at("Europe/London", 2025, 1, 1, 0, 0), 3),
            ["2028-02-29", "2032-02-29", "2036-02-29"]
        );
    }

    #[test]
    fn a_day_that_never_comes_has_no_trigger() {
        let t = wide("0 0 30 2 *", "UTC");
        assert!(t.preview(at("UTC", 2025, 1, 1, 0, 0), 10).is_empty());
        assert_eq!(t.next_after(at("UTC", 2025, 1, 1, 0, 0)), None);
    }

    #[test]
    fn day_of_month_or_weekday_when_both_are_restricted() {
        // The 13th, or any Friday (Vixie cron). 2026-02: Fridays are 6, 13,
        // 20, 27; the 13th is also a Friday. 2026-03: the 13th is a Friday.
        let t = wide("0 0 13 * 5", "UTC");
        assert_eq!(
            days(&t, at("UTC", 2026, 2, 1, 0, 0), 6),
            [
                "2026-02-06",
                "2026-02-13",
                "2026-02-20",
                "2026-02-27",
                "2026-03-06",
                "2026-03-13"
            ]
        );
        // The 1st or a Monday in June 2026 (the 1st is a Monday).
        let t = wide("0 0 1,15 6 1", "UTC");
        assert_eq!(
            days(&t, at("UTC", 2026, 6, 1, 0, 0), 6),
            [
                "2026-06-01",
                "2026-06-08",
                "2026-06-15",
                "2026-06-22",
                "2026-06-29",
                "2027-06-01"
            ]
        );
    }

    #[test]
    fn a_wildcard_day_leaves_the_other_field_alone() {
        // Only Fridays, not every day: `*` in the day of month restricts
        // nothing.
        let fridays = wide("0 0 * * 5", "UTC");
        for day in days(&fridays, at("UTC", 2026, 2, 1, 0, 0), 5) {
            let day: jiff::civil::Date = day.parse().unwrap();
            assert_eq!(day.weekday(), jiff::civil::Weekday::Friday);
        }
        // Only the 13th.
        let thirteenth = wide("0 0 13 * *", "UTC");
        assert_eq!(
            days(&thirteenth, at("UTC", 2026, 2, 1, 0, 0), 2),
            ["2026-02-13", "2026-03-13"]
        );
    }

    #[test]
    fn weekday_seven_is_sunday() {
        let t = wide("0 8 * * 7", "Asia/Taipei");
        assert_eq!(
            days(&t, at("Asia/Taipei", 2026, 3, 1, 9, 0), 2),
            ["2026-03-08", "2026-03-15"]
        );
    }

    // The window

    #[test]
    fn triggers_on_the_window_edges_count() {
        let start = at("Asia/Taipei", 2026, 1, 1, 20, 0);
        let end = at("Asia/Taipei", 2026, 1, 3, 20, 0);
        let t = timing("0 20 * * *", "Asia/Taipei", start, end);
        assert_eq!(
            days(&t, start - SignedDuration::from_hours(48), 10),
            ["2026-01-01", "2026-01-02", "2026-01-03"]
        );
        // From the start itself, the start is included; after the end,
        // nothing.
        assert_eq!(t.next_at_or_after(start), Some(start));
        assert_eq!(t.next_after(end), None);
        assert_eq!(t.next_at_or_after(end), Some(end));
    }

    #[test]
    fn a_window_one_second_short_of_a_trigger_holds_none() {
        let start = at("UTC", 2026, 1, 1, 20, 0) + SignedDuration::from_secs(1);
        let end = at("UTC", 2026, 1, 2, 20, 0) - SignedDuration::from_secs(1);
        let t = timing("0 20 * * *", "UTC", start, end);
        assert!(t.preview(start, 10).is_empty());
    }

    #[test]
    fn the_preview_starts_now_inside_the_window() {
        let start = at("UTC", 2026, 1, 1, 0, 0);
        let end = at("UTC", 2026, 12, 31, 0, 0);
        let t = timing("0 20 * * *", "UTC", start, end);
        let now = at("UTC", 2026, 6, 10, 20, 0) + SignedDuration::from_millis(1);
        assert_eq!(
            days(&t, now, 2),
            ["2026-06-11", "2026-06-12"],
            "a trigger a millisecond ago is past"
        );
        assert_eq!(t.preview(now, PREVIEW_COUNT).len(), PREVIEW_COUNT);
    }

    // Firing

    #[test]
    fn a_due_run_fires_once_and_plans_the_next() {
        let t = wide("0 * * * *", "UTC");
        let due = at("UTC", 2026, 1, 1, 10, 0);
        let firing = t.fire(due, due + SignedDuration::from_millis(300));
        assert_eq!(
            firing.run,
            Some(Run {
                scheduled: due,
                late: false
            })
        );
        assert_eq!(firing.next, Some(at("UTC", 2026, 1, 1, 11, 0)));
    }

    #[test]
    fn after_a_downtime_one_late_run_not_several() {
        let t = wide("*/5 * * * *", "UTC");
        let due = at("UTC", 2026, 1, 1, 10, 0);
        let back = at("UTC", 2026, 1, 1, 13, 2);
        let firing = t.fire(due, back);
        assert_eq!(
            firing.run,
            Some(Run {
                scheduled: due,
                late: true
            })
        );
        assert_eq!(firing.next, Some(at("UTC", 2026, 1, 1, 13, 5)));
    }

    #[test]
    fn no_catch_up_once_the_window_has_closed() {
        let start = at("UTC", 2026, 1, 1, 0, 0);
        let end = at("UTC", 2026, 1, 1, 12, 0);
        let t = timing("0 * * * *", "UTC", start, end);
        let firing = t.fire(at("UTC", 2026, 1, 1, 11, 0), at("UTC", 2026, 1, 2, 9, 0));
        assert_eq!(
            firing,
            Firing {
                run: None,
                next: None
            }
        );
        let last = t.fire(end, end + SignedDuration::from_secs(1));
        assert!(last.run.is_some());
        assert_eq!(last.next, None);
    }

    #[test]
    fn a_window_ending_in_the_second_half_of_a_fold() {
        let start = at("America/New_York", 2025, 11, 2, 1, 0);
        // The end is the later 01:45 (EST): the repeated 01:30 still fires
        // only once.
        let end: Timestamp = "2025-11-02T06:45:00Z".parse().unwrap();
        let t = timing("*/30 * * * *", "America/New_York", start, end);
        assert_eq!(
            walls(&t, start, 10),
            ["2025-11-02T01:00:00-04", "2025-11-02T01:30:00-04"]
        );
    }
}
