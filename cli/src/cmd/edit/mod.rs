//! `etoro-token edit`: add or remove addresses and scopes, or move the expiry, on one token or a selection,
//! without restating the rest.
//!
//! eToro's update replaces whole lists, so each selected token's new lists are computed from its listed state
//! ([`etoro_client::TokenEdit`]): one list request, a PATCH through the bulk engine only for the tokens that
//! change, then one more list request that checks every updated token reads as it was sent (eToro has no
//! `If-Match`: a write by someone else in between is a conflict, reported with both states, exit 7, not written
//! again).
//!
//! `--extend` and `--expires-in` are relative: run twice, they extend twice. With `--journal`, a re-run (after a
//! crash, a Ctrl-C) leaves alone a token the journal shows was sent the state it reads as now, so a resumed
//! run never extends a token twice.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use etoro_client::{ApiVersion, EditPlan, ExpiryEdit, TokenEdit, TokenUpdate, UserToken};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bulk::input::InvalidLine;
use crate::bulk::{self, setup, Desired, FromListing, Job};

mod check;
mod selection;

use crate::exit::Exit;
use crate::options::{parse_duration, parse_instant, BulkRun, Connection, CREDENTIALS_HELP};
use crate::output;
use crate::report::report_error;
use selection::{flag_of, verdict, Selected, Verdict};

const EXAMPLES: &str = "\
Examples:
  # The agent's egress address changed, on every token of the portfolio:
  etoro-token edit --portfolio 3fa8... --all \\
      --add-ip 198.51.100.9 --remove-ip 198.51.100.1 --plan
  etoro-token edit --portfolio 3fa8... --all \\
      --add-ip 198.51.100.9 --remove-ip 198.51.100.1 --journal edit.journal

  # Renewal: every token that expires within 7 days gets 30 more days:
  etoro-token edit --portfolio 3fa8... --all --expiring-within 7d \\
      --extend 30d --journal renew.journal

  # Withdraw a scope from the bots:
  etoro-token edit --portfolio 3fa8... --all --name 'bot-*' \\
      --remove-scope etoro-public:trade.real:write";

/// Where `edit`'s own help begins.
pub const AFTER_HELP: &str = "\
Adding an address or scope already there, or removing one absent, changes
nothing; only the tokens that change are sent a PATCH. A token without an
allow-list is usable from any address: --add-ip leaves it so (and says so).
Removing a token's last address or last scope is refused for that token (exit
2, nothing sent for it). --extend adds to the current expiry (to now, for an
expired token; a token that never expires is left as it is). After the PATCHes,
one more list request checks that every updated token reads as sent; one that
does not was written by someone else in between: reported with both states, not
written again (exit 7). The listing decides what is sent: a journal only
resumes a send an earlier run left unfinished, and keeps a resumed --extend or
--expires-in from moving an expiry twice.";

/// `etoro-token edit`.
#[derive(Debug, Args)]
#[command(after_help = format!("{AFTER_HELP}\n\n{CREDENTIALS_HELP}\n\n{}\n\n{EXAMPLES}", crate::exit::TABLE))]
pub struct EditArgs {
    /// The agent-portfolio whose tokens to edit.
    #[arg(long, value_name = "UUID")]
    pub portfolio: Uuid,

    /// A token to edit (repeat for several).
    #[arg(
        long = "token",
        value_name = "UUID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub tokens: Vec<Uuid>,

    /// Every token of the agent-portfolio (narrowed by --name and --expiring-within).
    #[arg(long)]
    pub all: bool,

    /// Only the tokens whose name matches this glob (`*`, `?`, `[abc]`; a token without a name never matches).
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,

    /// Only the tokens that expire within this long from now (e.g. 7d), expired ones included.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expiring_within: Option<Duration>,

    /// Allow this IPv4 address too (repeat for several).
    #[arg(long = "add-ip", value_name = "IPv4")]
    pub add_ips: Vec<Ipv4Addr>,

    /// Stop allowing this IPv4 address (repeat for several).
    #[arg(long = "remove-ip", value_name = "IPv4")]
    pub remove_ips: Vec<Ipv4Addr>,

    /// Grant this scope name too (repeat for several).
    #[arg(long = "add-scope", value_name = "NAME")]
    pub add_scopes: Vec<String>,

    /// Withdraw this scope name (repeat for several).
    #[arg(long = "remove-scope", value_name = "NAME")]
    pub remove_scopes: Vec<String>,

