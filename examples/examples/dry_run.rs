//! See the exact request an update would send (credentials redacted) without sending it: paste it into a ticket.
//!
//! `cargo run -p etoro-client-examples --example dry_run`

use etoro_client::{scope, Client, TokenUpdate, Uuid};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A dry run sends nothing, so no server is needed at all: the base URL is never contacted.
    let client = Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_keys("example-api-key", "example-user-key")
        .build()?;
    let update = TokenUpdate::new()
        .scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE])
        .expires_at("2031-12-31T23:59:59Z".parse::<etoro_client::DateTime<etoro_client::Utc>>()?);

    let request = client
        .update_user_token(
            "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse::<Uuid>()?,
            "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f".parse::<Uuid>()?,
            update,
        )
        .dry_run()
        .await?;
    println!("{request}");
    Ok(())
}
