//! One pace for every request to eToro's shared quota, retries included.
//!
//! eToro gives each user key one pool of 60 requests per 60 seconds, shared by every endpoint without a dedicated
//! limit. A [`Pacer`] spaces the attempts of every call made through the clients it is given to (and of any loop of
//! yours that calls [`Pacer::acquire_within`]), follows the `RateLimit-Remaining`/`RateLimit-Reset` headers when answers
//! carry them, so that other traffic on the same key is accounted for, and holds everyone back when a 429 says to
//! wait.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::rate_limit::{parse_retry_after, RateLimit};
use crate::retry::{quota_backoff, quota_wait, usable_hint};

/// The furthest ahead a server's hint can push a pause (a thousand years): far enough to report any hint as given
/// (`RateLimit-Reset: 8640000000` is 273 years), near enough that no `Instant` arithmetic overflows on a hostile
/// `Retry-After: 18446744073709551615`.
const FURTHEST: Duration = Duration::from_secs(1000 * 365 * 86_400);

/// Paces requests to a quota. Clone it freely: clones share one schedule.
///
/// ```no_run
/// # async fn run() -> Result<(), etoro_client::Error> {
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use etoro_client::{Client, Pacer};
///
/// // Two clients (say, two API versions) drawing from one user key's quota.
/// let pacer = Pacer::per_minute(NonZeroU32::new(60).unwrap());
/// let v1 = Client::builder().api_keys("api", "user").pacer(pacer.clone()).build()?;
/// let v2 = Client::builder().api_keys("api", "user").pacer(pacer.clone()).build()?;
/// // A request of your own to another eToro endpoint on the same key waits for its turn too, unless eToro holds
/// // every request back for longer than you can wait:
/// if let Err(pause) = pacer.acquire_within(Duration::from_secs(30)).await {
///     eprintln!("eToro asks to wait until {:?} ({})", pause.until, pause.cause);
/// }
/// # Ok(()) }
/// ```
///
/// What it does:
/// - **Spacing**: turns are handed out at least `window / limit` apart (a burst of one), so a quota is spread
///   evenly instead of being spent at once.
/// - **Following the server**: an answer with `RateLimit-Remaining: r` and `RateLimit-Reset: s` widens the spacing
///   to what is left (`s / r`), so traffic of other programs on the same key is accounted for; `r = 0` holds every
///   caller until the window resets.
/// - **429**: every caller waits. The n-th 429 in a row (counting every 429 any caller meets, until an answer
///   other than 429 comes) holds everyone for about 1 s × 2ⁿ⁻¹ (±25%, at most 60 s), or the server's
///   `Retry-After` (or `RateLimit-Reset`) when that is longer; a hint of zero or in the past is no hint. After
///   such a pause one request goes first, alone, as a probe: the others follow when an answer other than 429
///   comes back, or when the next backoff has passed. However many callers share the pacer, a server that
///   answers every request 429 receives a handful of requests a minute, not hundreds.
/// - **Deadlines**: [`Pacer::acquire_within`] does not wait when the server holds every request back for longer
///   than the caller can wait; the clients built with this pacer use it with each call's deadline.
#[derive(Clone, Debug)]
pub struct Pacer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The least spacing of two turns; zero for [`Pacer::unlimited`].
    interval: Duration,
    /// True while 429s are unanswered by any other status ([`State::strikes`] > 0): read without the lock, so
    /// that answers without quota headers (the common path) take no lock when nothing is amiss.
    striking: AtomicBool,
    state: Mutex<State>,
    /// Wakes the waiting callers when the state changes (a probe's answer, a new pause), so that each checks again
    /// at once: a turn may have come earlier, or a hold grown past its limit.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// The earliest start of the next turn by this pacer's own spacing.
    next_own: Instant,
    /// The earliest start of the next turn by the spacing the server's `RateLimit-*` headers called for when the
    /// last turn was claimed.
    next_server: Instant,
    /// The spacing the latest `RateLimit-*` headers call for.
    server_interval: Duration,
    pause: Option<Pause>,
    /// While 429s go on: no turn before this, unless an answer other than 429 comes first. One request (the
    /// probe) goes after each pause; this keeps the others back until its answer tells how things stand.
    probe_hold: Option<Pause>,
    /// Consecutive 429s, whoever met them; reset by any other answer.
    strikes: u32,
    /// When the server's current window ends, as narrowed down by its answers.
    window: Option<WindowEnd>,
}

/// The end of the server's quota window, known within bounds.
///
/// `RateLimit-Reset` is whole seconds, rounded up: an answer at `t` saying `s` puts the end in `(t + s - 1, t + s]`.
/// Each answer of the same window narrows the bounds (an answer just after the count ticks down pins the lower one,
/// just before it the upper one), so with answers every few milliseconds the end is known to a few milliseconds,
/// rather than to the second a single header gives. Waiting until the upper bound is safe; spacing against the
/// middle uses the window fully. A server that rounds otherwise only costs a 429, whose `Retry-After` then rules.
#[derive(Clone, Copy, Debug)]
struct WindowEnd {
    earliest: Instant,
    latest: Instant,
}

