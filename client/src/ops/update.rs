//! Update User Token: `PATCH /api/v1/...` or `/api/v2/.../user-tokens/{userTokenId}`, by the client's
//! [`ApiVersion`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::Utc;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::call;
use crate::client::{ApiVersion, Client};
use crate::error::{CallInfo, Error, InvalidInput, Operation};
use crate::generated::types;
use crate::ops::pending::Pending;
use crate::rate_limit::RateLimit;
use crate::update::{Scopes, TokenUpdate};
use crate::wire::PreparedRequest;

impl Client {
    /// Updates one user token of one agent-portfolio. The returned call is a future: await it, or set its request
    /// id first, or hand many of them to `futures`' `buffer_unordered`:
    ///
    /// ```no_run
    /// # async fn run(client: etoro_client::Client, p: etoro_client::Uuid, t: etoro_client::Uuid) -> Result<(), etoro_client::Error> {
    /// use std::time::Duration;
    /// use etoro_client::{TokenUpdate, Uuid};
    /// client
    ///     .update_user_token(p, t, TokenUpdate::new().expires_in(Duration::from_secs(30 * 86_400)))
    ///     .request_id(Uuid::new_v4())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn update_user_token(&self, portfolio: Uuid, token: Uuid, update: TokenUpdate) -> UpdateCall<'_> {
        UpdateCall {
            state: Pending::Ready(Request {
                client: self,
                portfolio,
                token,
                update,
                request_id: None,
            }),
        }
    }
}

/// One pending update. It is a [`Future`]: set options, then `.await` it (or call [`UpdateCall::send`], or
/// [`UpdateCall::dry_run`]). Options set after the first poll have no effect.
///
/// **Dropping it** before its first poll sends nothing. Dropping it while it runs leaves the update applied or
/// not: an update is idempotent, so send it again (the same request id may be reused with
/// [`UpdateCall::request_id`], to tie both to one call in eToro's logs).
#[must_use = "an update call does nothing until it is awaited"]
pub struct UpdateCall<'a> {
    state: Pending<'a, Request<'a>, Updated>,
}

struct Request<'a> {
    client: &'a Client,
    portfolio: Uuid,
    token: Uuid,
    update: TokenUpdate,
    request_id: Option<Uuid>,
}

impl fmt::Debug for UpdateCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.state.debug(f, "UpdateCall", |out, request| {
            out.field("portfolio", &request.portfolio)
                .field("token", &request.token)
                .field("update", &request.update)
                .field("request_id", &request.request_id);
        })
    }
}

/// A successful update.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Updated {
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The user token.
    pub token: Uuid,
    /// The `x-request-id` the request carried: quote it to eToro support.
    pub request_id: Uuid,
    /// How many attempts it took.
    pub attempts: u32,
    /// The success status: 204, the only one the spec documents (another is an error).
    pub status: StatusCode,
    /// The quota state the answer reported (`RateLimit-*` headers), when it had one.
    pub rate_limit: Option<RateLimit>,
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
        if let Some(request) = self.state.ready_mut() {
            request.request_id = Some(id);
        }
        self
    }

    /// Validates the input and builds the exact request [`UpdateCall::send`] would send, through the same
    /// generated code and hooks, but sends nothing (not even the scopes lookup of
    /// [`crate::ClientBuilder::check_scopes`]). Credentials show as `[REDACTED]`.
    pub async fn dry_run(self) -> Result<PreparedRequest, Error> {
        let request = self.state.take("update")?;
        let (body, request_id) = request.prepare()?;
        match body {
            Body::V1(body) => call::dry_run(request.v1(request_id, body)).await,
            Body::V2(body) => call::dry_run(request.v2(request_id, body)).await,
        }
    }

    /// Validates the input, then sends the update, retrying transient failures under the client's policy.
    /// Every attempt carries the same `x-request-id`.
    pub async fn send(self) -> Result<Updated, Error> {
        self.state.take("update")?.send().await
    }
}

impl Future for UpdateCall<'_> {
    type Output = Result<Updated, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_with(cx, "update", |request| Box::pin(request.send()))
    }
}

impl<'a> Request<'a> {
    async fn send(self) -> Result<Updated, Error> {
        let (body, request_id) = self.prepare()?;
        let client = self.client;
        let budget = client.budget();
        if let Some(Scopes::Names(names)) = self.update.scopes() {
            let info = CallInfo::new(self.operation(), Some(self.portfolio), Some(self.token), request_id);
            client.check_scope_names(names, &budget, info).await?;
        }
        let info = CallInfo::new(self.operation(), Some(self.portfolio), Some(self.token), request_id);
        let success = match body {
            Body::V1(body) => call::run(&client.runner(), &budget, info, || self.v1(request_id, body.clone())).await?,
            Body::V2(body) => call::run(&client.runner(), &budget, info, || self.v2(request_id, body.clone())).await?,
        };
        Ok(Updated {
            portfolio: self.portfolio,
            token: self.token,
            request_id,
            attempts: success.call.attempts,
            status: StatusCode::NO_CONTENT,
            rate_limit: success.rate_limit,
        })
    }

    fn operation(&self) -> Operation {
        match self.client.version {
            ApiVersion::V1 => Operation::UpdateUserToken,
            ApiVersion::V2 => Operation::UpdateUserTokenV2,
        }
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

    fn v1(
        &self,
        request_id: Uuid,
        body: types::UpdateUserTokenRequest,
    ) -> impl Future<Output = call::Outcome<()>> + 'a {
        self.client
            .raw
            .update_user_token()
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
        self.client
            .raw
            .update_user_token_v2()
            .agent_portfolio_id(self.portfolio)
            .user_token_id(self.token)
            .x_request_id(request_id)
            .body(body)
            .send()
    }
}

/// Refuses the nil UUID, which names nothing.
pub(crate) fn check_id(field: &str, id: Uuid) -> Result<(), InvalidInput> {
    if id.is_nil() {
        return Err(InvalidInput::new(field, "must not be the nil UUID"));
    }
    Ok(())
}
