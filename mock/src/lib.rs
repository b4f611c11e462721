//! A local stand-in for eToro's agent-portfolio user-token API, for tests, demos and benchmarks. It serves the six
//! operations of `openapi/etoro-user-tokens.json`:
//!
//! - `GET /api/v1/agent-portfolios` (list every agent-portfolio with its tokens, never their secrets);
//! - `PATCH /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (update, v1, deprecated);
//! - `DELETE` on the same path (revoke);
//! - `PATCH /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (update, v2, by scope name);
//! - `POST /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens` (create; the answer holds the secret, once);
//! - `GET /api/v2/agent-portfolios/user-tokens/scopes` (the scope names a token may hold).
//!
//! It is an independent reading of the spec: the document is embedded at compile time and every request body is
//! checked against the operation's request schema with `jsonschema` (a violation is a 400 naming the field and
//! the keyword), then read into the mock's own types. It does not use `etoro-client`, so a serialization mistake
//! in the client cannot pass because the mock shares it. On top of the schema it applies the rules the spec
//! states in prose: authentication (the key pair or a bearer token, never both), `x-request-id`, path ids, at
//! least one field, never both `scopeIds` and `scopeNames`, an expiry in the future, scope ids and v2 names from
//! the allowed lists.
//!
//! It keeps state ([`MockConfig::portfolios`], [`MockServer::portfolios`]): an update changes what the listing
//! shows, a create adds a token, a revoke removes it. In the open world (the default) every well-formed id exists;
//! in the closed world ([`World::Closed`]) only what the mock holds does, as with eToro. It can keep eToro's
//! quota ([`MockConfig::quota`]: one pool per credential, `RateLimit-*` headers, 429 with `Retry-After`), inject
//! the faults a client must survive (latency, dropped connections, 429s, 500s: [`Faults`]), record every
//! request it receives (bounded in count and bytes) and append them to a log file ([`MockConfig::log`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use etoro_mock::{MockConfig, MockServer, Portfolio, World};
//!
//! let config = MockConfig {
//!     world: World::Closed,
//!     portfolios: vec![Portfolio::example()],
//!     ..MockConfig::default()
//! };
//! let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("eToro mock listening on {}", server.base_url());
//! // ... point a client at server.base_url() ...
//! assert!(server.requests().iter().all(|r| r.status == 204));
//! println!("{} token(s) now", server.portfolios()[0].tokens.len());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Header values, secrets included, are kept in memory for [`MockServer::requests`] only; the request log
//! redacts `authorization`, `x-api-key` and `x-user-key`, and the secret of a created token is in its answer
//! and nowhere else.
#![deny(missing_docs)]

mod body;
mod config;
mod documented;
mod endpoint;
mod error;
mod faults;
mod log;
mod quota;
mod record;
mod reset;
mod seed;
mod spec;
mod store;
mod wire;

use std::future::IntoFuture;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::routing::{get, patch, post, MethodRouter};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    Faults, MockConfig, World, DEFAULT_MAX_TOKENS_PER_PORTFOLIO, DEFAULT_RECORD_BYTES_LIMIT, DEFAULT_RECORD_LIMIT,
};
pub use documented::{documented_answers, DocumentedAnswer, Operation};
pub use quota::{Quota, QuotaError};
pub use record::RecordedRequest;
pub use seed::{Portfolio, SeedError, Token};

use endpoint::AppState;
use record::Recorder;
use reset::{KillSwitch, ResettableListener};

/// The mock's routes, to embed in another axum server.
///
/// It behaves as [`MockServer`] does, with two differences: the reset fault cannot close a connection it does
/// not own, so it answers with a body that fails at once, which hyper turns into an aborted connection; and the
/// recorded requests and the state are not reachable (use [`MockServer`] to inspect them).
///
/// # Errors
/// When [`MockConfig::log`] cannot be opened for appending.
pub fn router(config: MockConfig) -> io::Result<Router> {
    Ok(build(config)?.0)
}

