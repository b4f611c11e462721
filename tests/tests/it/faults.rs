//! Retries, timeouts, redirects and hostile answers, against servers on 127.0.0.1 that misbehave on purpose.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etoro_client::{Client, Error, RetryPolicy};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// A key-pair client with fast retries: backoff from 10 ms, up to `attempts`.
fn retrying_client(base_url: &str, attempts: u32) -> Client {
    key_builder(base_url)
        .retry(
            RetryPolicy::default()
                .max_attempts(attempts)
                .base_delay(Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

async fn request_ids(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| r.headers["x-request-id"].to_str().unwrap().to_owned())
        .collect()
}

/// Answers `status` (with `template` tweaks) to the first `times` requests, then 204.
async fn fail_then_succeed(server: &MockServer, template: ResponseTemplate, times: u64) {
    first_then(server, "PATCH", template, times, ResponseTemplate::new(204)).await;
}

#[tokio::test]
async fn transient_statuses_are_retried_with_the_same_request_id() {
    for status in [429, 500, 502, 503, 504] {
        let server = server().await;
        fail_then_succeed(&server, ResponseTemplate::new(status), 2).await;

        let updated = retrying_client(&server.uri(), 4)
            .update_user_token(portfolio(), token(), ip_update())
            .await
            .unwrap_or_else(|err| panic!("{status}: {err}"));

        assert_eq!(updated.attempts, 3, "{status}");
        let ids = request_ids(&server).await;
        assert_eq!(ids.len(), 3);
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{status}: one x-request-id for every attempt: {ids:?}"
        );
        assert_eq!(updated.request_id.to_string(), ids[0]);
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = server().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({ "errorCode": "TooManyRequests", "errorMessage": "Too many requests" }));
    fail_then_succeed(&server, limited, 1).await;

    let started = Instant::now();
    let updated = update_ok(&retrying_client(&server.uri(), 3), ip_update()).await;

    assert_eq!(updated.attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn other_client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 409, 422] {
        let server = server().await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({ "errorCode": "X" })))
            .mount(&server)
            .await;

        let err = update_err(&retrying_client(&server.uri(), 5), ip_update()).await;

        assert_eq!(err.status().unwrap().as_u16(), status);
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status} must not be retried"
        );
    }
}

