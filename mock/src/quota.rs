//! eToro's rate limit: a quota of requests per fixed window, one pool per credential, that other traffic of the
//! same user key draws from too.
//!
//! A pool's windows are fixed: the first starts at the pool's first request, the next one `window` later, and so
//! on. The background load is modelled lazily and deterministically, without a timer: `elapsed` into a window,
//! it has used `floor(elapsed × n / its_window)` of that window's quota. A request is allowed while the pool's
//! own requests plus the background's stay under the limit.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// A quota: at most `limit` requests per `window`. Parses from `N/DURATION`, e.g. `60/60s`, `50/5s`, `20/1m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The most requests a window allows; at least 1.
    pub limit: u32,
    /// The window's length; more than zero.
    pub window: Duration,
}

impl Quota {
    /// eToro's default shared pool: 60 requests per 60 seconds.
    pub const ETORO: Quota = Quota {
        limit: 60,
        window: Duration::from_secs(60),
    };

    /// The `RateLimit-Policy` value, e.g. `60;w=60` (the window in whole seconds, rounded up).
    pub fn policy(&self) -> String {
        format!("{};w={}", self.limit, whole_seconds_up(self.window))
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, humantime::format_duration(self.window))
    }
}

/// A quota that does not parse; the message gives the expected form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaError(String);

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QuotaError {}

impl FromStr for Quota {
    type Err = QuotaError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = "expected N/DURATION, e.g. 60/60s or 50/5s (N a whole number of requests, at least 1)";
        let (limit, window) = text
            .split_once('/')
            .ok_or_else(|| QuotaError(format!("{text:?} has no '/': {expected}")))?;
        let limit: u32 = limit
            .trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| QuotaError(format!("{limit:?} is not a number of requests: {expected}")))?;
        let window = humantime::parse_duration(window.trim())
            .map_err(|err| QuotaError(format!("{window:?} is not a duration ({err}): {expected}")))?;
        if window.is_zero() {
            return Err(QuotaError(format!("the window must be longer than zero: {expected}")));
        }
        Ok(Quota { limit, window })
    }
}

/// What a request got from its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Whether the request may go on (otherwise it is answered 429).
    pub(crate) allowed: bool,
    /// What is left in the window after this request.
    pub(crate) remaining: u32,
    /// Whole seconds until the window ends, rounded up: at least 1.
    pub(crate) reset_secs: u64,
}

/// One credential's pool.
#[derive(Clone, Copy, Debug)]
struct Pool {
    window_start: Instant,
    used: u32,
}

/// Beyond this many pools, those whose window is over are dropped: a client that sends a new key with every
/// request must not grow the mock without bound.
const PRUNE_ABOVE: usize = 10_000;

/// The pools of every credential.
#[derive(Debug)]
pub(crate) struct Quotas {
    quota: Quota,
    background: Option<Quota>,
    limit_header: HeaderValue,
    policy_header: HeaderValue,
    /// Keyed by a keyed hash of the credential, so that the mock holds no secret here.
    hasher: RandomState,
    pools: Mutex<HashMap<u64, Pool>>,
}

static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

impl Quotas {
    pub(crate) fn new(quota: Quota, background: Option<Quota>) -> Self {
        let policy = quota.policy();
        Quotas {
            quota,
            background,
            limit_header: HeaderValue::from(quota.limit),
            // Digits, ';' and '=' only.
            policy_header: HeaderValue::try_from(policy).unwrap_or_else(|_| HeaderValue::from_static("")),
            hasher: RandomState::new(),
            pools: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Pool>> {
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Draws one request of `credential` from its pool at `now`.
    pub(crate) fn draw(&self, credential: &[u8], now: Instant) -> Verdict {
        let key = self.hasher.hash_one(credential);
        let mut pools = self.lock();
        if pools.len() >= PRUNE_ABOVE && !pools.contains_key(&key) {
            let window = self.quota.window;
            pools.retain(|_, pool| now.saturating_duration_since(pool.window_start) < window);
        }
        let pool = pools.entry(key).or_insert(Pool {
            window_start: now,
            used: 0,
        });
        draw(pool, self.quota, self.background, now)
    }

    /// Adds the `RateLimit-*` headers of `verdict`, and `Retry-After` when it refused.
    pub(crate) fn add_headers(&self, verdict: Verdict, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT.clone(), self.limit_header.clone());
        headers.insert(RATELIMIT_REMAINING.clone(), HeaderValue::from(verdict.remaining));
        headers.insert(RATELIMIT_RESET.clone(), HeaderValue::from(verdict.reset_secs));
        headers.insert(RATELIMIT_POLICY.clone(), self.policy_header.clone());
        if !verdict.allowed {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(verdict.reset_secs));
        }
    }
}

/// The pure rule, for one pool at `now`.
fn draw(pool: &mut Pool, quota: Quota, background: Option<Quota>, now: Instant) -> Verdict {
    let window = quota.window.as_nanos();
    let since_start = now.saturating_duration_since(pool.window_start).as_nanos();
    if since_start >= window {
        // Whole windows have passed: move to the one `now` falls in.
        let passed = since_start / window * window;
        pool.window_start += duration_from_nanos(passed);
        pool.used = 0;
    }
    let elapsed = now.saturating_duration_since(pool.window_start);
    let background_used = background.map_or(0, |bg| {
        let used = elapsed.as_nanos() * u128::from(bg.limit) / bg.window.as_nanos().max(1);
        u32::try_from(used).unwrap_or(u32::MAX)
    });
    let left = quota.limit.saturating_sub(pool.used.saturating_add(background_used));
    let allowed = left > 0;
    if allowed {
        pool.used += 1;
    }
    let until_reset = quota.window.saturating_sub(elapsed);
    Verdict {
        allowed,
        remaining: left.saturating_sub(u32::from(allowed)),
        reset_secs: whole_seconds_up(until_reset).max(1),
    }
}

fn duration_from_nanos(nanos: u128) -> Duration {
    Duration::new(
        u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
        (nanos % 1_000_000_000) as u32,
    )
}

/// Whole seconds, rounded up, as `RateLimit-Reset` and `Retry-After` carry them.
pub(crate) fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(text: &str) -> Quota {
        text.parse().unwrap()
    }

