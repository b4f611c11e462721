//! `etoro-token update` with flags: one token. (`--from FILE` is the bulk mode, in `crate::bulk`.)

use std::path::PathBuf;

use clap::Args;
use etoro_client::{Client, Error, TokenUpdate};
use uuid::Uuid;

use crate::bulk::{self, FromFile};
use crate::cmd::flags;
use crate::connect::connect_for_one;
use crate::exit::{Exit, TABLE};
use crate::options::{Api, Connection, TokenSettings, CREDENTIALS_HELP};
use crate::output;
use crate::report::{report_error, Report};

const UPDATE_EXAMPLES: &str = "\
Examples:
  # Allow one token from one address only, for 30 days (the embedded mock):
  etoro-token update --mock \\
      --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 \\
      --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f \\
      --scope etoro-public:trade.real:read --ip 203.0.113.7 --expires-in 30d

  # Many tokens, one JSON object a line (portfolio, token and the API's body
  # fields, or expiresIn), e.g., on one line:
  #   {\"portfolio\": \"3fa85f64-5717-4562-b3fc-2c963f66afa6\",
  #    \"token\": \"9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f\",
  #    \"scopeNames\": [\"etoro-public:trade.real:read\"],
  #    \"ipsWhitelist\": [\"203.0.113.7\"], \"expiresIn\": \"30d\"}
  # See first what would be sent, and what the journal would skip:
  etoro-token update --from tokens.jsonl --journal tokens.journal --dry-run
  etoro-token update --from tokens.jsonl --journal tokens.journal

  # Resume after Ctrl-C, SIGTERM, a crash or a failure: the same command
  # again. Per token, the journal skips the lines already done and re-sends
  # a line left unfinished under its request id.
  etoro-token update --from tokens.jsonl --journal tokens.journal

  # Results as JSON, one object a line, then a summary object:
  etoro-token update --from tokens.jsonl --journal tokens.journal --json \\
      | jq -c 'select(.outcome != \"updated\")'

Bulk mode (--from):
  Lines naming the same token are applied one after another, in file order:
  a token ends as its last line says. Every attempt, retries included, draws
  from one pace (--rate, and the server's RateLimit-* headers); a 429 holds
  every request, longer after each 429 in a row, and a line waits for quota up
  to --deadline rather than failing; a pause longer than --deadline ends the
  run, the lines not sent resumable with --journal. A bad line is reported
  with its number and does not stop the others.
  The exit code is the highest of all lines' codes;
  130 after Ctrl-C, 143 after SIGTERM (a first signal stops every line not
  yet sent, lets the requests in flight finish and prints the command that
  resumes; a second one quits at once).";

/// `etoro-token update`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{UPDATE_EXAMPLES}"))]
#[command(mut_arg("scopes", |arg| arg.help(
    "Set the token's scopes to these names (repeatable), e.g. etoro-public:trade.real:read",
)))]
#[command(mut_arg("ips", |arg| arg.help(
    "Allow the token from this IPv4 address (repeatable); replaces the current list",
)))]
pub struct UpdateArgs {
    /// The agent-portfolio that owns the token.
    #[arg(long, value_name = "UUID", required_unless_present = "from")]
    pub portfolio: Option<Uuid>,

    /// The user token to update.
    #[arg(long, value_name = "UUID", required_unless_present = "from")]
    pub token: Option<Uuid>,

    /// What to set.
    #[command(flatten)]
    pub settings: TokenSettings,

    /// Deprecated: set the scopes by numeric id (repeatable). Prefer --scope.
    #[arg(long = "scope-id", value_name = "N", conflicts_with = "scopes")]
    pub scope_ids: Vec<i32>,

    /// Send this x-request-id instead of a fresh one.
    #[arg(long, value_name = "UUID")]
    pub request_id: Option<Uuid>,

