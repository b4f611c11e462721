//! The user-token endpoints, as the spec describes them:
//!
//! - `PATCH /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (`updateUserToken`);
//! - `PATCH /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (`updateUserTokenV2`);
//! - `GET /api/v2/agent-portfolios/user-tokens/scopes` (`getAllowedScopes`).
//!
//! The two updates run the same checks; they differ only in their body type and scope rules ([`UpdateBody`]).

use std::collections::HashSet;
use std::hash::Hash;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use etoro_client::types::{GetAllowedScopesResponse, ScopeNameItem, UpdateUserTokenRequest, UpdateUserTokenV2Request};
use etoro_client::ScopeName;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::config::MockConfig;
use crate::error::ApiError;
use crate::faults::{self, Fault};
use crate::reset::{reset_response, KillSwitch};

/// The v1 update's route, in axum's syntax.
pub(crate) const PATH_V1: &str = "/api/v1/agent-portfolios/{agent_portfolio_id}/user-tokens/{user_token_id}";
/// The v2 update's route, in axum's syntax.
pub(crate) const PATH_V2: &str = "/api/v2/agent-portfolios/{agent_portfolio_id}/user-tokens/{user_token_id}";
/// The allowed-scopes route.
pub(crate) const SCOPES_PATH: &str = "/api/v2/agent-portfolios/user-tokens/scopes";

/// What the endpoints' handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: MockConfig,
    /// How many requests reached any of the endpoints (one counter for all three), for the "every n-th" faults.
    seq: AtomicU64,
}

impl AppState {
    pub(crate) fn new(config: MockConfig) -> Self {
        AppState {
            config,
            seq: AtomicU64::new(0),
        }
    }
}

/// Either update: faults first, then the checks in the order eToro applies them, then 204.
pub(crate) async fn update_user_token<B: UpdateBody>(
    State(state): State<Arc<AppState>>,
    ids: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    if let Some(response) = inject_faults(&state, kill_switch(&request)).await {
        return response;
    }
    let (parts, body) = request.into_parts();
    // The recording middleware has already buffered the body, so this cannot hit a limit or a network error.
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    match handle::<B>(&state.config, ids, &parts.headers, &body, Utc::now()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}

/// `GET` of the allowed scopes: faults, authentication and `x-request-id` as for the updates, then 200 with
/// [`MockConfig::allowed_scope_names`] in order.
pub(crate) async fn get_allowed_scopes(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(response) = inject_faults(&state, kill_switch(&request)).await {
        return response;
    }
    match allowed_scopes(&state.config, request.headers()) {
        Ok(scopes) => Json(scopes).into_response(),
        Err(err) => err.into_response(),
    }
}

/// The kill switch of the request's connection; `None` when the router is embedded in another server.
fn kill_switch(request: &Request) -> Option<KillSwitch> {
    request
        .extensions()
        .get::<ConnectInfo<KillSwitch>>()
        .map(|ConnectInfo(kill)| kill.clone())
}

/// Counts the request, applies the latency, and answers for the fault the request gets, if any.
async fn inject_faults(state: &AppState, kill: Option<KillSwitch>) -> Option<Response> {
    let seq = state.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let faults = &state.config.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    match faults::choose(faults, seq)? {
        Fault::Reset => Some(reset_response(kill.as_ref())),
        Fault::RateLimit { retry_after_secs } => {
            let mut response =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests").into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Some(response)
        }
        Fault::ServerError => {
            Some(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "UnhandledException", "Global Error").into_response())
        }
    }
}

/// Every check of an update that got past the faults, in order; `now` is a parameter for the expiry rule.
fn handle<B: UpdateBody>(
    config: &MockConfig,
    ids: Result<Path<(String, String)>, PathRejection>,
    headers: &HeaderMap,
    body: &Bytes,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    check_auth(headers)?;
    check_request_id(headers)?;
    let (portfolio, token) = parse_ids(ids)?;
    let update = parse_body::<B>(headers, body)?;
    check_rules(config, &update, now)?;
    if config.missing.contains(&portfolio) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Agent-portfolio not found",
        ));
    }
    if config.missing.contains(&token) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "NotFound", "User token not found"));
    }
    Ok(())
}

