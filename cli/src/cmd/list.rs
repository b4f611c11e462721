//! `etoro-token list`: every user token of the user's agent-portfolios (`GET /api/v1/agent-portfolios`), as a
//! table for people or one JSON object per token a line for machines.
//!
//! The table marks a token that has expired (`EXPIRED`) or expires within 7 days (`EXPIRING`) with a word in
//! its STATUS column; on a terminal the word is coloured too (never when standard output is not a terminal, or
//! `NO_COLOR` is set). Every cell is escaped before it is measured and printed: names come from the network.
//! Columns are as wide as their widest cell (display width, so wide characters line up).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::Args;
use etoro_client::{AgentPortfolio, ApiVersion, UserToken};
use serde_json::json;
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

use crate::cmd::raw;
use crate::connect::connect_for_one;
use crate::exit::{Exit, TABLE};
use crate::options::{Connection, CREDENTIALS_HELP};
use crate::output;
use crate::report::report_error;

const EXAMPLES: &str = "\
Examples:
  # Every token, as a table (STATUS: ok, EXPIRING within 7 days, EXPIRED):
  etoro-token list --mock

  # One agent-portfolio's tokens, one JSON object per token a line:
  etoro-token list --mock --json \\
      --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6

  # The tokens that expire within 7 days, with jq:
  etoro-token list --json | jq -r 'select(.status == \"expiring\") | .token'";

/// `etoro-token list`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{EXAMPLES}"))]
pub struct ListArgs {
    /// Only the tokens of this agent-portfolio (exit 3 when eToro lists no such agent-portfolio).
    #[arg(long, value_name = "UUID")]
    pub portfolio: Option<Uuid>,

    /// Print one JSON object per token a line (portfolio, portfolioName, token, name, scopeNames, scopeIds,
    /// ipsWhitelist, expiresAt, createdAt, clientId, externalApplicationName, status).
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

/// How soon an expiry counts as near.
const SOON_DAYS: i64 = 7;

/// A token's state at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Valid, and not expiring within [`SOON_DAYS`] (or never).
    Ok,
    /// Valid, but expiring within [`SOON_DAYS`].
    Expiring,
    /// Expired.
    Expired,
}

impl Status {
    /// The status at `now` of a token that expires at `expires_at` (`None`: never). The same edges as
    /// `UserToken::is_expired` and `UserToken::expires_within`: expired at the instant itself, expiring when the
    /// instant is at most 7 days away.
    pub fn of(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Status {
        match expires_at {
            Some(at) if at <= now => Status::Expired,
            Some(at) if at <= now + Duration::days(SOON_DAYS) => Status::Expiring,
            _ => Status::Ok,
        }
    }

    /// The word in the table.
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Expiring => "EXPIRING",
            Status::Expired => "EXPIRED",
        }
    }

    /// The value in JSON.
    fn key(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
        }
    }

    /// The terminal colour of the word (SGR), if any.
    fn colour(self) -> Option<&'static str> {
        match self {
            Status::Ok => None,
            Status::Expiring => Some("33"),
            Status::Expired => Some("1;31"),
        }
    }
}

/// Lists the tokens.
pub async fn run(args: ListArgs) -> Exit {
    let connected = match connect_for_one(&args.connection, ApiVersion::V1).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    let mut portfolios = match connected.client.list_agent_portfolios().await {
        Ok(portfolios) => portfolios,
        Err(err) => return report_error(&err, args.json),
    };
    if let Some(wanted) = args.portfolio {
        portfolios.retain(|portfolio| portfolio.id == wanted);
        if portfolios.is_empty() {
            output::note(&format!(
                "error: eToro lists no agent-portfolio {wanted} for these credentials"
            ));
            return Exit::Refused;
        }
    }
    let now = Utc::now();
    let rows = rows(&portfolios);
    if rows.is_empty() {
        output::note("no user tokens");
    }
    let printed = if args.json {
        json_lines(&rows, now).iter().try_for_each(|line| output::line(line))
    } else {
        let colour = output::colour(&std::io::stdout());
        table(&rows, now, colour).iter().try_for_each(|line| {
            if colour {
                // The cells are escaped already; the colour codes are ours.
                let mut bytes = line.clone().into_bytes();
                bytes.push(b'\n');
                raw::bytes(&bytes)
            } else {
                output::line(line)
            }
        })
    };
    printed.err().unwrap_or(Exit::Success)
}

