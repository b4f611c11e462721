//! The mock's state, quota, request record and log, checked through real HTTP requests on loopback with plain
//! reqwest (no client types: the requests are written here by hand, from the spec).

use std::time::Duration;

use chrono::{DateTime, Utc};
use etoro_mock::{MockConfig, MockServer, Portfolio, Token, World};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
const API_KEY: &str = "world-api-key-31f0";
const USER_KEY: &str = "world-user-key-77ab";

async fn start(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("mock starts")
}

/// The closed world with the README's portfolio and token, as the CLI runs it.
fn closed() -> MockConfig {
    MockConfig {
        world: World::Closed,
        portfolios: vec![Portfolio::example()],
        ..MockConfig::default()
    }
}

fn client() -> Client {
    // In `cargo test --workspace`, etoro-client's `rustls` feature reaches this reqwest (feature unification):
    // reqwest then needs a process-wide crypto provider. A second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().no_proxy().build().unwrap()
}

/// `method` on `path` with the key pair and a fresh request id.
fn call(server: &MockServer, method: reqwest::Method, path: &str) -> RequestBuilder {
    client()
        .request(method, format!("{}{path}", server.base_url()))
        .header("x-api-key", API_KEY)
        .header("x-user-key", USER_KEY)
        .header("x-request-id", Uuid::new_v4().to_string())
}

fn token_path(version: u8, portfolio: &str, token: &str) -> String {
    format!("/api/v{version}/agent-portfolios/{portfolio}/user-tokens/{token}")
}

fn create_path(portfolio: &str) -> String {
    format!("/api/v2/agent-portfolios/{portfolio}/user-tokens")
}

