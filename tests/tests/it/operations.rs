//! List, create and revoke against wiremock: what is sent, how answers are read, and which failures are retried.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use etoro_client::secrecy::ExposeSecret;
use etoro_client::{code, Client, Error, NewToken, Problem, RetryPolicy, Uuid};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const SECRET: &str = "sk-live-secret-0f9e8d";

fn retrying_client(base_url: &str) -> Client {
    key_builder(base_url)
        .retry(
            RetryPolicy::default()
                .max_attempts(4)
                .base_delay(Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

fn listing() -> Value {
    json!({"agentPortfolios": [
        {"agentPortfolioId": PORTFOLIO, "agentPortfolioName": "alpha", "agentPortfolioGcid": 12345678,
         "agentPortfolioVirtualBalance": 10000.5, "mirrorId": 7, "createdAt": "2026-03-01T10:30:00+00:00",
         "userTokens": [
            {"userTokenId": TOKEN, "userTokenName": "bot", "clientId": "c1d2e3f4-a5b6-7890-cdef-123456789abc",
             "externalApplicationName": "Trading Bot", "ipsWhitelist": ["203.0.113.7"],
             "expiresAt": "2030-12-31T23:59:59Z", "scopeNames": ["etoro-public:trade.real:read"],
             "createdAt": "2026-03-01T10:30:00Z"},
            {"userTokenId": "f9e8d7c6-b5a4-3210-fedc-ba9876543210", "userTokenName": "legacy",
             "ipsWhitelist": null, "expiresAt": null, "scopeIds": [200], "scopeNames": null},
         ]},
        {"agentPortfolioId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "userTokens": null},
    ]})
}

#[tokio::test]
async fn listing_reads_every_portfolio_and_token_with_nulls_as_empty() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/agent-portfolios"))
        .and(header_exists("x-request-id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing()))
        .expect(1)
        .mount(&server)
        .await;

    let portfolios = key_client(server.uri()).list_agent_portfolios().await.unwrap();

    assert_eq!(portfolios.len(), 2);
    let alpha = &portfolios[0];
    assert_eq!((alpha.id, alpha.name.as_deref()), (portfolio(), Some("alpha")));
    assert_eq!((alpha.gcid, alpha.mirror_id), (Some(12_345_678), Some(7)));
    let bot = &alpha.tokens[0];
    assert_eq!(bot.id, token());
    assert_eq!(bot.ips_whitelist, ["203.0.113.7"]);
    assert_eq!(bot.scope_names, ["etoro-public:trade.real:read"]);
    assert_eq!(bot.expires_at, Some("2030-12-31T23:59:59Z".parse().unwrap()));
    let legacy = &alpha.tokens[1];
    assert!(legacy.ips_whitelist.is_empty() && legacy.scope_names.is_empty());
    assert_eq!((legacy.expires_at, legacy.scope_ids.as_slice()), (None, &[200][..]));
    assert!(portfolios[1].tokens.is_empty());
    let now = "2030-12-01T00:00:00Z".parse().unwrap();
    assert!(bot.expires_within(now, chrono::Duration::days(31)) && !bot.is_expired(now));
    assert!(!legacy.is_expired(now) && !legacy.expires_within(now, chrono::Duration::days(3650)));
}

#[tokio::test]
async fn a_listing_without_ids_is_an_answer_outside_the_spec_naming_the_field() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"agentPortfolios": [
            {"agentPortfolioId": PORTFOLIO, "userTokens": [{"userTokenName": "no id"}]}
        ]})))
        .mount(&server)
        .await;
    let err = key_client(server.uri()).list_agent_portfolios().await.unwrap_err();
    let Error::UnexpectedResponse(unexpected) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        unexpected.problem,
        Problem::MissingField("agentPortfolios[0].userTokens[0].userTokenId".to_owned())
    );
}

