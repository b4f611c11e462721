//! Create User Token (v2): `POST /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens`. The answer holds the
//! token's secret, returned this once.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::call;
use crate::client::Client;
use crate::error::{CallInfo, Error, InvalidInput, Operation, Problem, UnexpectedResponse};
use crate::generated::types;
use crate::ops::check_id;
use crate::ops::list::UserToken;
use crate::ops::pending::Pending;
use crate::scope::ScopeName;
use crate::setters::token_setters;
use crate::token::{TokenName, TokenSecret};
use crate::update::{check_list, scope_name_error};
use crate::wire::PreparedRequest;

impl Client {
    /// Creates a user token in an agent-portfolio. The returned [`CreateCall`] is a future: await it, or set its
    /// request id first (to record it before anything is sent), or build the request without sending it
    /// ([`CreateCall::dry_run`]). The answer holds the token's secret, which eToro returns this once: store it
    /// before anything else.
    ///
    /// Not idempotent, so not retried blindly: a create is repeated only when its request surely did not reach
    /// eToro (no connection, or a rate limit). After a timeout, a dropped connection or a 5xx the token may or may
    /// not exist ([`Error::outcome_unknown`], and [`Error::is_safe_to_retry`] is false): list the agent-portfolio's
    /// tokens and look for the name before creating again (a second create with the same name answers 409
    /// `UserKeyNameAlreadyExists`). A 429 `MaxUserTokensExceeded` is not a rate limit and is not retried.
    /// [`crate::rotation`] does all of this for a rotation.
    ///
    /// ```no_run
    /// # async fn run(client: etoro_client::Client, portfolio: etoro_client::Uuid) -> Result<(), etoro_client::Error> {
    /// use etoro_client::{scope, NewToken, Uuid};
    /// use etoro_client::secrecy::ExposeSecret;
    /// let request_id = Uuid::new_v4();
    /// // Log `request_id` (or write it down) before sending: if the answer is lost, it is how eToro finds the call.
    /// let created = client
    ///     .create_user_token(portfolio, NewToken::new("trading-bot", [scope::TRADE_REAL_READ]))
    ///     .request_id(request_id)
    ///     .await?;
    /// store_somewhere_safe(created.id, created.secret.expose_secret());
    /// # Ok(()) }
    /// # fn store_somewhere_safe(_: etoro_client::Uuid, _: &str) {}
    /// ```
    pub fn create_user_token(&self, portfolio: Uuid, token: NewToken) -> CreateCall<'_> {
        CreateCall {
            state: Pending::Ready(Request {
                client: self,
                portfolio,
                token,
                request_id: None,
            }),
        }
    }
}

/// One pending create. It is a [`Future`]: set options, then `.await` it (or call [`CreateCall::send`], or
/// [`CreateCall::dry_run`]). Options set after the first poll have no effect.
///
/// **Dropping it** before its first poll sends nothing. Dropping it while it runs (a `select!`, a timeout, a
/// cancelled task) abandons the request where it is: if it had left, the token may exist without anyone holding
/// its secret, exactly like an error with [`Error::outcome_unknown`]. List the tokens and look for the name
/// before creating again; the request id (set it with [`CreateCall::request_id`] to know it beforehand) is what
/// eToro support can find the call by.
#[must_use = "a create call does nothing until it is awaited"]
pub struct CreateCall<'a> {
    state: Pending<'a, Request<'a>, CreatedToken>,
}

struct Request<'a> {
    client: &'a Client,
    portfolio: Uuid,
    token: NewToken,
    request_id: Option<Uuid>,
}

impl fmt::Debug for CreateCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.state.debug(f, "CreateCall", |out, request| {
            out.field("portfolio", &request.portfolio)
                .field("token", &request.token)
                .field("request_id", &request.request_id);
        })
    }
}

impl<'a> CreateCall<'a> {
    /// Uses this `x-request-id` instead of a fresh UUID v4, so that it can be recorded before the request is sent.
    pub fn request_id(mut self, id: Uuid) -> Self {
        if let Some(request) = self.state.ready_mut() {
            request.request_id = Some(id);
        }
        self
    }

    /// Validates the input and builds the exact request [`CreateCall::send`] would send, through the same
    /// generated code and hooks, but sends nothing (not even the scopes lookup of
    /// [`crate::ClientBuilder::check_scopes`]). Credentials show as `[REDACTED]`.
    pub async fn dry_run(self) -> Result<PreparedRequest, Error> {
        let request = self.state.take("create")?;
        let (body, request_id) = request.prepare()?;
        call::dry_run(request.attempt(request_id, body)).await
    }

    /// Validates the input, then sends the create (repeated only when the request surely did not arrive).
    pub async fn send(self) -> Result<CreatedToken, Error> {
        self.state.take("create")?.send().await
    }
}

