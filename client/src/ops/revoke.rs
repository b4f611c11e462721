//! Revoke User Token: `DELETE /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}`.

use uuid::Uuid;

use crate::call;
use crate::client::Client;
use crate::error::{CallInfo, Error, Operation};
use crate::ops::check_id;

impl Client {
    /// Revokes (deletes) a user token: it stops working at once.
    ///
    /// Revoking is idempotent, so it is retried like an update. When a retry meets 404 after an earlier attempt
    /// may have revoked the token (a timeout, a dropped connection, a 5xx), the token is gone either way: that is
    /// a success with [`Revoked::already_gone`] set. A 404 on the first attempt is an error (a wrong id).
    pub async fn revoke_user_token(&self, portfolio: Uuid, token: Uuid) -> Result<Revoked, Error> {
        check_id("agentPortfolioId", portfolio)?;
        check_id("userTokenId", token)?;
        let request_id = Uuid::new_v4();
        let info = CallInfo::new(Operation::RevokeUserToken, Some(portfolio), Some(token), request_id);
        let result = call::run(&self.runner(), &self.budget(), info, || {
            self.raw
                .delete_user_token()
                .agent_portfolio_id(portfolio)
                .user_token_id(token)
                .x_request_id(request_id)
                .send()
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
