//! What the mock holds and accepts, its quota, and which faults it injects.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

use crate::quota::Quota;
use crate::seed::Portfolio;

/// How the mock behaves: what it holds, which ids do not exist, which scopes are allowed, its quota, and which
/// faults to inject.
#[derive(Clone, Debug, PartialEq)]
pub struct MockConfig {
    /// Faults injected after the quota and before any validation, as a real server under load would.
    pub faults: Faults,
    /// Whether ids the mock does not hold exist ([`World::Open`], the default) or not ([`World::Closed`]).
    pub world: World,
    /// What the mock holds at start: the agent-portfolios and their tokens, listed in this order (see
    /// [`Portfolio`] for the ways to build them).
    pub portfolios: Vec<Portfolio>,
    /// Agent-portfolio or user-token ids that answer 404 `NotFound` in either world, seeded or not.
    pub missing: HashSet<Uuid>,
    /// The most tokens a portfolio may hold: a create beyond it answers 429 `MaxUserTokensExceeded` (without
    /// `Retry-After`: waiting does not help).
    pub max_tokens_per_portfolio: usize,
    /// eToro's rate limit, off when `None` (no `RateLimit-*` headers then). One pool per credential: the
    /// `x-user-key` value, or else the `Authorization` value; fixed windows from the pool's first request.
    ///
    /// A request counts when it reaches one of the six operations carrying a credential, whatever its answer:
    /// a body or id refused with 400 counts too, as at a gateway that counts before the API reads the request.
    /// Such answers all carry `RateLimit-Limit`, `-Remaining`, `-Reset` and `-Policy`; when the pool is empty
    /// the answer is 429 `TooManyRequests` with `Retry-After` (the seconds until the window ends) and the
    /// request does not count. A request without any credential, to an unknown route or with another method
    /// is neither counted nor given the headers.
    pub quota: Option<Quota>,
    /// Other traffic of the same credential that draws from the same pool at a steady pace, e.g. 20 per 60 s;
    /// only with a [`MockConfig::quota`].
    pub quota_background: Option<Quota>,
    /// The `scopeIds` the server accepts; any other id answers 400 `ScopeIdNotAllowed`.
    pub allowed_scope_ids: BTreeSet<i32>,
    /// The v2 allowed list: the `scopeNames` a v2 update accepts (any other name answers 403
    /// `ScopeNameNotAllowed`), and, in this order, the answer of `GET /api/v2/agent-portfolios/user-tokens/scopes`.
    /// v1 does not check names against it: eToro documents only `ScopeIdNotAllowed` there, so v1 accepts any
    /// well-formed name.
    pub allowed_scope_names: Vec<String>,
    /// How many of the latest requests [`crate::MockServer::requests`] keeps (see also
    /// [`MockConfig::record_bytes_limit`]). A long-running mock (`etoro-token mock` under a load test) must not
    /// grow without bound; [`crate::MockServer::request_count`] counts all.
    pub record_limit: usize,
    /// How many bytes of requests (bodies, headers, method and path) the record keeps at most; the oldest go
    /// first. With bodies of up to 2 MiB, a count alone does not bound the memory.
    pub record_bytes_limit: usize,
    /// Appends one JSON line per request received to this file (created with mode 0600), credentials redacted.
    pub log: Option<PathBuf>,
}

/// Whether the ids the mock does not hold exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum World {
    /// Every well-formed id exists: an update of a token the mock does not hold adds it (so the listing shows it
    /// afterwards), a revoke of one answers 204. Tests and benchmarks that send random ids rely on it.
    #[default]
    Open,
    /// Only what the mock holds exists; anything else answers 404 `NotFound`, as eToro does.
    Closed,
}

/// The default [`MockConfig::record_limit`]: plenty for any test.
pub const DEFAULT_RECORD_LIMIT: usize = 10_000;

/// The default [`MockConfig::record_bytes_limit`]: 16 MiB.
pub const DEFAULT_RECORD_BYTES_LIMIT: usize = 16 * 1024 * 1024;

/// The default [`MockConfig::max_tokens_per_portfolio`].
pub const DEFAULT_MAX_TOKENS_PER_PORTFOLIO: usize = 20;

impl Default for MockConfig {
    /// The open world with nothing seeded, no missing ids, no quota, no faults, no log, and the scopes eToro
    /// documents.
    ///
    /// The ids are the four of the spec's description (200-203) plus the two of its example (211, 212); the names
    /// are the current `trade.*` forms plus the older forms that eToro's own text still uses.
    fn default() -> Self {
        MockConfig {
            faults: Faults::default(),
            world: World::Open,
            portfolios: Vec::new(),
            missing: HashSet::new(),
            max_tokens_per_portfolio: DEFAULT_MAX_TOKENS_PER_PORTFOLIO,
            quota: None,
            quota_background: None,
            allowed_scope_ids: [200, 201, 202, 203, 211, 212].into_iter().collect(),
            allowed_scope_names: [
                "etoro-public:trade.real:read",
                "etoro-public:trade.real:write",
                "etoro-public:trade.demo:read",
                "etoro-public:trade.demo:write",
                "etoro-public:real:read",
                "etoro-public:real:write",
                "etoro-public:demo:read",
                "etoro-public:demo:write",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            record_limit: DEFAULT_RECORD_LIMIT,
            record_bytes_limit: DEFAULT_RECORD_BYTES_LIMIT,
            log: None,
        }
    }
}

impl MockConfig {
    /// The closed world holding only [`Portfolio::example`] (the README's agent-portfolio and token), otherwise
    /// the [`Default`]: any other id answers 404 `NotFound`, as with eToro. The examples' and many tests' start;
    /// change a field with `MockConfig { quota: ..., ..MockConfig::example() }`.
    pub fn example() -> Self {
        MockConfig {
            world: World::Closed,
            portfolios: vec![Portfolio::example()],
            ..MockConfig::default()
        }
    }
}

/// Faults injected into calls of the endpoints (not into unknown routes), in this order: latency, reset,
/// rate limit, error rate. The first that applies decides the answer.
///
/// "Every n-th" counts the requests of all the operations together from 1, one counter shared by all faults,
/// so with `reset_every: Some(3)` the 3rd, 6th, 9th... requests are dropped, whichever endpoint they call.
/// `Some(0)` means never.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Every n-th request answers 429 `TooManyRequests` with a `Retry-After` header (independent of
    /// [`MockConfig::quota`]).
    pub rate_limit_every: Option<u32>,
    /// The `Retry-After` of a 429, sent in whole seconds, rounded up so that a sub-second value never reads "0".
    pub retry_after: Duration,
    /// The share of requests, in [0, 1], that answer 500 `UnhandledException`; drawn at random per request.
    pub error_rate: f64,
    /// A delay before every answer of the endpoints, including faulty ones.
    pub latency: Duration,
    /// Every n-th request has its connection dropped without an answer (the client sees a transport error).
    pub reset_every: Option<u32>,
}

impl Default for Faults {
    /// No faults; a `Retry-After` of one second if a rate limit is switched on later.
    fn default() -> Self {
        Faults {
            rate_limit_every: None,
            retry_after: Duration::from_secs(1),
            error_rate: 0.0,
            latency: Duration::ZERO,
            reset_every: None,
        }
    }
}
