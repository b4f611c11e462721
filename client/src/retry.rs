//! When and how long to wait before trying a call again.

use std::time::Duration;

use reqwest::StatusCode;

/// When a call is tried again.
///
/// - **Failures** (500, 502, 503, 504, connection failures, timeouts) are retried up to
///   [`RetryPolicy::max_attempts`], with exponential backoff and full jitter (AWS's "full jitter": a random wait
///   between zero and the exponential cap), or the server's `Retry-After` when it is longer. A create is retried
///   only when its request surely did not reach eToro (the connection could not be made): a second create would
///   make a second token.
/// - **Rate limits** (429 other than `MaxUserTokensExceeded`) are waited out: the wait is the server's
///   `Retry-After` (or `RateLimit-Reset`), however long, as long as it ends within the call's deadline, and it does
///   not use up an attempt, because waiting for quota is not a failure. [`RetryPolicy::none`] turns this off too.
/// - No other 4xx is ever retried. Every attempt of one call carries the same `x-request-id`.
/// - The call's **deadline** bounds it all, attempts and waits: no attempt starts with less than
///   [`RetryPolicy::min_attempt_time`] left, and a call that runs out of time reports the last real failure
///   (say, the 503 and its `errorCode`), not a timeout of nothing.
///
/// A retried update is sent again as it was: if someone else changed the token between two attempts, the retry
/// overwrites that change (eToro offers no `If-Match`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    deadline: Duration,
    min_attempt_time: Duration,
    wait_for_quota: bool,
}

impl Default for RetryPolicy {
    /// Up to 4 attempts, backoff from 250 ms capped at 30 s, rate limits waited out, all within 2 minutes (long
    /// enough to wait out eToro's 60-second window once).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            min_attempt_time: Duration::from_millis(500),
            wait_for_quota: true,
        }
    }
}

/// Why the last attempt failed, as far as retrying goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setback {
    /// A failure worth another attempt, with the server's `Retry-After` if it sent one.
    Failure { retry_after: Option<Duration> },
    /// A rate limit: wait for quota.
    RateLimited { retry_after: Option<Duration> },
}

impl RetryPolicy {
    /// One attempt, no retries, no waiting for quota.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            wait_for_quota: false,
            ..Self::default()
        }
    }

    /// The most attempts one call makes after failures, the first included (at least 1). Waits for quota do not
    /// count.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff cap of the first retry; it doubles with each retry up to [`RetryPolicy::max_delay`].
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest backoff between two attempts. A server's `Retry-After` is honoured beyond it, up to the
    /// deadline.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The time one call may take in all, attempts and waits included (must be more than zero; checked by
    /// [`crate::ClientBuilder::build`]). It starts when the call may first send, so time spent queueing for a
    /// shared [`crate::Pacer`] before that does not count.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// No attempt starts with less time than this left before the deadline (default 500 ms): an attempt with no
    /// time to finish would only turn a real error into a timeout.
    pub fn min_attempt_time(mut self, time: Duration) -> Self {
        self.min_attempt_time = time;
        self
    }

    /// Whether a rate-limited call waits for quota (default true; false for [`RetryPolicy::none`]).
    pub fn wait_for_quota(mut self, wait: bool) -> Self {
        self.wait_for_quota = wait;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The configured total deadline.
    pub fn total_deadline(&self) -> Duration {
        self.deadline
    }

    pub(crate) fn min_time(&self) -> Duration {
        self.min_attempt_time
    }

    /// How long to wait before the next attempt, or `None` to give up: out of attempts (`failures` counts the
    /// failed attempts so far, rate limits excluded), or the wait plus [`RetryPolicy::min_attempt_time`] would end
    /// past the deadline (`elapsed` is the time the call has run).
    pub(crate) fn delay_before_next(&self, setback: Setback, failures: u32, elapsed: Duration) -> Option<Duration> {
        let delay = match setback {
            Setback::Failure { retry_after } => {
                if failures >= self.max_attempts {
                    return None;
                }
                let jittered = self.backoff(failures);
                retry_after.map_or(jittered, |hint| hint.max(jittered))
            }
            Setback::RateLimited { retry_after } => {
                if !self.wait_for_quota {
                    return None;
                }
                // Without a hint, back off as for a failure (without counting one).
                retry_after.unwrap_or_else(|| self.backoff(failures.max(1)))
            }
        };
        let ends = elapsed.checked_add(delay)?.checked_add(self.min_attempt_time)?;
        (ends <= self.deadline).then_some(delay)
    }

    /// A random wait between zero and the exponential cap of retry number `retry` (from 1).
    fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let cap = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        Duration::try_from_secs_f64(cap.as_secs_f64() * fastrand::f64()).unwrap_or(cap)
    }
}

