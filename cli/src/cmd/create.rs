//! `etoro-token create`: a new user token, whose secret eToro returns this once. It goes to exactly one place:
//! standard output (alone on its line, or in the `--json` object) or `--secret-file` (created new, mode 0600,
//! fsynced with its directory). Never to standard error, a log or a journal.
//!
//! The secret file is created before the create is sent, so an existing file is refused with nothing sent. When
//! the secret cannot be stored after eToro created the token, the token exists and nobody holds its secret: the
//! run says so, names the token and how to revoke it, and exits 5.

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;
use etoro_client::rotation::{Claim, FileError, FileSecretSink, SecretSink};
use etoro_client::secrecy::ExposeSecret;
use etoro_client::{ApiVersion, CreatedToken, Error, NewToken};
use serde_json::json;
use uuid::Uuid;

use crate::cmd::flags::in_flag_terms;
use crate::cmd::raw;
use crate::connect::connect_for_one;
use crate::exit::{Exit, TABLE};
use crate::options::{Connection, TokenSettings, CREDENTIALS_HELP};
use crate::output;
use crate::report::report_error;

const EXAMPLES: &str = "\
Examples:
  # A read-only token for one address, valid 90 days; the secret goes to a
  # new file (mode 0600):
  etoro-token create --mock --name reporting-bot \\
      --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 \\
      --scope etoro-public:trade.real:read --ip 203.0.113.7 --expires-in 90d \\
      --secret-file reporting-bot.secret

  # The secret alone on standard output, straight into a secret store:
  etoro-token create --portfolio 3fa8... --name ci \\
      --scope etoro-public:trade.demo:read | vault kv put secret/ci token=-";

/// `etoro-token create`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{EXAMPLES}"))]
#[command(mut_arg("scopes", |arg| arg.required(true).help(
    "A scope name the token holds (repeatable, at least one), e.g. etoro-public:trade.real:read",
)))]
#[command(mut_arg("ips", |arg| arg.help(
    "Allow the token from this IPv4 address only (repeatable) [default: from anywhere]",
)))]
#[command(mut_arg("expires_at", |arg| arg.help("Expire the token at this instant (RFC 3339) [default: never]")))]
#[command(mut_arg("expires_in", |arg| arg.help("Expire the token this long from now (e.g. 90d, 12h)")))]
pub struct CreateArgs {
    /// The agent-portfolio to create the token in.
    #[arg(long, value_name = "UUID")]
    pub portfolio: Uuid,

    /// The token's name, unique within the agent-portfolio (1 to 100 characters).
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// What the token may do, from where, until when.
    #[command(flatten)]
    pub settings: TokenSettings,

