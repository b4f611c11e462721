//! Local servers on 127.0.0.1: wiremock with a catch-all that fails loudly, raw TCP for answers no HTTP library
//! would write, an axum server on the caller's runtime (and clock), and the mock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// eToro's error answer: `status` with the body `{"errorCode": code, "errorMessage": message}`.
pub fn error_answer(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({ "errorCode": code, "errorMessage": message }))
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

/// A TCP server that accepts connections and runs `behaviour` on each; returns its URL and the count of
/// connections.
pub async fn raw_server<F, Fut>(behaviour: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
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
pub async fn read_request(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0; 64 * 1024];
    let read = stream.read(&mut buffer).await.unwrap_or(0);
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// A server on 127.0.0.1 that gives every request the same answer (`status`, a JSON `body`, `headers`) and records
/// when each arrived. It runs on the caller's runtime, so that a test on a paused clock (`start_paused`) runs the
/// server on that clock too; returns the base URL and the arrival times.
pub async fn answering(
    status: u16,
    body: serde_json::Value,
    headers: &'static [(&'static str, &'static str)],
) -> (String, Arc<Mutex<Vec<Instant>>>) {
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    use axum::response::IntoResponse;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move || {
            seen.lock().unwrap().push(Instant::now());
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
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// `etoro-mock` with `config` on an ephemeral loopback port.
pub async fn start_mock(config: etoro_mock::MockConfig) -> etoro_mock::MockServer {
    etoro_mock::MockServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("the mock starts")
}
