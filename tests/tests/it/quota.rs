//! eToro's shared quota: the `RateLimit-*` state callers see, `Retry-After` waited out up to the deadline (not a
//! backoff cap), one pace shared by every call, and the deadline's edges.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use etoro_client::{code, Client, Error, Pacer, RateLimit, RetryPolicy, TokenUpdate};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn rate_limit_headers(template: ResponseTemplate, remaining: u32, reset: u64) -> ResponseTemplate {
    template
        .insert_header("RateLimit-Limit", "60")
        .insert_header("RateLimit-Remaining", remaining.to_string().as_str())
        .insert_header("RateLimit-Reset", reset.to_string().as_str())
        .insert_header("RateLimit-Policy", "60;w=60")
}

fn too_many(retry_after: &str) -> ResponseTemplate {
    rate_limit_headers(ResponseTemplate::new(429), 0, 1)
        .insert_header("Retry-After", retry_after)
        .set_body_json(json!({"errorCode": code::TOO_MANY_REQUESTS, "errorMessage": "Too many requests"}))
}

#[tokio::test]
async fn successes_and_errors_carry_the_quota_state() {
    let server = server().await;
    first_then(
        &server,
        "PATCH",
        rate_limit_headers(ResponseTemplate::new(204), 41, 17),
        1,
        too_many("30"),
    )
    .await;
    let client = key_client(server.uri());
    let updated = update_ok(&client, ip_update()).await;
    let state: &RateLimit = updated.rate_limit.as_ref().expect("the answer's RateLimit-* headers");
    assert_eq!(
        (state.limit, state.remaining, state.reset, state.policy.as_deref()),
        (Some(60), Some(41), Some(Duration::from_secs(17)), Some("60;w=60"))
    );

    let err = update_err(&client, ip_update()).await;
    assert!(err.is_rate_limited());
    assert_eq!(err.rate_limit().and_then(|limit| limit.remaining), Some(0));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn a_retry_after_longer_than_max_delay_is_waited_out_within_the_deadline() {
    let server = server().await;
    first_then(&server, "PATCH", too_many("2"), 1, ResponseTemplate::new(204)).await;
    // max_delay caps the backoff only: a server's Retry-After is honoured beyond it, because the server said so.
    let client = key_builder(server.uri())
        .retry(
            RetryPolicy::default()
                .max_attempts(1)
                .max_delay(Duration::from_millis(100))
                .deadline(Duration::from_secs(10)),
        )
        .build()
        .unwrap();

    let started = Instant::now();
    let updated = update_ok(&client, ip_update()).await;

    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(
        updated.attempts, 2,
        "the wait for quota does not use up the single attempt"
    );
    let ids = server.received_requests().await.unwrap();
    assert_eq!(ids[0].headers["x-request-id"], ids[1].headers["x-request-id"]);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_ends_the_call_at_once_with_the_429() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(too_many("45"))
        .mount(&server)
        .await;
    // max_delay is far above the hint: only the deadline can be what refuses the wait.
    let client = key_builder(server.uri())
        .retry(
            RetryPolicy::default()
                .max_delay(Duration::from_secs(3600))
                .deadline(Duration::from_secs(30)),
        )
        .build()
        .unwrap();

    let started = Instant::now();
    let err = update_err(&client, ip_update()).await;

    assert!(err.is_rate_limited(), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(45)));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn retry_after_as_an_rfc_850_date_is_honoured() {
    let server = server().await;
    let at = httpdate_in(Duration::from_secs(2));
    first_then(&server, "PATCH", too_many(&at), 1, ResponseTemplate::new(204)).await;
    let started = Instant::now();
    let client = Client::builder()
        .base_url(server.uri())
        .api_keys(API_KEY, USER_KEY)
        .build()
        .unwrap();
    update_ok(&client, ip_update()).await;
    // The date has one-second resolution: the wait is at least one second.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

/// An RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`) `after` from now.
fn httpdate_in(after: Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap() + chrono::Duration::seconds(1);
    at.format("%A, %d-%b-%y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn a_429_pauses_every_call_that_shares_the_pacer() {
    let server = server().await;
    first_then(&server, "PATCH", too_many("2"), 1, ResponseTemplate::new(204)).await;
    let pacer = Pacer::unlimited();
    let client = Client::builder()
        .base_url(server.uri())
        .api_keys(API_KEY, USER_KEY)
        .pacer(pacer.clone())
        .build()
        .unwrap();
    let spawn_update = |client: &Client| {
        let client = client.clone();
        tokio::spawn(async move { client.update_user_token(portfolio(), token(), ip_update()).await })
    };

    let started = Instant::now();
    let first = spawn_update(&client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pacer.pause().is_some(), "the 429 paused the pacer");
    // Calls made during the pause send nothing until it ends.
    let others: Vec<_> = (0..5).map(|_| spawn_update(&client)).collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "sent during the pause"
    );

    assert_eq!(first.await.unwrap().unwrap().attempts, 2);
    for other in others {
        assert_eq!(other.await.unwrap().unwrap().attempts, 1);
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(server.received_requests().await.unwrap().len(), 7);
}

#[tokio::test]
async fn every_attempt_retries_included_draws_from_the_pacer() {
    let server = server().await;
    first_then(
        &server,
        "PATCH",
        ResponseTemplate::new(503),
        2,
        ResponseTemplate::new(204),
    )
    .await;
    // 4 requests a second: attempts are at least 250 ms apart, whatever the backoff says.
    let client = key_builder(server.uri())
        .pacer(Pacer::new(NonZeroU32::new(4).unwrap(), Duration::from_secs(1)))
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();

    let started = Instant::now();
    let updated = update_ok(&client, ip_update()).await;

    assert_eq!(updated.attempts, 3);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

/// Retries after 1 ms, within `deadline`, each attempt started only with `min_attempt_time` left.
fn tight_deadline(deadline: Duration, min_attempt_time: Duration) -> RetryPolicy {
    RetryPolicy::default()
        .base_delay(Duration::from_millis(1))
        .deadline(deadline)
        .min_attempt_time(min_attempt_time)
}

#[tokio::test]
async fn when_the_deadline_cuts_the_last_attempt_the_real_error_is_reported() {
    // First attempt: 503 with its errorCode. Second: never answers, and the deadline ends it.
    let server = MockServer::start().await;
    first_then(
        &server,
        "PATCH",
        error_answer(503, "ServiceUnavailable", "down"),
        1,
        ResponseTemplate::new(204).set_delay(Duration::from_secs(30)),
    )
    .await;
    let client = key_builder(server.uri())
        .timeout(Duration::from_secs(20))
        .retry(tight_deadline(Duration::from_millis(1500), Duration::from_millis(200)))
        .build()
        .unwrap();

    let err = update_err(&client, ip_update()).await;

    assert_eq!(err.code(), Some("ServiceUnavailable"), "{err}");
    assert_eq!(err.attempts(), 2, "{err}");
}

#[tokio::test]
async fn no_retry_starts_without_the_minimum_time_left() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(700)))
        .mount(&server)
        .await;
    let client = key_builder(server.uri())
        .retry(tight_deadline(Duration::from_secs(1), Duration::from_millis(500)))
        .build()
        .unwrap();

    let err = update_err(&client, ip_update()).await;

    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[test]
fn a_zero_deadline_is_refused_like_a_zero_timeout() {
    let err = Client::builder()
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::default().deadline(Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(err.is_invalid_config(), "{err}");
    assert!(err.to_string().contains("retry deadline"), "{err}");
}

#[tokio::test]
async fn a_v1_route_that_looks_retired_says_so_and_names_the_switch() {
    for (template, retired) in [
        (ResponseTemplate::new(404), true),
        (
            ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
            true,
        ),
        (ResponseTemplate::new(405), true),
        (ResponseTemplate::new(410), true),
        (error_answer(404, "NotFound", "User token not found"), false),
    ] {
        let server = server().await;
        Mock::given(method("PATCH")).respond_with(template).mount(&server).await;
        let err = update_err(&key_client(server.uri()), ip_update()).await;
        assert_eq!(err.v1_may_be_retired(), retired, "{err}");
        assert_eq!(err.to_string().contains("ApiVersion::V2"), retired, "{err}");
    }
    // The same answer to v2 is just a 404.
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let v2 = Client::builder()
        .base_url(server.uri())
        .api_keys(API_KEY, USER_KEY)
        .api_version(etoro_client::ApiVersion::V2)
        .build()
        .unwrap();
    let err = update_err(&v2, ip_update()).await;
    assert!(!err.v1_may_be_retired(), "{err}");
}

#[tokio::test]
async fn the_scope_check_counts_against_the_deadline_and_holds_no_lock_across_the_lookup() {
    // The scopes lookup never answers; the update's deadline still ends the call, and a second call does not
    // queue behind the first.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let client = key_builder(server.uri())
        .check_scopes(Duration::from_secs(60))
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::default().deadline(Duration::from_millis(800)))
        .build()
        .unwrap();
    let with_scopes = || TokenUpdate::new().scope_names(["etoro-public:trade.real:read"]);

    let started = Instant::now();
    let (a, b) = tokio::join!(
        client.update_user_token(portfolio(), token(), with_scopes()),
        client.update_user_token(portfolio(), token(), with_scopes()),
    );
    assert!(matches!(a, Err(Error::Timeout { .. })), "{a:?}");
    assert!(matches!(b, Err(Error::Timeout { .. })), "{b:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.method.as_str() == "GET"),
        "no update was sent without its check"
    );
}
