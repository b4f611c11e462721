//! List Agent-Portfolios: `GET /api/v1/agent-portfolios`, every agent-portfolio of the user with its tokens. The
//! only way to learn a token's id and current state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::call;
use crate::client::Client;
use crate::error::{CallInfo, Error, Operation, Problem, UnexpectedResponse};
use crate::generated::types;

impl Client {
    /// Every agent-portfolio of the user, each with its user tokens (their settings, never their secrets).
    ///
    /// Reading changes nothing: dropping the future at any point leaves nothing behind.
    pub async fn list_agent_portfolios(&self) -> Result<Vec<AgentPortfolio>, Error> {
        let request_id = Uuid::new_v4();
        let info = CallInfo::new(Operation::ListAgentPortfolios, None, None, request_id);
        let success = call::run(&self.runner(), &self.budget(), info, || {
            self.raw.list_agent_portfolios().x_request_id(request_id).send()
        })
        .await?;
        let missing = |field: String| -> Error {
            UnexpectedResponse {
                call: success.call,
                status: Some(reqwest::StatusCode::OK),
                problem: Problem::MissingField(field),
                body_snippet: None,
            }
            .into()
        };
        success
            .value
            .agent_portfolios
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, portfolio)| AgentPortfolio::read(portfolio, index).map_err(missing))
            .collect()
    }
}

/// An agent-portfolio and its user tokens, as listed. `Serialize` writes the fields under these Rust names in
/// camelCase (`virtualBalance`, `tokens`, ...), for logs and reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AgentPortfolio {
    /// `agentPortfolioId`.
    pub id: Uuid,
    /// `agentPortfolioName`.
    pub name: Option<String>,
    /// `agentPortfolioGcid`.
    pub gcid: Option<i64>,
    /// `agentPortfolioVirtualBalance`, in USD.
    pub virtual_balance: Option<f64>,
    /// `mirrorId`.
    pub mirror_id: Option<i64>,
    /// `createdAt`.
    pub created_at: Option<DateTime<Utc>>,
    /// `userTokens`.
    pub tokens: Vec<UserToken>,
}

/// A user token as listed: its settings, never its secret. `Serialize` writes the fields under these Rust names
/// in camelCase (`ipsWhitelist`, `expiresAt`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserToken {
    /// `userTokenId`.
    pub id: Uuid,
    /// `userTokenName`: unique within the agent-portfolio.
    pub name: Option<String>,
    /// `clientId`.
    pub client_id: Option<Uuid>,
    /// `externalApplicationName`.
    pub external_application_name: Option<String>,
    /// `ipsWhitelist`: the addresses allowed to use the token, as listed; empty when unrestricted (eToro sends
    /// null or `[]`).
    pub ips_whitelist: Vec<String>,
    /// `expiresAt`; `None` when the token never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// `scopeNames`.
    pub scope_names: Vec<String>,
    /// `scopeIds`, which eToro deprecated. A token listed with ids only needs its scopes named by hand to be
    /// recreated: eToro's own id-to-name tables disagree, so no mapping is guessed.
    pub scope_ids: Vec<i32>,
    /// `createdAt`.
    pub created_at: Option<DateTime<Utc>>,
}

impl UserToken {
    /// True when the token has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// True when the token is still valid at `now` but expires within `window`.
    pub fn expires_within(&self, now: DateTime<Utc>, window: chrono::Duration) -> bool {
        self.expires_at.is_some_and(|at| at > now && at <= now + window)
    }
}

impl AgentPortfolio {
    /// Reads one listed portfolio; an error names the first id that is missing.
    fn read(portfolio: types::AgentPortfolioItem, index: usize) -> Result<Self, String> {
        let path = format!("agentPortfolios[{index}]");
        let id = portfolio
            .agent_portfolio_id
            .ok_or_else(|| format!("{path}.agentPortfolioId"))?;
        let tokens = portfolio
            .user_tokens
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(index, token)| {
                Ok(UserToken {
                    id: token
                        .user_token_id
                        .ok_or_else(|| format!("{path}.userTokens[{index}].userTokenId"))?,
                    name: token.user_token_name,
                    client_id: token.client_id,
                    external_application_name: token.external_application_name,
                    ips_whitelist: token.ips_whitelist.unwrap_or_default(),
                    expires_at: token.expires_at,
                    scope_names: token.scope_names.unwrap_or_default(),
                    scope_ids: token.scope_ids.unwrap_or_default(),
                    created_at: token.created_at,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(AgentPortfolio {
            id,
            name: portfolio.agent_portfolio_name,
            gcid: portfolio.agent_portfolio_gcid,
            virtual_balance: portfolio.agent_portfolio_virtual_balance,
            mirror_id: portfolio.mirror_id,
            created_at: portfolio.created_at,
            tokens,
        })
    }
}
