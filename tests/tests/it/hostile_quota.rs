//! A server that answers every request 429, on a simulated clock: however it words its hint (none, zero, a second,
//! an absurd reset), one call and eight calls at once send a handful of requests a minute, never a flood, and every
//! call ends by its deadline.
//!
//! The server runs on the test's own runtime, whose clock is paused: time jumps ahead whenever every task waits, so
//! hours of backoff take milliseconds, and the request count per simulated minute is exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etoro_client::{code, Client, Error, RetryPolicy};
use futures::future::join_all;
use serde_json::json;
use tokio::time::Instant;

use crate::support::*;

/// How a hostile server words its 429.
const HINTS: &[(&str, &[(&str, &str)])] = &[
    ("no hint", &[]),
    ("Retry-After: 0", &[("retry-after", "0")]),
    ("Retry-After: 1", &[("retry-after", "1")]),
    (
        "RateLimit-Reset: 0",
        &[("ratelimit-remaining", "0"), ("ratelimit-reset", "0")],
    ),
    (
        "RateLimit-Reset: 99999999",
        &[("ratelimit-remaining", "0"), ("ratelimit-reset", "99999999")],
    ),
];

/// eToro's documented 429 answer, with `headers`, to every request; returns the base URL and the arrival times.
async fn always_429(headers: &'static [(&'static str, &'static str)]) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let body = json!({"errorCode": code::TOO_MANY_REQUESTS, "errorMessage": "Too many requests"});
    answering(429, body, headers).await
}

fn client(url: &str, deadline: Duration) -> Client {
    key_builder(url)
        .retry(RetryPolicy::default().deadline(deadline))
        .build()
        .unwrap()
}

/// Requests per minute since `start`: [first minute, second minute, ...].
fn per_minute(seen: &Mutex<Vec<Instant>>, start: Instant) -> Vec<usize> {
    let mut minutes = Vec::new();
    for at in seen.lock().unwrap().iter() {
        let minute = (*at - start).as_secs() as usize / 60;
        if minutes.len() <= minute {
            minutes.resize(minute + 1, 0);
        }
        minutes[minute] += 1;
    }
    minutes
}

/// The call gave up for quota: a wait longer than its deadline allows, eToro's 429 named.
fn assert_gave_up_for_quota(err: &Error, what: &str) {
    assert!(matches!(err, Error::QuotaWait(_)), "{what}: {err:?}");
    assert!(err.is_rate_limited(), "{what}");
    assert_eq!(err.code(), Some(code::TOO_MANY_REQUESTS), "{what}: {err}");
    assert!(err.to_string().contains("Too many requests"), "{what}: {err}");
}

#[tokio::test(start_paused = true)]
async fn one_call_sends_at_most_seven_requests_a_minute_and_ends_by_its_deadline() {
    for &(what, headers) in HINTS {
        let (url, seen) = always_429(headers).await;
        let deadline = Duration::from_secs(10 * 60);
        let start = Instant::now();
        let err = update_err(&client(&url, deadline), ip_update()).await;
        let elapsed = start.elapsed();
        assert_gave_up_for_quota(&err, what);
        assert!(elapsed <= deadline, "{what}: ended after {elapsed:?}");
        let minutes = per_minute(&seen, start);
        assert!(minutes[0] <= 7, "{what}: {minutes:?} requests per minute");
        assert!(minutes.iter().skip(1).all(|count| *count <= 2), "{what}: {minutes:?}");
        if what.ends_with("99999999") {
            assert_eq!(minutes, [1], "a pause past the deadline is not waited for");
            assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
            assert!(
                err.to_string().contains("99999999 s"),
                "the wait as eToro gave it: {err}"
            );
        } else {
            assert!(
                elapsed >= deadline - Duration::from_secs(90),
                "{what}: gave up early, after {elapsed:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn eight_calls_at_once_send_at_most_eight_requests_in_the_first_minute() {
    for &(what, headers) in HINTS {
        let (url, seen) = always_429(headers).await;
        let deadline = Duration::from_secs(5 * 60);
        let client = client(&url, deadline);
        let start = Instant::now();
        let calls = (0..8).map(|_| {
            let client = client.clone();
            async move {
                let result = client.update_user_token(portfolio(), token(), ip_update()).await;
                (result, start.elapsed())
            }
        });
        for (result, elapsed) in join_all(calls).await {
            assert_gave_up_for_quota(&result.unwrap_err(), what);
            assert!(elapsed <= deadline, "{what}: a call ended after {elapsed:?}");
        }
        let minutes = per_minute(&seen, start);
        // Eight go at once, before any answer; their 429s hold everyone back for the backoff's cap.
        assert!(minutes[0] <= 8, "{what}: {minutes:?} requests per minute");
        assert!(minutes.iter().skip(1).all(|count| *count <= 2), "{what}: {minutes:?}");
    }
}
