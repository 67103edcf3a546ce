//! Mail delivery rules: when a failed mail is tried again, and when mlstack
//! gives up on it.

use jiff::SignedDuration;

/// Tries before a mail is given up (about a day and a half of retries).
pub const MAX_ATTEMPTS: u32 = 12;

/// The wait after the `attempts`-th failed try: 30 s doubling, at most 6 h;
/// None once `MAX_ATTEMPTS` tries failed.
pub fn retry_delay(attempts: u32) -> Option<SignedDuration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let secs = 30_i64.saturating_mul(1 << doublings).min(6 * 3600);
    Some(SignedDuration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_then_give_up() {
        assert_eq!(retry_delay(1), Some(SignedDuration::from_secs(30)));
        assert_eq!(retry_delay(2), Some(SignedDuration::from_secs(60)));
        assert_eq!(retry_delay(3), Some(SignedDuration::from_secs(120)));
        assert_eq!(retry_delay(11), Some(SignedDuration::from_secs(6 * 3600)));
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
    }
}
