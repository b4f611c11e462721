//! Shared helpers: a wiremock server that fails loudly on anything unexpected, and clients pointed at it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use etoro_client::{Client, RetryPolicy};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use uuid::Uuid;
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const API_KEY: &str = "test-api-key-5f2b9c";
pub const USER_KEY: &str = "test-user-key-8d41e0";
pub const BEARER: &str = "test-bearer-token-c7a310";
pub const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
pub const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";

/// The path the update of [`PORTFOLIO`]/[`TOKEN`] must go to.
pub fn update_path() -> String {
    format!("/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
}

pub fn portfolio() -> Uuid {
    PORTFOLIO.parse().unwrap()
}

pub fn token() -> Uuid {
    TOKEN.parse().unwrap()
}

/// A server on 127.0.0.1 whose catch-all answers 418 with a message, so a request no test expected shows up as
/// a failing assertion instead of passing by accident. Tests mount their own mocks at a higher priority.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("unexpected request: no mock matched"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// A key-pair client for `server` without retries (the retry tests build their own).
pub fn key_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::none())
        .build()
        .expect("valid test client")
}

/// A bearer-token client for `server` without retries.
pub fn bearer_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .bearer_token(BEARER)
        .retry(RetryPolicy::none())
        .build()
        .expect("valid test client")
}

/// A client pointed at a loopback port where nothing listens: anything it sends fails as a transport error.
pub fn unreachable_client() -> Client {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A TCP server that accepts connections and runs `behaviour` on each; counts connections.
pub async fn raw_server<F, Fut>(behaviour: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(behaviour(stream));
        }
    });
    (url, count)
}

/// Reads one request head (enough for these tests: the bodies are small and arrive with it).
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut buffer = vec![0; 64 * 1024];
    let read = stream.read(&mut buffer).await.unwrap_or(0);
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// Answers `first` to the first `times` requests of `http_method`, then `then` to every later one.
pub async fn first_then(
    server: &MockServer,
    http_method: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method(http_method))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(http_method)).respond_with(then).mount(server).await;
}

/// A server on 127.0.0.1 that gives every request the same answer (`status`, a JSON `body`, `headers`) and records
/// when each arrived. It runs on the caller's runtime, so that a test on a paused clock (`start_paused`) runs the
/// server on that clock too; returns the base URL and the arrival times.
pub async fn answering(
    status: u16,
    body: serde_json::Value,
    headers: &'static [(&'static str, &'static str)],
) -> (String, Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>) {
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    use axum::response::IntoResponse;

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move || {
            seen.lock().unwrap().push(tokio::time::Instant::now());
            let body = body.clone();
            async move {
                let status = StatusCode::from_u16(status).unwrap();
                let mut answer = (status, axum::Json(body)).into_response();
                for (name, value) in headers {
                    answer
                        .headers_mut()
                        .insert(HeaderName::from_static(name), HeaderValue::from_static(value));
                }
                answer
            }
        }
    });
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// A plain reqwest client, for requests written by hand (not the wrapper's).
///
/// With etoro-client's `rustls` feature on, reqwest has no crypto provider of its own (`rustls-no-provider`): the
/// process must install one before reqwest builds a client. A second install is refused, harmlessly.
pub fn raw_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
