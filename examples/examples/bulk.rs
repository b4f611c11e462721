//! Many updates at once with one shared client: `buffer_unordered` over the calls, one pacer for eToro's quota.
//!
//! `cargo run -p etoro-client-examples --example bulk`

use futures::stream::{self, StreamExt};

use etoro_client::{Pacer, TokenUpdate, Uuid};
use etoro_client_examples::{target, PORTFOLIO};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (builder, mock) = target().await?;
    // Against eToro, pace to the documented quota (60 a minute per user key); the local mock has none.
    let pacer = if mock.is_some() {
        Pacer::unlimited()
    } else {
        Pacer::default()
    };
    let client = builder.pacer(pacer).build()?;

    let portfolio: Uuid = PORTFOLIO.parse()?;
    let tokens: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    let update = TokenUpdate::new().ips_whitelist(["203.0.113.7".parse()?]);

    let results: Vec<_> = stream::iter(&tokens)
        .map(|&token| client.update_user_token(portfolio, token, update.clone()))
        .buffer_unordered(8)
        .collect()
        .await;

    let failed: Vec<_> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    for err in &failed {
        eprintln!("failed: {err}");
    }
    println!("{} updated, {} failed", results.len() - failed.len(), failed.len());
    Ok(())
}
