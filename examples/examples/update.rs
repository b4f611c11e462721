//! One update: scopes, an IP allow-list and an expiry 30 days out.
//!
//! `cargo run -p etoro-client-examples --example update`

use std::time::Duration;

use etoro_client::{scope, TokenUpdate, Uuid};
use etoro_client_examples::{target, PORTFOLIO, TOKEN};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, _mock) = target().await?;
    let client = builder.build()?;

    let portfolio: Uuid = PORTFOLIO.parse()?;
    let token: Uuid = TOKEN.parse()?;
    let update = TokenUpdate::new()
        .scope_names([scope::TRADE_REAL_READ])
        .ips_whitelist(["203.0.113.7".parse()?])
        .expires_in(Duration::from_secs(30 * 86_400));

    let done = client.update_user_token(portfolio, token, update).await?;
    println!(
        "updated {} (request id {}, {} attempt(s))",
        done.token, done.request_id, done.attempts
    );
    if let Some(quota) = &done.rate_limit {
        println!("quota left this window: {:?}", quota.remaining);
    }
    Ok(())
}