#[tokio::test]
async fn create_sends_the_v2_body_and_returns_the_secret_only_through_expose() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v2/agent-portfolios/{PORTFOLIO}/user-tokens")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "userTokenId": TOKEN, "userToken": SECRET, "userTokenName": "bot",
            "scopeNames": ["etoro-public:trade.real:read"], "ipsWhitelist": ["203.0.113.7"], "expiresAt": null,
        })))
        .expect(1)
        .mount(&server)
        .await;

    let created = key_client(server.uri())
        .create_user_token(
            portfolio(),
            NewToken::new("bot", ["etoro-public:trade.real:read"]).ips_whitelist([Ipv4Addr::new(203, 0, 113, 7)]),
        )
        .await
        .unwrap();

    assert_eq!((created.id, created.name.as_str()), (token(), "bot"));
    assert_eq!(created.secret.expose_secret(), SECRET);
    assert_eq!(created.expires_at, None);
    let shown = format!("{created:?}");
    assert!(!shown.contains(SECRET) && shown.contains("[REDACTED]"), "{shown}");
    let sent: Value = server.received_requests().await.unwrap()[0].body_json().unwrap();
    assert_eq!(
        sent,
        json!({"userTokenName": "bot", "scopeNames": ["etoro-public:trade.real:read"], "ipsWhitelist": ["203.0.113.7"]})
    );
}

#[tokio::test]
async fn a_bad_new_token_is_refused_locally_naming_the_field() {
    let client = unreachable_client();
    let cases = [
        (NewToken::new("", ["a:b"]), "userTokenName"),
        (NewToken::new(" padded", ["a:b"]), "userTokenName"),
        (NewToken::new("x".repeat(101), ["a:b"]), "userTokenName"),
        (NewToken::new("bot", Vec::<String>::new()), "scopeNames"),
        (NewToken::new("bot", ["a:b", "a:b"]), "scopeNames[1]"),
        (NewToken::new("bot", ["a b"]), "scopeNames[0]"),
        (
            NewToken::new("bot", ["a:b"]).ips_whitelist(Vec::<Ipv4Addr>::new()),
            "ipsWhitelist",
        ),
        (
            NewToken::new("bot", ["a:b"]).expires_at(
                "2001-01-01T00:00:00Z"
                    .parse::<etoro_client::DateTime<etoro_client::Utc>>()
                    .unwrap(),
            ),
            "expiresAt",
        ),
        (NewToken::new("bot", ["a:b"]).expires_in(Duration::MAX), "expiresAt"),
    ];
    for (new_token, field) in cases {
        let err = client.create_user_token(portfolio(), new_token).await.unwrap_err();
        let Error::InvalidInput(invalid) = &err else {
            panic!("{field}: expected InvalidInput (nothing sent), got {err:?}")
        };
        assert_eq!(invalid.field, field, "{err}");
    }
}

#[tokio::test]
async fn a_create_of_unknown_outcome_is_never_repeated() {
    for template in [
        ResponseTemplate::new(503),
        ResponseTemplate::new(500).set_body_json(json!({"errorCode": code::UNHANDLED_EXCEPTION})),
        ResponseTemplate::new(201).set_delay(Duration::from_secs(5)),
    ] {
        let server = server().await;
        Mock::given(method("POST")).respond_with(template).mount(&server).await;
        let client = key_builder(server.uri())
            .timeout(Duration::from_millis(300))
            .retry(RetryPolicy::default().base_delay(Duration::from_millis(10)))
            .build()
            .unwrap();

        let err = client
            .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
            .await
            .unwrap_err();

        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{err}");
        assert!(err.outcome_unknown(), "{err}");
        assert!(err.is_retryable(), "transient: {err}");
        assert!(
            !err.is_safe_to_retry(),
            "a second create could make a second token: {err}"
        );
        assert!(err.to_string().contains("list the agent-portfolio's tokens"), "{err}");
    }
}

