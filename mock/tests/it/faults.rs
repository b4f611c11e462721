//! Injected faults: one counter for every endpoint, 429s, 500s, dropped connections, latency.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use etoro_mock::Faults;
use reqwest::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn faults_share_one_counter_across_the_endpoints() {
    let faults = Faults {
        rate_limit_every: Some(2),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let v2_body = json!({"scopeNames": ["etoro-public:trade.real:read"]});
    let requests = [
        valid(&c, &server),
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&v2_body),
        valid(&c, &server),
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&v2_body),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [204, 429, 204, 429, 200, 429]);
    server.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_the_v2_routes() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    for request in [
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&json!({"ipsWhitelist": ["10.0.0.1"]})),
        // Before auth, as for v1.
        c.get(scopes_url(&server)),
    ] {
        let message = expect_error(
            request.send().await.unwrap(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnhandledException",
        )
        .await;
        assert_eq!(message, "Global Error");
    }
    server.shutdown().await;

    let faults = Faults {
        reset_every: Some(1),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let err = get_scopes(&c, &server)
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.status().is_none(), "{err:?}");
    let err = patch_v2(&c, &server)
        .json(&json!({"ipsWhitelist": ["10.0.0.1"]}))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.status().is_none(), "{err:?}");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 0]);
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limit_every_nth_with_retry_after() {
    let faults = Faults {
        rate_limit_every: Some(2),
        retry_after: Duration::from_secs(3),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = valid(&c, &server).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "3");
            let message = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").await;
            assert_eq!(message, "Too many requests");
        }
    }
    assert_eq!(statuses, [204, 429, 204, 429]);
    server.shutdown().await;
}

#[tokio::test]
async fn faults_come_before_auth() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let message = expect_error(
        valid(&c, &server).send().await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "UnhandledException",
    )
    .await;
    assert_eq!(message, "Global Error");
    // Even an unauthenticated request gets the fault: the server is failing, not checking.
    let response = c.patch(url(&server, PORTFOLIO, TOKEN)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    server.shutdown().await;
}

#[tokio::test]
async fn reset_every_nth_is_a_transport_error() {
    let faults = Faults {
        reset_every: Some(2),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // The second request reuses the pooled connection, which the server then drops.
    let err = valid(&c, &server).send().await.expect_err("the connection is dropped");
    assert!(err.status().is_none() && err.is_request(), "{err:?}");
    // The client recovers on a new connection.
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );

    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 0, 204], "a reset request is recorded with status 0");
    server.shutdown().await;
}

#[tokio::test]
async fn reset_of_an_embedded_router_is_a_transport_error_too() {
    let faults = Faults {
        reset_every: Some(1),
        ..Faults::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, etoro_mock::router(with_faults(faults)).unwrap()).into_future());
    let response = client()
        .patch(format!(
            "http://{addr}/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}"
        ))
        .bearer_auth("t")
        .header("x-request-id", REQUEST_ID)
        .json(&json!({"scopeIds": [200]}))
        .send()
        .await;
    // Either the head never arrives, or the body breaks off: never a complete answer.
    match response {
        Err(err) => assert!(err.status().is_none(), "{err:?}"),
        Ok(response) => assert!(response.bytes().await.is_err()),
    }
    server.abort();
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let faults = Faults {
        latency: Duration::from_millis(200),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let started = Instant::now();
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn latency_does_not_serialise_requests() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let started = Instant::now();
    let (a, b) = tokio::join!(valid(&c, &server).send(), valid(&c, &server).send());
    assert_eq!(
        (a.unwrap().status(), b.unwrap().status()),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}