/// Every check of a scopes request that got past the faults, then its answer.
fn allowed_scopes(config: &MockConfig, headers: &HeaderMap) -> Result<GetAllowedScopesResponse, ApiError> {
    check_auth(headers)?;
    check_request_id(headers)?;
    // The client's own type, so that the field names agree; note that it leaves out an empty `scopes` list.
    Ok(GetAllowedScopesResponse {
        scopes: config
            .allowed_scope_names
            .iter()
            .map(|name| ScopeNameItem {
                name: Some(name.clone()),
            })
            .collect(),
    })
}

/// Exactly one way of authenticating: the `x-api-key`/`x-user-key` pair or an OAuth2 bearer token.
///
/// Mixing them is refused too: the spec lists them as alternatives, and a client that sends both has a bug
/// that a lenient mock would hide.
fn check_auth(headers: &HeaderMap) -> Result<(), ApiError> {
    let api_key = headers.get("x-api-key");
    let user_key = headers.get("x-user-key");
    let authorization = headers.get(header::AUTHORIZATION);

    let keys_present = api_key.is_some() || user_key.is_some();
    let keys_valid = non_empty(api_key) && non_empty(user_key);
    let bearer_valid = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 section 11.1); the token is not.
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("Bearer") && !token.trim().is_empty());

    let ok = (keys_valid && authorization.is_none()) || (bearer_valid && !keys_present);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"))
    }
}

fn non_empty(value: Option<&HeaderValue>) -> bool {
    value.is_some_and(|v| !v.as_bytes().trim_ascii().is_empty())
}

fn check_request_id(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_uuid)
    {
        Some(_) => Ok(()),
        None => Err(ApiError::bad_request("x-request-id must be a UUID")),
    }
}

/// A UUID in its canonical, hyphenated form only (`uuid` would also take the simple, braced and URN forms):
/// `format: uuid` means the hyphenated form, and accepting more would let a sloppy client pass.
fn parse_uuid(text: &str) -> Option<Uuid> {
    if text.len() == 36 {
        Uuid::try_parse(text).ok()
    } else {
        None
    }
}

fn parse_ids(ids: Result<Path<(String, String)>, PathRejection>) -> Result<(Uuid, Uuid), ApiError> {
    let Path((portfolio, token)) = ids.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let portfolio = parse_uuid(&portfolio).ok_or_else(|| ApiError::bad_request("agentPortfolioId must be a UUID"))?;
    let token = parse_uuid(&token).ok_or_else(|| ApiError::bad_request("userTokenId must be a UUID"))?;
    Ok((portfolio, token))
}

/// The body of one version of the update: its client type, and what sets the version's rules apart.
pub(crate) trait UpdateBody: DeserializeOwned + Send + 'static {
    /// The fields both versions check alike.
    fn fields(&self) -> Fields<'_>;

    /// The version's check of the requested scopes against the config, run after the checks of shape.
    fn check_scopes(&self, config: &MockConfig) -> Result<(), ApiError>;

    /// The `errorMessage` of a body that does not deserialise.
    fn parse_error(err: &serde_json::Error) -> String {
        format!("Invalid request body: {err}")
    }
}

/// A view of an update's fields; `scope_ids` is always `None` in v2, which has no such field.
pub(crate) struct Fields<'a> {
    expires_at: Option<DateTime<Utc>>,
    ips_whitelist: Option<&'a [Ipv4Addr]>,
    scope_ids: Option<&'a [i32]>,
    scope_names: Option<&'a [ScopeName]>,
}

