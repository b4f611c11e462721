//! Rotate a token: create a new one like it, store its secret in a new file, then revoke the old one; resumable
//! from any point (rerun it after a crash, from any directory, and it finishes).
//!
//! `cargo run -p etoro-client-examples --example rotate`

use etoro_client::rotation::{FileSecretSink, FileStateStore, Rotation};
use etoro_client::{Client, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;
    let token: Uuid = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f".parse()?;
    // A service keeps the rotation's state and the new secret in its own directory; here, a fresh temporary one.
    let dir = std::env::temp_dir().join(format!("etoro-rotate-example-{}", Uuid::new_v4()));

    // The mock holds the README's portfolio and token, and keeps what the rotation does to them, as eToro would.
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::example()).await?;
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .build()?;

    // The state is named by the portfolio and the old token: every run of this rotation finds it.
    let mut store = FileStateStore::in_dir(&dir.join("state"), portfolio, token)?;
    // The secret goes to a new file (mode 0600), created before anything is sent.
    let mut sink = FileSecretSink::new(&dir.join("bot.secret"))?;

    let rotated = Rotation::new(&client, portfolio, token)
        .on_event(|event| println!("  {event}"))
        .rotate(&mut store, &mut sink)
        .await?;
    println!(
        "user token {} replaced by {} ({:?}); its secret is in {}",
        rotated.old_token,
        rotated.new_token,
        rotated.new_name,
        sink.path().display()
    );

    // Run again: the state says it is done, and nothing is sent.
    let again = Rotation::new(&client, portfolio, token)
        .rotate(&mut store, &mut sink)
        .await?;
    assert!(again.already_done);
    drop((store, sink));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
