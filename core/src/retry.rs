//! Retries with exponential backoff, one rule for every retried thing: a job run's next
//! attempt (`retry.backoff_seconds` of the job, or a workflow task's
//! `retry_delay_seconds`) and the workflow engine's own retries of tasks that are not
//! job runs (another workflow, and any later task kind whose failure is worth a retry).
//!
//! The delay before the attempt after the n-th failed one is `base * 2^(n-1)`, at most
//! [`MAX_RETRY_DELAY_SECONDS`], so a long series of retries never waits more than a day
//! between two attempts.

/// Longest pause between two attempts, and the largest base delay one may configure: a
/// day.
pub const MAX_RETRY_DELAY_SECONDS: u32 = 86_400;
/// A workflow task's base delay when it sets none.
pub const DEFAULT_RETRY_DELAY_SECONDS: u32 = 60;

/// Seconds to wait after the `failed_attempts`-th failed attempt (1 for the first) before
/// the next one: `base_seconds` doubled at each further failure, capped at
/// [`MAX_RETRY_DELAY_SECONDS`].
pub fn backoff_delay(base_seconds: u32, failed_attempts: u32) -> u32 {
    // Past 2^20 any base is over the cap; the shift stays far from overflowing a u64.
    let doublings = failed_attempts.saturating_sub(1).min(20);
    (u64::from(base_seconds) << doublings).min(u64::from(MAX_RETRY_DELAY_SECONDS)) as u32
}

/// The delay before the next attempt once `failed_attempts` attempts have failed, or
/// `None` when the `retries` allowed after the first attempt are used up.
pub fn next_retry(retries: u32, base_seconds: u32, failed_attempts: u32) -> Option<u32> {
    (failed_attempts >= 1 && failed_attempts <= retries)
        .then(|| backoff_delay(base_seconds, failed_attempts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_at_each_failure_up_to_a_day() {
        assert_eq!(backoff_delay(60, 1), 60);
        assert_eq!(backoff_delay(60, 2), 120);
        assert_eq!(backoff_delay(60, 3), 240);
        assert_eq!(backoff_delay(60, 0), 60, "no failure counts as the first");
        assert_eq!(backoff_delay(60, 11), 61_440);
        assert_eq!(backoff_delay(60, 12), MAX_RETRY_DELAY_SECONDS);
        assert_eq!(backoff_delay(u32::MAX, 1), MAX_RETRY_DELAY_SECONDS);
        assert_eq!(backoff_delay(1, u32::MAX), MAX_RETRY_DELAY_SECONDS);
    }

    #[test]
    fn retries_stop_once_used_up() {
        assert_eq!(next_retry(2, 10, 1), Some(10));
        assert_eq!(next_retry(2, 10, 2), Some(20));
        assert_eq!(next_retry(2, 10, 3), None);
        assert_eq!(next_retry(0, 10, 1), None);
        assert_eq!(next_retry(2, 10, 0), None, "nothing failed yet");
    }
}
