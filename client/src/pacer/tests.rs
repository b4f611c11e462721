//! The pacer on a paused clock: spacing, pauses, the backoff of 429s in a row, holds past a limit.

use super::*;
use reqwest::header::HeaderValue;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                reqwest::header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn slots_are_spaced_by_the_interval() {
    let pacer = Pacer::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1));
    let start = Instant::now();
    for _ in 0..5 {
        pacer.acquire().await;
    }
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(400),
        "the first slot is at once, then 100 ms apart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_every_caller_until_retry_after_then_one_probe_goes_first() {
    let pacer = Pacer::unlimited();
    let start = Instant::now();
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "45")]));
    let pause = pacer.pause().unwrap();
    assert_eq!(
        pause.cause,
        PauseCause::RateLimited {
            retry_after: Some(Duration::from_secs(45))
        }
    );
    let first = tokio::spawn({
        let pacer = pacer.clone();
        async move {
            pacer.acquire().await;
            Instant::now() - start
        }
    });
    let second = tokio::spawn({
        let pacer = pacer.clone();
        async move {
            pacer.acquire().await;
            Instant::now() - start
        }
    });
    tokio::time::sleep(Duration::from_secs(46)).await;
    // The probe went at 45 s; the other waits for its answer.
    let probe = first.await.unwrap().min(Duration::from_secs(46));
    assert_eq!(probe, Duration::from_secs(45));
    assert!(!second.is_finished(), "only the probe goes after a pause");
    pacer.observe(StatusCode::NO_CONTENT, &HeaderMap::new());
    assert_eq!(
        second.await.unwrap(),
        Duration::from_secs(46),
        "the probe's success lets the rest go"
    );
    assert_eq!(pacer.pause(), None);
}

#[tokio::test(start_paused = true)]
async fn consecutive_429s_without_hints_back_off_for_every_caller() {
    // A server that answers every request 429, with no hint (or a useless one): eight callers in a loop.
    for useless in [None, Some(("retry-after", "0")), Some(("ratelimit-reset", "0"))] {
        let pacer = Pacer::unlimited();
        let start = Instant::now();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (pacer, sent) = (pacer.clone(), sent.clone());
                tokio::spawn(async move {
                    while Instant::now() - start < Duration::from_secs(60) {
                        pacer.acquire().await;
                        if Instant::now() - start >= Duration::from_secs(60) {
                            break;
                        }
                        sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await; // the round trip
                        let answer = headers(useless.as_slice());
                        pacer.observe(StatusCode::TOO_MANY_REQUESTS, &answer);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
        // Eight at once before the first answer, then a probe after each backoff (the burst's 429s count).
        assert!(sent <= 8 + 2, "{useless:?}: {sent} requests in the first minute");
    }
}

#[tokio::test(start_paused = true)]
async fn a_hold_longer_than_the_limit_is_returned_at_once() {
    let pacer = Pacer::per_minute(NonZeroU32::new(60).unwrap());
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "99999999")]),
    );
    let start = Instant::now();
    let hold = pacer.acquire_within(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "no wait at all");
    assert_eq!(hold.cause, PauseCause::QuotaUsedUp);
    assert_eq!(
        hold.until - start,
        Duration::from_secs(99_999_999),
        "the wait as the server gave it"
    );

    // A 429 whose Retry-After overflows every clock: held for a thousand years, no panic.
    let pacer = Pacer::unlimited();
    pacer.observe(
        StatusCode::TOO_MANY_REQUESTS,
        &headers(&[("retry-after", "18446744073709551615")]),
    );
    let hold = pacer.acquire_within(Duration::from_secs(120)).await.unwrap_err();
    assert_eq!(hold.until - Instant::now(), FURTHEST);
}

#[tokio::test(start_paused = true)]
async fn a_spacing_from_an_absurd_reset_is_a_hold_but_queueing_is_not() {
    let pacer = Pacer::unlimited();
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "1"), ("ratelimit-reset", "99999999")]),
    );
    pacer.acquire_within(Duration::from_secs(5)).await.unwrap();
    let hold = pacer.acquire_within(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(hold.cause, PauseCause::QuotaSpacing);

    // Our own spacing is queueing: ten callers at one a second all get their turn within a 2 s limit.
    let pacer = Pacer::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1));
    let start = Instant::now();
    for _ in 0..10 {
        pacer.acquire_within(Duration::from_secs(2)).await.unwrap();
    }
    assert_eq!(start.elapsed(), Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn a_hold_that_grows_while_waiting_is_checked_again() {
    let pacer = Pacer::unlimited();
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "3")]));
    let waiter = tokio::spawn({
        let pacer = pacer.clone();
        async move { pacer.acquire_within(Duration::from_secs(10)).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "3600")]));
    let start = Instant::now();
    let hold = waiter.await.unwrap().unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO, "the new pause is checked at once");
    assert!(hold.until - Instant::now() > Duration::from_secs(3000));
}

