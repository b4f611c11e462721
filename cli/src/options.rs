//! The flag groups and value parsers that several commands share, below the commands in the CLI's layers (the
//! commands and the bulk engine use them; nothing here knows a command): where and how to connect
//! ([`Connection`], listed after each command's own flags), a token's settings ([`TokenSettings`]), a bulk run's
//! journal and pace ([`BulkRun`]), `--api`, and the one parser of instants and of durations.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

/// The heading of the flags shared by every command (connection, -v), listed after each command's own.
pub const COMMON_OPTIONS: &str = "Common options";

/// Where credentials come from, for every command that talks to eToro.
pub const CREDENTIALS_HELP: &str = "\
Credentials come from the environment, never from flags:
  ETORO_API_KEY + ETORO_USER_KEY   the key pair, or
  ETORO_ACCESS_TOKEN               an OAuth2 bearer token.
With both kinds set, --auth keys|bearer picks one. --mock needs none.
ETORO_BASE_URL sets --base-url (e.g. to an `etoro-token mock`).";

/// Which credentials to use when the environment holds both kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthKind {
    /// ETORO_API_KEY + ETORO_USER_KEY.
    Keys,
    /// ETORO_ACCESS_TOKEN.
    Bearer,
}

/// The flags of the commands that decide from a listing what to update (`apply`, `edit`): the plan, the journal,
/// the pace and the endpoint.
#[derive(Debug, Args)]
pub struct BulkRun {
    /// Print what would change, token by token and field by field, and send nothing but the list request
    /// (exit 0 when nothing would change, 6 otherwise).
    #[arg(long)]
    pub plan: bool,

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

    /// Which update endpoint to call: v1 (the default; scope names or deprecated ids) or v2 (scope names only).
    #[arg(long, value_enum, default_value_t = Api::V1)]
    pub api: Api,
}

/// A token's settings, as `update`, `create` and `rotate` take them (flattened into each). The help here is what
/// each flag does; a command whose default differs says so over it (`mut_arg` on the command's struct).
#[derive(Debug, Args)]
pub struct TokenSettings {
    /// The token's scope names (repeatable), e.g. etoro-public:trade.real:read.
    #[arg(long = "scope", value_name = "NAME")]
    pub scopes: Vec<String>,

    /// Allow the token from this IPv4 address only (repeatable).
    #[arg(long = "ip", value_name = "IPV4")]
    pub ips: Vec<Ipv4Addr>,

    /// Expire the token at this instant (RFC 3339, e.g. 2026-12-31T23:59:59Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub expires_at: Option<DateTime<Utc>>,

    /// Expire the token this long from now (e.g. 30d, 12h, 90m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "expires_at")]
    pub expires_in: Option<Duration>,
}

impl TokenSettings {
    /// Whether any setting was given.
    pub fn any(&self) -> bool {
        !self.scopes.is_empty() || !self.ips.is_empty() || self.expires_at.is_some() || self.expires_in.is_some()
    }
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
}
