//! What goes on the wire: method, path, headers and body, for each kind of credentials and update.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use etoro_client::{scope, TokenUpdate, DEFAULT_USER_AGENT};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::*;

async fn accept_update(server: &MockServer) {
    Mock::given(method("PATCH"))
        .and(path(update_path()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(server)
        .await;
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request: {requests:?}");
    requests.remove(0)
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|value| value.to_str().unwrap())
}

fn future_expiry() -> DateTime<Utc> {
    "2099-12-31T23:59:59Z".parse().unwrap()
}

#[tokio::test]
async fn key_pair_update_sends_the_documented_request() {
    let server = server().await;
    accept_update(&server).await;
    let update = TokenUpdate::new()
        .scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE])
        .ips_whitelist([Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(203, 0, 113, 7)])
        .expires_at(future_expiry());

    let updated = update_ok(&key_client(server.uri()), update).await;

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "PATCH");
    assert_eq!(request.url.path(), update_path());
    assert_eq!(request.url.query(), None);
    assert_eq!(header(&request, "x-api-key"), Some(API_KEY));
    assert_eq!(header(&request, "x-user-key"), Some(USER_KEY));
    assert_eq!(
        header(&request, "authorization"),
        None,
        "never both kinds of credentials"
    );
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(header(&request, "user-agent"), Some(DEFAULT_USER_AGENT));
    let request_id: Uuid = header(&request, "x-request-id").unwrap().parse().unwrap();
    assert_eq!(request_id.get_version_num(), 4, "a fresh UUID v4");
    assert_eq!(
        updated.request_id, request_id,
        "the success value carries the id that was sent"
    );
    assert_eq!(updated.attempts, 1);
    assert_eq!(updated.status.as_u16(), 204);
    assert_eq!(
        request.body_json::<serde_json::Value>().unwrap(),
        json!({
            "scopeNames": ["etoro-public:trade.real:read", "etoro-public:trade.real:write"],
            "ipsWhitelist": ["192.168.1.1", "203.0.113.7"],
            "expiresAt": "2099-12-31T23:59:59Z"
        })
    );
}

#[tokio::test]
async fn bearer_update_sends_only_the_authorization_header() {
    let server = server().await;
    accept_update(&server).await;

    update_ok(
        &bearer_client(server.uri()),
        TokenUpdate::new().expires_at(future_expiry()),
    )
    .await;

    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {BEARER}").as_str())
    );
    assert_eq!(header(&request, "x-api-key"), None);
    assert_eq!(header(&request, "x-user-key"), None);
    assert_eq!(
        request.body_json::<serde_json::Value>().unwrap(),
        json!({ "expiresAt": "2099-12-31T23:59:59Z" })
    );
}

#[tokio::test]
#[allow(deprecated)]
async fn deprecated_scope_ids_still_work() {
    let server = server().await;
    accept_update(&server).await;

    update_ok(&key_client(server.uri()), TokenUpdate::new().scope_ids([211, 212])).await;

    let body: serde_json::Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(body, json!({ "scopeIds": [211, 212] }));
}

#[tokio::test]
async fn callers_request_id_is_sent_and_returned() {
    let server = server().await;
    accept_update(&server).await;
    let mine = Uuid::parse_str("7e9a201e-089e-44b8-a998-66a08d2d2ecc").unwrap();

    let updated = key_client(server.uri())
        .update_user_token(
            portfolio(),
            token(),
            TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]),
        )
        .request_id(mine)
        .send()
        .await
        .unwrap();

    assert_eq!(updated.request_id, mine);
    assert_eq!(
        header(&only_request(&server).await, "x-request-id"),
        Some(mine.to_string().as_str())
    );
}

#[tokio::test]
async fn each_call_gets_its_own_request_id() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let client = key_client(server.uri());
    let update = TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]);

    let first = update_ok(&client, update.clone()).await;
    let second = update_ok(&client, update).await;

    assert_ne!(first.request_id, second.request_id);
}

#[tokio::test]
async fn custom_user_agent_and_base_path_are_used() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/gateway{}", update_path())))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = etoro_client::Client::builder()
        .base_url(format!("{}/gateway/", server.uri()))
        .api_keys(API_KEY, USER_KEY)
        .user_agent("ops-script/2.1")
        .build()
        .unwrap();

    update_ok(&client, TokenUpdate::new().expires_at(future_expiry())).await;

    assert_eq!(
        header(&only_request(&server).await, "user-agent"),
        Some("ops-script/2.1")
    );
}