/// The error statuses worth another attempt (429 aside, which is a wait for quota).
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILURE: Setback = Setback::Failure { retry_after: None };

    fn rate_limited(seconds: u64) -> Setback {
        Setback::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        }
    }

    #[test]
    fn backoff_is_bounded_by_the_exponential_cap() {
        let policy = RetryPolicy::default().base_delay(Duration::from_millis(100));
        for _ in 0..200 {
            let first = policy.delay_before_next(FAILURE, 1, Duration::ZERO).unwrap();
            assert!(first <= Duration::from_millis(100));
            let third = policy.delay_before_next(FAILURE, 3, Duration::ZERO).unwrap();
            assert!(third <= Duration::from_millis(400));
        }
    }

    #[test]
    fn failures_stop_at_max_attempts_and_at_the_deadline() {
        let policy = RetryPolicy::default()
            .max_attempts(2)
            .deadline(Duration::from_secs(5))
            .min_attempt_time(Duration::from_secs(1));
        assert!(policy.delay_before_next(FAILURE, 1, Duration::ZERO).is_some());
        assert_eq!(policy.delay_before_next(FAILURE, 2, Duration::ZERO), None);
        let hinted = |seconds| Setback::Failure {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            policy.delay_before_next(hinted(2), 1, Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        // 2 s of wait + 1 s of attempt after 3 s: past the 5 s deadline.
        assert_eq!(policy.delay_before_next(hinted(2), 1, Duration::from_secs(3)), None);
        assert_eq!(RetryPolicy::none().delay_before_next(FAILURE, 1, Duration::ZERO), None);
    }

    #[test]
    fn a_long_retry_after_is_waited_up_to_the_deadline_not_max_delay() {
        let policy = RetryPolicy::default().max_delay(Duration::from_secs(30));
        assert_eq!(
            policy.delay_before_next(rate_limited(60), 1, Duration::ZERO),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            policy.delay_before_next(rate_limited(45), 1, Duration::from_secs(70)),
            Some(Duration::from_secs(45))
        );
        // 45 s wait + 0.5 s attempt after 75 s: 120.5 s, past the 120 s deadline.
        assert_eq!(
            policy.delay_before_next(rate_limited(45), 1, Duration::from_secs(75)),
            None
        );
    }

    #[test]
    fn waits_for_quota_do_not_use_up_attempts() {
        let policy = RetryPolicy::default().max_attempts(1);
        assert_eq!(policy.delay_before_next(FAILURE, 1, Duration::ZERO), None);
        assert_eq!(
            policy.delay_before_next(rate_limited(1), 1, Duration::ZERO),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            RetryPolicy::none().delay_before_next(rate_limited(1), 0, Duration::ZERO),
            None
        );
    }

    #[test]
    fn no_overflow_with_extreme_settings() {
        let policy = RetryPolicy::default()
            .max_delay(Duration::MAX)
            .base_delay(Duration::MAX)
            .deadline(Duration::MAX);
        assert!(policy.delay_before_next(FAILURE, 3, Duration::MAX).is_none());
        assert!(policy
            .delay_before_next(rate_limited(u64::MAX), 1, Duration::from_secs(1))
            .is_none());
        let _ = policy.delay_before_next(FAILURE, 3, Duration::ZERO);
    }
}
