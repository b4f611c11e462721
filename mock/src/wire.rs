//! The JSON the mock answers with (and reads seed files from), written from the spec's response schemas:
//! `GetAgentPortfoliosResponse`, `CreateUserTokenResponse`, `GetAllowedScopesResponse`.
//!
//! `Option` fields without `skip_serializing_if` are the spec's `nullable` ones: they are sent as `null`.

use std::net::Ipv4Addr;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use crate::seed::{Portfolio, Token};

/// `GetAgentPortfoliosResponse`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ListResponse {
    pub(crate) agent_portfolios: Vec<PortfolioItem>,
}

/// `AgentPortfolioItem`. In a seed file only the id is required; see [`crate::seed`] for the defaults.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PortfolioItem {
    pub(crate) agent_portfolio_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent_portfolio_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent_portfolio_gcid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent_portfolio_virtual_balance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mirror_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "instant_opt")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) user_tokens: Vec<TokenItem>,
}

/// `AgentPortfolioUserTokenItem`: a token as listed, never with its secret.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TokenItem {
    pub(crate) user_token_id: Uuid,
    pub(crate) user_token_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) external_application_name: Option<String>,
    /// Strings in the listing, as the spec has them; a seed file's entries must be IPv4 addresses.
    #[serde(default)]
    pub(crate) ips_whitelist: Option<Vec<String>>,
    #[serde(default, serialize_with = "instant_opt")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) scope_ids: Option<Vec<i32>>,
    #[serde(default)]
    pub(crate) scope_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "instant_opt")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// `CreateUserTokenResponse`: the only answer that carries a token's secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateResponse<'a> {
    pub(crate) user_token_id: Uuid,
    pub(crate) user_token: &'a str,
    pub(crate) user_token_name: &'a str,
    pub(crate) client_id: Uuid,
    pub(crate) ips_whitelist: Option<Vec<String>>,
    pub(crate) scope_names: Option<&'a [String]>,
    #[serde(serialize_with = "instant_opt")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "instant")]
    pub(crate) created_at: DateTime<Utc>,
}

/// `GetAllowedScopesResponse`.
#[derive(Serialize)]
pub(crate) struct ScopesResponse<'a> {
    pub(crate) scopes: Vec<ScopeNameItem<'a>>,
}

/// `ScopeNameItem`.
#[derive(Serialize)]
pub(crate) struct ScopeNameItem<'a> {
    pub(crate) name: &'a str,
}

/// RFC 3339 in UTC with a `Z` and whole seconds unless the instant has a fraction, as eToro writes instants.
fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn instant_opt<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => instant(at, serializer),
        None => serializer.serialize_none(),
    }
}

impl From<&Portfolio> for PortfolioItem {
    fn from(portfolio: &Portfolio) -> Self {
        PortfolioItem {
            agent_portfolio_id: portfolio.id,
            agent_portfolio_name: Some(portfolio.name.clone()),
            agent_portfolio_gcid: Some(portfolio.gcid),
            agent_portfolio_virtual_balance: Some(portfolio.virtual_balance),
            mirror_id: Some(portfolio.mirror_id),
            created_at: Some(portfolio.created_at),
            user_tokens: portfolio.tokens.iter().map(TokenItem::from).collect(),
        }
    }
}

impl From<&Token> for TokenItem {
    fn from(token: &Token) -> Self {
        TokenItem {
            user_token_id: token.id,
            user_token_name: token.name.clone(),
            client_id: Some(token.client_id),
            external_application_name: token.external_application_name.clone(),
            ips_whitelist: ip_strings(token.ips_whitelist.as_deref()),
            expires_at: token.expires_at,
            scope_ids: token.scope_ids.clone(),
            scope_names: token.scope_names.clone(),
            created_at: Some(token.created_at),
        }
    }
}

/// The listing's form of an allow-list: strings, `null` when unrestricted.
pub(crate) fn ip_strings(ips: Option<&[Ipv4Addr]>) -> Option<Vec<String>> {
    ips.map(|ips| ips.iter().map(Ipv4Addr::to_string).collect())
}

/// A JSON answer. Serialising the mock's own small types cannot fail; should it ever, the answer is the spec's
/// 500 rather than a panic.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"errorCode":"UnhandledException","errorMessage":"Global Error"}"#.to_vec(),
        ),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