impl WindowEnd {
    /// What one answer at `now` with `RateLimit-Reset: reset` says.
    fn from_answer(now: Instant, reset: Duration) -> Self {
        let latest = now + reset.min(FURTHEST);
        let earliest = latest.checked_sub(Duration::from_secs(1)).unwrap_or(now).max(now);
        WindowEnd { earliest, latest }
    }

    /// These bounds narrowed by another answer's, or that answer's alone when it speaks of a later window (or
    /// the two disagree).
    fn narrowed(self, other: WindowEnd) -> WindowEnd {
        let earliest = self.earliest.max(other.earliest);
        let latest = self.latest.min(other.latest);
        if other.earliest >= self.latest || earliest > latest {
            other
        } else {
            WindowEnd { earliest, latest }
        }
    }

    fn middle(self) -> Instant {
        self.earliest + (self.latest - self.earliest) / 2
    }
}

/// Why, and until when, a [`Pacer`] holds every request back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pause {
    /// When requests may go again.
    pub until: Instant,
    /// What the server said.
    pub cause: PauseCause,
}

/// What made a [`Pacer`] pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PauseCause {
    /// A 429 answer, with its `Retry-After` (or `RateLimit-Reset`) when it had one.
    RateLimited {
        /// The wait the server asked for.
        retry_after: Option<Duration>,
    },
    /// An answer said `RateLimit-Remaining: 0`: the window's quota is used up (by us or by other traffic on the
    /// same key) until `RateLimit-Reset`.
    QuotaUsedUp,
    /// The `RateLimit-Remaining` and `RateLimit-Reset` of the last answers space requests this far apart.
    QuotaSpacing,
}

impl std::fmt::Display for PauseCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseCause::RateLimited { retry_after: Some(_) } => f.write_str("429, Retry-After"),
            PauseCause::RateLimited { retry_after: None } => f.write_str("429"),
            PauseCause::QuotaUsedUp => f.write_str("RateLimit-Remaining: 0"),
            PauseCause::QuotaSpacing => f.write_str("RateLimit-Remaining and RateLimit-Reset"),
        }
    }
}

impl Pacer {
    /// At most `limit` requests per `window`, evenly spaced.
    pub fn new(limit: NonZeroU32, window: Duration) -> Self {
        Self::with_interval(window / limit.get())
    }

