//! How every page writes dates, times and sizes: dates as YYYY/MM/DD, times
//! in the platform time zone with the zone named, RAM in GB with one decimal.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::domain::quota::MIB_PER_GB;

/// A calendar date: `2026/12/04`.
pub fn date(d: Date) -> String {
    d.strftime("%Y/%m/%d").to_string()
}

/// The zone's name as pages show it: its IANA name, else its UTC offset.
pub fn zone_name(zone: &TimeZone) -> String {
    match zone.iana_name() {
        Some(name) => name.to_owned(),
        None => {
            let offset = zone.to_offset(Timestamp::UNIX_EPOCH);
            format!("UTC{}", offset)
        }
    }
}

/// An instant in `zone`: `2026/12/04 14:05 (Asia/Taipei)`.
pub fn date_time(t: Timestamp, zone: &TimeZone) -> String {
    let local = t.to_zoned(zone.clone());
    format!("{} ({})", local.strftime("%Y/%m/%d %H:%M"), zone_name(zone))
}

/// A time of day on a date in `zone`: `2026/12/04 23:59 (Asia/Taipei)`.
pub fn date_at(d: Date, hour_minute: &str, zone: &TimeZone) -> String {
    format!("{} {hour_minute} ({})", date(d), zone_name(zone))
}

/// A memory size stored in MiB, shown in GB with one decimal: `1.5 GB`.
pub fn ram_gb(mib: u64) -> String {
    format!("{} GB", gb_field(mib))
}

/// A storage size in whole GB: `500 GB`.
pub fn storage_gb(gib: u64) -> String {
    format!("{gib} GB")
}

/// A memory size stored in MiB as a form field prefills it, in GB with one
/// decimal and no unit: `1.5` (what `parse_gb_as_mib` reads back).
pub fn gb_field(mib: u64) -> String {
    // Sizes reach at most a few million MiB: exact in an f64.
    let gb = mib as f64 / MIB_PER_GB as f64;
    format!("{gb:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_slashed_and_times_name_their_zone() {
        let d = Date::new(2026, 12, 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(date(d), "2026/12/04");
        let taipei = TimeZone::get("Asia/Taipei").unwrap_or_else(|e| panic!("{e}"));
        let t: Timestamp = "2026-12-04T06:05:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(date_time(t, &taipei), "2026/12/04 14:05 (Asia/Taipei)");
        assert_eq!(
            date_at(d, "23:59", &taipei),
            "2026/12/04 23:59 (Asia/Taipei)"
        );
        assert_eq!(
            date_time(t, &TimeZone::fixed(jiff::tz::offset(8))),
            "2026/12/04 14:05 (UTC+08)"
        );
    }

    #[test]
    fn ram_is_in_gb_with_one_decimal() {
        assert_eq!(ram_gb(0), "0.0 GB");
        assert_eq!(ram_gb(1536), "1.5 GB");
        assert_eq!(ram_gb(16_384), "16.0 GB");
        assert_eq!(gb_field(1536), "1.5");
        assert_eq!(gb_field(102), "0.1");
    }
}