#[tokio::test]
async fn a_create_cut_mid_answer_is_not_repeated_but_a_refused_connection_is() {
    // The answer starts, then the connection drops: the token may exist.
    let (url, connections) = raw_server(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"userTokenId\":")
            .await;
        let _ = stream.set_zero_linger();
    })
    .await;
    let err = retrying_client(&url)
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { .. }) && err.outcome_unknown(),
        "{err:?}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    // Nothing listens: the request never left, so it is tried again (and fails the same way).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = retrying_client(&format!("http://127.0.0.1:{port}"))
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap_err();
    assert!(!err.outcome_unknown(), "{err}");
    assert!(err.is_safe_to_retry(), "the request never left: {err}");
    assert_eq!(err.attempts(), 4, "{err}");
}

#[tokio::test]
async fn max_user_tokens_exceeded_is_a_429_that_is_not_waited_for() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"errorCode": code::MAX_USER_TOKENS_EXCEEDED, "errorMessage": "Maximum number of user tokens exceeded"})),
        )
        .mount(&server)
        .await;
    let err = retrying_client(&server.uri())
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(code::MAX_USER_TOKENS_EXCEEDED));
    assert!(!err.is_rate_limited() && !err.is_retryable(), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_since_nothing_was_created() {
    let server = server().await;
    first_then(
        &server,
        "POST",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "0")
            .set_body_json(json!({"errorCode": code::TOO_MANY_REQUESTS})),
        1,
        ResponseTemplate::new(201).set_body_json(json!({"userTokenId": TOKEN, "userToken": SECRET})),
    )
    .await;
    let created = retrying_client(&server.uri())
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap();
    assert_eq!((created.id, created.attempts), (token(), 2));
}

#[tokio::test]
async fn a_create_answer_without_the_secret_says_the_token_may_exist() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"userTokenId": TOKEN})))
        .mount(&server)
        .await;
    let err = key_client(server.uri())
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap_err();
    let Error::UnexpectedResponse(unexpected) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(unexpected.problem, Problem::MissingField("userToken".to_owned()));
    assert!(err.to_string().contains("may or may not have been created"), "{err}");
}

