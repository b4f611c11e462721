//! The loopback servers the bench targets: the eToro mock (every check on; for the quota measurement, with a
//! quota), a bare hyper responder that reads the body and answers 204, to show what the clients cost without the
//! mock's validation, and a proxy that removes the mock's `RateLimit-*` headers (the mock always sends them with
//! a quota), to see how a bulk run paces itself from 429s alone; and a hostile server that answers every request
//! eToro's 429 without any hint of when to come back.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use etoro_mock::{MockConfig, MockServer};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// Which server a measurement targets (and `xtask-bench probe`'s argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `etoro_mock::MockServer` with the default configuration: authentication, ids, body and rules checked.
    Mock,
    /// A bare hyper HTTP/1.1 responder: 204 for anything.
    Bare,
}

impl Kind {
    /// The key used in `results.json`.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Mock => "mock",
            Kind::Bare => "bare",
        }
    }

    /// The name used in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Mock => "mock (validating)",
            Kind::Bare => "bare hyper 204",
        }
    }
}

/// The servers, on their own runtime so that they never share worker threads with a client under test (they do
/// share the machine's cores).
pub struct Servers {
    runtime: Runtime,
    bare: Option<(SocketAddr, oneshot::Sender<()>)>,
}

/// One running target: a fresh mock per run (its request record grows with every request), or the shared bare
/// responder.
pub struct Running {
    base_url: String,
    mock: Option<MockServer>,
}

impl Running {
    /// The URL to point a client at.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many requests the mock received (None for the bare responder, which does not count).
    pub fn requests_seen(&self) -> Option<usize> {
        self.mock.as_ref().map(MockServer::request_count)
    }

    /// The mock, when the target is one.
    pub fn mock(&self) -> Option<&MockServer> {
        self.mock.as_ref()
    }
}

/// A proxy in front of a target that removes the `RateLimit-*` headers from its answers (not `Retry-After`).
/// It stops when dropped.
pub struct StrippingProxy {
    base_url: String,
    _stop: oneshot::Sender<()>,
}

impl StrippingProxy {
    /// The URL to point a client at.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// A server that answers every request `429 {"errorCode":"TooManyRequests","errorMessage":"Too many requests"}`
/// (eToro's documented answer) with no `Retry-After` and no `RateLimit-*` headers, and counts the requests. It
/// stops when dropped.
pub struct AlwaysRateLimited {
    base_url: String,
    requests: Arc<AtomicUsize>,
    _stop: oneshot::Sender<()>,
}

impl AlwaysRateLimited {
    /// The URL to point a client at.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The headers the proxy removes.
const RATE_LIMIT_HEADERS: [&str; 4] = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
];

impl Servers {
    /// Starts the server runtime (two workers) and the bare responder.
    pub fn start() -> io::Result<Servers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-server")
            .enable_all()
            .build()?;
        let bare = runtime.block_on(start_bare())?;
        Ok(Servers {
            runtime,
            bare: Some(bare),
        })
    }

    /// A target of this kind: a fresh mock, or the bare responder.
    pub fn target(&self, kind: Kind) -> io::Result<Running> {
        match kind {
            Kind::Mock => {
                let mock = self
                    .runtime
                    .block_on(MockServer::start(([127, 0, 0, 1], 0).into(), MockConfig::default()))?;
                Ok(Running {
                    base_url: mock.base_url(),
                    mock: Some(mock),
                })
            }
            Kind::Bare => {
                let (addr, _) = self.bare.as_ref().expect("the bare responder runs until drop");
                Ok(Running {
                    base_url: format!("http://{addr}"),
                    mock: None,
                })
            }
        }
    }

    /// A fresh mock with `config` (a quota, say).
    pub fn mock_with(&self, config: MockConfig) -> io::Result<Running> {
        let mock = self
            .runtime
            .block_on(MockServer::start(([127, 0, 0, 1], 0).into(), config))?;
        Ok(Running {
            base_url: mock.base_url(),
            mock: Some(mock),
        })
    }

    /// A proxy to `target` that strips the `RateLimit-*` headers, on the servers' runtime.
    pub fn stripping_proxy(&self, target: &Running) -> io::Result<StrippingProxy> {
        let upstream = target.base_url.clone();
        let (addr, stop) = self.runtime.block_on(start_proxy(upstream))?;
        Ok(StrippingProxy {
            base_url: format!("http://{addr}"),
            _stop: stop,
        })
    }

    /// A fresh [`AlwaysRateLimited`] server, on the servers' runtime.
    pub fn always_rate_limited(&self) -> io::Result<AlwaysRateLimited> {
        let requests = Arc::new(AtomicUsize::new(0));
        let (addr, stop) = self.runtime.block_on(start_always_429(requests.clone()))?;
        Ok(AlwaysRateLimited {
            base_url: format!("http://{addr}"),
            requests,
            _stop: stop,
        })
    }

    /// Stops a target (a mock; the bare responder keeps running), waiting at most a few seconds.
    pub fn stop(&self, running: Running) {
        if let Some(mock) = running.mock {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(5), mock.shutdown()).await;
            });
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some((_, stop)) = self.bare.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds a free port on 127.0.0.1 and answers every request there with `handle` (HTTP/1.1), each connection
/// on a task of its own, until the returned sender fires or is dropped.
async fn serve<Handle, Answer, Body, Error>(handle: Handle) -> io::Result<(SocketAddr, oneshot::Sender<()>)>
where
    Handle: Fn(Request<Incoming>) -> Answer + Clone + Send + 'static,
    Answer: Future<Output = Result<Response<Body>, Error>> + Send + 'static,
    Body: hyper::body::Body + Send + 'static,
    Body::Data: Send,
    Body::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle)).await;
                    });
                }
            }
        }
    });
    Ok((addr, stop))
}

async fn start_bare() -> io::Result<(SocketAddr, oneshot::Sender<()>)> {
    serve(respond).await
}

/// A server that answers every request 429 without any hint of when to come back, counting them in `requests`.
async fn start_always_429(requests: Arc<AtomicUsize>) -> io::Result<(SocketAddr, oneshot::Sender<()>)> {
    serve(move |request: Request<Incoming>| {
        requests.fetch_add(1, Ordering::SeqCst);
        async move {
            let _ = request.into_body().collect().await;
            let body = r#"{"errorCode":"TooManyRequests","errorMessage":"Too many requests"}"#;
            let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response.headers_mut().insert(
                "content-type",
                hyper::header::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(response)
        }
    })
    .await
}

/// A proxy to `upstream` that strips the `RateLimit-*` headers from every answer.
async fn start_proxy(upstream: String) -> io::Result<(SocketAddr, oneshot::Sender<()>)> {
    let client: HyperClient<HttpConnector, Incoming> = HyperClient::builder(TokioExecutor::new()).build_http();
    serve(move |request| forward(client.clone(), upstream.clone(), request)).await
}

/// Sends `request` on to `upstream` and answers with its answer, less the `RateLimit-*` headers.
async fn forward(
    client: HyperClient<HttpConnector, Incoming>,
    upstream: String,
    mut request: Request<Incoming>,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
    let path = request.uri().path_and_query().map_or("/", |path| path.as_str());
    if let Ok(uri) = format!("{upstream}{path}").parse() {
        *request.uri_mut() = uri;
    }
    let mut response = client.request(request).await?;
    for name in RATE_LIMIT_HEADERS {
        response.headers_mut().remove(name);
    }
    Ok(response)
}

/// Reads the whole body (as any real handler must, to keep the connection reusable), then answers 204.
async fn respond(request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
