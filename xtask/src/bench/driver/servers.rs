//! The loopback servers the bench targets: the eToro mock (every check on) and a bare hyper responder that
//! reads the body and answers 204, to show what the clients cost without the mock's validation.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use etoro_mock::{MockConfig, MockServer};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// Which server a measurement targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

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

async fn start_bare() -> io::Result<(SocketAddr, oneshot::Sender<()>)> {
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
                    tokio::spawn(async move {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(respond))
                            .await;
                    });
                }
            }
        }
    });
    Ok((addr, stop))
}

/// Reads the whole body (as any real handler must, to keep the connection reusable), then answers 204.
async fn respond(request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}
