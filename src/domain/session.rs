//! Session timing rules.

use jiff::{SignedDuration, Timestamp};

/// How stale a session's last-seen time may get before a request refreshes
/// it. Refreshing on every request would turn each page view into a durable
/// write; once a minute keeps the idle timeout exact to the minute.
pub const TOUCH_INTERVAL: SignedDuration = SignedDuration::from_secs(60);

/// How long a session lives after login unless configured otherwise.
pub const DEFAULT_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 7);

/// Whether a session last seen at `last_seen` has been idle too long.
pub fn is_expired(last_seen: Timestamp, now: Timestamp, idle_timeout: SignedDuration) -> bool {
    now.duration_since(last_seen) >= idle_timeout
}

/// Whether a session created at `created` has lived its absolute lifetime,
/// however active it was.
pub fn outlived(created: Timestamp, now: Timestamp, lifetime: SignedDuration) -> bool {
    now.duration_since(created) >= lifetime
}

/// Whether a request at `now` should record itself as the session's last use.
pub fn needs_touch(last_seen: Timestamp, now: Timestamp) -> bool {
    now.duration_since(last_seen) >= TOUCH_INTERVAL
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn expiry_is_measured_from_last_use() {
        let idle = SignedDuration::from_hours(12);
        assert!(!is_expired(at(0), at(12 * 3600 - 1), idle));
        assert!(is_expired(at(0), at(12 * 3600), idle));
    }

    #[test]
    fn a_session_ends_at_its_lifetime_even_when_active() {
        let lifetime = SignedDuration::from_hours(24 * 7);
        assert!(!outlived(at(0), at(7 * 24 * 3600 - 1), lifetime));
        assert!(outlived(at(0), at(7 * 24 * 3600), lifetime));
    }

    #[test]
    fn touch_happens_at_most_once_a_minute() {
        assert!(!needs_touch(at(0), at(59)));
        assert!(needs_touch(at(0), at(60)));
    }
}
