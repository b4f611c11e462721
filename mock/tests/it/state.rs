//! The mock's state: wrongly shaped bodies change nothing, updates show in the listing, the closed and open
//! worlds, create and revoke, the per-portfolio limit under concurrency, seeds.

use chrono::{DateTime, Utc};
use etoro_mock::{MockConfig, Portfolio, Token, World};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::*;

#[tokio::test]
async fn wrongly_shaped_bodies_are_refused_with_400_naming_the_field() {
    let server = start(MockConfig::example()).await;
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
            version => update(&server, version, PORTFOLIO, TOKEN, body.clone()).await,
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
    let server = start(MockConfig::example()).await;
    let seeded = list(&server).await;
    let token = listed(&seeded, PORTFOLIO, TOKEN);
    assert_eq!(token["userTokenName"], "readme-token");
    assert_eq!(token["expiresAt"], Value::Null, "a token that never expires lists null");
    assert_eq!(token["ipsWhitelist"], Value::Null);

    let at = future();
    let response = update(&server,
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
    let response = update(&server, 1, PORTFOLIO, TOKEN, json!({"scopeIds": [211, 212]})).await;
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
    let server = start(MockConfig::example()).await;
    let other = Uuid::new_v4().to_string();
    let body = json!({"ipsWhitelist": ["10.0.0.1"]});
    for (response, message) in [
        (
            update(&server, 1, &other, TOKEN, body.clone()).await,
            "Agent-portfolio not found",
        ),
        (
            update(&server, 2, PORTFOLIO, &other, body.clone()).await,
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
            refusal(StatusCode::NOT_FOUND, "NotFound", message)
        );
    }
    assert_eq!(server.portfolios(), vec![Portfolio::example()]);
    server.shutdown().await;
}

#[tokio::test]
async fn the_open_world_adds_tokens_it_is_told_about() {
    let server = start(MockConfig::default()).await;
    let (portfolio, token) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let response = update(&server, 1, &portfolio, &token, json!({"scopeNames": ["anything:goes"]})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let shown = listed(&list(&server).await, &portfolio, &token);
    assert_eq!(shown["scopeNames"], json!(["anything:goes"]));
    assert_eq!(shown["expiresAt"], Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn create_returns_the_secret_once_and_revoke_removes_the_token() {
    let server = start(MockConfig::example()).await;
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
        refusal(
            StatusCode::CONFLICT,
            "UserKeyNameAlreadyExists",
            "UserKeyName already exists"
        )
    );

    // Revoked: gone from the listing, and 404 from then on.
    assert_eq!(revoke(&server, PORTFOLIO, &id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(listed(&list(&server).await, PORTFOLIO, &id), Value::Null);
    assert_eq!(revoke(&server, PORTFOLIO, &id).await.status(), StatusCode::NOT_FOUND);
    let response = update(&server, 2, PORTFOLIO, &id, json!({"ipsWhitelist": ["10.0.0.1"]})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(server.token(PORTFOLIO.parse().unwrap(), id.parse().unwrap()).is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn create_refuses_names_past_the_allowed_list_and_expiries_past_now() {
    let server = start(MockConfig::example()).await;
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
        refusal(StatusCode::BAD_REQUEST, "ScopeIdsRequired", "ScopeNames is required")
    );
    assert_eq!(server.portfolios(), vec![Portfolio::example()]);
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_keep_names_unique_and_the_limit() {
    let server = start(MockConfig {
        max_tokens_per_portfolio: 5,
        ..MockConfig::example()
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
            refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "MaxUserTokensExceeded",
                "Maximum number of user tokens exceeded"
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
