//! Bad input is refused locally, names the field and the rule, and sends nothing.

use std::net::Ipv4Addr;

use chrono::{Duration, Utc};
use etoro_client::{Client, Error, RetryPolicy, Scopes, TokenUpdate};
use uuid::Uuid;

use crate::support::*;

#[allow(deprecated)]
fn invalid_updates() -> Vec<(&'static str, TokenUpdate, &'static str)> {
    let ip = Ipv4Addr::new(203, 0, 113, 7);
    vec![
        ("no field", TokenUpdate::new(), "update"),
        (
            "empty scope names",
            TokenUpdate::new().scope_names(Vec::<String>::new()),
            "scopeNames",
        ),
        ("empty scope ids", TokenUpdate::new().scope_ids([]), "scopeIds"),
        ("empty IP list", TokenUpdate::new().ips_whitelist([]), "ipsWhitelist"),
        (
            "empty scope name",
            TokenUpdate::new().scope_names(["etoro-public:real:read", ""]),
            "scopeNames[1]",
        ),
        (
            "space in name",
            TokenUpdate::new().scope_names(["etoro-public: real:read"]),
            "scopeNames[0]",
        ),
        (
            "tab in name",
            TokenUpdate::new().scope_names(["etoro-public:real:read\t"]),
            "scopeNames[0]",
        ),
        (
            "control char",
            TokenUpdate::new().scope_names(["etoro\u{7}public"]),
            "scopeNames[0]",
        ),
        (
            "newline",
            TokenUpdate::new().scope_names(["a\r\nx-api-key: stolen"]),
            "scopeNames[0]",
        ),
        (
            "duplicate name",
            TokenUpdate::new().scope_names(["a:b", "c:d", "a:b"]),
            "scopeNames[2]",
        ),
        ("duplicate id", TokenUpdate::new().scope_ids([200, 200]), "scopeIds[1]"),
        (
            "duplicate IP",
            TokenUpdate::new().ips_whitelist([ip, ip]),
            "ipsWhitelist[1]",
        ),
        (
            "expired",
            TokenUpdate::new().expires_at(Utc::now() - Duration::minutes(1)),
            "expiresAt",
        ),
        ("expiring now", TokenUpdate::new().expires_at(Utc::now()), "expiresAt"),
    ]
}

#[tokio::test]
async fn invalid_updates_are_refused_and_nothing_is_sent() {
    let server = server().await;
    let client = key_client(server.uri());

    for (case, update, field) in invalid_updates() {
        let err = update_err(&client, update).await;
        let Error::InvalidInput(invalid) = &err else {
            panic!("{case}: expected InvalidInput, got {err:?}")
        };
        assert_eq!(invalid.field, field, "{case}");
        assert!(!invalid.rule.is_empty(), "{case}");
        assert!(
            err.to_string().contains(field) && err.to_string().contains("nothing was sent"),
            "{err}"
        );
        assert!(err.is_invalid_input());
        assert_eq!(err.request_id(), None);
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        0,
        "no request may reach the server"
    );
}

#[tokio::test]
async fn nil_ids_are_refused_and_nothing_is_sent() {
    let server = server().await;
    let client = key_client(server.uri());
    let update = TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]);

    let err = client
        .update_user_token(Uuid::nil(), token(), update.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(i) if i.field == "agentPortfolioId"),
        "{err:?}"
    );
    let err = client
        .update_user_token(portfolio(), Uuid::nil(), update)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(i) if i.field == "userTokenId"),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

#[test]
fn a_body_with_both_scope_kinds_is_refused() {
    let body: etoro_client::types::UpdateUserTokenRequest =
        serde_json::from_value(serde_json::json!({ "scopeIds": [200], "scopeNames": ["etoro-public:real:read"] }))
            .unwrap();
    let err = TokenUpdate::try_from(body).unwrap_err();
    assert_eq!(err.field, "scopeIds, scopeNames");
}

#[test]
#[allow(deprecated)]
fn scope_kind_is_fixed_when_the_update_is_made() {
    // The type offers no way to add ids to a names update (or the reverse): the scopes are chosen once.
    let update = TokenUpdate::new()
        .scope_names(["a:b"])
        .ips_whitelist([Ipv4Addr::LOCALHOST]);
    assert_eq!(update.scopes(), Some(&Scopes::Names(vec!["a:b".into()])));
    assert_eq!(TokenUpdate::new().scope_ids([7]).scopes(), Some(&Scopes::Ids(vec![7])));
}

#[test]
fn any_well_formed_scope_name_is_accepted() {
    let update = TokenUpdate::new().scope_names(["etoro-public:something.new:read"]);
    assert!(
        update.validate(Utc::now()).is_ok(),
        "the server, not the client, decides which names exist"
    );
}

fn build_err(builder: etoro_client::ClientBuilder) -> (String, &'static str) {
    match builder.build() {
        Err(Error::InvalidConfig { setting, rule }) => (rule, setting),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn bad_settings_are_refused_at_build_time() {
    let keys = || Client::builder().api_keys(API_KEY, USER_KEY);
    let cases = [
        (Client::builder(), "credentials"),
        (keys().base_url("http://public-api.etoro.com"), "base_url"),
        (keys().base_url("http://10.0.0.8:8080"), "base_url"),
        (keys().base_url("ftp://127.0.0.1"), "base_url"),
        (keys().base_url("not a url"), "base_url"),
        (keys().base_url("https://user:pw@public-api.etoro.com"), "base_url"),
        (keys().base_url("https://public-api.etoro.com/?debug=1"), "base_url"),
        (Client::builder().api_keys("key\r\nx-evil: 1", USER_KEY), "x-api-key"),
        (Client::builder().api_keys(API_KEY, "user\nkey"), "x-user-key"),
        (Client::builder().api_keys("", USER_KEY), "x-api-key"),
        (Client::builder().api_keys(API_KEY, " padded "), "x-user-key"),
        (Client::builder().bearer_token(""), "bearer token"),
        (Client::builder().bearer_token("tok\0en"), "bearer token"),
        (keys().user_agent("agent\n"), "user_agent"),
        (keys().timeout(std::time::Duration::ZERO), "timeout"),
    ];
    for (builder, expected) in cases {
        let (rule, setting) = build_err(builder);
        assert_eq!(setting, expected, "{rule}");
    }
}

#[test]
fn https_and_loopback_http_base_urls_are_accepted() {
    for url in [
        "https://public-api.etoro.com",
        "https://public-api.etoro.com/",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
        "http://[::1]:9000",
    ] {
        Client::builder()
            .base_url(url)
            .api_keys(API_KEY, USER_KEY)
            .retry(RetryPolicy::none())
            .build()
            .unwrap_or_else(|err| panic!("{url}: {err}"));
    }
}