    /// At most `limit` requests a minute: `Pacer::per_minute(60)` is eToro's documented quota.
    pub fn per_minute(limit: NonZeroU32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// No spacing of its own; the server's `RateLimit-*` headers and 429s still pace every caller.
    pub fn unlimited() -> Self {
        Self::with_interval(Duration::ZERO)
    }

    fn with_interval(interval: Duration) -> Self {
        let now = Instant::now();
        Pacer {
            shared: Arc::new(Shared {
                interval,
                striking: AtomicBool::new(false),
                state: Mutex::new(State {
                    next_own: now,
                    next_server: now,
                    server_interval: Duration::ZERO,
                    pause: None,
                    probe_hold: None,
                    strikes: 0,
                    window: None,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// The spacing this pacer keeps at the least (zero when unlimited).
    pub fn interval(&self) -> Duration {
        self.shared.interval
    }

    /// Waits until the caller may send one request, however long the server holds every request back (a hostile
    /// hint counts as at most a year). Prefer [`Pacer::acquire_within`], which does not wait for a pause longer
    /// than you can.
    pub async fn acquire(&self) {
        // Nothing is further away than `Duration::MAX`: this never returns the hold.
        let _ = self.acquire_within(Duration::MAX).await;
    }

    /// Waits until the caller may send one request, unless the server holds every request back (a 429, a used-up
    /// window, a spacing its `RateLimit-*` headers call for) until further away than `limit`: then it returns that
    /// hold at once, and the caller should not send. Queueing behind other callers of this pacer under its own
    /// spacing is not bounded by `limit` (each turn comes after the one before it); a hold that starts or grows
    /// while the caller waits is checked again.
    ///
    /// A turn is claimed when it comes, not booked ahead: a caller sleeps until the earliest moment a turn could be
    /// free, then claims it if it still is (another caller, a new pause or a wider spacing may have taken it), so
    /// the spacing in force at that moment applies, not the one in force when the caller started waiting.
    pub async fn acquire_within(&self, limit: Duration) -> Result<(), Pause> {
        loop {
            // Registered before the state is read, so that no change between the two is missed.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let earliest = {
                let mut state = self.lock();
                let now = Instant::now();
                if let Some(hold) = state.server_hold(now) {
                    if hold.until.saturating_duration_since(now) > limit {
                        return Err(hold);
                    }
                }
                let earliest = state.earliest(now);
                if earliest <= now {
                    state.claim(now, self.shared.interval);
                    return Ok(());
                }
                earliest
            };
            tokio::select! {
                () = tokio::time::sleep_until(earliest) => {}
                () = &mut changed => {}
            }
        }
    }

    /// The pause in force now, if any: for progress displays ("waiting 58 s for quota (429, Retry-After)").
    pub fn pause(&self) -> Option<Pause> {
        let state = self.lock();
        let now = Instant::now();
        [state.pause, state.probe_hold]
            .into_iter()
            .flatten()
            .filter(|pause| pause.until > now)
            .max_by_key(|pause| pause.until)
    }

    /// Takes an answer's quota headers into account: call it with the status and headers of answers to requests
    /// of your own (the clients built with this pacer do it for theirs).
    pub fn observe(&self, status: StatusCode, headers: &HeaderMap) {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
        self.note(rate_limited, RateLimit::from_headers(headers).as_ref(), retry_after);
    }

    /// [`Pacer::observe`] with the headers already read, and whether the answer was a rate limit (a 429 other than
    /// `MaxUserTokensExceeded`, which the caller can tell from the body).
    pub(crate) fn note(&self, rate_limited: bool, rate_limit: Option<&RateLimit>, retry_after: Option<Duration>) {
        let reset = rate_limit.and_then(|limit| limit.reset);
        let remaining = rate_limit.and_then(|limit| limit.remaining);
        if !rate_limited && (remaining.is_none() || reset.is_none()) && !self.shared.striking.load(Ordering::Acquire) {
            // Nothing to learn (a server without the headers, no 429 going on): no lock taken on this, the common
            // path.
            return;
        }
        let now = Instant::now();
        let mut state = self.lock();
        self.shared.changed.notify_waiters();
        if rate_limited {
            state.strikes = state.strikes.saturating_add(1);
            self.shared.striking.store(true, Ordering::Release);
            let hint = usable_hint(retry_after).or(usable_hint(reset));
            let wait = quota_wait(state.strikes, hint);
            state.pause_until(now, wait, PauseCause::RateLimited { retry_after: hint });
            return;
        }
        // Any other answer: the server takes requests again.
        if state.strikes > 0 {
            state.strikes = 0;
            state.probe_hold = None;
            self.shared.striking.store(false, Ordering::Release);
        }
        let (Some(remaining), Some(reset)) = (remaining, reset) else {
            return;
        };
        let answer = WindowEnd::from_answer(now, reset);
        let window = state.window.map_or(answer, |known| known.narrowed(answer));
        state.window = Some(window);
        if remaining == 0 {
            state.pause_until(
                now,
                window.latest.saturating_duration_since(now),
                PauseCause::QuotaUsedUp,
            );
        } else {
            // What is left of the window, spread over what is left of the quota.
            let left = window
                .middle()
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            state.server_interval = left / remaining;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every await-free step; a panic elsewhere must not stop the pacing.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// What the server holds every request back for, now: the furthest of a pause, a probe's hold and the
    /// spacing its headers call for; `None` when it holds nothing back.
    fn server_hold(&self, now: Instant) -> Option<Pause> {
        let spacing = Pause {
            until: self.next_server,
            cause: PauseCause::QuotaSpacing,
        };
        [self.pause, self.probe_hold, Some(spacing)]
            .into_iter()
            .flatten()
            .filter(|hold| hold.until > now)
            .max_by_key(|hold| hold.until)
    }

    /// The earliest moment the next turn may start.
    fn earliest(&self, now: Instant) -> Instant {
        let held = self.server_hold(now).map_or(now, |hold| hold.until);
        self.next_own.max(held)
    }

    /// Takes the turn at `now`. While 429s go on, this turn is a probe: the next one waits for its answer, or for
    /// the next backoff.
    fn claim(&mut self, now: Instant, interval: Duration) {
        self.next_own = now + interval;
        self.next_server = now + self.server_interval.min(FURTHEST);
        if self.strikes > 0 {
            let cause = self
                .pause
                .map_or(PauseCause::RateLimited { retry_after: None }, |pause| pause.cause);
            self.probe_hold = Some(Pause {
                until: now + quota_backoff(self.strikes.saturating_add(1)),
                cause,
            });
        }
    }

    /// Holds every caller until `now + wait`, keeping a longer pause already in force. The spacing the last
    /// `RateLimit-*` headers called for belongs to the window that is ending: a fresh window starts unpaced by it.
    fn pause_until(&mut self, now: Instant, wait: Duration, cause: PauseCause) {
        let until = now + wait.min(FURTHEST);
        if self.pause.is_none_or(|pause| pause.until < until) {
            self.pause = Some(Pause { until, cause });
        }
        self.server_interval = Duration::ZERO;
        self.next_server = self.next_server.min(now);
    }
}

impl Default for Pacer {
    /// eToro's documented quota: 60 requests a minute.
    fn default() -> Self {
        Pacer::per_minute(NonZeroU32::new(60).expect("60 is not zero"))
    }
}

#[cfg(test)]
mod tests;
