//! What the mock accepts and which faults it injects.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use uuid::Uuid;

/// How the mock behaves: which ids do not exist, which scopes are allowed, and which faults to inject.
#[derive(Clone, Debug, PartialEq)]
pub struct MockConfig {
    /// Faults injected before any validation, as a real server under load would.
    pub faults: Faults,
    /// Agent-portfolio or user-token ids that answer 404 `NotFound`; every other well-formed id exists.
    pub missing: HashSet<Uuid>,
    /// The `scopeIds` the server accepts; any other id answers 400 `ScopeIdNotAllowed`.
    pub allowed_scope_ids: BTreeSet<i32>,
    /// The v2 allowed list: the `scopeNames` a v2 update accepts (any other name answers 403
    /// `ScopeNameNotAllowed`), and, in this order, the answer of `GET /api/v2/agent-portfolios/user-tokens/scopes`.
    /// v1 does not check names against it: eToro documents only `ScopeIdNotAllowed` there, so v1 accepts any
    /// well-formed name.
    pub allowed_scope_names: Vec<String>,
    /// How many of the latest requests [`crate::MockServer::requests`] keeps. A long-running mock (`etoro-token
    /// mock` under a load test) must not grow without bound; [`crate::MockServer::request_count`] counts all.
    pub record_limit: usize,
}

/// The default [`MockConfig::record_limit`]: plenty for any test, a few MiB at most.
pub const DEFAULT_RECORD_LIMIT: usize = 10_000;

impl Default for MockConfig {
    /// No missing ids, no faults, and the scopes eToro documents.
    ///
    /// The ids are the four of the spec's description (200-203) plus the two of its example (211, 212); the names
    /// are the current `trade.*` forms plus the older forms that eToro's own text still uses.
    fn default() -> Self {
        MockConfig {
            faults: Faults::default(),
            missing: HashSet::new(),
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
        }
    }
}

/// Faults injected into calls of the endpoints (not into unknown routes), in this order: latency, reset,
/// rate limit, error rate. The first that applies decides the answer.
///
/// "Every n-th" counts the requests of all three endpoints together from 1, one counter shared by all faults,
/// so with `reset_every: Some(3)` the 3rd, 6th, 9th... requests are dropped, whichever endpoint they call.
/// `Some(0)` means never.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Every n-th request answers 429 `TooManyRequests` with a `Retry-After` header.
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
