//! The spec's six operations, as the mock answers them.
//!
//! Every operation goes through [`serve`]: latency, then the quota (when one is set and the request carries a
//! credential), then the injected faults, then authentication and `x-request-id`, then the operation's own
//! checks in the order eToro applies them (path ids, body, rules, existence), then the state change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::body;
use crate::config::MockConfig;
use crate::error::ApiError;
use crate::faults::{self, Fault};
use crate::quota::Quotas;
use crate::reset::{reset_response, KillSwitch};
use crate::spec::{self, Operation};
use crate::store::Store;
use crate::wire::{self, CreateResponse, ListResponse, PortfolioItem, ScopeNameItem, ScopesResponse};

/// `GET` (list) of the agent-portfolios, in axum's syntax.
pub(crate) const PATH_LIST: &str = "/api/v1/agent-portfolios";
/// `PATCH` (update v1) and `DELETE` (revoke) of a token.
pub(crate) const PATH_TOKEN_V1: &str = "/api/v1/agent-portfolios/{agent_portfolio_id}/user-tokens/{user_token_id}";
/// `PATCH` (update v2) of a token.
pub(crate) const PATH_TOKEN_V2: &str = "/api/v2/agent-portfolios/{agent_portfolio_id}/user-tokens/{user_token_id}";
/// `POST` (create) of a token.
pub(crate) const PATH_CREATE: &str = "/api/v2/agent-portfolios/{agent_portfolio_id}/user-tokens";
/// `GET` of the allowed scopes.
pub(crate) const PATH_SCOPES: &str = "/api/v2/agent-portfolios/user-tokens/scopes";

/// What the operations share.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: MockConfig,
    pub(crate) store: Store,
    quotas: Option<Quotas>,
    /// How many requests reached any of the operations (one counter for all), for the "every n-th" faults.
    seq: AtomicU64,
    /// How many `TooManyRequests` answers were sent, from the quota or the fault.
    pub(crate) rate_limited: AtomicU64,
}

impl AppState {
    pub(crate) fn new(config: MockConfig) -> Self {
        spec::load();
        AppState {
            store: Store::new(&config),
            quotas: config.quota.map(|quota| Quotas::new(quota, config.quota_background)),
            config,
            seq: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }
}

type TokenIds = Result<Path<(String, String)>, PathRejection>;
type PortfolioId = Result<Path<String>, PathRejection>;

pub(crate) async fn list(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&state, Operation::List, request, |state, _, _, _| {
        let list = ListResponse {
            agent_portfolios: state.store.snapshot().iter().map(PortfolioItem::from).collect(),
        };
        Ok(wire::json_response(StatusCode::OK, &list))
    })
    .await
}

pub(crate) async fn update_v1(State(state): State<Arc<AppState>>, ids: TokenIds, request: Request) -> Response {
    serve(&state, Operation::UpdateV1, request, |state, headers, body, now| {
        update(state, Operation::UpdateV1, ids, headers, body, now)
    })
    .await
}

pub(crate) async fn update_v2(State(state): State<Arc<AppState>>, ids: TokenIds, request: Request) -> Response {
    serve(&state, Operation::UpdateV2, request, |state, headers, body, now| {
        update(state, Operation::UpdateV2, ids, headers, body, now)
    })
    .await
}

