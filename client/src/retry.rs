//! When and how long to wait before trying a call again.

use std::time::Duration;

use reqwest::StatusCode;

/// The first wait after a 429 that gives no usable hint, doubled with each consecutive 429 up to
/// [`QUOTA_BACKOFF_MAX`].
pub(crate) const QUOTA_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest backoff between two rate-limited attempts: eToro's quota window.
pub(crate) const QUOTA_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// When a call is tried again.
///
/// - **Failures** (500, 502, 503, 504, connection failures, timeouts) are retried up to
///   [`RetryPolicy::max_attempts`], with exponential backoff and full jitter (AWS's "full jitter": a random wait
///   between zero and the exponential cap), or the server's `Retry-After` when it is longer. A create is retried
///   only when its request surely did not reach eToro (the connection could not be made): a second create would
///   make a second token.
/// - **Rate limits** (429 other than `MaxUserTokensExceeded`) are waited out without using up an attempt, because
///   waiting for quota is not a failure; but every retry of a 429 backs off, so that a server that keeps answering
///   429 can never draw a flood: the n-th consecutive 429 of a call waits about 1 s × 2ⁿ⁻¹ (±25% jitter, at most
///   60 s, eToro's window), or the server's `Retry-After` (or `RateLimit-Reset`) when that is longer. A hint of
///   zero, or a date in the past, is no hint. Against a server that answers every request 429, one call sends at
///   most 7 requests in its first minute. [`RetryPolicy::none`] turns this off too.
/// - **Every wait belongs to the deadline.** When the wait a rate limit calls for would end past the call's
///   deadline, the call does not wait: it fails at once with [`crate::Error::QuotaWait`], which says how long
///   eToro asked to wait. No attempt starts with less than [`RetryPolicy::min_attempt_time`] left, and a call that
///   runs out of time reports the last real failure (say, the 503 and its `errorCode`), not a timeout of nothing.
/// - No other 4xx is ever retried. Every attempt of one call carries the same `x-request-id`.
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
    /// A rate limit: wait for quota. `hint` is the server's `Retry-After`, else its `RateLimit-Reset`.
    RateLimited { hint: Option<Duration> },
}

/// Why a call stops retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// Out of attempts, or the policy does not retry this.
    Done,
    /// The wait would end past the deadline: a failure's backoff, or (`quota: true`) a rate limit's wait.
    PastDeadline { wait: Duration, quota: bool },
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

    /// The backoff cap of the first retry after a failure; it doubles with each retry up to
    /// [`RetryPolicy::max_delay`]. (Rate limits have their own backoff, from 1 s to 60 s.)
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest backoff between two attempts after failures. A server's `Retry-After` is honoured beyond it,
    /// up to the deadline.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The time one call may take in all, attempts and waits included (must be more than zero; checked by
    /// [`crate::ClientBuilder::build`]). It starts when the call may first send, so time spent queueing behind
    /// the other calls of a shared [`crate::Pacer`] does not count; but a pause the server imposes on every
    /// request (a 429, a used-up window) that lasts longer than this deadline fails the call at once, unsent
    /// ([`crate::Error::QuotaWait`]).
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

    /// How long to wait before the next attempt. `failures` counts the failed attempts so far (rate limits
    /// excluded), `rate_limits` the consecutive 429s (this one included), `elapsed` the time the call has run.
    /// It gives up when out of attempts, or when the wait plus [`RetryPolicy::min_attempt_time`] would end past
    /// the deadline.
    pub(crate) fn delay_before_next(
        &self,
        setback: Setback,
        failures: u32,
        rate_limits: u32,
        elapsed: Duration,
    ) -> Result<Duration, GiveUp> {
        let (delay, quota) = match setback {
            Setback::Failure { retry_after } => {
                if failures >= self.max_attempts {
                    return Err(GiveUp::Done);
                }
                let jittered = self.backoff(failures);
                (
                    usable_hint(retry_after).map_or(jittered, |hint| hint.max(jittered)),
                    false,
                )
            }
            Setback::RateLimited { hint } => {
                if !self.wait_for_quota {
                    return Err(GiveUp::Done);
                }
                (quota_wait(rate_limits, hint), true)
            }
        };
        let fits = elapsed
            .checked_add(delay)
            .and_then(|ends| ends.checked_add(self.min_attempt_time))
            .is_some_and(|ends| ends <= self.deadline);
        if fits {
            Ok(delay)
        } else {
            Err(GiveUp::PastDeadline { wait: delay, quota })
        }
    }

    /// A random wait between zero and the exponential cap of retry number `retry` (from 1).
    fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let cap = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        Duration::try_from_secs_f64(cap.as_secs_f64() * fastrand::f64()).unwrap_or(cap)
    }
}

