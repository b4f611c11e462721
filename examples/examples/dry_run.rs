//! See the exact request an update would send (credentials redacted) without sending it: paste it into a ticket.
//!
//! `cargo run -p etoro-client-examples --example dry_run`

use etoro_client::{scope, TokenUpdate, Uuid};
use etoro_client_examples::{target, PORTFOLIO, TOKEN};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, _mock) = target().await?;
    let client = builder.build()?;
    let update = TokenUpdate::new()
        .scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE])
        .expires_at("2031-12-31T23:59:59Z".parse::<etoro_client::DateTime<etoro_client::Utc>>()?);

    let request = client
        .update_user_token(PORTFOLIO.parse::<Uuid>()?, TOKEN.parse::<Uuid>()?, update)
        .dry_run()
        .await?;
    println!("{request}");
    Ok(())
}