pub(crate) async fn revoke(State(state): State<Arc<AppState>>, ids: TokenIds, request: Request) -> Response {
    serve(&state, Operation::Revoke, request, |state, _, _, _| {
        let (portfolio, token) = parse_ids(ids)?;
        state.store.revoke(portfolio, token)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

pub(crate) async fn create(State(state): State<Arc<AppState>>, id: PortfolioId, request: Request) -> Response {
    serve(&state, Operation::Create, request, |state, headers, body, now| {
        create_token(state, id, headers, body, now)
    })
    .await
}

pub(crate) async fn scopes(State(state): State<Arc<AppState>>, request: Request) -> Response {
    serve(&state, Operation::Scopes, request, |state, _, _, _| {
        let scopes = ScopesResponse {
            scopes: state
                .config
                .allowed_scope_names
                .iter()
                .map(|name| ScopeNameItem { name })
                .collect(),
        };
        Ok(wire::json_response(StatusCode::OK, &scopes))
    })
    .await
}

/// One request of `operation`: latency, quota, faults, the shared checks, then `handle`.
async fn serve<F>(state: &AppState, operation: Operation, request: Request, handle: F) -> Response
where
    F: FnOnce(&AppState, &HeaderMap, &[u8], DateTime<Utc>) -> Result<Response, ApiError>,
{
    let seq = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = &state.config.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let verdict = state
        .quotas
        .as_ref()
        .zip(credential(request.headers()))
        .map(|(quotas, credential)| quotas.draw(credential, Instant::now()));

    let mut response = if verdict.is_some_and(|v| !v.allowed) {
        state.rate_limited.fetch_add(1, Ordering::Relaxed);
        ApiError::too_many_requests().into_response()
    } else if let Some(fault) = faults::choose(faults, seq) {
        match fault {
            Fault::Reset => reset_response(kill_switch(&request).as_ref()),
            Fault::RateLimit { retry_after_secs } => {
                state.rate_limited.fetch_add(1, Ordering::Relaxed);
                let mut response = ApiError::too_many_requests().into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            Fault::ServerError => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "UnhandledException", "Global Error").into_response()
            }
        }
    } else {
        let (parts, body) = request.into_parts();
        // The recording middleware has already buffered the body, so this cannot hit a limit or a network error.
        let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
        check_auth(&parts.headers)
            .and_then(|()| check_request_id(operation, &parts.headers))
            .and_then(|()| handle(state, &parts.headers, &body, Utc::now()))
            .unwrap_or_else(IntoResponse::into_response)
    };
    if let (Some(quotas), Some(verdict)) = (&state.quotas, verdict) {
        quotas.add_headers(verdict, response.headers_mut());
    }
    response
}

/// The credential whose pool a request draws from: the `x-user-key` value, else the `Authorization` value.
fn credential(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get("x-user-key")
        .or_else(|| headers.get(header::AUTHORIZATION))
        .map(HeaderValue::as_bytes)
        .filter(|value| !value.trim_ascii().is_empty())
}

/// The kill switch of the request's connection; `None` when the router is embedded in another server.
fn kill_switch(request: &Request) -> Option<KillSwitch> {
    request
        .extensions()
        .get::<ConnectInfo<KillSwitch>>()
        .map(|ConnectInfo(kill)| kill.clone())
}

/// Either update: path ids, body (schema, then the rules the spec states in prose), then the store.
fn update(
    state: &AppState,
    operation: Operation,
    ids: TokenIds,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Response, ApiError> {
    let (portfolio, token) = parse_ids(ids)?;
    let value = json_body(headers, body)?;
    spec::check_body(operation, &value)?;
    let changes = body::update(value)?;
    if changes.scope_ids.is_some() && changes.scope_names.is_some() {
        return Err(ApiError::validation("Provide either scopeNames or scopeIds, not both"));
    }
    if operation == Operation::UpdateV1 {
        // eToro documents `ScopeIdNotAllowed` for v1 and no check of names, so any well-formed name passes.
        let allowed = &state.config.allowed_scope_ids;
        if changes.scope_ids.iter().flatten().any(|id| !allowed.contains(id)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "ScopeIdNotAllowed",
                "ScopeIds contains values not in the allowed set",
            ));
        }
    } else {
        check_scope_names(&state.config, changes.scope_names.as_deref())?;
    }
    check_expiry(changes.expires_at, now)?;
    state.store.update(portfolio, token, changes, now)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Create: path id, body, rules, then the store; 201 with the token and its secret, which the mock forgets.
fn create_token(
    state: &AppState,
    id: PortfolioId,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Response, ApiError> {
    let portfolio = parse_id(id)?;
    let value = json_body(headers, body)?;
    spec::check_body(Operation::Create, &value)?;
    let new = body::create(value)?;
    check_expiry(new.expires_at, now)?;
    check_scope_names(&state.config, Some(&new.scope_names))?;
    let token = state.store.create(portfolio, new, now)?;
    // 244 random bits from the OS (two UUID v4), as hex.
    let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let created = CreateResponse {
        user_token_id: token.id,
        user_token: &secret,
        user_token_name: &token.name,
        client_id: token.client_id,
        ips_whitelist: wire::ip_strings(token.ips_whitelist.as_deref()),
        scope_names: token.scope_names.as_deref(),
        expires_at: token.expires_at,
        created_at: token.created_at,
    };
    Ok(wire::json_response(StatusCode::CREATED, &created))
}

/// v2 names (update and create) must be in the allowed list, with the spec's 403.
fn check_scope_names(config: &MockConfig, names: Option<&[String]>) -> Result<(), ApiError> {
    let allowed = &config.allowed_scope_names;
    if names.into_iter().flatten().any(|name| !allowed.contains(name)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ScopeNameNotAllowed",
            "Scope name not allowed",
        ));
    }
    Ok(())
}

/// JSON Schema cannot compare with the clock.
fn check_expiry(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::validation("expiresAt must be in the future"));
    }
    Ok(())
}

