//! Create a token and store its secret, which eToro returns this once. Its request id is chosen (and could be
//! logged) before anything is sent: if the answer is lost, it is what eToro support finds the call by.
//!
//! `cargo run -p etoro-client-examples --example create`

use etoro_client::secrecy::ExposeSecret;
use etoro_client::{scope, Client, NewToken, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;

    // The mock holds only the README's portfolio, as eToro holds only yours: a create anywhere else is a 404.
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::example()).await?;
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .build()?;

    let token = NewToken::new("reporting-bot", [scope::TRADE_REAL_READ]).ips_whitelist(["203.0.113.7".parse()?]);
    let request_id = Uuid::new_v4();
    println!("creating (request id {request_id})");
    match client.create_user_token(portfolio, token).request_id(request_id).await {
        Ok(created) => {
            // Store the secret before anything else; here it only shows that it is there.
            let secret = created.secret.expose_secret();
            println!(
                "created {} ({:?}); its secret has {} characters",
                created.id,
                created.name,
                secret.len()
            );
        }
        // A lost answer: the token may exist. Never create again blindly: list and look for the name first.
        Err(err) if !err.is_safe_to_retry() && err.outcome_unknown() => {
            eprintln!("unknown outcome, list before creating again: {err}");
        }
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