impl UpdateBody for UpdateUserTokenRequest {
    fn fields(&self) -> Fields<'_> {
        Fields {
            expires_at: self.expires_at,
            ips_whitelist: self.ips_whitelist.as_deref(),
            scope_ids: self.scope_ids.as_deref(),
            scope_names: self.scope_names.as_deref(),
        }
    }

    /// Only the ids: eToro documents `ScopeIdNotAllowed` for v1 and no check of names, so any well-formed name
    /// passes.
    fn check_scopes(&self, config: &MockConfig) -> Result<(), ApiError> {
        if self
            .scope_ids
            .iter()
            .flatten()
            .any(|id| !config.allowed_scope_ids.contains(id))
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "ScopeIdNotAllowed",
                "ScopeIds contains values not in the allowed set",
            ));
        }
        Ok(())
    }
}

impl UpdateBody for UpdateUserTokenV2Request {
    fn fields(&self) -> Fields<'_> {
        Fields {
            expires_at: self.expires_at,
            ips_whitelist: self.ips_whitelist.as_deref(),
            scope_ids: None,
            scope_names: self.scope_names.as_deref(),
        }
    }

    /// Names outside [`MockConfig::allowed_scope_names`] are forbidden, with the spec's 403.
    fn check_scopes(&self, config: &MockConfig) -> Result<(), ApiError> {
        if self
            .scope_names
            .iter()
            .flatten()
            .any(|name| !config.allowed_scope_names.iter().any(|a| a == name.as_str()))
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ScopeNameNotAllowed",
                "Scope name not allowed",
            ));
        }
        Ok(())
    }

    /// Says why `scopeIds` is unknown, since a client moving from v1 is the likely sender.
    fn parse_error(err: &serde_json::Error) -> String {
        if err.to_string().starts_with("unknown field `scopeIds`") {
            format!("Invalid request body: scopeIds is not supported in v2, use scopeNames: {err}")
        } else {
            format!("Invalid request body: {err}")
        }
    }
}

/// Deserialises with the client's own type, so that unknown fields, bad IPv4 addresses, bad date-times and
/// malformed scope names are refused exactly where the client's schema refuses them.
fn parse_body<B: UpdateBody>(headers: &HeaderMap, body: &[u8]) -> Result<B, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::bad_request("Content-Type must be application/json"));
    }
    serde_json::from_slice(body).map_err(|err| ApiError::bad_request(B::parse_error(&err)))
}

/// The rules the spec states in prose or in keywords the generated types do not enforce.
fn check_rules<B: UpdateBody>(config: &MockConfig, update: &B, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Fields {
        expires_at,
        ips_whitelist,
        scope_ids,
        scope_names,
    } = update.fields();

    if expires_at.is_none() && ips_whitelist.is_none() && scope_ids.is_none() && scope_names.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "NoChangesDetected",
            "At least one field must be provided",
        ));
    }
    if scope_ids.is_some() && scope_names.is_some() {
        return Err(ApiError::bad_request("Provide either scopeNames or scopeIds, not both"));
    }

    let lists = [
        ("scopeIds", scope_ids.map(|l| (l.len(), has_duplicates(l)))),
        ("scopeNames", scope_names.map(|l| (l.len(), has_duplicates(l)))),
        ("ipsWhitelist", ips_whitelist.map(|l| (l.len(), has_duplicates(l)))),
    ];
    for (name, list) in lists {
        match list {
            Some((0, _)) => return Err(ApiError::bad_request(format!("{name} must not be empty"))),
            Some((_, true)) => return Err(ApiError::bad_request(format!("{name} must not contain duplicates"))),
            _ => {}
        }
    }

    update.check_scopes(config)?;
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_request("expiresAt must be in the future"));
    }
    Ok(())
}

fn has_duplicates<T: Hash + Eq>(items: &[T]) -> bool {
    let mut seen = HashSet::with_capacity(items.len());
    !items.iter().all(|item| seen.insert(item))
}