/// Exactly one way of authenticating: the `x-api-key`/`x-user-key` pair or an OAuth2 bearer token.
///
/// Mixing them is refused too: the spec lists them as alternatives, and a client that sends both has a bug
/// that a lenient mock would hide. The bearer token's scopes are not checked: the mock cannot read a token.
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

/// `x-request-id` must be a UUID. The answer is 400 where the operation documents one; the two lookups (list,
/// scopes) document none, so they answer 401, the only documented client error there (the errorMessage says
/// why). When the spec gains a 400 for them, this follows by itself.
fn check_request_id(operation: Operation, headers: &HeaderMap) -> Result<(), ApiError> {
    let valid = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_uuid)
        .is_some();
    match (valid, spec::documents_400(operation)) {
        (true, _) => Ok(()),
        (false, true) => Err(ApiError::validation("x-request-id must be a UUID")),
        (false, false) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "x-request-id must be a UUID (401: the spec documents no 400 for this operation)",
        )),
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

fn parse_ids(ids: TokenIds) -> Result<(Uuid, Uuid), ApiError> {
    let Path((portfolio, token)) = ids.map_err(|rejection| ApiError::validation(rejection.body_text()))?;
    let portfolio = parse_uuid(&portfolio).ok_or_else(|| ApiError::validation("agentPortfolioId must be a UUID"))?;
    let token = parse_uuid(&token).ok_or_else(|| ApiError::validation("userTokenId must be a UUID"))?;
    Ok((portfolio, token))
}

fn parse_id(id: PortfolioId) -> Result<Uuid, ApiError> {
    let Path(portfolio) = id.map_err(|rejection| ApiError::validation(rejection.body_text()))?;
    parse_uuid(&portfolio).ok_or_else(|| ApiError::validation("agentPortfolioId must be a UUID"))
}

/// The body as JSON, when the request says it is JSON.
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::validation("Content-Type must be application/json"));
    }
    serde_json::from_slice(body).map_err(|err| ApiError::validation(format!("the body is not JSON: {err}")))
}

/// Another method on an operation's path: 405 with the `Allow` the spec gives that path (RFC 9110 15.5.6).
pub(crate) async fn method_not_allowed(allow: &'static str, method: Method, uri: Uri) -> Response {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}; allowed: {allow}", uri.path()),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Any other route: eToro's gateway answers 404 there.
pub(crate) async fn no_route(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!("no such route: {method} {}", uri.path())).into_response()
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
    fn the_pool_is_the_user_key_else_the_bearer_token() {
        assert_eq!(
            credential(&headers(&[("x-user-key", "u"), ("authorization", "Bearer t")])),
            Some(&b"u"[..])
        );
        assert_eq!(
            credential(&headers(&[("authorization", "Bearer t")])),
            Some(&b"Bearer t"[..])
        );
        assert_eq!(credential(&headers(&[("x-api-key", "a"), ("x-user-key", " ")])), None);
        assert_eq!(credential(&headers(&[])), None);
    }

    #[test]
    fn only_hyphenated_uuids() {
        assert!(parse_uuid("3fa85f64-5717-4562-b3fc-2c963f66afa6").is_some());
        assert!(parse_uuid("3fa85f6457174562b3fc2c963f66afa6").is_none());
        assert!(parse_uuid("{3fa85f64-5717-4562-b3fc-2c963f66afa6}").is_none());
        assert!(parse_uuid("nope").is_none());
    }

    #[test]
    fn a_bad_request_id_gets_a_documented_status() {
        let none = HeaderMap::new();
        assert_eq!(
            check_request_id(Operation::UpdateV1, &none).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        // The spec documents a 400 for every operation: the lookups get it too.
        for lookup in [Operation::List, Operation::Scopes] {
            let err = check_request_id(lookup, &none).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(
                err.message.starts_with("x-request-id must be a UUID"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn expiry_must_be_after_now() {
        let now: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(check_expiry(Some("2030-01-01T00:00:01Z".parse().unwrap()), now).is_ok());
        assert!(check_expiry(None, now).is_ok());
        assert_eq!(
            check_expiry(Some(now), now).unwrap_err().message,
            "expiresAt must be in the future"
        );
    }
}