#[tokio::test]
async fn the_final_error_says_how_many_attempts_were_made() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;

    let err = update_err(&retrying_client(&server.uri(), 3), ip_update()).await;

    let Error::Api(api) = &err else { panic!("{err:?}") };
    assert_eq!(api.call.attempts, 3);
    assert!(err.to_string().contains("3 attempts"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

/// A server that reads the request and never answers.
async fn silent_server() -> String {
    let (url, _) = raw_server(|mut stream| async move {
        read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(600)).await;
    })
    .await;
    url
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_not_a_hang() {
    let url = silent_server().await;
    let client = key_builder(url)
        .timeout(Duration::from_millis(300))
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .base_delay(Duration::from_millis(10)),
        )
        .build()
        .unwrap();

    let started = Instant::now();
    let err = update_err(&client, ip_update()).await;

    assert!(
        matches!(&err, Error::Timeout { call, .. } if call.attempts == 2),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let url = silent_server().await;
    let client = key_builder(url)
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::default().deadline(Duration::from_millis(400)))
        .build()
        .unwrap();

    let started = Instant::now();
    let err = update_err(&client, ip_update()).await;

    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_connection_reset_mid_response_is_retried_as_a_transport_error() {
    let (url, connections) = raw_server(|mut stream| async move {
        read_request(&mut stream).await;
        // Half a status line, then the connection goes away.
        let _ = stream.write_all(b"HTTP/1.1 204 No Con").await;
        drop(stream);
    })
    .await;

    let err = update_err(&retrying_client(&url, 3), ip_update()).await;

    assert!(
        matches!(&err, Error::Transport { call, .. } if call.attempts == 3),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn redirects_are_not_followed_and_the_target_never_sees_the_keys() {
    let target = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&target)
        .await;
    let location = format!("{}{}", target.uri(), update_path());
    for status in [301, 302, 307, 308] {
        let origin = server().await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(status).insert_header("Location", location.as_str()))
            .mount(&origin)
            .await;

        let err = update_err(&retrying_client(&origin.uri(), 3), ip_update()).await;

        let Error::Redirect { location: seen, .. } = &err else {
            panic!("{status}: {err:?}")
        };
        assert_eq!(seen.as_deref(), Some(location.as_str()));
        assert!(err.to_string().contains(&location));
        assert_eq!(
            origin.received_requests().await.unwrap().len(),
            1,
            "a redirect is not retried"
        );
    }
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "the redirect target got a request"
    );
}

#[tokio::test]
async fn hostile_error_bodies_still_give_a_typed_error() {
    let huge = "<html>".to_owned() + &"x".repeat(5 * 1024 * 1024);
    let cases = [
        (ResponseTemplate::new(500).set_body_string(huge), 500, None),
        (ResponseTemplate::new(500), 500, None),
        (ResponseTemplate::new(404).set_body_string("[1,2,3]"), 404, None),
        (
            ResponseTemplate::new(404).set_body_json(json!({
                "errorCode": "NotFound", "errorMessage": "User token not found", "traceId": 7, "extra": {"a": []}
            })),
            404,
            Some("NotFound"),
        ),
        (
            ResponseTemplate::new(502).set_body_string("<h1>Bad Gateway</h1>"),
            502,
            None,
        ),
    ];
    for (template, status, code) in cases {
        let server = server().await;
        Mock::given(method("PATCH")).respond_with(template).mount(&server).await;

        let err = update_err(&key_client(server.uri()), ip_update()).await;

        let Error::Api(api) = &err else {
            panic!("{status}: {err:?}")
        };
        assert_eq!(api.status.as_u16(), status);
        assert_eq!(api.error_code.as_deref(), code);
        if let Some(snippet) = &api.body_snippet {
            assert!(
                snippet.chars().count() <= 201,
                "the snippet is short: {} chars",
                snippet.len()
            );
        }
        assert!(err.to_string().len() < 1024, "the message stays readable");
    }
}

#[tokio::test]
async fn only_the_documented_success_status_is_success() {
    // A captive portal or a misrouted proxy answering 200 must not read as "updated".
    for (template, status) in [
        (ResponseTemplate::new(200).set_body_json(json!({ "ok": true })), 200),
        (ResponseTemplate::new(202), 202),
        (
            ResponseTemplate::new(200).set_body_string("<html>Welcome to the hotel wifi</html>"),
            200,
        ),
    ] {
        let server = server().await;
        Mock::given(method("PATCH")).respond_with(template).mount(&server).await;
        let err = update_err(&retrying_client(&server.uri(), 3), ip_update()).await;
        let Error::UnexpectedResponse(unexpected) = &err else {
            panic!("{status}: expected UnexpectedResponse, got {err:?}")
        };
        assert_eq!(unexpected.status.map(|s| s.as_u16()), Some(status));
        assert_eq!(unexpected.problem, etoro_client::Problem::UndocumentedStatus);
        assert!(err.outcome_unknown() && !err.is_retryable(), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("outside the spec") && message.contains("may or may not have been applied"),
            "{message}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status}: not retried"
        );
    }
    // The documented 204 is success, whatever stray body it carries.
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204).set_body_string("unexpected body"))
        .mount(&server)
        .await;
    let updated = update_ok(&key_client(server.uri()), ip_update()).await;
    assert_eq!(updated.status, 204);
}

