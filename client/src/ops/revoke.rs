//! Revoke User Token: `DELETE /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use uuid::Uuid;

use crate::call;
use crate::client::Client;
use crate::error::{CallInfo, Error, Operation};
use crate::ops::check_id;
use crate::ops::pending::Pending;
use crate::wire::PreparedRequest;

impl Client {
    /// Revokes (deletes) a user token: it stops working at once. The returned [`RevokeCall`] is a future: await
    /// it, or set its request id first, or build the request without sending it ([`RevokeCall::dry_run`]).
    ///
    /// Revoking is idempotent, so it is retried like an update. When a retry meets 404 after an earlier attempt
    /// may have revoked the token (a timeout, a dropped connection, a 5xx), the token is gone either way: that is
    /// a success with [`Revoked::already_gone`] set. A 404 on the first attempt is an error (a wrong id, or a
    /// token revoked by an earlier call: [`Error::is_not_found`]).
    pub fn revoke_user_token(&self, portfolio: Uuid, token: Uuid) -> RevokeCall<'_> {
        RevokeCall {
            state: Pending::Ready(Request {
                client: self,
                portfolio,
                token,
                request_id: None,
            }),
        }
    }
}

/// One pending revoke. It is a [`Future`]: set options, then `.await` it (or call [`RevokeCall::send`], or
/// [`RevokeCall::dry_run`]). Options set after the first poll have no effect.
///
/// **Dropping it** before its first poll sends nothing. Dropping it while it runs leaves the token revoked or
/// not: revoking is idempotent, so revoke it again (a 404 then means it is gone).
#[must_use = "a revoke call does nothing until it is awaited"]
pub struct RevokeCall<'a> {
    state: Pending<'a, Request<'a>, Revoked>,
}

struct Request<'a> {
    client: &'a Client,
    portfolio: Uuid,
    token: Uuid,
    request_id: Option<Uuid>,
}

impl fmt::Debug for RevokeCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.state.debug(f, "RevokeCall", |out, request| {
            out.field("portfolio", &request.portfolio)
                .field("token", &request.token)
                .field("request_id", &request.request_id);
        })
    }
}

impl<'a> RevokeCall<'a> {
    /// Uses this `x-request-id` instead of a fresh UUID v4.
    pub fn request_id(mut self, id: Uuid) -> Self {
        if let Some(request) = self.state.ready_mut() {
            request.request_id = Some(id);
        }
        self
    }

    /// Checks the ids and builds the exact request [`RevokeCall::send`] would send, through the same generated
    /// code and hooks, but sends nothing. Credentials show as `[REDACTED]`.
    pub async fn dry_run(self) -> Result<PreparedRequest, Error> {
        let request = self.state.take("revoke")?;
        let request_id = request.prepare()?;
        call::dry_run(request.attempt(request_id)).await
    }

    /// Checks the ids, then sends the revoke, retrying transient failures under the client's policy.
    pub async fn send(self) -> Result<Revoked, Error> {
        self.state.take("revoke")?.send().await
    }
}

impl Future for RevokeCall<'_> {
    type Output = Result<Revoked, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.state.poll_with(cx, "revoke", |request| Box::pin(request.send()))
    }
}

impl<'a> Request<'a> {
    fn prepare(&self) -> Result<Uuid, Error> {
        check_id("agentPortfolioId", self.portfolio)?;
        check_id("userTokenId", self.token)?;
        Ok(self.request_id.unwrap_or_else(Uuid::new_v4))
    }

    fn attempt(&self, request_id: Uuid) -> impl Future<Output = call::Outcome<()>> + 'a {
        self.client
            .raw
            .delete_user_token()
            .agent_portfolio_id(self.portfolio)
            .user_token_id(self.token)
            .x_request_id(request_id)
            .send()
    }

    async fn send(self) -> Result<Revoked, Error> {
        let request_id = self.prepare()?;
        let (portfolio, token) = (self.portfolio, self.token);
        let info = CallInfo::new(Operation::RevokeUserToken, Some(portfolio), Some(token), request_id);
        let result = call::run(&self.client.runner(), &self.client.budget(), info, || {
            self.attempt(request_id)
        })
        .await;
        let (attempts, already_gone) = match result {
            Ok(success) => (success.call.attempts, false),
            Err(err) if err.is_not_found() && err.call().is_some_and(|call| call.earlier_outcome_unknown) => {
                tracing::info!(%request_id, %token, "revoke: 404 after an attempt of unknown outcome; the token is gone");
                (err.attempts(), true)
            }
            Err(err) => return Err(err),
        };
        Ok(Revoked {
            portfolio,
            token,
            request_id,
            attempts,
            already_gone,
        })
    }
}

/// A revoked token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revoked {
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The token, which no longer exists.
    pub token: Uuid,
    /// The `x-request-id` of the revoke.
    pub request_id: Uuid,
    /// How many attempts it took.
    pub attempts: u32,
    /// True when the last attempt found the token already gone, after an earlier attempt whose answer was lost:
    /// that attempt most likely revoked it.
    pub already_gone: bool,
}
