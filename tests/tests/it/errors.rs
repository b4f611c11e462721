//! Every documented error answer becomes `Error::Api` with its status, code, message and request id.

use std::net::Ipv4Addr;

use etoro_client::{Error, TokenUpdate};
use uuid::Uuid;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// The error answers eToro documents for this endpoint.
const DOCUMENTED: [(u16, &str, &str); 6] = [
    (400, "NoChangesDetected", "At least one field must be provided"),
    (
        400,
        "ScopeIdNotAllowed",
        "ScopeIds contains values not in the allowed set",
    ),
    (401, "Unauthorized", "Unauthorized"),
    (404, "NotFound", "User token not found"),
    (429, "TooManyRequests", "Too many requests"),
    (500, "UnhandledException", "Global Error"),
];

/// The error of `update` when every PATCH is answered `template`, and the server that answered it once.
async fn error_for(template: ResponseTemplate, update: TokenUpdate) -> (Error, MockServer) {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    (update_err(&key_client(server.uri()), update).await, server)
}

#[tokio::test]
async fn documented_errors_map_to_api_errors() {
    for (status, code, message) in DOCUMENTED {
        let (err, server) = error_for(
            error_answer(status, code, message),
            TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]),
        )
        .await;

        let sent: Uuid = server.received_requests().await.unwrap()[0].headers["x-request-id"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let Error::Api(api) = &err else {
            panic!("{status} {code}: expected Error::Api, got {err:?}")
        };
        assert_eq!(api.status.as_u16(), status);
        assert_eq!(api.error_code.as_deref(), Some(code));
        assert_eq!(api.error_message.as_deref(), Some(message));
        assert_eq!(
            api.call.request_id, sent,
            "the error quotes the request id that was sent"
        );
        assert_eq!(api.call.attempts, 1);
        assert_eq!(err.request_id(), Some(sent));
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.is_not_found(), status == 404);
        assert_eq!(err.is_rate_limited(), status == 429);
        assert_eq!(err.is_unauthorized(), status == 401);
        assert_eq!(err.is_retryable(), status == 429 || status == 500);
        assert!(!err.is_invalid_input());
        let shown = err.to_string();
        assert!(
            shown.contains(code) && shown.contains(message) && shown.contains(&sent.to_string()),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn an_error_body_that_is_not_json_keeps_its_status_and_a_snippet() {
    let (err, _server) = error_for(
        ResponseTemplate::new(500).set_body_string("<html><body>Bad gateway at the proxy</body></html>"),
        TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]),
    )
    .await;

    let Error::Api(api) = &err else { panic!("{err:?}") };
    assert_eq!(api.status.as_u16(), 500);
    assert_eq!(api.error_code, None);
    assert!(api
        .body_snippet
        .as_deref()
        .unwrap()
        .contains("Bad gateway at the proxy"));
}

#[tokio::test]
async fn an_undocumented_status_with_an_error_body_is_still_an_api_error() {
    let (err, _server) = error_for(
        error_answer(403, "ScopeNameNotAllowed", "Scope name not allowed"),
        TokenUpdate::new().scope_names(["etoro-public:admin"]),
    )
    .await;

    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(err.code(), Some("ScopeNameNotAllowed"));
}