    #[test]
    fn parses_n_per_duration() {
        assert_eq!(quota("60/60s"), Quota::ETORO);
        assert_eq!(quota("50/5s").window, Duration::from_secs(5));
        assert_eq!(quota("20/1m").window, Duration::from_secs(60));
        assert_eq!(quota(" 3 / 500ms ").window, Duration::from_millis(500));
        for (bad, says) in [
            ("60", "no '/'"),
            ("0/60s", "not a number of requests"),
            ("x/60s", "not a number of requests"),
            ("-1/60s", "not a number of requests"),
            ("60/sixty", "not a duration"),
            ("60/0s", "longer than zero"),
        ] {
            let err = bad.parse::<Quota>().unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("expected N/DURATION"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn policy_rounds_the_window_up() {
        assert_eq!(Quota::ETORO.policy(), "60;w=60");
        assert_eq!(quota("3/1500ms").policy(), "3;w=2");
    }

    #[test]
    fn a_window_allows_its_limit_then_refuses_until_it_ends() {
        let q = quota("3/10s");
        let t0 = Instant::now();
        let mut pool = Pool {
            window_start: t0,
            used: 0,
        };
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let verdicts: Vec<(bool, u32, u64)> = [0, 1_000, 2_500, 9_999, 10_000, 10_001]
            .into_iter()
            .map(|ms| {
                let v = draw(&mut pool, q, None, at(ms));
                (v.allowed, v.remaining, v.reset_secs)
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                (true, 2, 10),
                (true, 1, 9),
                (true, 0, 8),  // 7.5 s left, rounded up
                (false, 0, 1), // 1 ms left: never 0 while refusing
                (true, 2, 10), // a new window, exactly at the end of the first
                (true, 1, 10),
            ]
        );
        // Long idle: the window moves to the one `now` falls in, still aligned on the first request.
        let v = draw(&mut pool, q, None, at(35_000));
        assert_eq!((v.allowed, v.remaining, v.reset_secs), (true, 2, 5));
    }

    #[test]
    fn the_background_draws_from_the_same_pool() {
        // 60 per minute, 20 of them taken by other traffic at a steady pace (one every 3 s).
        let q = Quota::ETORO;
        let bg = Some(quota("20/60s"));
        let t0 = Instant::now();
        let mut pool = Pool {
            window_start: t0,
            used: 0,
        };
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(draw(&mut pool, q, bg, at(0)).remaining, 59);
        // 30 s in, the background has used 10.
        assert_eq!(draw(&mut pool, q, bg, at(30)).remaining, 60 - 2 - 10);
        let mut allowed = 2;
        while draw(&mut pool, q, bg, at(30)).allowed {
            allowed += 1;
        }
        assert_eq!(allowed, 50, "60 minus the background's 10 by then");
        // 59 s in, the background's 19 and our 50 exceed the limit: refused, however many times we try.
        assert!(!draw(&mut pool, q, bg, at(59)).allowed);
        // The next window starts afresh.
        assert_eq!(draw(&mut pool, q, bg, at(60)).remaining, 59);
    }

    #[test]
    fn a_heavy_background_cannot_make_the_count_overflow() {
        let t0 = Instant::now();
        let mut pool = Pool {
            window_start: t0,
            used: 0,
        };
        let v = draw(
            &mut pool,
            quota("5/1h"),
            Some(quota("4000000000/1ms")),
            t0 + Duration::from_secs(1800),
        );
        assert_eq!((v.allowed, v.remaining), (false, 0));
    }

    #[test]
    fn pools_are_per_credential_and_pruned() {
        let quotas = Quotas::new(quota("1/1h"), None);
        let now = Instant::now();
        assert!(quotas.draw(b"key-a", now).allowed);
        assert!(!quotas.draw(b"key-a", now).allowed);
        assert!(quotas.draw(b"key-b", now).allowed);
        // Many one-off keys: the pools of windows that are over go.
        let quotas = Quotas::new(quota("1/1s"), None);
        for i in 0..PRUNE_ABOVE {
            quotas.draw(format!("k{i}").as_bytes(), now);
        }
        quotas.draw(b"late", now + Duration::from_secs(2));
        assert_eq!(quotas.lock().len(), 1);
    }
}
