//! A local stand-in for eToro's user-token endpoints, for tests, demos and benchmarks:
//!
//! - `PATCH /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` ("Update User Token");
//! - `PATCH /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (its v2, by scope name only);
//! - `GET /api/v2/agent-portfolios/user-tokens/scopes` (the scope names v2 allows).
//!
//! It checks requests as `openapi/etoro-user-tokens.json` describes them (authentication, `x-request-id`, path
//! ids, the body, the update rules, unknown ids) and can inject the faults a client must survive: latency,
//! dropped connections, rate limits and server errors. It records every request it receives.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use etoro_mock::{MockConfig, MockServer};
//!
//! let server = MockServer::start("127.0.0.1:0".parse().unwrap(), MockConfig::default()).await?;
//! println!("eToro mock listening on {}", server.base_url());
//! // ... point a client at server.base_url() ...
//! assert!(server.requests().iter().all(|r| r.status == 204));
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The mock never logs; header values, secrets included, are only kept in memory for [`MockServer::requests`].
#![deny(missing_docs)]

mod config;
mod endpoint;
mod error;
mod faults;
mod record;
mod reset;

use std::future::IntoFuture;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::routing::{get, patch};
use axum::Router;
use etoro_client::types::{UpdateUserTokenRequest, UpdateUserTokenV2Request};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Faults, MockConfig, DEFAULT_RECORD_LIMIT};
pub use record::RecordedRequest;

use endpoint::AppState;
use record::Recorder;
use reset::{KillSwitch, ResettableListener};

/// The mock's routes, to embed in another axum server.
///
/// It behaves as [`MockServer`] does, with one difference: the reset fault cannot close a connection it does
/// not own, so it answers with a body that fails at once, which hyper turns into an aborted connection. The
/// recorded requests of an embedded router are not reachable; use [`MockServer`] to inspect them.
pub fn router(config: MockConfig) -> Router {
    build(config).0
}

/// The router and the recorder behind it.
fn build(config: MockConfig) -> (Router, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::new(config.record_limit));
    let router = Router::new()
        .route(
            endpoint::PATH_V1,
            patch(endpoint::update_user_token::<UpdateUserTokenRequest>).fallback(endpoint::no_route),
        )
        .route(
            endpoint::PATH_V2,
            patch(endpoint::update_user_token::<UpdateUserTokenV2Request>).fallback(endpoint::no_route),
        )
        .route(
            endpoint::SCOPES_PATH,
            get(endpoint::get_allowed_scopes).fallback(endpoint::no_route),
        )
        .fallback(endpoint::no_route)
        .with_state(Arc::new(AppState::new(config)))
        // Outermost, so that it sees every request, unknown routes included, before any check.
        .layer(axum::middleware::from_fn_with_state(recorder.clone(), record::record));
    (router, recorder)
}

/// A running mock server on a local socket.
///
/// Dropping it stops the server too (gracefully, in the background); [`MockServer::shutdown`] also waits for the
/// stop.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
    // Dropping the sender is a shutdown signal as well, which is what makes a dropped server stop.
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl MockServer {
    /// Binds `bind` (port 0 picks a free port) and serves the mock on the current tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(bind: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let (router, recorder) = build(config);
        let (stop, stopped) = oneshot::channel::<()>();
        // The connect info hands each request the kill switch of its own connection, for the reset fault.
        let serve = axum::serve(
            ResettableListener(listener),
            router.into_make_service_with_connect_info::<KillSwitch>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve.into_future());
        Ok(MockServer {
            addr,
            recorder,
            stop,
            task,
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to point a client at, e.g. `http://127.0.0.1:41234`.
    ///
    /// A server bound to an unspecified address (`0.0.0.0`, `::`) is reached through loopback, since the
    /// unspecified address is not a destination.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// How many requests reached the server so far, on any route, counted on arrival.
    pub fn request_count(&self) -> usize {
        self.recorder.count()
    }

    /// A copy of the requests received so far, in arrival order: the latest [`MockConfig::record_limit`] of them.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.snapshot()
    }

    /// Stops accepting connections, lets requests in progress finish (latency included), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        // Serving cannot fail once bound (axum retries accept errors), and a panicked task has nothing to return.
        let _ = self.task.await;
    }
}
