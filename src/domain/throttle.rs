//! Login throttling: after [`MAX_FAILURES`] failed logins within [`WINDOW`]
//! for one account or one address, further attempts wait until the oldest
//! failure leaves the window.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// Recent failed attempts for one key (an account or an address).
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

    /// `Some(wait)` when attempts are refused now and for how long.
    pub fn wait(&mut self, now: Timestamp) -> Option<SignedDuration> {
        self.forget_old(now);
        if self.times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *self.times.front()?;
        let wait = WINDOW - now.duration_since(oldest);
        Some(wait.max(SignedDuration::from_secs(1)))
    }

    pub fn record(&mut self, now: Timestamp) {
        self.forget_old(now);
        self.times.push_back(now);
        while self.times.len() > MAX_FAILURES {
            self.times.pop_front();
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
}
