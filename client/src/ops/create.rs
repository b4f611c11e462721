//! Create User Token (v2): `POST /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens`. The answer holds the
//! token's secret, returned this once.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::call;
use crate::client::Client;
use crate::error::{CallInfo, Error, InvalidInput, Operation, Problem, UnexpectedResponse};
use crate::generated::types;
use crate::ops::check_id;
use crate::scope::ScopeName;
use crate::token::{TokenName, TokenSecret};
use crate::update::{check_list, scope_name_error};

impl Client {
    /// Creates a user token in an agent-portfolio. The answer holds its secret, which eToro returns this once:
    /// store it before anything else.
    ///
    /// Not idempotent, so not retried blindly: a create is repeated only when its request surely did not reach
    /// eToro (no connection, or a rate limit). After a timeout, a dropped connection or a 5xx the token may or may
    /// not exist ([`Error::outcome_unknown`]): list the agent-portfolio's tokens and look for the name before
    /// creating again (a second create with the same name answers 409 `UserKeyNameAlreadyExists`). A 429
    /// `MaxUserTokensExceeded` is not a rate limit and is not retried.
    ///
    /// ```no_run
    /// # async fn run(client: etoro_client::Client, portfolio: etoro_client::Uuid) -> Result<(), etoro_client::Error> {
    /// use etoro_client::{scope, NewToken};
    /// use etoro_client::secrecy::ExposeSecret;
    /// let created = client
    ///     .create_user_token(portfolio, NewToken::new("trading-bot", [scope::TRADE_REAL_READ]))
    ///     .await?;
    /// store_somewhere_safe(created.id, created.secret.expose_secret());
    /// # Ok(()) }
    /// # fn store_somewhere_safe(_: etoro_client::Uuid, _: &str) {}
    /// ```
    pub async fn create_user_token(&self, portfolio: Uuid, token: NewToken) -> Result<CreatedToken, Error> {
        check_id("agentPortfolioId", portfolio)?;
        let body = token.to_request(Utc::now())?;
        let request_id = Uuid::new_v4();
        let info = CallInfo::new(Operation::CreateUserToken, Some(portfolio), None, request_id);
        let budget = self.budget();
        self.check_scope_names(&token.scope_names, &budget, info).await?;
        let success = call::run(&self.runner(), &budget, info, || {
            self.raw
                .create_user_token_v2()
                .agent_portfolio_id(portfolio)
                .x_request_id(request_id)
                .body(body.clone())
                .send()
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
            name: answer.user_token_name.unwrap_or_else(|| token.name.clone()),
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
    refused: Option<InvalidInput>,
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
            refused: None,
        }
    }

    /// Allows the token from these IPv4 addresses only (without it: from anywhere).
    pub fn ips_whitelist(mut self, ips: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.ips_whitelist = Some(ips.into_iter().collect());
        self
    }

    /// Expires the token at this instant (without it: never).
    pub fn expires_at(mut self, at: impl Into<DateTime<Utc>>) -> Self {
        self.expires_at = Some(at.into());
        self
    }

    /// Expires the token `after` this long from now (the moment of this call).
    pub fn expires_in(mut self, after: std::time::Duration) -> Self {
        match crate::update::from_now(after) {
            Ok(at) => self.expires_at = Some(at),
            Err(refused) => {
                self.refused.get_or_insert(refused);
            }
        }
        self
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
        if let Some(refused) = &self.refused {
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
        crate::update::check_expiry(self.expires_at, now)?;
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
