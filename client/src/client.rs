//! The client users hold, and its builder: built once, cheap to clone, one connection pool.
//!
//! The operations themselves are in `ops/`, one file each.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, Credentials};
use crate::call::{Budget, Runner};
use crate::error::Error;
use crate::generated;
use crate::pacer::Pacer;
use crate::retry::RetryPolicy;
use crate::scope_check::ScopeCache;
use crate::wire::DEFAULT_MAX_RESPONSE_BYTES;

/// eToro's public API.
pub const DEFAULT_BASE_URL: &str = "https://public-api.etoro.com";
/// The `User-Agent` sent unless [`ClientBuilder::user_agent`] says otherwise. eToro's CDN refuses some generic
/// agents; this one names the client and its version.
pub const DEFAULT_USER_AGENT: &str = concat!("etoro-client-rust/", env!("CARGO_PKG_VERSION"));
/// How long to wait for a TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt may take, from sending to the end of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The eToro user-token client. Clone it freely: clones share one connection pool, one set of credentials and
/// one [`Pacer`].
///
/// ```no_run
/// # async fn run() -> Result<(), etoro_client::Error> {
/// use etoro_client::{scope, Client, TokenUpdate, Uuid};
/// let client = Client::builder().api_keys("my-api-key", "my-user-key").build()?;
/// let update = TokenUpdate::new().scope_names([scope::TRADE_REAL_READ]).ips_whitelist(["203.0.113.7".parse().unwrap()]);
/// let done = client.update_user_token(Uuid::new_v4(), Uuid::new_v4(), update).await?;
/// println!("updated; request id {}", done.request_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) raw: generated::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) pacer: Pacer,
    pub(crate) cancel: Option<CancellationToken>,
    pub(crate) loopback: bool,
    pub(crate) version: ApiVersion,
    pub(crate) scopes: Option<Arc<ScopeCache>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use progenitor_client::ClientInfo;
        f.debug_struct("Client")
            .field("base_url", &self.raw.baseurl())
            .field("auth", self.raw.inner())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_body)
            .field("pacer", &self.pacer.interval())
            .field("cancellable", &self.cancel.is_some())
            .field("version", &self.version)
            .field("check_scopes", &self.scopes.is_some())
            .finish()
    }
}

impl Client {
    /// Starts a [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The API version this client's updates use.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// True when the base URL is a loopback address (a local mock or test server, not eToro).
    pub fn targets_loopback(&self) -> bool {
        self.loopback
    }

    /// The pacer every attempt of this client (and of its clones) waits for: the one given to
    /// [`ClientBuilder::pacer`], else one of its own without spacing, which still holds every call back after a
    /// 429 or a used-up window.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// A clone of this client (same connection pool, credentials and pacer) whose calls stop when `token` is
    /// cancelled: a call waiting for its turn or for its next attempt ends at once with [`Error::Cancelled`],
    /// having sent nothing more; a request already in flight is never cut off, its answer ends the call. Use it to
    /// stop many calls at once on Ctrl-C, or when one of them says the rest need not be sent.
    pub fn with_cancellation(&self, token: CancellationToken) -> Client {
        Client {
            cancel: Some(token),
            ..self.clone()
        }
    }

    /// The generated client underneath, for operations the wrapper does not cover. Requests made through it
    /// still carry the credentials and the user agent (the `pre` hook adds them), are bounded by the client's
    /// per-attempt timeout and response cap, and follow no redirect, but get no validation, pacing or retries.
    pub fn generated(&self) -> &generated::Client {
        &self.raw
    }

    /// The settings every call runs under.
    pub(crate) fn runner(&self) -> Runner<'_> {
        Runner {
            policy: &self.retry,
            timeout: self.timeout,
            pacer: &self.pacer,
            max_body: self.max_body,
            cancel: self.cancel.as_ref(),
        }
    }

    /// A fresh time budget for one call.
    pub(crate) fn budget(&self) -> Budget {
        Budget::new(self.retry.total_deadline())
    }
}

/// Which version of eToro's update endpoint a client calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `PATCH /api/v1/...`: the seed's endpoint; scope names or the deprecated scope ids. The default. eToro marks
    /// it deprecated and no longer lists it since v1.355.0: an error says so when it looks retired
    /// ([`Error::v1_may_be_retired`]).
    #[default]
    V1,
    /// `PATCH /api/v2/...`: scope names only; a name outside the allowed list is refused with 403
    /// `ScopeNameNotAllowed`.
    V2,
}

/// Settings for a [`Client`]. Every setter takes and returns `self`; [`ClientBuilder::build`] checks them all
/// and names the first one at fault.
#[derive(Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    credentials: Option<Credentials>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    user_agent: Option<String>,
    http: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    version: ApiVersion,
    check_scopes: Option<Duration>,
    pacer: Option<Pacer>,
    no_proxy: bool,
    max_body: Option<usize>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("custom_http_client", &self.http.is_some())
            .field("retry", &self.retry)
            .field("version", &self.version)
            .field("check_scopes", &self.check_scopes)
            .field("pacer", &self.pacer.as_ref().map(Pacer::interval))
            .field("no_proxy", &self.no_proxy)
            .field("max_response_bytes", &self.max_body)
            .finish()
    }
}

impl ClientBuilder {
    /// Which update endpoint to call (default [`ApiVersion::V1`], the seed's). The same [`crate::TokenUpdate`]
    /// works for both; with v2, deprecated scope ids are refused locally.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// Before an update or a create that sets scope names, checks them against [`Client::allowed_scopes`] and
    /// refuses unknown names locally, naming the allowed ones. The list is fetched once and kept for `ttl`; the
    /// lookup counts against the call's deadline.
    pub fn check_scopes(mut self, ttl: Duration) -> Self {
        self.check_scopes = Some(ttl);
        self
    }

