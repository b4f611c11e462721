//! The client users hold: built once, cheap to clone, one connection pool.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::auth::{Auth, Credentials};
use crate::call;
use crate::error::{Error, InvalidInput};
use crate::generated::{self, types};
use crate::hooks::PreparedRequest;
use crate::retry::RetryPolicy;
use crate::scope_check::{self, ScopeCache};
use crate::update::{Scopes, TokenUpdate};

/// eToro's public API.
pub const DEFAULT_BASE_URL: &str = "https://public-api.etoro.com";
/// The `User-Agent` sent unless [`ClientBuilder::user_agent`] says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("etoro-client-rust/", env!("CARGO_PKG_VERSION"));
/// How long to wait for a TCP (and TLS) connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt may take, from sending to the end of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The eToro user-token client. Clone it freely: clones share one connection pool and one set of credentials.
///
/// ```no_run
/// # async fn run() -> Result<(), etoro_client::Error> {
/// use etoro_client::{scope, Client, TokenUpdate};
/// let client = Client::builder().api_keys("my-api-key", "my-user-key").build()?;
/// let update = TokenUpdate::scope_names([scope::TRADE_REAL_READ]).ips_whitelist(["203.0.113.7".parse().unwrap()]);
/// let done = client.update_user_token(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), update).await?;
/// println!("updated; request id {}", done.request_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    raw: generated::Client,
    retry: RetryPolicy,
    timeout: Duration,
    loopback: bool,
    version: ApiVersion,
    scopes: Option<Arc<ScopeCache>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use progenitor_client::ClientInfo;
        f.debug_struct("Client")
            .field("base_url", &self.raw.baseurl())
            .field("auth", self.raw.inner())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
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

    /// Updates one user token of one agent-portfolio. Await the returned call, or set its request id first:
    ///
    /// ```no_run
    /// # async fn run(client: etoro_client::Client, p: uuid::Uuid, t: uuid::Uuid) -> Result<(), etoro_client::Error> {
    /// # use etoro_client::TokenUpdate;
    /// let expiry = chrono::Utc::now() + chrono::Duration::days(30);
    /// client.update_user_token(p, t, TokenUpdate::new().expires_at(expiry))
    ///     .request_id(uuid::Uuid::new_v4())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn update_user_token(&self, portfolio: Uuid, token: Uuid, update: TokenUpdate) -> UpdateCall<'_> {
        UpdateCall {
            client: self,
            portfolio,
            token,
            update,
            request_id: None,
        }
    }

    /// The scope names a token may hold (`GET /api/v2/agent-portfolios/user-tokens/scopes`), fetched now, with
    /// the client's retries.
    pub async fn allowed_scopes(&self) -> Result<Vec<String>, Error> {
        let request_id = Uuid::new_v4();
        let (answer, attempts) = call::run(&self.retry, self.timeout, request_id, "get allowed scopes", || {
            self.raw.get_allowed_scopes().x_request_id(request_id).send()
        })
        .await?;
        match answer {
            call::Answer::Documented(value) => Ok(value
                .into_inner()
                .scopes
                .into_iter()
                .filter_map(|item| item.name)
                .collect()),
            call::Answer::OtherSuccess(status) => {
                Err(crate::error::ApiError::unexpected(status, request_id, attempts).into())
            }
        }
    }

    /// The API version this client's updates use.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// True when the base URL is a loopback address (a local mock or test server, not eToro).
    pub fn targets_loopback(&self) -> bool {
        self.loopback
    }

    /// The generated client underneath, for operations the wrapper does not cover. Requests made through it
    /// still carry the credentials (the hook adds them) but get no validation or retries.
    pub fn generated(&self) -> &generated::Client {
        &self.raw
    }
}

/// Which version of eToro's update endpoint a client calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `PATCH /api/v1/...`: the seed's endpoint; scope names or the deprecated scope ids. The default.
    #[default]
    V1,
    /// `PATCH /api/v2/...`: scope names only; a name outside the allowed list is refused with 403
    /// `ScopeNameNotAllowed`. eToro marks v1 deprecated in its favour.
    V2,
}

/// One pending update: set options, then `.await` it (or call [`UpdateCall::send`]).
#[must_use = "an update call does nothing until it is awaited"]
#[derive(Debug)]
pub struct UpdateCall<'a> {
    client: &'a Client,
    portfolio: Uuid,
    token: Uuid,
    update: TokenUpdate,
    request_id: Option<Uuid>,
}

/// A successful update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Updated {
    /// The `x-request-id` the request carried: quote it to eToro support.
    pub request_id: Uuid,
    /// How many attempts it took.
    pub attempts: u32,
    /// The success status (204 unless the server deviates from the spec).
    pub status: StatusCode,
}

/// The request body, in the shape of the client's API version.
enum Body {
    V1(types::UpdateUserTokenRequest),
    V2(types::UpdateUserTokenV2Request),
}

impl<'a> UpdateCall<'a> {
    /// Uses this `x-request-id` instead of a fresh UUID v4 (to correlate with your own logs, or to retry a call
    /// of your own under the same id).
    pub fn request_id(mut self, id: Uuid) -> Self {
        self.request_id = Some(id);
        self
    }

    /// Validates the input and builds the exact request [`UpdateCall::send`] would send, through the same
    /// generated code and hooks, but sends nothing (not even the scopes lookup of
    /// [`ClientBuilder::check_scopes`]). Credentials show as `[REDACTED]`.
    pub async fn dry_run(self) -> Result<PreparedRequest, Error> {
        let (body, request_id) = self.prepare()?;
        match body {
            Body::V1(body) => call::dry_run(self.v1(request_id, body), request_id).await,
            Body::V2(body) => call::dry_run(self.v2(request_id, body), request_id).await,
        }
    }