/// One listed token, with its agent-portfolio.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    portfolio: Uuid,
    portfolio_name: Option<String>,
    token: Uuid,
    name: Option<String>,
    scope_names: Vec<String>,
    scope_ids: Vec<i32>,
    ips_whitelist: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    client_id: Option<Uuid>,
    external_application_name: Option<String>,
}

/// The tokens of `portfolios`, in listing order.
fn rows(portfolios: &[AgentPortfolio]) -> Vec<Row> {
    portfolios
        .iter()
        .flat_map(|portfolio| {
            portfolio.tokens.iter().map(move |token: &UserToken| Row {
                portfolio: portfolio.id,
                portfolio_name: portfolio.name.clone(),
                token: token.id,
                name: token.name.clone(),
                scope_names: token.scope_names.clone(),
                scope_ids: token.scope_ids.clone(),
                ips_whitelist: token.ips_whitelist.clone(),
                expires_at: token.expires_at,
                created_at: token.created_at,
                client_id: token.client_id,
                external_application_name: token.external_application_name.clone(),
            })
        })
        .collect()
}

/// One JSON object per token.
fn json_lines(rows: &[Row], now: DateTime<Utc>) -> Vec<String> {
    rows.iter()
        .map(|row| {
            json!({
                "portfolio": row.portfolio,
                "portfolioName": row.portfolio_name,
                "token": row.token,
                "name": row.name,
                "scopeNames": row.scope_names,
                "scopeIds": row.scope_ids,
                "ipsWhitelist": row.ips_whitelist,
                "expiresAt": row.expires_at,
                "createdAt": row.created_at,
                "clientId": row.client_id,
                "externalApplicationName": row.external_application_name,
                "status": Status::of(row.expires_at, now).key(),
            })
            .to_string()
        })
        .collect()
}

/// The table's lines: a header, then one line per token. With `colour`, the STATUS word of expired and expiring
/// tokens is wrapped in an SGR colour (the word is there either way).
fn table(tokens: &[Row], now: DateTime<Utc>, colour: bool) -> Vec<String> {
    const HEADER: [&str; 7] = ["PORTFOLIO", "TOKEN", "NAME", "SCOPES", "IPS", "EXPIRES", "STATUS"];
    let rows: Vec<([String; 7], Status)> = tokens
        .iter()
        .map(|token| {
            let status = Status::of(token.expires_at, now);
            let cells = [
                token.portfolio.to_string(),
                token.token.to_string(),
                token.name.as_deref().map_or_else(|| "-".to_owned(), cell),
                scopes(token),
                if token.ips_whitelist.is_empty() {
                    etoro_client::ANY_ADDRESS.to_owned()
                } else {
                    cell(&token.ips_whitelist.join(","))
                },
                token.expires_at.map_or_else(
                    || "never".to_owned(),
                    |at| at.to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
                status.word().to_owned(),
            ];
            (cells, status)
        })
        .collect();
    let mut widths = HEADER.map(UnicodeWidthStr::width);
    for (cells, _) in &rows {
        for (width, text) in widths.iter_mut().zip(cells) {
            *width = (*width).max(text.width());
        }
    }
    let render = |cells: &[String; 7], status: Option<Status>| -> String {
        let mut line = String::new();
        for (index, text) in cells.iter().enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            let last = index == cells.len() - 1;
            match status.and_then(Status::colour).filter(|_| colour && last) {
                Some(sgr) => line.push_str(&format!("\u{1b}[{sgr}m{text}\u{1b}[0m")),
                None => line.push_str(text),
            }
            if !last {
                line.push_str(&" ".repeat(widths[index] - text.width()));
            }
        }
        line
    };
    let mut lines = vec![render(&HEADER.map(str::to_owned), None)];
    lines.extend(rows.iter().map(|(cells, status)| render(cells, Some(*status))));
    lines
}