    /// Add this long to the current expiry (e.g. 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, group = "expiry")]
    pub extend: Option<Duration>,

    /// Expire this long from now (e.g. 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, group = "expiry")]
    pub expires_in: Option<Duration>,

    /// Expire at this instant (RFC 3339, e.g. 2027-06-30T00:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant, group = "expiry")]
    pub expires_at: Option<DateTime<Utc>>,

    /// The plan, the journal, the pace and the endpoint of the updates it sends.
    #[command(flatten)]
    pub run: BulkRun,

    /// One JSON object per token on stdout (portfolio, token, the change, the outcome), then a summary object.
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect (listed after the command's own flags).
    #[command(flatten)]
    pub connection: Connection,
}

/// Runs `edit`.
pub async fn run(args: EditArgs) -> Exit {
    let now = Utc::now();
    let edit = match edit_of(&args, now) {
        Ok(edit) => edit,
        Err(message) => return output::fail(&message, Exit::Invalid),
    };
    let name_filter = match args.name.as_deref().map(globset::Glob::new).transpose() {
        Ok(glob) => glob.map(|glob| glob.compile_matcher()),
        Err(err) => return output::fail(&format!("--name: {err}"), Exit::Invalid),
    };
    let journal = match setup::open_journal(args.run.journal.as_deref(), false) {
        Ok(journal) => journal,
        Err((message, exit)) => return output::fail(&message, exit),
    };
    let version: ApiVersion = args.run.api.into();
    let connected = match setup::connect_paced(&args.connection, version, args.run.rate).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    let client = &connected.client;
    // The one read of the current state. Nothing else is sent if it fails.
    let listing = match client.list_agent_portfolios().await {
        Ok(listing) => listing,
        Err(err) => return report_error(&err, args.json),
    };
    let Some(portfolio) = listing.into_iter().find(|portfolio| portfolio.id == args.portfolio) else {
        return output::fail(
            &format!(
                "agent-portfolio {} is not in the listing: nothing was sent",
                args.portfolio
            ),
            Exit::Refused,
        );
    };
    let now = Utc::now();
    let expiring_before = args
        .expiring_within
        .and_then(|window| chrono::Duration::from_std(window).ok())
        .and_then(|window| now.checked_add_signed(window));
    let selected_by = |token: &UserToken| {
        let named = name_filter
            .as_ref()
            .is_none_or(|glob| token.name.as_deref().is_some_and(|name| glob.is_match(name)));
        let expiring = args.expiring_within.is_none()
            || token
                .expires_at
                .is_some_and(|at| expiring_before.is_none_or(|before| at <= before));
        named && expiring
    };
    let mut tokens: HashMap<Uuid, UserToken> = portfolio.tokens.into_iter().map(|token| (token.id, token)).collect();
    // The order of the selection: as named (duplicates once), or as listed.
    let order: Vec<Uuid> = if args.all {
        let mut ids: Vec<Uuid> = tokens.keys().copied().collect();
        ids.sort_by_key(|id| (tokens[id].name.clone(), *id));
        ids
    } else {
        let mut seen = BTreeSet::new();
        args.tokens.iter().copied().filter(|id| seen.insert(*id)).collect()
    };
    let mut selection = Vec::new();
    for id in order {
        let verdict = match tokens.remove(&id) {
            None => Verdict::Missing,
            Some(token) if !selected_by(&token) => continue,
            Some(token) => verdict(&edit, &token, journal.as_ref(), args.portfolio, now),
        };
        selection.push(Selected {
            position: selection.len() as u64 + 1,
            token: id,
            verdict,
        });
    }
    if selection.is_empty() {
        output::note("no token of the agent-portfolio is selected: nothing to do");
    }

    if args.run.plan {
        return check::print_plan(args.portfolio, &selection, args.json);
    }
    let mut desired = Desired::default();
    let mut jobs = Vec::new();
    let mut invalid = Vec::new();
    let mut plans: HashMap<Uuid, EditPlan> = HashMap::new();
    for selected in selection {
        let printed = match selected.verdict {
            Verdict::Change(plan) => {
                // What the edit left alone on this token (an open allow-list), said before its result.
                for note in &plan.notes {
                    output::note(&format!(
                        "token {} of agent-portfolio {}: {note}",
                        selected.token, args.portfolio
                    ));
                }
                match job(args.portfolio, selected.position, selected.token, &plan, version, now) {
                    Ok(job) => jobs.push(job),
                    Err(message) => return output::fail(&message, Exit::Invalid),
                }
                plans.insert(selected.token, *plan);
                Ok(())
            }
            Verdict::Unchanged(notes) => {
                desired.unchanged += 1;
                check::report_unchanged(args.portfolio, selected.token, &notes, "unchanged", args.json)
            }
            Verdict::DoneBefore => {
                desired.unchanged += 1;
                let note = "the journal shows an earlier run sent the state it reads as now".to_owned();
                check::report_unchanged(args.portfolio, selected.token, &[note], "unchanged", args.json)
            }
            Verdict::Refused(err) => {
                invalid.push(InvalidLine {
                    number: selected.position,
                    message: format!(
                        "token {} of agent-portfolio {}: {}: {} (not sent)",
                        selected.token,
                        args.portfolio,
                        flag_of(&err.field),
                        err.rule
                    ),
                    prefix: None,
                });
                Ok(())
            }
            Verdict::Missing => {
                desired.missing += 1;
                let message = format!(
                    "refused: token {} is not in agent-portfolio {} (not sent)",
                    selected.token, args.portfolio
                );
                check::report_unchanged(args.portfolio, selected.token, &[message], "refused", args.json)
            }
        };
        if let Err(exit) = printed {
            return exit;
        }
    }
    let how = FromListing {
        concurrency: args.run.concurrency,
        json: args.json,
        journal,
        desired,
        track_updated: true,
    };
    let summary = bulk::run_from_listing(client, invalid, jobs, how).await;
    if let Some(bulk::Stop::Signal(signal)) = summary.stopped {
        drop(connected);
        std::process::exit(signal.exit_code());
    }
    let checked = check::check(client, args.portfolio, &summary.updated_tokens, &plans, args.json).await;
    let exit = summary.exit.max(checked.exit);
    // The engine's summary came before the read-back: for machines, the read-back's counts and the final code.
    if args.json && !summary.updated_tokens.is_empty() {
        let check =
            json!({"check": {"checked": checked.checked, "conflicts": checked.conflicts, "exitCode": exit as i32}});
        if let Err(io) = output::line(&check.to_string()) {
            return exit.max(io);
        }
    }
    exit
}

/// The edit the flags describe, checked before anything is read or sent.
fn edit_of(args: &EditArgs, now: DateTime<Utc>) -> Result<TokenEdit, String> {
    let mut edit = TokenEdit::new()
        .add_ips(args.add_ips.iter().copied())
        .remove_ips(args.remove_ips.iter().copied())
        .add_scopes(args.add_scopes.iter().cloned())
        .remove_scopes(args.remove_scopes.iter().cloned());
    let expiry = [
        args.extend.map(ExpiryEdit::Extend),
        args.expires_in.map(ExpiryEdit::In),
        args.expires_at.map(ExpiryEdit::At),
    ];
    if let Some(change) = expiry.into_iter().flatten().next() {
        edit = edit.expiry(change);
    }
    edit.validate(now)
        .map_err(|err| format!("{}: {}", flag_of(&err.field), err.rule))?;
    Ok(edit)
}

/// The bulk job that sends the plan's update: its journal key is the request body in canonical form, and its
/// recorded input a bulk line (portfolio, token, body) that `update --from` could replay.
fn job(
    portfolio: Uuid,
    position: u64,
    token: Uuid,
    plan: &EditPlan,
    version: ApiVersion,
    now: DateTime<Utc>,
) -> Result<Job, String> {
    let update: TokenUpdate = plan.update.clone().expect("a change has an update");
    let body = match version {
        ApiVersion::V2 => update.to_request_v2(now).map(|body| serde_json::to_value(&body)),
        _ => update.to_request(now).map(|body| serde_json::to_value(&body)),
    }
    .map_err(|err| format!("token {token}: {err}"))?
    .expect("the generated body always serializes");
    let mut input = json!({"portfolio": portfolio, "token": token});
    if let (Some(line), Value::Object(fields)) = (input.as_object_mut(), &body) {
        line.extend(fields.clone());
    }
    let raw = |value: &Value| serde_json::value::to_raw_value(value).expect("JSON always serializes");
    Ok(Job {
        line: position,
        portfolio,
        token,
        update,
        body: raw(&body),
        input: raw(&input),
    })
}
