//! `etoro-token scopes`: the scope names a token may hold.

use clap::Args;
use etoro_client::ApiVersion;

use crate::connect::connect_for_one;
use crate::exit::Exit;
use crate::options::Connection;
use crate::output;
use crate::report::report_error;

/// `etoro-token scopes`.
#[derive(Debug, Args)]
pub struct ScopesArgs {
    /// Print the names as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

/// Lists the names, one a line (escaped: they come from the network), or as one JSON array.
pub async fn run(args: ScopesArgs) -> Exit {
    let connected = match connect_for_one(&args.connection, ApiVersion::V2).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    match connected.client.allowed_scopes().await {
        Ok(names) if args.json => output::line(&serde_json::json!(names).to_string())
            .err()
            .unwrap_or(Exit::Success),
        Ok(names) => names
            .iter()
            .try_for_each(|name| output::line(name))
            .err()
            .unwrap_or(Exit::Success),
        Err(err) => report_error(&err, args.json),
    }
}