/// Scope names; a token listed with deprecated ids only shows them as ids (no name is guessed for an id).
fn scopes(token: &Row) -> String {
    if !token.scope_names.is_empty() {
        cell(&token.scope_names.join(","))
    } else if !token.scope_ids.is_empty() {
        let ids: Vec<String> = token.scope_ids.iter().map(i32::to_string).collect();
        format!("ids:{}", ids.join(","))
    } else {
        "-".to_owned()
    }
}

/// A cell's text with its control characters escaped.
fn cell(text: &str) -> String {
    output::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_status_edges_are_the_instant_and_seven_days() {
        let now = at("2026-06-01T12:00:00Z");
        let second = Duration::seconds(1);
        let week = Duration::days(7);
        assert_eq!(Status::of(None, now), Status::Ok);
        assert_eq!(Status::of(Some(now - second), now), Status::Expired);
        assert_eq!(Status::of(Some(now), now), Status::Expired);
        assert_eq!(Status::of(Some(now + second), now), Status::Expiring);
        assert_eq!(Status::of(Some(now + week), now), Status::Expiring);
        assert_eq!(Status::of(Some(now + week + second), now), Status::Ok);
    }

    fn row(name: &str, expires_at: Option<DateTime<Utc>>) -> Row {
        Row {
            portfolio: Uuid::from_u128(1),
            token: Uuid::from_u128(2),
            name: Some(name.to_owned()),
            scope_names: vec!["etoro-public:trade.real:read".to_owned()],
            expires_at,
            ..Row::default()
        }
    }

    #[test]
    fn columns_line_up_cells_are_escaped_and_colour_is_only_asked_for() {
        let now = at("2026-06-01T12:00:00Z");
        let rows = [
            row("bot", Some(now - Duration::hours(1))),
            row("\u{1b}[2Jwide 名前", Some(now + Duration::days(3))),
            Row {
                scope_ids: vec![200, 211],
                scope_names: Vec::new(),
                ips_whitelist: vec!["203.0.113.7".to_owned(), "203.0.113.8".to_owned()],
                ..row("ids", None)
            },
        ];
        let plain = table(&rows, now, false);
        assert_eq!(plain.len(), 4);
        assert!(plain.iter().all(|line| !line.contains('\u{1b}')), "{plain:?}");
        assert!(plain[1].ends_with("  EXPIRED") && plain[2].ends_with("  EXPIRING") && plain[3].ends_with("  ok"));
        assert!(plain[2].contains("\\u001b[2Jwide 名前"));
        assert!(plain[3].contains("ids:200,211") && plain[3].contains("203.0.113.7,203.0.113.8"));
        assert!(plain[3].contains("never"));
        // Every STATUS starts at the same display column.
        let column = |line: &str| {
            let start = ["EXPIRED", "EXPIRING", "ok", "STATUS"]
                .iter()
                .find_map(|w| line.rfind(w))
                .unwrap();
            line[..start].width()
        };
        assert!(plain.iter().all(|line| column(line) == column(&plain[0])), "{plain:#?}");

        let coloured = table(&rows, now, true);
        assert!(coloured[1].ends_with("\u{1b}[1;31mEXPIRED\u{1b}[0m"));
        assert!(coloured[2].ends_with("\u{1b}[33mEXPIRING\u{1b}[0m"));
        assert_eq!(coloured[3], plain[3]);
    }

    #[test]
    fn json_lines_carry_ids_and_status_and_escape_names() {
        let now = at("2026-06-01T12:00:00Z");
        let lines = json_lines(&[row("a\nb", Some(now + Duration::days(30)))], now);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["name"], "a\nb");
        assert_eq!(value["status"], "ok");
        assert_eq!(value["token"], Uuid::from_u128(2).to_string());
    }
}
