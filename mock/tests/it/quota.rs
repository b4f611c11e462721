//! eToro's quota: one pool per credential with `RateLimit-*` headers, the background load, no quota.

use std::time::Duration;

use etoro_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn the_quota_is_kept_per_credential_with_ratelimit_headers() {
    let server = start(MockConfig {
        quota: Some("3/2s".parse().unwrap()),
        ..MockConfig::example()
    })
    .await;
    let mut remaining = Vec::new();
    for body in [
        json!({"ipsWhitelist": ["10.0.0.1"]}),
        json!({}),
        json!({"ipsWhitelist": ["10.0.0.2"]}),
    ] {
        // A refused body (the 400 in the middle) counts too: it reached the operation with a credential.
        let response = update(&server, 2, PORTFOLIO, TOKEN, body).await;
        assert_eq!(header(&response, "ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(header(&response, "ratelimit-policy").as_deref(), Some("3;w=2"));
        let reset: u64 = header(&response, "ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=2).contains(&reset), "{reset}");
        assert!(header(&response, "retry-after").is_none());
        remaining.push(header(&response, "ratelimit-remaining").unwrap());
    }
    assert_eq!(remaining, ["2", "1", "0"]);

    let response = list_response(&server, keys).await;
    assert_eq!(header(&response, "ratelimit-remaining").as_deref(), Some("0"));
    let retry_after: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
    assert_eq!(Some(retry_after.to_string()), header(&response, "ratelimit-reset"));
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_of(response).await,
        refusal(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests")
    );
    assert_eq!(server.rate_limited_count(), 1);

    // Another user key, and a bearer token, have pools of their own.
    let response = list_response(&server, |r| {
        r.header("x-api-key", API_KEY).header("x-user-key", "another-user-key")
    })
    .await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    let response = list_response(&server, |r| r.bearer_auth("a-bearer-token")).await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    // Without any credential there is no pool to draw from: 401, no headers.
    let response = list_response(&server, |r| r).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "ratelimit-limit").is_none());

    // Once the window is over, the pool is whole again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let response = list_response(&server, keys).await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    assert_eq!(server.rate_limited_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_background_load_draws_from_the_same_pool() {
    // The background uses one request a millisecond: after the pool's first request it leaves nothing.
    let server = start(MockConfig {
        quota: Some("5/10s".parse().unwrap()),
        quota_background: Some("1000/1s".parse().unwrap()),
        ..MockConfig::example()
    })
    .await;
    let first = list_response(&server, |r| r.bearer_auth("t")).await;
    assert_eq!(first.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = list_response(&server, |r| r.bearer_auth("t")).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&second, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(server.rate_limited_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_quota_there_are_no_ratelimit_headers() {
    let server = start(MockConfig::example()).await;
    for _ in 0..100 {
        let response = list_response(&server, |r| r.bearer_auth("t")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "ratelimit-limit").is_none() && header(&response, "ratelimit-policy").is_none());
    }
    assert_eq!(server.rate_limited_count(), 0);
    server.shutdown().await;
}