    /// Apply one update per line of this JSONL file ("-" reads standard input): {"portfolio", "token", and the
    /// API's body fields}. Lines of one token are applied in file order; tokens run side by side.
    #[arg(
        long,
        value_name = "FILE.jsonl",
        conflicts_with_all = ["portfolio", "token", "scopes", "scope_ids", "ips", "expires_at", "expires_in", "request_id"]
    )]
    pub from: Option<PathBuf>,

    /// With --from: how many tokens are updated at once [default: 4; under a quota more only queue for the
    /// pace].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), requires = "from")]
    pub concurrency: Option<u16>,

    /// With --from: at most this many requests per minute, retries included [default: 60 against the real API
    /// (eToro's quota per user key, shared with every endpoint), no limit of its own against --mock or a
    /// loopback --base-url]. The RateLimit-* headers and 429 answers of the server are followed either way.
    #[arg(long, value_name = "PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..), requires = "from")]
    pub rate: Option<u32>,

    /// With --from: record every line started and every result here (JSONL, created with mode 0600, locked
    /// while the run lasts); running the same command again skips what is done and resumes the rest.
    #[arg(long, value_name = "FILE", requires = "from")]
    pub journal: Option<PathBuf>,

    /// Which update endpoint to call: v1 (the default; scope names or deprecated ids) or v2 (scope names only).
    #[arg(long, value_enum, default_value_t = Api::V1)]
    pub api: Api,

    /// Print the exact HTTP request(s) that would be sent, credentials redacted, and send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect (listed after the command's own flags).
    #[command(flatten)]
    pub connection: Connection,
}

impl UpdateArgs {
    /// The first bulk-only flag given without `--from`, if any. (clap's `requires` does not fire here: it skips a
    /// requirement that conflicts with a flag present, and `--from` conflicts with `--portfolio`.)
    pub fn bulk_flag_without_from(&self) -> Option<&'static str> {
        if self.from.is_some() {
            return None;
        }
        [
            ("--journal", self.journal.is_some()),
            ("--concurrency", self.concurrency.is_some()),
            ("--rate", self.rate.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

/// Runs `update`: one token from the flags, or a file with `--from`.
pub async fn run(args: UpdateArgs) -> Exit {
    if let Some(flag) = args.bulk_flag_without_from() {
        output::note(&format!(
            "error: {flag} applies to bulk mode only: give --from FILE.jsonl (nothing was sent)"
        ));
        return Exit::Invalid;
    }
    if let Some(path) = &args.from {
        // Bulk mode builds its own client: one pace for every attempt, and a deadline that waits for quota.
        let run = FromFile {
            path,
            journal: args.journal.as_deref(),
            concurrency: args.concurrency,
            rate: args.rate,
            api: args.api,
            json: args.json,
            dry_run: args.dry_run,
            connection: &args.connection,
        };
        return bulk::update_from(run).await;
    }
    let connected = match connect_for_one(&args.connection, args.api.into()).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    single(&connected.client, &args).await
}

/// The update the flags describe.
fn update_from_flags(args: &UpdateArgs) -> TokenUpdate {
    let settings = &args.settings;
    let mut update = TokenUpdate::new();
    if !settings.scopes.is_empty() {
        update = update.scope_names(settings.scopes.iter().cloned());
    } else if !args.scope_ids.is_empty() {
        output::note("warning: --scope-id sends the deprecated scopeIds; eToro prefers scope names (--scope)");
        #[allow(deprecated)]
        {
            update = update.scope_ids(args.scope_ids.iter().copied());
        }
    }
    if !settings.ips.is_empty() {
        update = update.ips_whitelist(settings.ips.iter().copied());
    }
    if let Some(at) = settings.expires_at {
        update = update.expires_at(at);
    }
    if let Some(after) = settings.expires_in {
        update = update.expires_in(after);
    }
    update
}

async fn single(client: &Client, args: &UpdateArgs) -> Exit {
    let (Some(portfolio), Some(token)) = (args.portfolio, args.token) else {
        unreachable!("clap requires --portfolio and --token without --from");
    };
    let mut call = client.update_user_token(portfolio, token, update_from_flags(args));
    if let Some(id) = args.request_id {
        call = call.request_id(id);
    }
    let result = if args.dry_run {
        call.dry_run()
            .await
            .map(|request| output::print_prepared(&request, args.json))
    } else {
        call.await.map(|updated| {
            if args.json {
                output::line(&Report::updated(&updated).to_json())
            } else {
                output::line(&format!(
                    "updated user token {token} of agent-portfolio {portfolio} (request id {})",
                    updated.request_id
                ))
            }
        })
    };
    match result {
        Ok(printed) => printed.err().unwrap_or(Exit::Success),
        Err(Error::InvalidInput(invalid)) if !args.json => {
            output::note(&format!("error: {}", flags::in_flag_terms(&invalid)));
            Exit::Invalid
        }
        Err(err) => report_error(&err, args.json),
    }
}
