//! When and how long to wait before trying a call again.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

/// Retries on 429, 500, 502, 503, 504, connection failures and timeouts, with exponential backoff and full jitter
/// (AWS's "full jitter": a random wait between zero and the exponential cap), honouring a 429's `Retry-After`.
/// Every attempt of one call carries the same `x-request-id`; no other 4xx is ever retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    deadline: Duration,
}

impl Default for RetryPolicy {
    /// Up to 4 attempts, backoff from 250 ms capped at 30 s, all within 2 minutes (long enough to wait out
    /// eToro's 60-requests-per-minute window once).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The most attempts one call makes, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff cap of the first retry; it doubles with each retry up to [`RetryPolicy::max_delay`].
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest single wait between attempts, `Retry-After` included.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The time one call may take in all, attempts and waits included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
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

    /// How long to wait before attempt `attempt + 1`, or `None` to give up: out of attempts, or the wait would
    /// end past the deadline. `retry_after` is the server's hint and wins over the backoff when longer.
    pub(crate) fn delay_before_next(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let cap = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let jittered = cap.mul_f64(fastrand::f64());
        let delay = match retry_after {
            Some(hint) if hint > self.max_delay => return None,
            Some(hint) => hint.max(jittered),
            None => jittered,
        };
        (elapsed + delay < self.deadline).then_some(delay)
    }
}

/// The statuses worth another attempt.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// Reads `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_is_bounded_by_the_exponential_cap() {
        let policy = RetryPolicy::default().base_delay(Duration::from_millis(100));
        for _ in 0..200 {
            let first = policy.delay_before_next(1, None, Duration::ZERO).unwrap();
            assert!(first <= Duration::from_millis(100));
            let third = policy.delay_before_next(3, None, Duration::ZERO).unwrap();
            assert!(third <= Duration::from_millis(400));
        }
    }

    #[test]
    fn gives_up_when_out_of_attempts_or_time() {
        let policy = RetryPolicy::default().max_attempts(2).deadline(Duration::from_secs(5));
        assert!(policy.delay_before_next(1, None, Duration::ZERO).is_some());
        assert_eq!(policy.delay_before_next(2, None, Duration::ZERO), None);
        assert_eq!(
            policy.delay_before_next(1, Some(Duration::from_secs(6)), Duration::ZERO),
            None
        );
        assert_eq!(
            policy.delay_before_next(1, Some(Duration::from_secs(3)), Duration::from_secs(3)),
            None
        );
        assert_eq!(
            policy.delay_before_next(1, Some(Duration::from_secs(2)), Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert_eq!(RetryPolicy::none().delay_before_next(1, None, Duration::ZERO), None);
    }
}