/// The wait after the `strikes`-th consecutive 429 (from 1): the server's hint when it is usable and longer, else
/// [`quota_backoff`].
pub(crate) fn quota_wait(strikes: u32, hint: Option<Duration>) -> Duration {
    let backoff = quota_backoff(strikes);
    usable_hint(hint).map_or(backoff, |hint| hint.max(backoff))
}

/// About 1 s × 2^(strikes − 1), with ±25% jitter (so that clients sharing a key do not come back in step), at most
/// [`QUOTA_BACKOFF_MAX`].
pub(crate) fn quota_backoff(strikes: u32) -> Duration {
    let exponent = strikes.saturating_sub(1).min(16);
    let nominal = QUOTA_BACKOFF_BASE.saturating_mul(1 << exponent);
    let jittered = nominal.mul_f64(0.75 + fastrand::f64() / 2.0);
    jittered.min(QUOTA_BACKOFF_MAX)
}

/// A server's wait hint, unless it says nothing: zero (`Retry-After: 0`, `RateLimit-Reset: 0`, a date in the
/// past) is no hint at all, since coming back at once is what makes a 429 storm.
pub(crate) fn usable_hint(hint: Option<Duration>) -> Option<Duration> {
    hint.filter(|hint| !hint.is_zero())
}

/// The error statuses worth another attempt (429 aside, which is a wait for quota).
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILURE: Setback = Setback::Failure { retry_after: None };
    const NO_HINT: Setback = Setback::RateLimited { hint: None };

    fn rate_limited(seconds: u64) -> Setback {
        Setback::RateLimited {
            hint: Some(Duration::from_secs(seconds)),
        }
    }

    fn past_deadline(wait: Duration, quota: bool) -> Result<Duration, GiveUp> {
        Err(GiveUp::PastDeadline { wait, quota })
    }

    #[test]
    fn backoff_is_bounded_by_the_exponential_cap() {
        let policy = RetryPolicy::default().base_delay(Duration::from_millis(100));
        for _ in 0..200 {
            let first = policy.delay_before_next(FAILURE, 1, 0, Duration::ZERO).unwrap();
            assert!(first <= Duration::from_millis(100));
            let third = policy.delay_before_next(FAILURE, 3, 0, Duration::ZERO).unwrap();
            assert!(third <= Duration::from_millis(400));
        }
    }

    #[test]
    fn failures_stop_at_max_attempts_and_at_the_deadline() {
        let policy = RetryPolicy::default()
            .max_attempts(2)
            .deadline(Duration::from_secs(5))
            .min_attempt_time(Duration::from_secs(1));
        assert!(policy.delay_before_next(FAILURE, 1, 0, Duration::ZERO).is_ok());
        assert_eq!(
            policy.delay_before_next(FAILURE, 2, 0, Duration::ZERO),
            Err(GiveUp::Done)
        );
        let hinted = |seconds| Setback::Failure {
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            policy.delay_before_next(hinted(2), 1, 0, Duration::ZERO),
            Ok(Duration::from_secs(2))
        );
        // 2 s of wait + 1 s of attempt after 3 s: past the 5 s deadline.
        assert_eq!(
            policy.delay_before_next(hinted(2), 1, 0, Duration::from_secs(3)),
            past_deadline(Duration::from_secs(2), false)
        );
        assert_eq!(
            RetryPolicy::none().delay_before_next(FAILURE, 1, 0, Duration::ZERO),
            Err(GiveUp::Done)
        );
    }

    #[test]
    fn a_long_retry_after_is_waited_up_to_the_deadline_not_max_delay() {
        let policy = RetryPolicy::default().max_delay(Duration::from_secs(30));
        assert_eq!(
            policy.delay_before_next(rate_limited(60), 0, 1, Duration::ZERO),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            policy.delay_before_next(rate_limited(45), 0, 1, Duration::from_secs(70)),
            Ok(Duration::from_secs(45))
        );
        // 45 s wait + 0.5 s attempt after 75 s: 120.5 s, past the 120 s deadline; the caller learns the wait.
        assert_eq!(
            policy.delay_before_next(rate_limited(45), 0, 1, Duration::from_secs(75)),
            past_deadline(Duration::from_secs(45), true)
        );
    }

    #[test]
    fn waits_for_quota_do_not_use_up_attempts() {
        let policy = RetryPolicy::default().max_attempts(1);
        assert_eq!(
            policy.delay_before_next(FAILURE, 1, 0, Duration::ZERO),
            Err(GiveUp::Done)
        );
        assert_eq!(
            policy.delay_before_next(rate_limited(2), 1, 1, Duration::ZERO),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            RetryPolicy::none().delay_before_next(rate_limited(1), 0, 1, Duration::ZERO),
            Err(GiveUp::Done)
        );
    }

    #[test]
    fn consecutive_rate_limits_back_off_exponentially_from_a_second_to_the_window() {
        let policy = RetryPolicy::default().deadline(Duration::from_secs(3600));
        for _ in 0..200 {
            for (strikes, nominal) in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0)] {
                for setback in [NO_HINT, rate_limited(0)] {
                    let wait = policy.delay_before_next(setback, 0, strikes, Duration::ZERO).unwrap();
                    let seconds = wait.as_secs_f64();
                    assert!(
                        seconds >= nominal * 0.75 && seconds <= nominal * 1.25,
                        "strike {strikes}: {wait:?}"
                    );
                }
            }
            for strikes in [7, 8, 30, u32::MAX] {
                let wait = policy.delay_before_next(NO_HINT, 0, strikes, Duration::ZERO).unwrap();
                assert!(wait >= Duration::from_secs(45) && wait <= QUOTA_BACKOFF_MAX, "{wait:?}");
            }
        }
    }

    #[test]
    fn a_hint_shorter_than_the_backoff_does_not_shorten_it() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            // `Retry-After: 1` on the fourth 429 in a row: the backoff (about 8 s) wins.
            let wait = policy.delay_before_next(rate_limited(1), 0, 4, Duration::ZERO).unwrap();
            assert!(wait >= Duration::from_secs(6), "{wait:?}");
        }
    }

    #[test]
    fn no_hint_zero_and_the_past_are_the_same_thing() {
        assert_eq!(usable_hint(Some(Duration::ZERO)), None);
        assert_eq!(usable_hint(None), None);
        assert_eq!(usable_hint(Some(Duration::from_secs(3))), Some(Duration::from_secs(3)));
    }

    #[test]
    fn at_most_seven_requests_in_the_first_minute_of_a_call_that_meets_only_429s() {
        for _ in 0..500 {
            let policy = RetryPolicy::default().deadline(Duration::from_secs(3600));
            let (mut at, mut sent, mut strikes) = (Duration::ZERO, 0, 0);
            while at < Duration::from_secs(60) {
                sent += 1;
                strikes += 1;
                at += policy.delay_before_next(NO_HINT, 0, strikes, at).unwrap();
            }
            assert!(sent <= 7, "{sent} requests in the first minute");
        }
    }

    #[test]
    fn no_overflow_with_extreme_settings() {
        let policy = RetryPolicy::default()
            .max_delay(Duration::MAX)
            .base_delay(Duration::MAX)
            .deadline(Duration::MAX);
        assert!(policy.delay_before_next(FAILURE, 3, 0, Duration::MAX).is_err());
        assert_eq!(
            policy.delay_before_next(rate_limited(u64::MAX), 0, 1, Duration::from_secs(1)),
            past_deadline(Duration::from_secs(u64::MAX), true)
        );
        let _ = policy.delay_before_next(FAILURE, 3, 0, Duration::ZERO);
        let _ = quota_backoff(u32::MAX);
    }
}