/// Collects everything `tracing` writes while a closure runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn trace_logs_never_show_credentials() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let server = server().await;
            fail_then_succeed(&server, ResponseTemplate::new(503), 1).await;
            for client in [retrying_client(&server.uri(), 3), bearer_client(server.uri())] {
                let _ = client.update_user_token(portfolio(), token(), ip_update()).await;
            }
        });
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying") && logs.contains("updateUserToken"),
        "the retry is logged: {logs}"
    );
    // Inside the call's one span, which names the operation, the ids, the request id and the attempt.
    let retry_line = logs.lines().find(|line| line.contains("retrying")).unwrap();
    for field in [
        "etoro.call{",
        "operation=\"updateUserToken\"",
        &format!("portfolio={PORTFOLIO}"),
        &format!("token={TOKEN}"),
        "request_id=",
        "attempt=1",
    ] {
        assert!(retry_line.contains(field), "{field} in the span: {retry_line}");
    }
    for secret in [API_KEY, USER_KEY, BEARER] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn a_reset_halfway_through_the_body_is_retried_under_the_same_request_id() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let (url, connections) = raw_server(move |mut stream| {
        let record = record.clone();
        async move {
            let request = read_request(&mut stream).await;
            let first = {
                let mut seen = record.lock().unwrap();
                seen.push(request);
                seen.len() == 1
            };
            let body =
                r#"{"scopes":[{"name":"etoro-public:trade.real:read"},{"name":"etoro-public:trade.real:write"}]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            if first {
                // The head and half the body, then a reset.
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body.as_bytes()[..body.len() / 2]).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.set_zero_linger();
                return;
            }
            let _ = stream.write_all((head + body).as_bytes()).await;
        }
    })
    .await;

    let scopes = retrying_client(&url, 3).allowed_scopes().await.unwrap();

    assert_eq!(scopes.len(), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    let ids: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|request| {
            request
                .lines()
                .find_map(|line| line.strip_prefix("x-request-id: "))
                .expect("every attempt carries x-request-id")
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "one x-request-id for both attempts");
}

/// Many calls at once on a multi-thread runtime, each answered with its own non-JSON error status, next to dry
/// runs: each error keeps its own status (the per-attempt record never leaks between calls), and a dry run never
/// captures a real send nor sends anything itself.
///
/// The server is a raw one (wiremock's `Drop` can deadlock on a multi-thread runtime); it answers from the path.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_keep_their_own_status_and_dry_runs_stay_apart() {
    const STATUSES: [u16; 8] = [400, 401, 403, 404, 409, 418, 422, 451];
    let tokens: Vec<uuid::Uuid> = (0..64).map(|_| uuid::Uuid::new_v4()).collect();
    let statuses: Arc<std::collections::HashMap<String, u16>> = Arc::new(
        tokens
            .iter()
            .enumerate()
            .map(|(index, token)| (token.to_string(), STATUSES[index % STATUSES.len()]))
            .collect(),
    );
    let (url, connections) = raw_server(move |mut stream| {
        let statuses = statuses.clone();
        async move {
            let request = read_request(&mut stream).await;
            let path = request.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let token = path.rsplit('/').next().unwrap_or_default();
            let status = statuses.get(token).copied().unwrap_or(500);
            tokio::time::sleep(Duration::from_millis(fastrand_ms(status as usize + token.len()))).await;
            let body = format!("<html><h1>{status}</h1></html>");
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    })
    .await;
    let client = retrying_client(&url, 1);
    let mut sends = Vec::new();
    let mut dry_runs = Vec::new();
    for (index, token) in tokens.iter().copied().enumerate() {
        let sender = client.clone();
        sends.push(tokio::spawn(async move {
            (
                index,
                token,
                sender.update_user_token(portfolio(), token, ip_update()).await,
            )
        }));
        let preparer = client.clone();
        dry_runs.push(tokio::spawn(async move {
            let prepared = preparer
                .update_user_token(portfolio(), token, ip_update())
                .dry_run()
                .await;
            (token, prepared)
        }));
    }
    for task in sends {
        let (index, token, result) = task.await.unwrap();
        let err = result.expect_err("every real send is answered with an error");
        let expected = STATUSES[index % STATUSES.len()];
        assert_eq!(err.status().map(|s| s.as_u16()), Some(expected), "{err}");
        assert_eq!(err.call().and_then(|call| call.token), Some(token));
        assert!(err.to_string().contains(&format!("<h1>{expected}</h1>")), "{err}");
    }
    for task in dry_runs {
        let (token, prepared) = task.await.unwrap();
        let prepared = prepared.expect("a dry run of a valid update");
        assert!(prepared.url.ends_with(&token.to_string()), "{}", prepared.url);
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        tokens.len(),
        "dry runs sent nothing"
    );
}

/// A deterministic spread of small delays, so the answers interleave.
fn fastrand_ms(index: usize) -> u64 {
    (index as u64 * 7919) % 40
}