impl Future for CreateCall<'_> {
    type Output = Result<CreatedToken, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_with(cx, "create", |request| Box::pin(request.send()))
    }
}

impl<'a> Request<'a> {
    fn prepare(&self) -> Result<(types::CreateUserTokenV2Request, Uuid), Error> {
        check_id("agentPortfolioId", self.portfolio)?;
        let body = self.token.to_request(Utc::now())?;
        Ok((body, self.request_id.unwrap_or_else(Uuid::new_v4)))
    }

    fn attempt(
        &self,
        request_id: Uuid,
        body: types::CreateUserTokenV2Request,
    ) -> impl Future<Output = call::Outcome<types::CreateUserTokenResponse>> + 'a {
        self.client
            .raw
            .create_user_token_v2()
            .agent_portfolio_id(self.portfolio)
            .x_request_id(request_id)
            .body(body)
            .send()
    }

    async fn send(self) -> Result<CreatedToken, Error> {
        let (body, request_id) = self.prepare()?;
        let (client, portfolio) = (self.client, self.portfolio);
        let info = CallInfo::new(Operation::CreateUserToken, Some(portfolio), None, request_id);
        let budget = client.budget();
        client.check_scope_names(&self.token.scope_names, &budget, info).await?;
        let success = call::run(&client.runner(), &budget, info, || {
            self.attempt(request_id, body.clone())
        })
        .await?;
        let answer = success.value;
        let missing = |field: &str| -> Error {
            UnexpectedResponse {
                call: success.call,
                status: Some(reqwest::StatusCode::CREATED),
                problem: Problem::MissingField(field.to_owned()),
                body_snippet: None,
            }
            .into()
        };
        Ok(CreatedToken {
            portfolio,
            id: answer.user_token_id.ok_or_else(|| missing("userTokenId"))?,
            secret: answer.user_token.ok_or_else(|| missing("userToken"))?,
            name: answer.user_token_name.unwrap_or_else(|| self.token.name.clone()),
            client_id: answer.client_id,
            scope_names: answer.scope_names.unwrap_or_default(),
            ips_whitelist: answer.ips_whitelist.unwrap_or_default(),
            expires_at: answer.expires_at,
            created_at: answer.created_at,
            request_id,
            attempts: success.call.attempts,
        })
    }
}

/// A token to create: its name, its scope names, and optionally an IPv4 allow-list and an expiry.
///
/// ```
/// use etoro_client::{scope, NewToken, Utc};
/// use std::time::Duration;
///
/// let token = NewToken::new("trading-bot", [scope::TRADE_REAL_READ])
///     .ips_whitelist(["203.0.113.7".parse().unwrap()])
///     .expires_in(Duration::from_secs(90 * 86_400));
/// assert!(token.validate(Utc::now()).is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    name: String,
    scope_names: Vec<String>,
    ips_whitelist: Option<Vec<Ipv4Addr>>,
    expires_at: Option<DateTime<Utc>>,
    /// Rules broken by a setter (or a listed value that could not be copied), by field: the setter of that field
    /// replaces its entry.
    refused: Vec<InvalidInput>,
}

impl NewToken {
    /// A token called `name` (unique within the agent-portfolio) holding these scopes.
    pub fn new<I, S>(name: impl Into<String>, scope_names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        NewToken {
            name: name.into(),
            scope_names: scope_names.into_iter().map(Into::into).collect(),
            ips_whitelist: None,
            expires_at: None,
            refused: Vec::new(),
        }
    }