/// The router, and the recorder and state behind it.
fn build(config: MockConfig) -> io::Result<(Router, Arc<Recorder>, Arc<AppState>)> {
    let file = match config.log.as_deref() {
        // The error names the file: "No such file or directory" alone would read as the address's fault.
        Some(path) => Some(log::RequestLog::open(path).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot open the request log {}: {err}", path.display()),
            )
        })?),
        None => None,
    };
    let recorder = Arc::new(Recorder::new(config.record_limit, config.record_bytes_limit, file));
    let state = Arc::new(AppState::new(config));
    let router = Router::new()
        .route(endpoint::PATH_LIST, with_allow(get(endpoint::list), "GET"))
        .route(
            endpoint::PATH_TOKEN_V1,
            with_allow(patch(endpoint::update_v1).delete(endpoint::revoke), "PATCH, DELETE"),
        )
        .route(endpoint::PATH_TOKEN_V2, with_allow(patch(endpoint::update_v2), "PATCH"))
        .route(endpoint::PATH_CREATE, with_allow(post(endpoint::create), "POST"))
        .route(endpoint::PATH_SCOPES, with_allow(get(endpoint::scopes), "GET"))
        .fallback(endpoint::no_route)
        .with_state(state.clone())
        // Outermost, so that it sees every request, unknown routes included, before any check.
        .layer(axum::middleware::from_fn_with_state(recorder.clone(), record::record));
    Ok((router, recorder, state))
}

/// Answers any method the spec does not give the path with 405 and this `Allow`.
fn with_allow(methods: MethodRouter<Arc<AppState>>, allow: &'static str) -> MethodRouter<Arc<AppState>> {
    methods.fallback(move |method: Method, uri: Uri| endpoint::method_not_allowed(allow, method, uri))
}

/// A running mock server on a local socket.
///
/// Dropping it stops the server too (gracefully, in the background); [`MockServer::shutdown`] also waits for the
/// stop.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    recorder: Arc<Recorder>,
    state: Arc<AppState>,
    // Dropping the sender is a shutdown signal as well, which is what makes a dropped server stop.
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl MockServer {
    /// Binds `bind` (port 0 picks a free port) and serves the mock on the current tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be bound, or [`MockConfig::log`] cannot be opened for appending.
    pub async fn start(bind: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let (router, recorder, state) = build(config)?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|err| io::Error::new(err.kind(), format!("cannot listen on {bind}: {err}")))?;
        let addr = listener.local_addr()?;
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
            state,
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

    /// A copy of the requests received so far, in arrival order: the latest of them, at most
    /// [`MockConfig::record_limit`] and [`MockConfig::record_bytes_limit`] bytes (see [`RecordedRequest::size`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.snapshot()
    }

    /// How many bytes the kept requests take, as [`MockConfig::record_bytes_limit`] counts them.
    pub fn recorded_bytes(&self) -> usize {
        self.recorder.bytes()
    }

    /// How many 429 `TooManyRequests` answers the mock sent: those of the quota and those of
    /// [`Faults::rate_limit_every`]. A create refused with `MaxUserTokensExceeded` is a 429 too, but not rate
    /// limiting (waiting does not help), so it is not counted.
    pub fn rate_limited_count(&self) -> u64 {
        self.state.rate_limited.load(Ordering::Relaxed)
    }

    /// A snapshot of the state: every agent-portfolio with its tokens, in the order the listing shows them.
    pub fn portfolios(&self) -> Vec<Portfolio> {
        self.state.store.snapshot()
    }

    /// The token `token` of portfolio `portfolio` as it stands now, if the mock holds it.
    pub fn token(&self, portfolio: uuid::Uuid, token: uuid::Uuid) -> Option<Token> {
        self.portfolios()
            .into_iter()
            .find(|p| p.id == portfolio)
            .and_then(|p| p.tokens.into_iter().find(|t| t.id == token))
    }

    /// Stops accepting connections, lets requests in progress finish (latency included), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        // Serving cannot fail once bound (axum retries accept errors), and a panicked task has nothing to return.
        let _ = self.task.await;
    }
}