    /// Validates the input, then sends the update, retrying transient failures under the client's policy.
    /// Every attempt carries the same `x-request-id`.
    pub async fn send(self) -> Result<Updated, Error> {
        let (body, request_id) = self.prepare()?;
        self.check_scopes_with_server().await?;
        let (policy, timeout) = (&self.client.retry, self.client.timeout);
        let (answer, attempts) = match body {
            Body::V1(body) => {
                call::run(policy, timeout, request_id, "update user token", || {
                    self.v1(request_id, body.clone())
                })
                .await?
            }
            Body::V2(body) => {
                call::run(policy, timeout, request_id, "update user token (v2)", || {
                    self.v2(request_id, body.clone())
                })
                .await?
            }
        };
        Ok(Updated {
            request_id,
            attempts,
            status: answer.status(),
        })
    }

    fn prepare(&self) -> Result<(Body, Uuid), Error> {
        check_id("agentPortfolioId", self.portfolio)?;
        check_id("userTokenId", self.token)?;
        let now = Utc::now();
        let body = match self.client.version {
            ApiVersion::V1 => Body::V1(self.update.to_request(now)?),
            ApiVersion::V2 => Body::V2(self.update.to_request_v2(now)?),
        };
        Ok((body, self.request_id.unwrap_or_else(Uuid::new_v4)))
    }

    /// With [`ClientBuilder::check_scopes`], refuses scope names outside the list eToro allows.
    async fn check_scopes_with_server(&self) -> Result<(), Error> {
        let (Some(cache), Some(Scopes::Names(names))) = (&self.client.scopes, self.update.scopes()) else {
            return Ok(());
        };
        let allowed = cache.get(|| self.client.allowed_scopes()).await?;
        Ok(scope_check::check(names, &allowed)?)
    }

    fn v1(
        &self,
        request_id: Uuid,
        body: types::UpdateUserTokenRequest,
    ) -> impl Future<Output = call::Outcome<()>> + 'a {
        let raw: &'a generated::Client = &self.client.raw;
        raw.update_user_token()
            .agent_portfolio_id(self.portfolio)
            .user_token_id(self.token)
            .x_request_id(request_id)
            .body(body)
            .send()
    }

    fn v2(
        &self,
        request_id: Uuid,
        body: types::UpdateUserTokenV2Request,
    ) -> impl Future<Output = call::Outcome<()>> + 'a {
        let raw: &'a generated::Client = &self.client.raw;
        raw.update_user_token_v2()
            .agent_portfolio_id(self.portfolio)
            .user_token_id(self.token)
            .x_request_id(request_id)
            .body(body)
            .send()
    }
}

impl<'a> IntoFuture for UpdateCall<'a> {
    type Output = Result<Updated, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

fn check_id(field: &str, id: Uuid) -> Result<(), InvalidInput> {
    if id.is_nil() {
        return Err(InvalidInput::new(field, "must not be the nil UUID"));
    }
    Ok(())
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
            .finish()
    }
}

impl ClientBuilder {
    /// Which update endpoint to call (default [`ApiVersion::V1`], the seed's). The same [`TokenUpdate`] works
    /// for both; with v2, deprecated scope ids are refused locally.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// Before an update that sets scope names, checks them against [`Client::allowed_scopes`] and refuses
    /// unknown names locally, naming the allowed ones. The list is fetched once and kept for `ttl`.
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

    /// How long one attempt may take (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Retries (default [`RetryPolicy::default`]; [`RetryPolicy::none`] turns them off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sends through your own `reqwest::Client` (proxies, custom roots, shared pool). The connect timeout and
    /// user agent settings then do not apply, and the client must not follow redirects
    /// (`reqwest::redirect::Policy::none()`): one that does would carry the key headers to the new host.
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let credentials = self.credentials.ok_or_else(|| Error::InvalidConfig {
            setting: "credentials",
            rule: "set api_keys(..) or bearer_token(..)".to_owned(),
        })?;
        let auth = Auth::new(&credentials)?;
        let (base_url, loopback) = check_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(config("timeout", "must be longer than zero"));
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                let user_agent = self.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT);
                let user_agent = reqwest::header::HeaderValue::from_str(user_agent)
                    .map_err(|_| config("user_agent", "may only contain visible ASCII characters"))?;
                let builder = reqwest::Client::builder()
                    .user_agent(user_agent)
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    // Credentials must never follow a redirect to another host: see SECURITY.md.
                    .redirect(reqwest::redirect::Policy::none());
                let builder = if base_url.starts_with("https://") {
                    // Defence in depth: this client never sends a request over plain http.
                    builder.https_only(true)
                } else {
                    // Plain http is only allowed to loopback, where no TLS is ever used: skip loading the system's
                    // root certificates, most of a one-shot command's start-up (`cargo xtask bench`).
                    builder.tls_certs_only([])
                };
                builder.build().map_err(|err| config("http client", &err.to_string()))?
            }
        };
        Ok(Client {
            raw: generated::Client::new_with_client(&base_url, http, auth),
            retry: self.retry.unwrap_or_default(),
            timeout,
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
fn check_base_url(raw: &str) -> Result<(String, bool), Error> {
    let url = reqwest::Url::parse(raw).map_err(|err| config("base_url", &format!("{raw:?} is not a URL: {err}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config("base_url", "must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config("base_url", "must not carry credentials"));
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