#[tokio::test]
async fn revoke_sends_delete_and_a_first_404_is_an_error() {
    let server = server().await;
    let revoke_path = format!("/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}");
    Mock::given(method("DELETE"))
        .and(path(revoke_path.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(error_answer(404, code::NOT_FOUND, "User token not found"))
        .mount(&server)
        .await;
    let client = retrying_client(&server.uri());

    let revoked = client.revoke_user_token(portfolio(), token()).await.unwrap();
    assert!(!revoked.already_gone);
    assert_eq!(revoked.attempts, 1);

    let err = client.revoke_user_token(portfolio(), token()).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("revoking user token {TOKEN} of agent-portfolio {PORTFOLIO}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_revoke_that_meets_404_after_a_lost_answer_is_already_done() {
    // First attempt: the request arrives, the answer is lost (connection dropped). Second: 404.
    let (url, connections) = raw_server(|mut stream| async move {
        read_request(&mut stream).await;
        static SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        if SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = stream.set_zero_linger();
            return;
        }
        let body = r#"{"errorCode":"NotFound","errorMessage":"User token not found"}"#;
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
    })
    .await;

    let revoked = retrying_client(&url)
        .revoke_user_token(portfolio(), token())
        .await
        .unwrap();

    assert!(revoked.already_gone);
    assert_eq!(revoked.attempts, 2);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn nil_ids_are_refused_locally_for_every_operation() {
    let client = unreachable_client();
    let err = client.revoke_user_token(Uuid::nil(), token()).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    let err = client.revoke_user_token(portfolio(), Uuid::nil()).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    let err = client
        .create_user_token(Uuid::nil(), NewToken::new("bot", ["a:b"]))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

/// Every operation through a key-pair client carries the credentials and a request id.
#[tokio::test]
async fn every_operation_carries_credentials_and_a_request_id() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let client = key_client(server.uri());
    let _ = client.list_agent_portfolios().await;
    let _ = client.allowed_scopes().await;
    let _ = client
        .create_user_token(portfolio(), NewToken::new("bot", ["a:b"]))
        .await;
    let _ = client.revoke_user_token(portfolio(), token()).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4);
    for request in requests {
        assert_eq!(request.headers["x-api-key"], API_KEY, "{}", request.url);
        assert_eq!(request.headers["x-user-key"], USER_KEY, "{}", request.url);
        assert!(request.headers["x-request-id"]
            .to_str()
            .unwrap()
            .parse::<Uuid>()
            .is_ok());
        assert!(request.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("etoro-client-rust/"));
    }
}

#[tokio::test]
async fn create_and_revoke_take_a_request_id_and_a_dry_run_sends_nothing() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"userTokenId": TOKEN, "userToken": SECRET})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = key_client(server.uri());
    let new = || NewToken::new("bot", ["etoro-public:trade.real:read"]);

    let prepared = client.create_user_token(portfolio(), new()).dry_run().await.unwrap();
    let shown = prepared.to_string();
    assert!(
        shown.contains("POST") && shown.contains("/api/v2/") && shown.contains("[REDACTED]"),
        "{shown}"
    );
    assert!(!shown.contains(API_KEY), "{shown}");
    let prepared = client.revoke_user_token(portfolio(), token()).dry_run().await.unwrap();
    assert!(prepared.to_string().contains("DELETE"), "{prepared}");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a dry run sends nothing"
    );

    let (create_id, revoke_id) = (Uuid::new_v4(), Uuid::new_v4());
    let created = client
        .create_user_token(portfolio(), new())
        .request_id(create_id)
        .await
        .unwrap();
    assert_eq!(created.request_id, create_id);
    let revoked = client
        .revoke_user_token(portfolio(), token())
        .request_id(revoke_id)
        .await
        .unwrap();
    assert_eq!(revoked.request_id, revoke_id);
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, [create_id.to_string(), revoke_id.to_string()]);

    // A nil id is refused by the dry run as by the real call, with nothing sent.
    let err = client
        .revoke_user_token(Uuid::nil(), token())
        .dry_run()
        .await
        .unwrap_err();
    assert!(err.is_invalid_input() && !err.is_safe_to_retry(), "{err}");
}

#[tokio::test]
async fn a_listed_token_is_copied_into_a_new_one_and_what_cannot_be_copied_is_named() {
    let server = server().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing()))
        .mount(&server)
        .await;
    let portfolios = key_client(server.uri()).list_agent_portfolios().await.unwrap();
    let listed = &portfolios[0].tokens;
    let now = etoro_client::Utc::now();

    let copy = NewToken::like(&listed[0], "bot-2");
    assert_eq!(copy.name(), "bot-2");
    assert_eq!(copy.scope_names(), listed[0].scope_names.as_slice());
    assert_eq!(copy.ips(), Some(&["203.0.113.7".parse::<Ipv4Addr>().unwrap()][..]));
    assert_eq!(copy.expiry(), listed[0].expires_at);
    copy.validate(now).unwrap();

    // The legacy token has scope ids only: refused, naming the field and the ids, until its scopes are named.
    let legacy = listed.iter().find(|t| t.name.as_deref() == Some("legacy")).unwrap();
    let err = NewToken::like(legacy, "legacy-2").validate(now).unwrap_err();
    assert_eq!(err.field, "scopeNames");
    assert!(err.rule.contains("deprecated scope ids"), "{err}");
    NewToken::like(legacy, "legacy-2")
        .scopes(["etoro-public:trade.real:read"])
        .validate(now)
        .unwrap();

    // The listed types serialize, for logs and reports.
    let json = serde_json::to_value(&portfolios[0]).unwrap();
    assert_eq!(json["tokens"][0]["ipsWhitelist"][0], "203.0.113.7");
    assert_eq!(json["id"], PORTFOLIO);
}