/// Any other route, including another method on an endpoint's path: eToro's gateway answers 404 there.
pub(crate) async fn no_route(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("no such route: {method} {}", uri.path()),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (header::HeaderName::from_static(n), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn auth_needs_exactly_one_complete_kind() {
        let ok = [
            headers(&[("x-api-key", "a"), ("x-user-key", "u")]),
            headers(&[("authorization", "Bearer t")]),
            headers(&[("authorization", "bearer t")]),
        ];
        for h in ok {
            assert!(check_auth(&h).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[]),
            headers(&[("x-api-key", "a")]),
            headers(&[("x-user-key", "u")]),
            headers(&[("x-api-key", "a"), ("x-user-key", " ")]),
            headers(&[("authorization", "Bearer ")]),
            headers(&[("authorization", "Basic dTpw")]),
            headers(&[("authorization", "Bearer t"), ("x-api-key", "a"), ("x-user-key", "u")]),
            headers(&[("authorization", "Bearer t"), ("x-api-key", "a")]),
        ];
        for h in refused {
            assert_eq!(check_auth(&h).unwrap_err().status, StatusCode::UNAUTHORIZED, "{h:?}");
        }
    }

    #[test]
    fn only_hyphenated_uuids() {
        assert!(parse_uuid("3fa85f64-5717-4562-b3fc-2c963f66afa6").is_some());
        assert!(parse_uuid("3fa85f6457174562b3fc2c963f66afa6").is_none());
        assert!(parse_uuid("{3fa85f64-5717-4562-b3fc-2c963f66afa6}").is_none());
        assert!(parse_uuid("nope").is_none());
    }

    fn rule(json: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let update: UpdateUserTokenRequest = serde_json::from_str(json).unwrap();
        check_rules(&MockConfig::default(), &update, now)
    }

    #[test]
    fn expiry_must_be_after_now() {
        let now: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(rule(r#"{"expiresAt":"2030-01-01T00:00:01Z"}"#, now).is_ok());
        assert_eq!(
            rule(r#"{"expiresAt":"2030-01-01T00:00:00Z"}"#, now).unwrap_err().code,
            "BadRequest"
        );
    }

    #[test]
    fn duplicates_are_named() {
        let now = Utc::now();
        let err = rule(r#"{"ipsWhitelist":["10.0.0.1","10.0.0.1"]}"#, now).unwrap_err();
        assert_eq!(err.message, "ipsWhitelist must not contain duplicates");
        let err = rule(r#"{"scopeNames":[]}"#, now).unwrap_err();
        assert_eq!(err.message, "scopeNames must not be empty");
    }

    #[test]
    fn scope_names_are_checked_in_v2_only() {
        let config = MockConfig::default();
        let now = Utc::now();
        let json = r#"{"scopeNames":["etoro-public:everything"]}"#;
        let v1: UpdateUserTokenRequest = serde_json::from_str(json).unwrap();
        assert!(check_rules(&config, &v1, now).is_ok());
        let v2: UpdateUserTokenV2Request = serde_json::from_str(json).unwrap();
        let err = check_rules(&config, &v2, now).unwrap_err();
        assert_eq!(
            (err.status, err.code, err.message.as_str()),
            (StatusCode::FORBIDDEN, "ScopeNameNotAllowed", "Scope name not allowed")
        );
    }

    #[test]
    fn v2_explains_scope_ids() {
        let headers = headers(&[("content-type", "application/json")]);
        let err = parse_body::<UpdateUserTokenV2Request>(&headers, br#"{"scopeIds":[200]}"#).unwrap_err();
        assert!(
            err.message.contains("scopeIds is not supported in v2"),
            "{}",
            err.message
        );
        let err = parse_body::<UpdateUserTokenRequest>(&headers, br#"{"other":1}"#).unwrap_err();
        assert!(!err.message.contains("v2"), "{}", err.message);
    }
}
