//! No secret appears in `Debug` of any public type, nor in any error message.

use std::net::Ipv4Addr;

use etoro_client::{Auth, Client, Credentials, TokenUpdate};
use wiremock::matchers::method;
use wiremock::Mock;

use crate::support::*;

fn assert_no_secret(what: &str, text: &str) {
    for secret in [API_KEY, USER_KEY, BEARER] {
        assert!(!text.contains(secret), "{what} leaks a secret: {text}");
    }
}

#[test]
fn debug_output_never_shows_credentials() {
    let keys = Credentials::api_keys(API_KEY, USER_KEY);
    let bearer = Credentials::bearer(BEARER);
    assert_no_secret("Credentials", &format!("{keys:?} {bearer:?} {keys:#?}"));
    assert!(format!("{keys:?}").contains("REDACTED"));

    let auth = Auth::new(&keys).unwrap();
    assert_no_secret("Auth", &format!("{auth:?}"));
    assert_no_secret("Auth", &format!("{:?}", Auth::new(&bearer).unwrap()));

    let builder = Client::builder()
        .base_url("http://127.0.0.1:1")
        .api_keys(API_KEY, USER_KEY);
    assert_no_secret("ClientBuilder", &format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_no_secret("Client", &format!("{client:?} {client:#?}"));
    assert_no_secret("generated Client", &format!("{:?}", client.generated()));

    let bearer_client = Client::builder().bearer_token(BEARER).build().unwrap();
    assert_no_secret("Client", &format!("{bearer_client:?}"));
    let call = bearer_client.update_user_token(portfolio(), token(), TokenUpdate::new());
    assert_no_secret("UpdateCall", &format!("{call:?}"));
}

#[test]
fn configuration_errors_name_the_header_not_the_value() {
    let secret = "sk-live-\r\nsecret-material";
    let err = Client::builder().api_keys(secret, USER_KEY).build().unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("sk-live") && !shown.contains("secret-material"),
        "{shown}"
    );
    assert!(shown.contains("x-api-key"), "{shown}");
}

#[tokio::test]
async fn api_and_transport_errors_never_show_credentials() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .respond_with(error_answer(401, "Unauthorized", "Unauthorized"))
        .mount(&server)
        .await;
    let update = TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]);
    for client in [
        key_client(server.uri()),
        bearer_client(server.uri()),
        unreachable_client(),
    ] {
        let err = update_err(&client, update.clone()).await;
        assert_no_secret("Error", &format!("{err} {err:?}"));
    }
}
