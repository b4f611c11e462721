//! Telling the failures apart: bad input (nothing sent), eToro saying no, and the network.
//!
//! `cargo run -p etoro-client-examples --example errors`

use etoro_client::{code, ApiVersion, Client, Error, StatusCode, TokenUpdate, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;

    // A local mock of eToro (open world: any token id exists).
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::default()).await?;
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .build()?;

    // Refused locally: an empty allow-list. Nothing is sent.
    let empty = TokenUpdate::new().ips_whitelist([]);
    let err = client
        .update_user_token(portfolio, Uuid::new_v4(), empty)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    println!("local: {err}");

    // Refused by eToro (here, the mock): v2 with a scope name outside the allowed list.
    let v2 = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .api_version(ApiVersion::V2)
        .build()?;
    let unknown = TokenUpdate::new().scope_names(["etoro-public:everything"]);
    match v2.update_user_token(portfolio, Uuid::new_v4(), unknown).await {
        Err(err) if err.code() == Some(code::SCOPE_NAME_NOT_ALLOWED) => {
            assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
            println!("eToro: {err}");
            println!("quote request id {:?} to support", err.request_id());
        }
        other => panic!("expected 403 ScopeNameNotAllowed, got {other:?}"),
    }

    // The network: nothing listens on this port.
    let offline = Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_keys("k", "u")
        .retry(etoro_client::RetryPolicy::none())
        .build()?;
    let err = offline
        .update_user_token(
            portfolio,
            Uuid::new_v4(),
            TokenUpdate::new().expires_in(std::time::Duration::from_secs(3600)),
        )
        .await
        .unwrap_err();
    match &err {
        Error::Transport { call, .. } => println!("network ({} attempt(s)): {err}", call.attempts),
        other => panic!("expected a transport error, got {other}"),
    }
    assert!(
        err.is_retryable() && !err.outcome_unknown() && err.is_safe_to_retry(),
        "a refused connection never carried the request: safe to send again"
    );
    Ok(())
}
