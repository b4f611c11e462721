//! Which fault, if any, a given request of the endpoints gets.

use std::time::Duration;

use crate::config::Faults;

/// The fault chosen for one request (latency is not one: it is applied to every request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Drop the connection without an answer.
    Reset,
    /// Answer 429 with this `Retry-After`, in seconds.
    RateLimit { retry_after_secs: u64 },
    /// Answer 500.
    ServerError,
}

/// Chooses the fault of the `seq`-th request of the endpoints (counting from 1, all three together).
pub(crate) fn choose(faults: &Faults, seq: u64) -> Option<Fault> {
    if is_nth(faults.reset_every, seq) {
        return Some(Fault::Reset);
    }
    if is_nth(faults.rate_limit_every, seq) {
        return Some(Fault::RateLimit {
            retry_after_secs: whole_seconds_up(faults.retry_after),
        });
    }
    // `fastrand::f64()` is in [0, 1), so a rate of 1.0 always fires and 0.0 (or NaN) never does.
    if fastrand::f64() < faults.error_rate {
        return Some(Fault::ServerError);
    }
    None
}

/// Whether `seq` is a multiple of `every`; `None` and `Some(0)` never are.
fn is_nth(every: Option<u32>, seq: u64) -> bool {
    matches!(every, Some(n) if n > 0 && seq.is_multiple_of(u64::from(n)))
}

/// `Retry-After` only carries whole seconds; round up so that a client honouring it never retries early.
fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_counts_from_one() {
        let faults = Faults {
            reset_every: Some(3),
            ..Faults::default()
        };
        let hits: Vec<u64> = (1..=9).filter(|&s| choose(&faults, s) == Some(Fault::Reset)).collect();
        assert_eq!(hits, [3, 6, 9]);
    }

    #[test]
    fn zero_means_never() {
        let faults = Faults {
            reset_every: Some(0),
            rate_limit_every: Some(0),
            ..Faults::default()
        };
        assert!((1..=10).all(|s| choose(&faults, s).is_none()));
    }

    #[test]
    fn reset_wins_over_rate_limit_and_errors() {
        let faults = Faults {
            reset_every: Some(2),
            rate_limit_every: Some(1),
            error_rate: 1.0,
            ..Faults::default()
        };
        assert_eq!(choose(&faults, 2), Some(Fault::Reset));
        assert_eq!(choose(&faults, 1), Some(Fault::RateLimit { retry_after_secs: 1 }));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_up(Duration::from_millis(2500)), 3);
    }

    #[test]
    fn error_rate_bounds() {
        let always = Faults {
            error_rate: 1.0,
            ..Faults::default()
        };
        let never = Faults {
            error_rate: 0.0,
            ..Faults::default()
        };
        assert!((1..=100).all(|s| choose(&always, s) == Some(Fault::ServerError)));
        assert!((1..=100).all(|s| choose(&never, s).is_none()));
    }
}