#[tokio::test(start_paused = true)]
async fn a_429_while_waiting_moves_the_slot_past_the_pause() {
    let pacer = Pacer::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(10));
    pacer.acquire().await; // takes the slot at 0; the next is at 10 s
    let start = Instant::now();
    let waiter = tokio::spawn({
        let pacer = pacer.clone();
        async move { pacer.acquire().await }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "30")]));
    waiter.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(35));
}

#[tokio::test(start_paused = true)]
async fn the_servers_remaining_quota_widens_the_spacing() {
    let pacer = Pacer::unlimited();
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "10"), ("ratelimit-reset", "6")]),
    );
    pacer.acquire().await;
    let start = Instant::now();
    pacer.acquire().await;
    // One answer puts the end between 5 and 6 s from now: the middle, 5.5 s, over 10 requests.
    assert_eq!(start.elapsed(), Duration::from_millis(550));
}

#[tokio::test(start_paused = true)]
async fn remaining_zero_pauses_until_the_reset_without_a_429() {
    let pacer = Pacer::unlimited();
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "7")]),
    );
    assert_eq!(pacer.pause().unwrap().cause, PauseCause::QuotaUsedUp);
    let start = Instant::now();
    pacer.acquire().await;
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn waiters_take_the_spacing_in_force_when_their_turn_comes() {
    // The last answer of a window: one request left, one second to go (a wide spacing), then the window's
    // quota is used up. After the pause, eight waiters must go out at the base pace, not 0.5 s apart.
    let pacer = Pacer::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1));
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "1"), ("ratelimit-reset", "1")]),
    );
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "2")]),
    );
    let start = Instant::now();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                pacer.acquire().await;
                Instant::now()
            })
        })
        .collect();
    let mut times = Vec::new();
    for waiter in waiters {
        times.push(waiter.await.unwrap() - start);
    }
    times.sort();
    assert_eq!(times.first(), Some(&Duration::from_secs(2)), "{times:?}");
    assert_eq!(
        times.last(),
        Some(&Duration::from_millis(2700)),
        "100 ms apart: {times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn answers_narrow_the_end_of_the_window_to_well_under_a_second() {
    // A server with a 5-second window ending at t = 5 s, rounding RateLimit-Reset up, answering every 50 ms
    // until its quota is used up at t = 4.5 s. One header alone would say "1 s left" then (t = 5.5 s).
    let pacer = Pacer::unlimited();
    let start = Instant::now();
    let end = start + Duration::from_secs(5);
    let mut now = start;
    while now < start + Duration::from_millis(4500) {
        let left = end - now;
        let reset = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let reset = reset.to_string();
        pacer.observe(
            StatusCode::NO_CONTENT,
            &headers_owned(&[("ratelimit-remaining", "5".to_owned()), ("ratelimit-reset", reset)]),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = Instant::now();
    }
    pacer.observe(
        StatusCode::NO_CONTENT,
        &headers_owned(&[
            ("ratelimit-remaining", "0".to_owned()),
            ("ratelimit-reset", "1".to_owned()),
        ]),
    );
    pacer.acquire().await;
    let waited_until = Instant::now() - start;
    assert!(
        waited_until >= Duration::from_secs(5) && waited_until <= Duration::from_millis(5050),
        "{waited_until:?}"
    );
}

fn headers_owned(pairs: &[(&'static str, String)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                reqwest::header::HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_shorter_pause_never_cuts_a_longer_one() {
    let pacer = Pacer::unlimited();
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "60")]));
    pacer.observe(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "5")]));
    let start = Instant::now();
    pacer.acquire().await;
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[test]
fn the_cause_reads_well() {
    let cause = PauseCause::RateLimited {
        retry_after: Some(Duration::from_secs(1)),
    };
    assert_eq!(cause.to_string(), "429, Retry-After");
    assert_eq!(PauseCause::QuotaUsedUp.to_string(), "RateLimit-Remaining: 0");
}
