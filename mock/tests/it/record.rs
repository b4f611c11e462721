//! The request record (bounded in count and bytes, counting everything), the log file, and shutdown.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use etoro_mock::{Faults, MockConfig, MockServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn records_every_request() {
    let server = start(MockConfig::default()).await;
    assert_eq!(server.request_count(), 0);
    let c = client();
    valid(&c, &server).send().await.unwrap();
    c.get(format!("{}/health", server.base_url())).send().await.unwrap();
    c.patch(url(&server, PORTFOLIO, TOKEN)).send().await.unwrap();
    assert_eq!(server.request_count(), 3);

    let requests = server.requests();
    let first = &requests[0];
    assert_eq!(first.method, "PATCH");
    assert_eq!(
        first.path,
        format!("/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
    );
    assert_eq!(first.header("X-Request-Id"), Some(REQUEST_ID));
    assert_eq!(first.header("x-api-key"), Some(API_KEY));
    assert_eq!(first.header("x-user-key"), Some(USER_KEY));
    assert_eq!(
        serde_json::from_slice::<Value>(&first.body).unwrap(),
        json!({"scopeIds": [211, 212]})
    );
    assert_eq!(first.status, 204);
    assert_eq!(
        (
            requests[1].method.as_str(),
            requests[1].path.as_str(),
            requests[1].status
        ),
        ("GET", "/health", 404)
    );
    assert_eq!(requests[2].status, 401);

    // Secrets stay out of Debug output.
    let shown = format!("{first:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains(REQUEST_ID));
    server.shutdown().await;
}

#[tokio::test]
async fn request_count_includes_requests_still_waiting() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let server = start(with_faults(faults)).await;
    let c = client();
    let pending = tokio::spawn(valid(&c, &server).send());
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.request_count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.request_count(), 1);
    assert_eq!(server.requests()[0].status, 0, "not answered yet");
    assert_eq!(pending.await.unwrap().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(server.requests()[0].status, 204);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = start(MockConfig::default()).await;
    let base_url = server.base_url();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert_eq!(
        server.addr().port(),
        base_url.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    );
    let c = client();
    valid(&c, &server).send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown is prompt");
    let err = c
        .get(format!("{base_url}/"))
        .send()
        .await
        .expect_err("nothing listens any more");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

#[tokio::test]
async fn the_record_is_bounded_but_the_count_is_not() {
    let config = MockConfig {
        record_limit: 3,
        ..MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let client = client();
    for i in 0..5 {
        client
            .get(format!("{}/nowhere/{i}", server.base_url()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 5);
    let kept: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        kept,
        ["/nowhere/2", "/nowhere/3", "/nowhere/4"],
        "the latest three are kept"
    );
    assert!(
        server.requests().iter().all(|r| r.status == 404),
        "statuses land on the kept records"
    );
}

#[tokio::test]
async fn the_record_keeps_at_most_its_bytes_but_counts_everything() {
    let limit = 1024 * 1024;
    let server = start(MockConfig {
        record_bytes_limit: limit,
        ..MockConfig::default()
    })
    .await;
    let body = vec![b'x'; 300 * 1024];
    for i in 0..12 {
        client()
            .post(format!("{}/nowhere/{i}", server.base_url()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 12);
    let kept = server.requests();
    assert!(server.recorded_bytes() <= limit, "{}", server.recorded_bytes());
    assert_eq!(server.recorded_bytes(), kept.iter().map(|r| r.size()).sum::<usize>());
    let paths: Vec<&str> = kept.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/nowhere/9", "/nowhere/10", "/nowhere/11"],
        "the latest are kept"
    );
    assert!(kept.iter().all(|r| r.status == 404));

    // A request bigger than the whole bound is counted, not kept.
    client()
        .post(format!("{}/nowhere/big", server.base_url()))
        .body(vec![b'y'; limit + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(server.request_count(), 13);
    assert!(server.recorded_bytes() <= limit);
    server.shutdown().await;
}

#[tokio::test]
async fn the_default_record_bound_holds_under_big_bodies() {
    let server = start(MockConfig::default()).await;
    let body = vec![b'z'; 2 * 1024 * 1024 - 4096];
    for _ in 0..12 {
        client()
            .post(format!("{}/nowhere", server.base_url()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 12);
    assert!(server.recorded_bytes() <= etoro_mock::DEFAULT_RECORD_BYTES_LIMIT);
    assert_eq!(
        server.requests().len(),
        8,
        "16 MiB holds eight bodies of just under 2 MiB"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_log_gets_one_line_per_request_and_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.jsonl");
    let server = start(MockConfig {
        log: Some(path.clone()),
        ..MockConfig::example()
    })
    .await;
    let response = update(&server, 2, PORTFOLIO, TOKEN, json!({"ipsWhitelist": ["10.0.0.1"]})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let created: Value = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "logged", "scopeNames": ["etoro-public:trade.real:read"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    list_response(&server, |r| r.bearer_auth("bearer-secret-9d1c")).await;
    client()
        .post(format!("{}/nowhere", server.base_url()))
        .body("plain \u{1b}[2J text")
        .send()
        .await
        .unwrap();
    server.shutdown().await;

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        API_KEY,
        USER_KEY,
        "bearer-secret-9d1c",
        created["userToken"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<(&str, u64)> = lines
        .iter()
        .map(|l| (l["method"].as_str().unwrap(), l["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(summary, [("PATCH", 204), ("POST", 201), ("GET", 200), ("POST", 404)]);
    assert_eq!(lines[0]["body"], json!({"ipsWhitelist": ["10.0.0.1"]}));
    assert_eq!(lines[0]["headers"]["x-user-key"], "[REDACTED]");
    assert_eq!(lines[2]["headers"]["authorization"], "[REDACTED]");
    assert_eq!(lines[3]["body"], "plain \u{1b}[2J text");
    assert!(lines
        .iter()
        .all(|l| l["time"].as_str().unwrap().parse::<DateTime<Utc>>().is_ok()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn an_unwritable_log_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        MockConfig {
            log: Some(dir.path().join("no/such/dir/requests.jsonl")),
            ..MockConfig::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
