//! The command line, as clap sees it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// The heading of the flags shared by every command (connection, -v), listed after each command's own.
pub const COMMON_OPTIONS: &str = "Common options";

/// Where credentials come from, for every command that talks to eToro.
pub const CREDENTIALS_HELP: &str = "\
Credentials come from the environment, never from flags:
  ETORO_API_KEY + ETORO_USER_KEY   the key pair, or
  ETORO_ACCESS_TOKEN               an OAuth2 bearer token.
With both kinds set, --auth keys|bearer picks one. --mock needs none.
ETORO_BASE_URL sets --base-url (e.g. to an `etoro-token mock`).";

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

/// Change who may use an eToro agent-portfolio user token, from where, and until when.
#[derive(Debug, Parser)]
#[command(name = "etoro-token", version, after_help = crate::exit::TABLE)]
pub struct Cli {
    /// Log retries and waits to stderr (-v: this tool and the client; -vv: everything). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = COMMON_OPTIONS)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Update one user token (flags), or many (--from FILE.jsonl).
    #[command(after_help = format!("{CREDENTIALS_HELP}\n\n{}\n\n{UPDATE_EXAMPLES}", crate::exit::TABLE))]
    Update(UpdateArgs),
    /// Bring many tokens to a desired state: one list request, then a PATCH only for those that differ (--plan
    /// shows the changes and sends nothing).
    Apply(crate::cmd::apply::ApplyArgs),
    /// Add or remove addresses and scopes, or move the expiry, on one token or a selection, without restating
    /// the rest (--plan shows the changes and sends nothing).
    Edit(crate::cmd::edit::EditArgs),
    /// List the scope names a token may hold (GET /api/v2/agent-portfolios/user-tokens/scopes).
    #[command(after_help = format!("{CREDENTIALS_HELP}\n\n{}", crate::exit::TABLE))]
    Scopes(crate::cmd::scopes::ScopesArgs),
    /// List the user tokens of every agent-portfolio, marking the expired and the soon expiring.
    List(crate::cmd::list::ListArgs),
    /// Create a user token; its secret, returned this once, goes to stdout or a new --secret-file.
    Create(crate::cmd::create::CreateArgs),
    /// Revoke (delete) a user token, after confirming.
    Revoke(crate::cmd::revoke::RevokeArgs),
    /// Replace a user token: create a new one like it, store its secret, then revoke the old one (resumable).
    Rotate(crate::cmd::rotate::RotateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::cmd::completions::CompletionsArgs),
    /// Run a local stand-in for eToro's endpoints, with optional faults and quota, until interrupted.
    #[cfg(feature = "mock")]
    Mock(crate::mock::MockArgs),
}

/// Which credentials to use when the environment holds both kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthKind {
    /// ETORO_API_KEY + ETORO_USER_KEY.
    Keys,
    /// ETORO_ACCESS_TOKEN.
    Bearer,
}

/// `etoro-token update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The agent-portfolio that owns the token.
    #[arg(long, value_name = "UUID", required_unless_present = "from")]
    pub portfolio: Option<Uuid>,

    /// The user token to update.
    #[arg(long, value_name = "UUID", required_unless_present = "from")]
    pub token: Option<Uuid>,

    /// Set the token's scopes to these names (repeatable), e.g. etoro-public:trade.real:read.
    #[arg(long = "scope", value_name = "NAME")]
    pub scopes: Vec<String>,

    /// Deprecated: set the scopes by numeric id (repeatable). Prefer --scope.
    #[arg(long = "scope-id", value_name = "N", conflicts_with = "scopes")]
    pub scope_ids: Vec<i32>,

    /// Allow the token from this IPv4 address (repeatable); replaces the current list.
    #[arg(long = "ip", value_name = "IPV4")]
    pub ips: Vec<Ipv4Addr>,

    /// Expire the token at this instant (RFC 3339, e.g. 2026-12-31T23:59:59Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub expires_at: Option<DateTime<Utc>>,

    /// Expire the token this long from now (e.g. 30d, 12h, 90m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "expires_at")]
    pub expires_in: Option<Duration>,

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

/// The flags of the commands that decide from a listing what to update (`apply`, `edit`): their journal and pace.
/// Each such command has a `--plan`, which a journal conflicts with.
#[derive(Debug, Args)]
pub struct BulkRun {
    /// Record every result here (JSONL); a re-run with the same journal resumes.
    #[arg(long, value_name = "FILE", conflicts_with = "plan")]
    pub journal: Option<PathBuf>,

    /// How many tokens may be updated at once [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,

