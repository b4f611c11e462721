//! `etoro-token`: update eToro agent-portfolio user tokens from a terminal or a script, one at a time or in bulk
//! from a JSONL file, against the real API or an embedded mock.

mod args;
mod bulk;
mod credentials;
mod journal;
mod mock;
mod outcome;

use std::process::ExitCode;

use chrono::Utc;
use clap::Parser;
use etoro_client::{ApiVersion, Client, Credentials, RetryPolicy, TokenUpdate};
use etoro_mock::{MockConfig, MockServer};

use args::{Cli, Command, Connection, ScopesArgs, UpdateArgs};
use outcome::Exit;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2, the documented code for "invalid input or usage".
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return Exit::Failed.into();
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Update(args) => update(args).await.into(),
            Command::Scopes(args) => scopes(args).await.into(),
            Command::Mock(args) => mock::run(args).await,
        }
    })
}

async fn update(args: UpdateArgs) -> Exit {
    let (client, _mock) = match connect(&args.connection, args.api.into(), args.dry_run).await {
        Ok(connected) => connected,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Invalid;
        }
    };
    match &args.from {
        Some(path) => bulk::run(&client, path, &args).await,
        None => single(&client, &args).await,
    }
}

async fn scopes(args: ScopesArgs) -> Exit {
    let (client, _mock) = match connect(&args.connection, ApiVersion::V2, false).await {
        Ok(connected) => connected,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Invalid;
        }
    };
    match client.allowed_scopes().await {
        Ok(names) if args.json => {
            println!("{}", serde_json::json!(names));
            Exit::Success
        }
        Ok(names) => {
            for name in names {
                println!("{name}");
            }
            Exit::Success
        }
        Err(err) => report_error(&err, args.json),
    }
}

/// Builds the client: for `--mock`, against an embedded mock started on an ephemeral loopback port (kept alive
/// by the returned handle); otherwise against `--base-url` with credentials from the environment.
async fn connect(
    args: &Connection,
    version: ApiVersion,
    dry_run: bool,
) -> Result<(Client, Option<MockServer>), String> {
    let (base_url, credentials, mock) = if args.mock {
        // Closed world, as eToro: only the README's portfolio and token exist.
        let config = MockConfig {
            world: etoro_mock::World::Closed,
            portfolios: vec![etoro_mock::Portfolio::example()],
            ..MockConfig::default()
        };
        let mock = MockServer::start(([127, 0, 0, 1], 0).into(), config)
            .await
            .map_err(|err| format!("cannot start the embedded mock: {err}"))?;
        // The mock accepts any credentials; real ones never need to leave the environment for it.
        (
            mock.base_url(),
            Credentials::api_keys("mock-api-key", "mock-user-key"),
            Some(mock),
        )
    } else {
        let credentials = match credentials::from_env(args.auth, |name| std::env::var(name).ok()) {
            Ok(credentials) => credentials,
            // A dry run shows the request without sending it; credential headers print as [REDACTED] anyway.
            Err(_) if dry_run => Credentials::api_keys("dry-run", "dry-run"),
            Err(message) => return Err(message),
        };
        (args.base_url.clone(), credentials, None)
    };
    let mut builder = Client::builder()
        .base_url(base_url)
        .credentials(credentials)
        .api_version(version)
        .retry(RetryPolicy::default().max_attempts(args.attempts));
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    let client = builder.build().map_err(|err| err.to_string())?;
    Ok((client, mock))
}

/// The update the flags describe.
fn update_from_flags(args: &UpdateArgs) -> Result<TokenUpdate, String> {
    let mut update = if !args.scopes.is_empty() {
        TokenUpdate::new().scope_names(args.scopes.iter().cloned())
    } else if !args.scope_ids.is_empty() {
        eprintln!("warning: --scope-id sends the deprecated scopeIds; eToro prefers scope names (--scope)");
        #[allow(deprecated)]
        TokenUpdate::new().scope_ids(args.scope_ids.iter().copied())
    } else {
        TokenUpdate::new()
    };
    if !args.ips.is_empty() {
        update = update.ips_whitelist(args.ips.iter().copied());
    }
    if let Some(at) = args.expires_at {
        update = update.expires_at(at);
    }
    if let Some(after) = args.expires_in {
        let after = chrono::Duration::from_std(after).map_err(|_| "--expires-in is too long".to_owned())?;
        let at = Utc::now()
            .checked_add_signed(after)
            .ok_or_else(|| "--expires-in is too long".to_owned())?;
        update = update.expires_at(at);
    }
    Ok(update)
}

async fn single(client: &Client, args: &UpdateArgs) -> Exit {
    let (Some(portfolio), Some(token)) = (args.portfolio, args.token) else {
        unreachable!("clap requires --portfolio and --token without --from");
    };
    let update = match update_from_flags(args) {
        Ok(update) => update,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Invalid;
        }
    };
    let mut call = client.update_user_token(portfolio, token, update);
    if let Some(id) = args.request_id {
        call = call.request_id(id);
    }
    if args.dry_run {
        return match call.dry_run().await {
            Ok(request) => {
                outcome::print_prepared(&request, args.json);
                Exit::Success
            }
            Err(err) => report_error(&err, args.json),
        };
    }
    match call.await {
        Ok(updated) => {
            if args.json {
                let report = outcome::Report {
                    portfolio: Some(portfolio),
                    token: Some(token),
                    ..outcome::Report::updated(&updated)
                };
                println!("{}", report.to_json());
            } else {
                println!(
                    "updated user token {token} of agent-portfolio {portfolio} (request id {})",
                    updated.request_id
                );
            }
            Exit::Success
        }
        Err(err) => report_error(&err, args.json),
    }
}

fn report_error(err: &etoro_client::Error, json: bool) -> Exit {
    if json {
        println!("{}", outcome::Report::failed(err).to_json());
    } else {
        eprintln!("error: {err}");
    }
    outcome::exit_for(err)
}