    /// Write the secret to this new file (mode 0600; refused if it exists) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Print one JSON object on stdout: the token's id, name, settings, request id and its secret (or, with
    /// --secret-file, the file's path instead).
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

impl CreateArgs {
    fn new_token(&self) -> NewToken {
        let settings = &self.settings;
        let mut token = NewToken::new(self.name.clone(), settings.scopes.iter().cloned());
        if !settings.ips.is_empty() {
            token = token.ips_whitelist(settings.ips.iter().copied());
        }
        if let Some(at) = settings.expires_at {
            token = token.expires_at(at);
        }
        if let Some(after) = settings.expires_in {
            token = token.expires_in(after);
        }
        token
    }
}

/// Creates the token and stores its secret.
pub async fn run(args: CreateArgs) -> Exit {
    let token = args.new_token();
    if let Err(invalid) = token.validate(Utc::now()) {
        output::note(&format!("error: {}", in_flag_terms(&invalid)));
        return Exit::Invalid;
    }
    if args.portfolio.is_nil() {
        output::note("error: invalid --portfolio: must not be the nil UUID (nothing was sent)");
        return Exit::Invalid;
    }
    // The create is never retried blindly by the library, so --attempts only covers what surely was not sent.
    let connected = match connect_for_one(&args.connection, ApiVersion::V2).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    let mut file = match &args.secret_file {
        None => None,
        Some(path) => match reserve(path).await {
            Ok(file) => Some(file),
            Err((exit, why)) => {
                output::note(&format!(
                    "error: --secret-file {}: cannot create it: {why} (nothing was sent)",
                    path.display()
                ));
                return exit;
            }
        },
    };
    let created = match connected.client.create_user_token(args.portfolio, token).await {
        Ok(created) => created,
        Err(err) => {
            if let Some(mut file) = file.take() {
                // Still empty: no token's secret was ever in it.
                let _ = file.release().await;
            }
            return create_failed(&err, &args);
        }
    };
    if let Err((exit, why)) = store(&created, file.as_mut(), &args).await {
        if let Some(mut file) = file {
            // A partial secret of a token to revoke is of no use to anyone.
            let _ = file.release().await;
        }
        secret_lost(&created, &why);
        return exit;
    }
    // The secret is safe; what follows is information only.
    let summary = format!(
        "created user token {} ({:?}) in agent-portfolio {} (request id {})",
        created.id, created.name, created.portfolio, created.request_id
    );
    let printed = match (&args.secret_file, args.json) {
        (Some(path), true) => output::line(&details(&created, None, Some(path)).to_string()),
        (Some(path), false) => output::line(&format!("{summary}; its secret is in {}", path.display())),
        (None, true) => Ok(()),
        (None, false) => {
            output::note(&format!("{summary}; its secret is on standard output, shown this once"));
            Ok(())
        }
    };
    printed.err().unwrap_or(Exit::Success)
}

/// Creates the secret file, new and empty (the library's file sink: `O_EXCL`, mode 0600, its directory synced),
/// before anything is sent. A file that exists, a link or a missing directory is exit 2; other failures exit 5.
async fn reserve(path: &std::path::Path) -> Result<FileSecretSink, (Exit, String)> {
    let mut file = FileSecretSink::new(path).map_err(|err| (Exit::LocalIo, err.to_string()))?;
    match file.reserve(Claim::New).await {
        Ok(_) => Ok(file),
        Err(err) => {
            let exit = match err.downcast_ref::<FileError>() {
                Some(FileError::Refused(_)) => Exit::Invalid,
                _ => Exit::LocalIo,
            };
            Err((exit, err.to_string()))
        }
    }
}

/// Reports a failed create; after one of unknown outcome, how to find out.
fn create_failed(err: &Error, args: &CreateArgs) -> Exit {
    let exit = report_error(err, args.json);
    if err.outcome_unknown() {
        output::note(&format!(
            "hint: `etoro-token list --portfolio {}` shows whether a token named {:?} exists; if it does, nobody \
             holds its secret: revoke it, then create again",
            args.portfolio, args.name
        ));
    }
    exit
}

/// Stores the secret where it goes: on standard output (alone on its line, or in the `--json` object; written and
/// flushed) or in the file (written and fsynced, with its directory). An error says why it is not stored, with
/// the exit code: 5 when writing failed, 4 when eToro's secret cannot be stored as it is.
async fn store(
    created: &CreatedToken,
    file: Option<&mut FileSecretSink>,
    args: &CreateArgs,
) -> Result<(), (Exit, String)> {
    if let Some(why) = created.secret.unusable() {
        return Err((Exit::Failed, why.to_owned()));
    }
    let secret = created.secret.expose_secret();
    let written = match file {
        Some(file) => file
            .store(created)
            .await
            .map_err(|err| format!("cannot write it to {}: {err}", describe(args))),
        None => {
            let line = if args.json {
                // The same JSON value with the server's text escaped (the secret holds nothing to escape).
                output::escape(&details(created, Some(secret), None).to_string()).into_owned()
            } else {
                secret.to_owned()
            };
            raw::secret_line(&line).map_err(|err| format!("cannot write it to standard output: {err}"))
        }
    };
    written.map_err(|why| (Exit::LocalIo, why))
}

fn describe(args: &CreateArgs) -> String {
    args.secret_file
        .as_ref()
        .map_or_else(|| "standard output".to_owned(), |path| path.display().to_string())
}

/// The `--json` object. `secret` only when the secret goes to standard output.
fn details(created: &CreatedToken, secret: Option<&str>, file: Option<&PathBuf>) -> serde_json::Value {
    let mut value = json!({
        "outcome": "created",
        "portfolio": created.portfolio,
        "token": created.id,
        "name": created.name,
        "scopeNames": created.scope_names,
        "ipsWhitelist": created.ips_whitelist,
        "expiresAt": created.expires_at,
        "createdAt": created.created_at,
        "clientId": created.client_id,
        "requestId": created.request_id,
        "attempts": created.attempts,
    });
    if let Some(secret) = secret {
        value["secret"] = json!(secret);
    }
    if let Some(file) = file {
        value["secretFile"] = json!(file.display().to_string());
    }
    value
}

/// Says, loudly, that a token exists whose secret nobody holds.
fn secret_lost(created: &CreatedToken, why: &str) {
    for line in [
        "error: ************************************************************************".to_owned(),
        format!(
            "error: user token {} ({:?}) WAS CREATED in agent-portfolio {} (request id {}),",
            created.id, created.name, created.portfolio, created.request_id
        ),
        format!("error: but its secret could not be stored: {why}."),
        "error: The secret is lost: eToro never returns it again. Revoke the token, then create another:".to_owned(),
        format!(
            "error:   etoro-token revoke --portfolio {} --token {}",
            created.portfolio, created.id
        ),
        "error: ************************************************************************".to_owned(),
    ] {
        output::note(&line);
    }
}