    /// A token like `listed` (its scope names, IPv4 allow-list and expiry) called `name`: what a rotation creates.
    ///
    /// What cannot be copied is refused by [`NewToken::validate`] (and so by the create, with nothing sent), naming
    /// the field, until its setter replaces it: a token listed with deprecated scope ids only (eToro's own
    /// id-to-name tables disagree, so no name is guessed: set them with [`NewToken::scopes`]), an allow-list entry
    /// that is not an IPv4 address ([`NewToken::ips_whitelist`]). An expiry already past is copied, and refused
    /// like any other ([`NewToken::expires_at`], [`NewToken::expires_in`] or [`NewToken::never_expires`]).
    ///
    /// ```
    /// # fn run(listed: &etoro_client::UserToken) -> Result<(), etoro_client::InvalidInput> {
    /// use etoro_client::{NewToken, Utc};
    /// let successor = NewToken::like(listed, "trading-bot-2026");
    /// successor.validate(Utc::now())?;
    /// # Ok(()) }
    /// ```
    pub fn like(listed: &UserToken, name: impl Into<String>) -> Self {
        let mut token = NewToken::new(name, listed.scope_names.iter().cloned());
        if listed.scope_names.is_empty() {
            let rule = if listed.scope_ids.is_empty() {
                "the listed token has no scopes to copy: set them with scopes(..)".to_owned()
            } else {
                let ids: Vec<String> = listed.scope_ids.iter().map(i32::to_string).collect();
                format!(
                    "the listed token has deprecated scope ids only ({}); eToro's own id-to-name tables disagree, so \
                     no name is guessed: set the scope names with scopes(..)",
                    ids.join(", ")
                )
            };
            token.refuse(InvalidInput::new("scopeNames", rule));
        }
        if !listed.ips_whitelist.is_empty() {
            match listed
                .ips_whitelist
                .iter()
                .map(|ip| ip.parse::<Ipv4Addr>())
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(ips) => token.ips_whitelist = Some(ips),
                Err(_) => token.refuse(InvalidInput::new(
                    "ipsWhitelist",
                    "the listed allow-list holds an entry that is not an IPv4 address: set it with \
                     ips_whitelist(..)",
                )),
            }
        }
        token.expires_at = listed.expires_at;
        token
    }

    /// Replaces the scope names.
    pub fn scopes<I, S>(mut self, scope_names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope_names = scope_names.into_iter().map(Into::into).collect();
        self.forgive("scopeNames");
        self
    }

    /// Lets the token never expire (the default of [`NewToken::new`]).
    pub fn never_expires(mut self) -> Self {
        self.expires_at = None;
        self.forgive("expiresAt");
        self
    }

    fn refuse(&mut self, refused: InvalidInput) {
        self.forgive(&refused.field.clone());
        self.refused.push(refused);
    }

    fn forgive(&mut self, field: &str) {
        self.refused.retain(|refused| refused.field != field);
    }

    token_setters! {
        /// Allows the token from these IPv4 addresses only (without it: from anywhere).
        ips_whitelist then forgive;
        /// Expires the token at this instant (without it: never).
        expires_at then forgive;
        /// Expires the token `after` this long from now (the moment of this call).
        expires_in;
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scope names.
    pub fn scope_names(&self) -> &[String] {
        &self.scope_names
    }

    /// The IP allow-list, if any.
    pub fn ips(&self) -> Option<&[Ipv4Addr]> {
        self.ips_whitelist.as_deref()
    }

    /// The expiry, if any.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// Checks every local rule, naming the field and the rule that fails first: a well-formed name (1 to 100
    /// characters, no control characters, no whitespace at either end); at least one scope name, each well
    /// formed, no duplicate; no empty or duplicated IP list; an expiry later than `now`.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), InvalidInput> {
        self.to_request(now).map(drop)
    }

    /// Validates against `now` and builds the generated request body.
    pub fn to_request(&self, now: DateTime<Utc>) -> Result<types::CreateUserTokenV2Request, InvalidInput> {
        if let Some(refused) = self.refused.first() {
            return Err(refused.clone());
        }
        let name =
            TokenName::new(self.name.as_str()).map_err(|err| InvalidInput::new("userTokenName", err.to_string()))?;
        check_list("scopeNames", &self.scope_names)?;
        let scope_names = self
            .scope_names
            .iter()
            .enumerate()
            .map(|(index, name)| ScopeName::new(name.as_str()).map_err(|err| scope_name_error(index, err)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(ips) = &self.ips_whitelist {
            check_list("ipsWhitelist", ips)?;
        }
        crate::expiry::check_expiry(self.expires_at, now)?;
        Ok(types::CreateUserTokenV2Request {
            user_token_name: name,
            scope_names,
            ips_whitelist: self.ips_whitelist.clone(),
            expires_at: self.expires_at,
        })
    }
}

/// A token just created, with its secret.
///
/// `Debug` shows `[REDACTED]` for the secret; read it with `secrecy::ExposeSecret::expose_secret`, once, to store
/// it. eToro never returns it again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreatedToken {
    /// The agent-portfolio it belongs to.
    pub portfolio: Uuid,
    /// `userTokenId`.
    pub id: Uuid,
    /// `userToken`: the secret.
    pub secret: TokenSecret,
    /// `userTokenName`.
    pub name: String,
    /// `clientId`.
    pub client_id: Option<Uuid>,
    /// `scopeNames`, as granted.
    pub scope_names: Vec<String>,
    /// `ipsWhitelist`, as granted; empty when unrestricted.
    pub ips_whitelist: Vec<String>,
    /// `expiresAt`; `None` when it never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// `createdAt`.
    pub created_at: Option<DateTime<Utc>>,
    /// The `x-request-id` of the create.
    pub request_id: Uuid,
    /// How many attempts it took.
    pub attempts: u32,
}