    /// At most this many requests per minute [default: 60 against the real API, eToro's quota per user key; no
    /// limit of its own against --mock or a loopback --base-url].
    #[arg(long, value_name = "PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
}

/// The flags every command that talks to eToro shares, listed after each command's own.
#[derive(Debug, Args)]
#[command(next_help_heading = COMMON_OPTIONS)]
pub struct Connection {
    /// The API's base URL.
    #[arg(long, env = "ETORO_BASE_URL", default_value = etoro_client::DEFAULT_BASE_URL, value_name = "URL")]
    pub base_url: String,

    /// Which credentials to use when both kinds are set in the environment.
    #[arg(long, value_enum)]
    pub auth: Option<AuthKind>,

    /// Give up on one attempt after this long (e.g. 30s, 2m; a plain number is seconds) [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Make at most this many attempts per request (1 turns retries off).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,

    /// How long one call may take in all, its retries and waits for quota included (e.g. 30s, 15m) [default: 2m;
    /// per line with --from and apply: 15m]. When eToro holds every request back for longer (a 429's
    /// Retry-After, a used-up window), the call is not sent and fails at once (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// Run against the embedded mock eToro (started in-process on 127.0.0.1); needs no credentials.
    #[arg(long)]
    pub mock: bool,
}

/// `--api`: which update endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// `PATCH /api/v1/...` (the default).
    V1,
    /// `PATCH /api/v2/...`: scope names only.
    V2,
}

impl From<Api> for etoro_client::ApiVersion {
    fn from(api: Api) -> Self {
        match api {
            Api::V1 => etoro_client::ApiVersion::V1,
            Api::V2 => etoro_client::ApiVersion::V2,
        }
    }
}

pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|err| format!("{err}; expected RFC 3339 such as 2026-12-31T23:59:59Z"))
}

/// The one parser of durations: humantime's forms (`30s`, `2m`, `30d`, `1h 30m`), or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|err| format!("{err}; expected a duration such as 30s, 2m, 12h or 30d"))?,
    };
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds_and_never_zero() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("30s"));
        assert!(parse_duration("-5").is_err());
    }

    /// Each subcommand's long help, as a terminal `width` columns wide shows it.
    fn helps(width: usize) -> Vec<(String, String)> {
        use clap::CommandFactory;
        let mut cli = Cli::command().term_width(width);
        cli.build();
        cli.get_subcommands()
            .filter(|command| command.get_name() != "help")
            .map(|command| {
                let text = command.clone().term_width(width).render_long_help().to_string();
                (command.get_name().to_owned(), text)
            })
            .collect()
    }

    #[test]
    fn examples_and_notes_are_never_wrapped_on_an_80_column_terminal() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        cli.build();
        let notes: Vec<(String, String)> = cli
            .get_subcommands()
            .filter_map(|command| Some((command.get_name().to_owned(), command.get_after_help()?.to_string())))
            .collect();
        assert!(notes.len() >= 8, "{notes:?}");
        let rendered = helps(80);
        for (name, after) in notes {
            // `rotate`'s help moves with the rotation's logic into the library (another change in flight).
            if name == "rotate" {
                continue;
            }
            let help = &rendered.iter().find(|(rendered, _)| *rendered == name).unwrap().1;
            let lines: std::collections::HashSet<&str> = help.lines().map(str::trim_end).collect();
            for line in after.lines() {
                assert!(line.chars().count() <= 80, "{name}: a line over 80 columns: {line}");
                assert!(lines.contains(line.trim_end()), "{name}: wrapped or missing: {line:?}");
            }
        }
    }

    #[test]
    fn each_commands_own_flags_come_first_and_the_shared_ones_after() {
        for (name, help) in helps(100) {
            let Some(common) = help.find(&format!("{COMMON_OPTIONS}:")) else {
                panic!("{name}: no {COMMON_OPTIONS} heading:\n{help}");
            };
            let own = help.find("Options:").unwrap();
            assert!(own < common, "{name}: its own flags first");
            let shared_part = &help[common..];
            assert!(shared_part.contains("--verbose"), "{name}: -v among the shared flags");
            assert!(
                !help[..common].contains("--verbose"),
                "{name}: -v not among its own flags"
            );
            if help.contains("--base-url <URL>") {
                assert!(
                    !help[..common].contains("--base-url <URL>"),
                    "{name}: --base-url after its own flags"
                );
            }
            for own_flag in ["--json", "--dry-run", "--portfolio <UUID>", "--from <FILE.jsonl>"] {
                if let Some(at) = help.find(own_flag) {
                    assert!(at < common, "{name}: {own_flag} is its own flag");
                }
            }
        }
    }
}
