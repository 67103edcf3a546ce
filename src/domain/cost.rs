//! Cost (manual §5.9) and order records (manual §6.2): the hourly price a
//! workload was ordered at, the intervals it ran, and what that costs —
//! running hours × the price, in thousandths of the platform currency.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::quota::MILLI;

const MS_PER_HOUR: u128 = 3_600_000;

/// The hourly price of a workload when it was ordered, in thousandths of
/// the platform currency: its hardware spec's price plus its GPU type's
/// price per GPU unit (when the type has one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyPrice {
    /// The catalog's hardware spec it matched (None: no spec of the catalog
    /// has its CPU, RAM and GPU type, so it has no price).
    pub spec_name: Option<String>,
    pub spec_milli: u64,
    /// The GPU type's name and its price for the units held.
    pub gpu_type: Option<String>,
    pub gpu_milli: u64,
}

impl HourlyPrice {
    /// The whole hourly price.
    pub fn total_milli(&self) -> u64 {
        self.spec_milli.saturating_add(self.gpu_milli)
    }
}

/// The price of `units_milli` GPU units at `unit_price_milli` an hour each.
pub fn gpu_price_milli(unit_price_milli: u64, units_milli: u64) -> u64 {
    let product = u128::from(unit_price_milli) * u128::from(units_milli) / u128::from(MILLI);
    u64::try_from(product).unwrap_or(u64::MAX)
}

/// One time a workload ran: from `start` until `end` (None: still running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunInterval {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// Milliseconds the `intervals` ran inside `[from, to)`; an open interval
/// runs until `now`.
pub fn running_ms(
    intervals: &[RunInterval],
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> u64 {
    intervals
        .iter()
        .map(|i| {
            let start = i.start.max(from);
            let end = i.end.unwrap_or(now).min(to);
            let ms = end.as_millisecond() - start.as_millisecond();
            u64::try_from(ms).unwrap_or(0)
        })
        .sum()
}

/// What `running_ms` at `hourly_milli` an hour costs, in thousandths,
/// rounded half up.
pub fn cost_milli(running_ms: u64, hourly_milli: u64) -> u64 {
    let product = u128::from(running_ms) * u128::from(hourly_milli);
    let rounded = (product + MS_PER_HOUR / 2) / MS_PER_HOUR;
    u64::try_from(rounded).unwrap_or(u64::MAX)
}

/// Running time in hours with two decimals: 5_400_000 ms -> "1.50".
pub fn hours_text(running_ms: u64) -> String {
    let hundredths = (u128::from(running_ms) * 100 + MS_PER_HOUR / 2) / MS_PER_HOUR;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// A calendar month, as the cost center chooses it (`2026-12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i16,
    pub month: i8,
}

impl Month {
    /// The month `at` falls in, in `zone`.
    pub fn of(at: Timestamp, zone: &TimeZone) -> Month {
        let date = at.to_zoned(zone.clone()).date();
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Reads `YYYY-MM` (years 2000 to 2999).
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.trim().split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i16 = year.parse().ok()?;
        let month: i8 = month.parse().ok()?;
        ((2000..=2999).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    fn first_day(self) -> Date {
        Date::constant(self.year, self.month, 1)
    }

    /// Its first instant and the first instant of the next month, in `zone`.
    pub fn bounds(self, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let first = self.first_day();
        let next = first.checked_add(1.month()).ok()?;
        let start = first.to_zoned(zone.clone()).ok()?.timestamp();
        let end = next.to_zoned(zone.clone()).ok()?.timestamp();
        Some((start, end))
    }

    pub fn previous(self) -> Month {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }

    pub fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One CSV line (RFC 4180): fields with a comma, quote or line break are
/// quoted; a field a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@` first) gets a leading `'`; the line ends with CRLF.
pub fn csv_line(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|field| {
            let field = match field.chars().next() {
                Some('=' | '+' | '-' | '@') => format!("'{field}"),
                _ => (*field).to_owned(),
            };
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The most days an order list may span.
pub const ORDER_PERIOD_DAYS_MAX: i32 = 366;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn running_time_is_clipped_to_the_period_and_open_intervals_run_until_now() {
        let intervals = [
            RunInterval {
                start: t("2026-11-30T22:00:00Z"),
                end: Some(t("2026-12-01T03:00:00Z")),
            },
            RunInterval {
                start: t("2026-12-02T10:00:00Z"),
                end: None,
            },
        ];
        let from = t("2026-12-01T00:00:00Z");
        let to = t("2027-01-01T00:00:00Z");
        let now = t("2026-12-02T11:30:00Z");
        // 3 h of the first (the 2 h in November are not December's) and
        // 1.5 h of the open one.
        assert_eq!(running_ms(&intervals, from, to, now), 4_500 * 3_600);
        assert_eq!(
            running_ms(&intervals, t("2026-11-01T00:00:00Z"), from, now),
            2 * 3_600_000
        );
        // A period that ended before the interval started counts nothing.
        assert_eq!(
            running_ms(&intervals[1..], from, t("2026-12-02T00:00:00Z"), now),
            0
        );
    }

    #[test]
    fn cost_is_hours_times_price_rounded_half_up() {
        // 4.5 h at 1.250 an hour = 5.625.
        assert_eq!(cost_milli(4_500 * 3_600, 1_250), 5_625);
        // 1 s at 1.000 an hour = 0.000277… -> 0.
        assert_eq!(cost_milli(1_000, 1_000), 0);
        // 30 min at 0.001 an hour = 0.0005 -> 0.001 (half up).
        assert_eq!(cost_milli(1_800_000, 1), 1);
        assert_eq!(hours_text(5_400_000), "1.50");
        assert_eq!(hours_text(0), "0.00");
    }

    #[test]
    fn csv_lines_quote_and_defuse_formulas() {
        assert_eq!(csv_line(&["a", "b c", "1.5"]), "a,b c,1.5\r\n");
        assert_eq!(
            csv_line(&["x,y", "say \"hi\""]),
            "\"x,y\",\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(csv_line(&["=1+1", "-2"]), "'=1+1,'-2\r\n");
    }

    #[test]
    fn gpu_prices_count_units() {
        // Two GPUs at 0.5 each, half of a shared GPU at 2.
        assert_eq!(gpu_price_milli(500, 2 * MILLI), 1_000);
        assert_eq!(gpu_price_milli(2_000, 500), 1_000);
        let price = HourlyPrice {
            spec_name: Some("s".into()),
            spec_milli: 1_250,
            gpu_type: Some("A100".into()),
            gpu_milli: 1_000,
        };
        assert_eq!(price.total_milli(), 2_250);
    }

    #[test]
    fn months_read_and_bound_in_the_zone() {
        assert_eq!(
            Month::parse("2026-12"),
            Some(Month {
                year: 2026,
                month: 12
            })
        );
        for bad in ["2026-13", "2026-1", "26-12", "x", "", "1999-01", "2026-00"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        let taipei = TimeZone::get("Asia/Taipei").unwrap_or_else(|e| panic!("{e}"));
        let december = Month {
            year: 2026,
            month: 12,
        };
        assert_eq!(
            december.bounds(&taipei),
            Some((t("2026-11-30T16:00:00Z"), t("2026-12-31T16:00:00Z")))
        );
        assert_eq!(december.next().to_string(), "2027-01");
        assert_eq!(
            Month {
                year: 2027,
                month: 1
            }
            .previous(),
            december
        );
        assert_eq!(Month::of(t("2026-11-30T16:30:00Z"), &taipei), december);
    }
}