    /// The API's base URL (default [`DEFAULT_BASE_URL`]). Must be `https://`, or `http://` to a loopback address
    /// (tests, the embedded mock).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Authenticate with the `x-api-key` + `x-user-key` pair.
    pub fn api_keys(self, api_key: impl Into<String>, user_key: impl Into<String>) -> Self {
        self.credentials(Credentials::api_keys(api_key, user_key))
    }

    /// Authenticate with an OAuth2 access token (`Authorization: Bearer`).
    pub fn bearer_token(self, token: impl Into<String>) -> Self {
        self.credentials(Credentials::bearer(token))
    }

    /// Authenticate with these credentials (replacing any set before: a client has exactly one kind).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// How long to wait for a connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long one attempt may take (default [`DEFAULT_TIMEOUT`]; must be more than zero).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Retries and the call's deadline (default [`RetryPolicy::default`]; [`RetryPolicy::none`] turns retries
    /// off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Paces every attempt of every call (retries included) with this [`Pacer`], shared with its clones and
    /// any other client given the same pacer: use it when many calls run at once on one user key. Without one,
    /// the client has a [`Pacer::unlimited`] of its own: no spacing, but 429s and used-up windows still hold
    /// every call of the client and its clones.
    pub fn pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Never use a proxy from the environment (`HTTPS_PROXY`, `ALL_PROXY`, ...). By default an `https://` base URL
    /// goes through the configured proxy, as is normal in companies (TLS still runs end to end with eToro); a
    /// loopback base URL never does, whatever this says.
    pub fn no_proxy(mut self) -> Self {
        self.no_proxy = true;
        self
    }

    /// The most bytes of a success body the client reads (default [`crate::DEFAULT_MAX_RESPONSE_BYTES`], 16 MiB);
    /// a longer answer is an [`Error::UnexpectedResponse`]. Error bodies are always capped at
    /// [`crate::MAX_ERROR_BODY`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// Sends through your own `reqwest::Client` (custom roots, a shared pool). The connect timeout and proxy
    /// settings then do not apply, and the client must not follow redirects (`reqwest::redirect::Policy::none()`):
    /// one that does would carry the key headers to the new host. The user agent is still sent when set with
    /// [`ClientBuilder::user_agent`]; otherwise your client's own applies.
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let credentials = self.credentials.as_ref().ok_or_else(|| Error::InvalidConfig {
            setting: "credentials",
            rule: "set api_keys(..) or bearer_token(..)".to_owned(),
        })?;
        // With your own reqwest client and no user agent of ours, yours applies.
        let user_agent = match (&self.user_agent, &self.http) {
            (Some(agent), _) => Some(agent.as_str()),
            (None, None) => Some(DEFAULT_USER_AGENT),
            (None, Some(_)) => None,
        };
        let user_agent = user_agent
            .map(|agent| {
                HeaderValue::from_str(agent)
                    .map_err(|_| config("user_agent", "may only contain visible ASCII characters and spaces"))
            })
            .transpose()?;
        let auth = Auth::with_user_agent(credentials, user_agent)?;
        let (base_url, loopback) = check_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(config("timeout", "must be longer than zero"));
        }
        let retry = self.retry.unwrap_or_default();
        if retry.total_deadline().is_zero() {
            return Err(config("retry deadline", "must be longer than zero"));
        }
        let max_body = self.max_body.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        if max_body == 0 {
            return Err(config("max_response_bytes", "must be more than zero"));
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    // Bounds requests made through `Client::generated()`; the wrapper sets each attempt's own.
                    .timeout(timeout)
                    // Credentials must never follow a redirect to another host: see SECURITY.md.
                    .redirect(reqwest::redirect::Policy::none());
                if loopback || self.no_proxy {
                    // A proxy from the environment would receive the keys in clear over plain http: loopback never
                    // goes through one.
                    builder = builder.no_proxy();
                }
                // With https, defence in depth: this client never sends a request over plain http. Plain http is
                // only allowed to loopback, where no TLS is ever used: no root certificates are loaded, most of a
                // one-shot command's start-up (`cargo xtask bench`).
                builder = crate::tls::configure(builder, base_url.starts_with("https://"))
                    .map_err(|rule| config("base_url", &rule))?;
                builder.build().map_err(|err| config("http client", &err.to_string()))?
            }
        };
        Ok(Client {
            raw: generated::Client::new_with_client(&base_url, http, auth),
            retry,
            timeout,
            max_body,
            pacer: self.pacer.unwrap_or_else(Pacer::unlimited),
            cancel: None,
            loopback,
            version: self.version,
            scopes: self.check_scopes.map(|ttl| Arc::new(ScopeCache::new(ttl))),
        })
    }
}

fn config(setting: &'static str, rule: &str) -> Error {
    Error::InvalidConfig {
        setting,
        rule: rule.to_owned(),
    }
}

/// Accepts `https://` anywhere and `http://` only to loopback, and returns the URL without a trailing slash
/// (the generated client appends paths that start with `/`), and whether it is a loopback address.
///
/// Messages never echo the URL: one that fails to parse may still hold a password.
fn check_base_url(raw: &str) -> Result<(String, bool), Error> {
    let url = reqwest::Url::parse(raw).map_err(|err| config("base_url", &format!("is not a URL ({err})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config("base_url", "must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config("base_url", "must not have a query or a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(config(
                "base_url",
                "must use https:// (http:// is allowed only for loopback addresses such as 127.0.0.1)",
            ))
        }
        other => {
            return Err(config(
                "base_url",
                &format!("scheme {other:?} is not supported; use https://"),
            ))
        }
    }
    Ok((url.as_str().trim_end_matches('/').to_owned(), loopback))
}
