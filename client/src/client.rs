//! The client users hold: built once, cheap to clone, one connection pool.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::auth::{Auth, Credentials};
use crate::error::{ApiError, Error, InvalidInput};
use crate::generated::{self, types};
use crate::hooks::{AttemptMeta, PreparedRequest, ATTEMPT, DRY_RUN};
use crate::retry::{self, RetryPolicy};
use crate::update::TokenUpdate;

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
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use progenitor_client::ClientInfo;
        f.debug_struct("Client")
            .field("base_url", &self.raw.baseurl())
            .field("auth", self.raw.inner())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
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

impl<'a> UpdateCall<'a> {
    /// Uses this `x-request-id` instead of a fresh UUID v4 (to correlate with your own logs, or to retry a call
    /// of your own under the same id).
    pub fn request_id(mut self, id: Uuid) -> Self {
        self.request_id = Some(id);
        self
    }

    /// Validates the input and builds the exact request [`UpdateCall::send`] would send, through the same
    /// generated code and hooks, but sends nothing. Credentials show as `[REDACTED]`.
    pub async fn dry_run(self) -> Result<PreparedRequest, Error> {
        let (body, request_id) = self.prepare()?;
        DRY_RUN
            .scope(RefCell::new(None), async move {
                self.attempt(body, request_id, 1, self.client.timeout).await?;
                Ok(DRY_RUN
                    .with(|slot| slot.take())
                    .expect("the exec hook records every dry run"))
            })
            .await
    }

    fn prepare(&self) -> Result<(types::UpdateUserTokenRequest, Uuid), Error> {
        check_id("agentPortfolioId", self.portfolio)?;
        check_id("userTokenId", self.token)?;
        let body = self.update.to_request(Utc::now())?;
        Ok((body, self.request_id.unwrap_or_else(Uuid::new_v4)))
    }

    /// Validates the input, then sends the update, retrying transient failures under the client's policy.
    /// Every attempt carries the same `x-request-id`.
    pub async fn send(self) -> Result<Updated, Error> {
        let (body, request_id) = self.prepare()?;
        let policy = &self.client.retry;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = policy.total_deadline().saturating_sub(started.elapsed());
            let timeout = self.client.timeout.min(remaining);
            let outcome = self.attempt(body.clone(), request_id, attempt, timeout).await;
            let failure = match outcome {
                Ok(updated) => return Ok(updated),
                Err(failure) => failure,
            };
            let retry_after = failure.retry_after();
            let delay = failure
                .is_retryable()
                .then(|| policy.delay_before_next(attempt, retry_after, started.elapsed()))
                .flatten();
            match delay {
                Some(delay) => {
                    tracing::debug!(%request_id, attempt, ?delay, error = %failure, "retrying token update");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(failure),
            }
        }
    }

    async fn attempt(
        &self,
        body: types::UpdateUserTokenRequest,
        request_id: Uuid,
        attempt: u32,
        timeout: Duration,
    ) -> Result<Updated, Error> {
        let call = self
            .client
            .raw
            .update_user_token()
            .agent_portfolio_id(self.portfolio)
            .user_token_id(self.token)
            .x_request_id(request_id)
            .body(body)
            .send();
        ATTEMPT
            .scope(RefCell::new(AttemptMeta::default()), async move {
                let result = tokio::time::timeout(timeout, call).await;
                let meta = ATTEMPT.with(|meta| meta.take());
                match result {
                    Err(_elapsed) => Err(Error::Timeout {
                        request_id,
                        attempts: attempt,
                        after: timeout,
                    }),
                    Ok(Ok(response)) => Ok(Updated {
                        request_id,
                        attempts: attempt,
                        status: response.status(),
                    }),
                    Ok(Err(err)) => interpret(err, meta, request_id, attempt, timeout).await,
                }
            })
            .await
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

/// Turns progenitor's error into the client's, keeping the status even where progenitor drops it.
async fn interpret(
    err: progenitor_client::Error<types::ErrorResponse>,
    meta: AttemptMeta,
    request_id: Uuid,
    attempts: u32,
    timeout: Duration,
) -> Result<Updated, Error> {
    use progenitor_client::Error as Gen;
    let retry_after = meta
        .retry_after
        .as_deref()
        .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
    let api = |status, error_code, error_message, body_snippet| {
        Err(Error::from(ApiError {
            status,
            error_code,
            error_message,
            body_snippet,
            request_id,
            attempts,
            retry_after,
        }))
    };
    match err {
        Gen::ErrorResponse(answer) => {
            let status = answer.status();
            let body = answer.into_inner();
            api(status, body.error_code, body.error_message, None)
        }
        // An error status whose body is not an `ErrorResponse`: an HTML page from a proxy, an empty body.
        Gen::InvalidResponsePayload(bytes, _) => {
            let status = meta.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            api(status, None, None, Some(snippet(&bytes)))
        }
        Gen::UnexpectedResponse(response) => {
            let status = response.status();
            if status.is_success() {
                // The spec promises 204; any 2xx still means eToro applied the change.
                tracing::warn!(%request_id, %status, "token update answered an undocumented success status");
                return Ok(Updated {
                    request_id,
                    attempts,
                    status,
                });
            }
            if status.is_redirection() {
                return Err(Error::Redirect {
                    status,
                    location: meta.location,
                    request_id,
                });
            }
            // Undocumented statuses (403, 502, ...) may still carry an `ErrorResponse`.
            let bytes = response.bytes().await.unwrap_or_default();
            match serde_json::from_slice::<types::ErrorResponse>(&bytes) {
                Ok(body) if body.error_code.is_some() || body.error_message.is_some() => {
                    api(status, body.error_code, body.error_message, None)
                }
                _ => api(status, None, None, (!bytes.is_empty()).then(|| snippet(&bytes))),
            }
        }
        // The connect timeout fires inside reqwest; the attempt timeout is the wrapper's own (it also covers a
        // caller's `reqwest::Client`). Both are the same kind of failure to the caller.
        Gen::CommunicationError(source) if source.is_timeout() => Err(Error::Timeout {
            request_id,
            attempts,
            after: timeout,
        }),
        Gen::CommunicationError(source) | Gen::ResponseBodyError(source) | Gen::InvalidUpgrade(source) => {
            Err(Error::Transport {
                request_id,
                attempts,
                source,
            })
        }
        // The wrapper validated and typed every input, so the generated builder cannot refuse one.
        Gen::InvalidRequest(message) | Gen::Custom(message) => {
            Err(Error::InvalidInput(InvalidInput::new("request", message)))
        }
    }
}

/// The first 200 characters of a body, lossily decoded, for error messages.
fn snippet(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
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
            .finish()
    }
}

impl ClientBuilder {
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
                reqwest::Client::builder()
                    .user_agent(user_agent)
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    // Credentials must never follow a redirect to another host: see SECURITY.md.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|err| config("http client", &err.to_string()))?
            }
        };
        Ok(Client {
            raw: generated::Client::new_with_client(&base_url, http, auth),
            retry: self.retry.unwrap_or_default(),
            timeout,
            loopback,
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
