//! Login throttling. An attempt counts from the moment it starts (before the
//! password is hashed), so a burst of parallel guesses cannot slip past the
//! limit; an attempt that turns out right is taken back.
//!
//! - An account with [`MAX_FAILURES`] counted attempts within [`WINDOW`]
//!   refuses further attempts until the oldest leaves the window.
//! - A client address is never refused, only slowed: after
//!   [`FREE_ADDRESS_ATTEMPTS`] counted attempts, each further attempt waits
//!   [`ADDRESS_DELAY_BASE`], doubling, at most [`ADDRESS_DELAY_MAX`]. Failures
//!   under other names therefore cannot lock an account out of its right
//!   password.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: SignedDuration = SignedDuration::from_mins(5);
pub const FREE_ADDRESS_ATTEMPTS: usize = 3;
pub const ADDRESS_DELAY_BASE: SignedDuration = SignedDuration::from_millis(250);
pub const ADDRESS_DELAY_MAX: SignedDuration = SignedDuration::from_secs(8);
/// Counted attempts remembered per key; enough for the longest delay.
const REMEMBERED: usize = 64;

/// Recent counted attempts for one key (an account or an address).
#[derive(Debug, Clone, Default)]
pub struct Failures {
    times: VecDeque<Timestamp>,
}

impl Failures {
    fn forget_old(&mut self, now: Timestamp) {
        while let Some(first) = self.times.front() {
            if now.duration_since(*first) >= WINDOW {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }

    /// `Some(wait)` when an account's attempts are refused now, and for how
    /// long.
    pub fn wait(&mut self, now: Timestamp) -> Option<SignedDuration> {
        self.forget_old(now);
        if self.times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *self.times.get(self.times.len() - MAX_FAILURES)?;
        let wait = WINDOW - now.duration_since(oldest);
        Some(wait.max(SignedDuration::from_secs(1)))
    }

    /// How long an address's next attempt is slowed down.
    pub fn delay(&mut self, now: Timestamp) -> SignedDuration {
        self.forget_old(now);
        let over = self.times.len().saturating_sub(FREE_ADDRESS_ATTEMPTS);
        if over == 0 {
            return SignedDuration::ZERO;
        }
        let doublings = u32::try_from(over - 1).unwrap_or(u32::MAX).min(16);
        ADDRESS_DELAY_BASE
            .checked_mul(1 << doublings)
            .unwrap_or(ADDRESS_DELAY_MAX)
            .min(ADDRESS_DELAY_MAX)
    }

    /// Counts an attempt that starts at `now`.
    pub fn record(&mut self, now: Timestamp) {
        self.forget_old(now);
        self.times.push_back(now);
        while self.times.len() > REMEMBERED {
            self.times.pop_front();
        }
    }

    /// Takes back one attempt counted at `at` (it was right).
    pub fn take_back(&mut self, at: Timestamp) {
        if let Some(pos) = self.times.iter().rposition(|t| *t == at) {
            self.times.remove(pos);
        }
    }

    /// True when nothing is remembered any more and the entry can be dropped.
    pub fn is_idle(&mut self, now: Timestamp) -> bool {
        self.forget_old(now);
        self.times.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn five_failures_block_until_the_first_leaves_the_window() {
        let mut f = Failures::default();
        for s in 0..4 {
            f.record(at(s * 10));
            assert_eq!(f.wait(at(s * 10)), None);
        }
        f.record(at(40));
        assert_eq!(f.wait(at(40)), Some(SignedDuration::from_secs(260)));
        assert_eq!(f.wait(at(299)), Some(SignedDuration::from_secs(1)));
        assert_eq!(f.wait(at(300)), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let mut f = Failures::default();
        for s in 0..4 {
            f.record(at(s));
        }
        f.record(at(400));
        assert_eq!(f.wait(at(400)), None);
        assert!(!f.is_idle(at(400)));
        assert!(f.is_idle(at(700)));
    }

    #[test]
    fn addresses_are_slowed_more_and_more_never_refused() {
        let mut f = Failures::default();
        for _ in 0..FREE_ADDRESS_ATTEMPTS {
            f.record(at(0));
        }
        assert_eq!(f.delay(at(0)), SignedDuration::ZERO);
        f.record(at(0));
        assert_eq!(f.delay(at(0)), ADDRESS_DELAY_BASE);
        f.record(at(0));
        assert_eq!(f.delay(at(0)), ADDRESS_DELAY_BASE * 2);
        for _ in 0..40 {
            f.record(at(0));
        }
        assert_eq!(f.delay(at(0)), ADDRESS_DELAY_MAX);
        assert_eq!(f.delay(at(300)), SignedDuration::ZERO);
    }

    #[test]
    fn a_right_attempt_is_taken_back() {
        let mut f = Failures::default();
        for _ in 0..MAX_FAILURES {
            f.record(at(0));
        }
        assert!(f.wait(at(0)).is_some());
        f.take_back(at(0));
        assert_eq!(f.wait(at(0)), None);
    }
}
