//! `etoro-token revoke`: delete a user token; it stops working at once. On a terminal the user confirms, seeing
//! the token's name (from a list call); without a terminal `--yes` is required, and its absence is found before
//! anything is sent.

use clap::Args;
use etoro_client::ApiVersion;
use uuid::Uuid;

use crate::cmd::confirm;
use crate::connect::connect_for_one;
use crate::exit::{Exit, TABLE};
use crate::options::{Connection, CREDENTIALS_HELP};
use crate::output;
use crate::report::report_error;

const EXAMPLES: &str = "\
Examples:
  # Asks first, showing the token's name:
  etoro-token revoke --mock --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 \\
      --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f

  # In a script (no terminal), --yes is required:
  etoro-token revoke --portfolio 3fa8... --token 9b2d... --yes";

/// `etoro-token revoke`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{EXAMPLES}"))]
pub struct RevokeArgs {
    /// The agent-portfolio that owns the token.
    #[arg(long, value_name = "UUID")]
    pub portfolio: Uuid,

    /// The user token to revoke.
    #[arg(long, value_name = "UUID")]
    pub token: Uuid,

    /// Revoke without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

/// Revokes the token, after asking unless `--yes`.
pub async fn run(args: RevokeArgs) -> Exit {
    for (flag, id) in [("--portfolio", args.portfolio), ("--token", args.token)] {
        if id.is_nil() {
            output::note(&format!(
                "error: invalid {flag}: must not be the nil UUID (nothing was sent)"
            ));
            return Exit::Invalid;
        }
    }
    if let Err(exit) = confirm::possible(args.yes, "revoke") {
        return exit;
    }
    let connected = match connect_for_one(&args.connection, ApiVersion::V1).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    let client = &connected.client;
    if !args.yes {
        // The name helps the user recognise the token; when the list fails, the question goes without it.
        let described = match client.list_agent_portfolios().await {
            Ok(portfolios) => {
                let token = portfolios
                    .iter()
                    .filter(|portfolio| portfolio.id == args.portfolio)
                    .flat_map(|portfolio| &portfolio.tokens)
                    .find(|token| token.id == args.token);
                match token {
                    Some(token) => match &token.name {
                        Some(name) => format!("user token {} ({name:?})", args.token),
                        None => format!("user token {}", args.token),
                    },
                    None => {
                        output::note(&format!(
                            "error: eToro lists no user token {} in agent-portfolio {} (nothing was revoked)",
                            args.token, args.portfolio
                        ));
                        return Exit::Refused;
                    }
                }
            }
            Err(err) => {
                output::note(&format!("warning: cannot list the tokens to show the name: {err}"));
                format!("user token {}", args.token)
            }
        };
        let question = format!(
            "Revoke {described} of agent-portfolio {}? It stops working at once.",
            args.portfolio
        );
        if !confirm::ask(&question) {
            output::note("not confirmed: nothing was revoked");
            return Exit::Invalid;
        }
    }
    match client.revoke_user_token(args.portfolio, args.token).await {
        Ok(revoked) if revoked.already_gone => output::line(&format!(
            "user token {} of agent-portfolio {} was already gone: an earlier attempt of this revoke, whose answer \
             was lost, revoked it (request id {})",
            revoked.token, revoked.portfolio, revoked.request_id
        ))
        .err()
        .unwrap_or(Exit::Success),
        Ok(revoked) => output::line(&format!(
            "revoked user token {} of agent-portfolio {} (request id {})",
            revoked.token, revoked.portfolio, revoked.request_id
        ))
        .err()
        .unwrap_or(Exit::Success),
        Err(err) => report_error(&err, false),
    }
}
