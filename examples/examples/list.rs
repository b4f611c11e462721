//! List every agent-portfolio and its tokens, and flag those that expire within a week.
//!
//! `cargo run -p etoro-client-examples --example list`
//!
//! It starts its own local mock of eToro (`etoro-mock`); with `ETORO_BASE_URL` set it lists the real thing
//! instead, with the credentials of the environment (listing changes nothing).

use etoro_client::{Client, ClientBuilder, TimeDelta, Utc};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut mock = None;
    let client = if std::env::var_os("ETORO_BASE_URL").is_some() {
        ClientBuilder::from_env()?.build()?
    } else {
        let server = MockServer::start("127.0.0.1:0".parse()?, MockConfig::example()).await?;
        let client = Client::builder()
            .base_url(server.base_url())
            .api_keys("example-api-key", "example-user-key")
            .build()?;
        mock = Some(server);
        client
    };

    let now = Utc::now();
    for portfolio in client.list_agent_portfolios().await? {
        println!("agent-portfolio {} ({:?})", portfolio.id, portfolio.name);
        for token in &portfolio.tokens {
            let status = if token.is_expired(now) {
                "EXPIRED"
            } else if token.expires_within(now, TimeDelta::days(7)) {
                "EXPIRING"
            } else {
                "ok"
            };
            // Names come from the network: `{:?}` escapes control characters before they reach a terminal.
            println!(
                "  {} {:?} {status} scopes {:?}",
                token.id, token.name, token.scope_names
            );
        }
        // The listed types serialize, for a log line or a report.
        println!("  as JSON: {}", serde_json::to_string(&portfolio)?);
    }
    drop(mock);
    Ok(())
}