async fn patch(server: &MockServer, version: u8, portfolio: &str, token: &str, body: Value) -> Response {
    call(server, reqwest::Method::PATCH, &token_path(version, portfolio, token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn create(server: &MockServer, portfolio: &str, body: Value) -> Response {
    call(server, reqwest::Method::POST, &create_path(portfolio))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn revoke(server: &MockServer, portfolio: &str, token: &str) -> Response {
    call(server, reqwest::Method::DELETE, &token_path(1, portfolio, token))
        .send()
        .await
        .unwrap()
}

async fn list(server: &MockServer) -> Value {
    let response = call(server, reqwest::Method::GET, "/api/v1/agent-portfolios")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The listed token `token` of portfolio `portfolio`, or `Value::Null`.
fn listed(list: &Value, portfolio: &str, token: &str) -> Value {
    list["agentPortfolios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["agentPortfolioId"] == portfolio)
        .and_then(|p| {
            p["userTokens"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["userTokenId"] == token)
        })
        .cloned()
        .unwrap_or(Value::Null)
}

async fn error_of(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["errorCode"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

fn future() -> String {
    (Utc::now() + chrono::Duration::days(30)).to_rfc3339()
}

#[tokio::test]
async fn wrongly_shaped_bodies_are_refused_with_400_naming_the_field() {
    let server = start(closed()).await;
    let before = server.portfolios();
    // (operation: 1 = v1 update, 2 = v2 update, 0 = create; body; the field the message must name)
    let cases: Vec<(u8, Value, &str)> = vec![
        // A renamed field.
        (1, json!({"scopeName": ["etoro-public:trade.real:read"]}), "scopeName"),
        (2, json!({"ipWhitelist": ["10.0.0.1"]}), "ipWhitelist"),
        (
            0,
            json!({"name": "x", "scopeNames": ["etoro-public:trade.real:read"]}),
            "userTokenName is required",
        ),
        // A number where the spec says string.
        (1, json!({"expiresAt": 1_893_456_000}), "expiresAt"),
        (2, json!({"scopeNames": [200]}), "scopeNames/0"),
        (1, json!({"ipsWhitelist": [167_772_161]}), "ipsWhitelist/0"),
        (
            0,
            json!({"userTokenName": 5, "scopeNames": ["etoro-public:trade.real:read"]}),
            "userTokenName",
        ),
        // A date-time without a time zone, or no date-time at all.
        (1, json!({"expiresAt": "2030-01-01T00:00:00"}), "expiresAt"),
        (2, json!({"expiresAt": "2030-01-01"}), "expiresAt"),
        (
            0,
            json!({"userTokenName": "x", "scopeNames": ["a:b"], "expiresAt": "2030-01-01 00:00:00Z"}),
            "expiresAt",
        ),
        // null, which no request schema allows.
        (1, json!({"expiresAt": null}), "expiresAt"),
        (
            1,
            json!({"scopeNames": null, "ipsWhitelist": ["10.0.0.1"]}),
            "scopeNames",
        ),
        (1, json!({"scopeIds": null}), "scopeIds"),
        (2, json!({"scopeNames": null}), "scopeNames"),
        (2, json!({"ipsWhitelist": null}), "ipsWhitelist"),
        (2, json!({"ipsWhitelist": ["10.0.0.1", null]}), "ipsWhitelist/1"),
        (
            0,
            json!({"userTokenName": null, "scopeNames": ["a:b"]}),
            "userTokenName",
        ),
        (
            0,
            json!({"userTokenName": "x", "scopeNames": ["a:b"], "expiresAt": null}),
            "expiresAt",
        ),
        // Not IPv4.
        (1, json!({"ipsWhitelist": ["::1"]}), "ipsWhitelist/0"),
        (2, json!({"ipsWhitelist": ["256.0.0.1"]}), "ipsWhitelist/0"),
        (2, json!({"ipsWhitelist": ["10.0.0"]}), "ipsWhitelist/0"),
        (1, json!({"ipsWhitelist": [" 10.0.0.1"]}), "ipsWhitelist/0"),
        (1, json!({"ipsWhitelist": ["10.0.0.1/32"]}), "ipsWhitelist/0"),
        // An unknown field next to valid ones.
        (1, json!({"ipsWhitelist": ["10.0.0.1"], "extra": true}), "extra"),
        (
            2,
            json!({"scopeNames": ["etoro-public:trade.real:read"], "scopeIds": [200]}),
            "scopeIds",
        ),
        (
            0,
            json!({"userTokenName": "x", "scopeNames": ["a:b"], "userToken": "s"}),
            "userToken",
        ),
        // Not an object at all.
        (1, json!(["ipsWhitelist"]), "the body"),
        (0, json!("token"), "the body"),
    ];
    for (operation, body, field) in cases {
        let response = match operation {
            0 => create(&server, PORTFOLIO, body.clone()).await,
            version => patch(&server, version, PORTFOLIO, TOKEN, body.clone()).await,
        };
        let (status, code, message) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operation} {body}: {code} {message}");
        assert!(
            ["ValidationFailed", "ScopeIdsRequired", "IpsWhitelistInvalidIp"].contains(&code.as_str()),
            "{body}: {code}"
        );
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(server.portfolios(), before, "nothing refused changed the state");
    server.shutdown().await;
}

#[tokio::test]
async fn updates_change_what_the_listing_shows() {
    let server = start(closed()).await;
    let seeded = list(&server).await;
    let token = listed(&seeded, PORTFOLIO, TOKEN);
    assert_eq!(token["userTokenName"], "readme-token");
    assert_eq!(token["expiresAt"], Value::Null, "a token that never expires lists null");
    assert_eq!(token["ipsWhitelist"], Value::Null);

    let at = future();
    let response = patch(
        &server,
        2,
        PORTFOLIO,
        TOKEN,
        json!({"scopeNames": ["etoro-public:trade.demo:read"], "ipsWhitelist": ["203.0.113.7", "10.0.0.1"], "expiresAt": at}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let token = listed(&list(&server).await, PORTFOLIO, TOKEN);
    assert_eq!(token["scopeNames"], json!(["etoro-public:trade.demo:read"]));
    assert_eq!(token["ipsWhitelist"], json!(["203.0.113.7", "10.0.0.1"]));
    let listed_at: DateTime<Utc> = token["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(listed_at, at.parse::<DateTime<Utc>>().unwrap());

    // v1 by deprecated ids: the ids are listed, the names no longer (the mock does not guess the mapping).
    let response = patch(&server, 1, PORTFOLIO, TOKEN, json!({"scopeIds": [211, 212]})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let token = listed(&list(&server).await, PORTFOLIO, TOKEN);
    assert_eq!(
        (&token["scopeIds"], &token["scopeNames"]),
        (&json!([211, 212]), &Value::Null)
    );
    assert_eq!(
        token["ipsWhitelist"],
        json!(["203.0.113.7", "10.0.0.1"]),
        "untouched fields stay"
    );

    let held = server
        .token(PORTFOLIO.parse().unwrap(), TOKEN.parse().unwrap())
        .unwrap();
    assert_eq!(held.scope_ids, Some(vec![211, 212]));
    assert_eq!(held.ips_whitelist.unwrap().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn the_closed_world_answers_404_for_anything_not_held() {
    let server = start(closed()).await;
    let other = Uuid::new_v4().to_string();
    let body = json!({"ipsWhitelist": ["10.0.0.1"]});
    for (response, message) in [
        (
            patch(&server, 1, &other, TOKEN, body.clone()).await,
            "Agent-portfolio not found",
        ),
        (
            patch(&server, 2, PORTFOLIO, &other, body.clone()).await,
            "User token not found",
        ),
        (revoke(&server, &other, TOKEN).await, "Agent-portfolio not found"),
        (revoke(&server, PORTFOLIO, &other).await, "User token not found"),
        (
            create(
                &server,
                &other,
                json!({"userTokenName": "x", "scopeNames": ["etoro-public:trade.real:read"]}),
            )
            .await,
            "Agent-portfolio not found",
        ),
    ] {
        assert_eq!(
            error_of(response).await,
            (StatusCode::NOT_FOUND, "NotFound".to_owned(), message.to_owned())
        );
    }
    assert_eq!(server.portfolios(), vec![Portfolio::example()]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_open_world_adds_tokens_it_is_told_about() {
    let server = start(MockConfig::default()).await;
    let (portfolio, token) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let response = patch(&server, 1, &portfolio, &token, json!({"scopeNames": ["anything:goes"]})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let shown = listed(&list(&server).await, &portfolio, &token);
    assert_eq!(shown["scopeNames"], json!(["anything:goes"]));
    assert_eq!(shown["expiresAt"], Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn create_returns_the_secret_once_and_revoke_removes_the_token() {
    let server = start(closed()).await;
    let at = future();
    let response = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "bot-1", "scopeNames": ["etoro-public:trade.real:read"], "ipsWhitelist": ["198.51.100.4"], "expiresAt": at}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("retry-after").is_none());
    let created: Value = response.json().await.unwrap();
    let secret = created["userToken"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "{secret}");
    let id = created["userTokenId"].as_str().unwrap().to_owned();
    assert_eq!(created["userTokenName"], "bot-1");
    assert_eq!(created["ipsWhitelist"], json!(["198.51.100.4"]));
    assert!(created["clientId"].as_str().unwrap().parse::<Uuid>().is_ok());
    assert!(created["createdAt"].as_str().unwrap().parse::<DateTime<Utc>>().is_ok());

    // Listed, without the secret; another create gets another secret and id.
    let listing = list(&server).await;
    assert_eq!(listed(&listing, PORTFOLIO, &id)["userTokenName"], "bot-1");
    assert!(
        !listing.to_string().contains(&secret),
        "the listing never holds a secret"
    );
    let second: Value = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "bot-2", "scopeNames": ["etoro-public:trade.real:read"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_ne!(second["userToken"], created["userToken"]);
    assert_ne!(second["userTokenId"], created["userTokenId"]);
    assert_eq!(second["expiresAt"], Value::Null);
    assert_eq!(second["ipsWhitelist"], Value::Null);

    // The same name again: 409.
    let response = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "bot-1", "scopeNames": ["etoro-public:trade.real:read"]}),
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::CONFLICT,
            "UserKeyNameAlreadyExists".to_owned(),
            "UserKeyName already exists".to_owned()
        )
    );

    // Revoked: gone from the listing, and 404 from then on.
    assert_eq!(revoke(&server, PORTFOLIO, &id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(&list(&server).await, PORTFOLIO, &id), Value::Null);
    assert_eq!(revoke(&server, PORTFOLIO, &id).await.status(), StatusCode::NOT_FOUND);
    let response = patch(&server, 2, PORTFOLIO, &id, json!({"ipsWhitelist": ["10.0.0.1"]})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(server.token(PORTFOLIO.parse().unwrap(), id.parse().unwrap()).is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn create_refuses_names_past_the_allowed_list_and_expiries_past_now() {
    let server = start(closed()).await;
    let response = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "x", "scopeNames": ["etoro-public:everything"]}),
    )
    .await;
    assert_eq!(error_of(response).await.1, "ScopeNameNotAllowed");
    let response = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "x", "scopeNames": ["etoro-public:trade.real:read"], "expiresAt": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(error_of(response).await.2, "expiresAt must be in the future");
    let response = create(&server, PORTFOLIO, json!({"userTokenName": "x"})).await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::BAD_REQUEST,
            "ScopeIdsRequired".to_owned(),
            "ScopeNames is required".to_owned()
        )
    );
    assert_eq!(server.portfolios(), vec![Portfolio::example()]);
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_keep_names_unique_and_the_limit() {
    let server = start(MockConfig {
        max_tokens_per_portfolio: 5,
        ..closed()
    })
    .await;
    // The same name from 16 requests at once: exactly one wins.
    let same = futures::future::join_all::<Vec<_>>(
        (0..16)
            .map(|_| {
                create(
                    &server,
                    PORTFOLIO,
                    json!({"userTokenName": "race", "scopeNames": ["etoro-public:trade.real:read"]}),
                )
            })
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = same.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 201 || s == 409), "{statuses:?}");

    // 16 distinct names at once into a portfolio holding 2 of 5: exactly 3 win, the rest hit the limit.
    let distinct = futures::future::join_all::<Vec<_>>(
        (0..16)
            .map(|i| {
                create(
                    &server,
                    PORTFOLIO,
                    json!({"userTokenName": format!("bot-{i}"), "scopeNames": ["etoro-public:trade.real:read"]}),
                )
            })
            .collect(),
    )
    .await;
    let mut created = 0;
    for response in distinct {
        if response.status() == StatusCode::CREATED {
            created += 1;
            continue;
        }
        assert!(response.headers().get("retry-after").is_none(), "waiting does not help");
        assert_eq!(
            error_of(response).await,
            (
                StatusCode::TOO_MANY_REQUESTS,
                "MaxUserTokensExceeded".to_owned(),
                "Maximum number of user tokens exceeded".to_owned()
            )
        );
    }
    assert_eq!(created, 3);
    assert_eq!(server.portfolios()[0].tokens.len(), 5);
    assert_eq!(server.rate_limited_count(), 0, "a full portfolio is not rate limiting");
    server.shutdown().await;
}

#[tokio::test]
async fn seeds_combine_and_list_in_order() {
    let generated = Portfolio::generate(3);
    let extra = Portfolio::new(Uuid::new_v4(), "extra").token(
        Token::new(Uuid::new_v4(), "t")
            .scope_names(["etoro-public:trade.demo:read"])
            .ips_whitelist(["192.0.2.1".parse().unwrap()])
            .expires_at("2099-01-01T00:00:00Z".parse().unwrap()),
    );
    let mut portfolios = vec![Portfolio::example()];
    portfolios.extend(generated);
    portfolios.push(extra.clone());
    let server = start(MockConfig {
        world: World::Closed,
        portfolios: portfolios.clone(),
        ..MockConfig::default()
    })
    .await;
    let listing = list(&server).await;
    let ids: Vec<&str> = listing["agentPortfolios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["agentPortfolioId"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = portfolios.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, expected);
    // The listing reads back as a seed file: the same shape.
    assert_eq!(Portfolio::list_from_json(&listing.to_string()).unwrap(), portfolios);
    let shown = listed(&listing, &extra.id.to_string(), &extra.tokens[0].id.to_string());
    assert_eq!(shown["expiresAt"], "2099-01-01T00:00:00Z");
    assert_eq!(shown["ipsWhitelist"], json!(["192.0.2.1"]));
    server.shutdown().await;
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_quota_is_kept_per_credential_with_ratelimit_headers() {
    let server = start(MockConfig {
        quota: Some("3/2s".parse().unwrap()),
        ..closed()
    })
    .await;
    let mut remaining = Vec::new();
    for body in [
        json!({"ipsWhitelist": ["10.0.0.1"]}),
        json!({}),
        json!({"ipsWhitelist": ["10.0.0.2"]}),
    ] {
        // A refused body (the 400 in the middle) counts too: it reached the operation with a credential.
        let response = patch(&server, 2, PORTFOLIO, TOKEN, body).await;
        assert_eq!(header(&response, "ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(header(&response, "ratelimit-policy").as_deref(), Some("3;w=2"));
        let reset: u64 = header(&response, "ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=2).contains(&reset), "{reset}");
        assert!(header(&response, "retry-after").is_none());
        remaining.push(header(&response, "ratelimit-remaining").unwrap());
    }
    assert_eq!(remaining, ["2", "1", "0"]);

    let response = list_response(&server, |r| {
        r.header("x-api-key", API_KEY).header("x-user-key", USER_KEY)
    })
    .await;
    assert_eq!(header(&response, "ratelimit-remaining").as_deref(), Some("0"));
    let retry_after: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
    assert_eq!(Some(retry_after.to_string()), header(&response, "ratelimit-reset"));
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests".to_owned(),
            "Too many requests".to_owned()
        )
    );
    assert_eq!(server.rate_limited_count(), 1);

    // Another user key, and a bearer token, have pools of their own.
    let response = list_response(&server, |r| {
        r.header("x-api-key", API_KEY).header("x-user-key", "another-user-key")
    })
    .await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    let response = list_response(&server, |r| r.bearer_auth("a-bearer-token")).await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    // Without any credential there is no pool to draw from: 401, no headers.
    let response = list_response(&server, |r| r).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "ratelimit-limit").is_none());

    // Once the window is over, the pool is whole again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let response = list_response(&server, |r| {
        r.header("x-api-key", API_KEY).header("x-user-key", USER_KEY)
    })
    .await;
    assert_eq!(
        (response.status(), header(&response, "ratelimit-remaining")),
        (StatusCode::OK, Some("2".to_owned()))
    );
    assert_eq!(server.rate_limited_count(), 1);
    server.shutdown().await;
}

async fn list_response(server: &MockServer, auth: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Response {
    let request = client()
        .get(format!("{}/api/v1/agent-portfolios", server.base_url()))
        .header("x-request-id", Uuid::new_v4().to_string());
    auth(request).send().await.unwrap()
}

#[tokio::test]
async fn the_background_load_draws_from_the_same_pool() {
    // The background uses one request a millisecond: after the pool's first request it leaves nothing.
    let server = start(MockConfig {
        quota: Some("5/10s".parse().unwrap()),
        quota_background: Some("1000/1s".parse().unwrap()),
        ..closed()
    })
    .await;
    let first = list_response(&server, |r| r.bearer_auth("t")).await;
    assert_eq!(first.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = list_response(&server, |r| r.bearer_auth("t")).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&second, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(server.rate_limited_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_quota_there_are_no_ratelimit_headers() {
    let server = start(closed()).await;
    for _ in 0..100 {
        let response = list_response(&server, |r| r.bearer_auth("t")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "ratelimit-limit").is_none() && header(&response, "ratelimit-policy").is_none());
    }
    assert_eq!(server.rate_limited_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_record_keeps_at_most_its_bytes_but_counts_everything() {
    let limit = 1024 * 1024;
    let server = start(MockConfig {
        record_bytes_limit: limit,
        ..MockConfig::default()
    })
    .await;
    let body = vec![b'x'; 300 * 1024];
    for i in 0..12 {
        client()
            .post(format!("{}/nowhere/{i}", server.base_url()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 12);
    let kept = server.requests();
    assert!(server.recorded_bytes() <= limit, "{}", server.recorded_bytes());
    assert_eq!(server.recorded_bytes(), kept.iter().map(|r| r.size()).sum::<usize>());
    let paths: Vec<&str> = kept.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/nowhere/9", "/nowhere/10", "/nowhere/11"],
        "the latest are kept"
    );
    assert!(kept.iter().all(|r| r.status == 404));

    // A request bigger than the whole bound is counted, not kept.
    client()
        .post(format!("{}/nowhere/big", server.base_url()))
        .body(vec![b'y'; limit + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(server.request_count(), 13);
    assert!(server.recorded_bytes() <= limit);
    server.shutdown().await;
}

#[tokio::test]
async fn the_default_record_bound_holds_under_big_bodies() {
    let server = start(MockConfig::default()).await;
    let body = vec![b'z'; 2 * 1024 * 1024 - 4096];
    for _ in 0..12 {
        client()
            .post(format!("{}/nowhere", server.base_url()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 12);
    assert!(server.recorded_bytes() <= etoro_mock::DEFAULT_RECORD_BYTES_LIMIT);
    assert_eq!(
        server.requests().len(),
        8,
        "16 MiB holds eight bodies of just under 2 MiB"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_log_gets_one_line_per_request_and_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.jsonl");
    let server = start(MockConfig {
        log: Some(path.clone()),
        ..closed()
    })
    .await;
    let response = patch(&server, 2, PORTFOLIO, TOKEN, json!({"ipsWhitelist": ["10.0.0.1"]})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let created: Value = create(
        &server,
        PORTFOLIO,
        json!({"userTokenName": "logged", "scopeNames": ["etoro-public:trade.real:read"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    list_response(&server, |r| r.bearer_auth("bearer-secret-9d1c")).await;
    client()
        .post(format!("{}/nowhere", server.base_url()))
        .body("plain \u{1b}[2J text")
        .send()
        .await
        .unwrap();
    server.shutdown().await;

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        API_KEY,
        USER_KEY,
        "bearer-secret-9d1c",
        created["userToken"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<(&str, u64)> = lines
        .iter()
        .map(|l| (l["method"].as_str().unwrap(), l["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(summary, [("PATCH", 204), ("POST", 201), ("GET", 200), ("POST", 404)]);
    assert_eq!(lines[0]["body"], json!({"ipsWhitelist": ["10.0.0.1"]}));
    assert_eq!(lines[0]["headers"]["x-user-key"], "[REDACTED]");
    assert_eq!(lines[2]["headers"]["authorization"], "[REDACTED]");
    assert_eq!(lines[3]["body"], "plain \u{1b}[2J text");
    assert!(lines
        .iter()
        .all(|l| l["time"].as_str().unwrap().parse::<DateTime<Utc>>().is_ok()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn an_unwritable_log_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        MockConfig {
            log: Some(dir.path().join("no/such/dir/requests.jsonl")),
            ..MockConfig::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}
