//! `etoro-token apply --from FILE`: a desired state for many tokens, one list request, and a PATCH only for the
//! tokens that differ, through the bulk engine (per-token order, pacing, journal, resume, Ctrl-C).
//!
//! The file has the bulk format (one JSON object a line: `portfolio`, `token`, and the body fields `scopeNames`,
//! `scopeIds`, `ipsWhitelist`, `expiresAt`) plus `validFor` (`"30d"`): "expires no sooner than that from now".
//! Each token is named once: a desired state that names a token twice is ambiguous, and refused.
//!
//! With `--plan`, nothing but the list request is sent: the plan is printed per token and field (old -> new),
//! and the exit code says whether anything would change (0 nothing, 6 something; 2 and 3 for invalid lines and
//! missing tokens win over 6, so a CI job never mistakes a broken plan for a pending one).

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;
use etoro_client::{ApiVersion, DesiredToken, FieldChange, Reconciliation, TokenUpdate, UserToken};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bulk::input::{self, InputLine, InvalidLine};
use crate::bulk::{self, setup, Desired, FromListing, Job};
use crate::exit::Exit;
use crate::file_roles::one_file_one_role;
use crate::options::{BulkRun, Connection, CREDENTIALS_HELP};
use crate::output;
use crate::report::report_error;
use crate::report::Report;

const EXAMPLES: &str = "\
Examples:
  # desired.jsonl: every token allows only our two egress IPs and is valid for
  # 30 more days at least; one line a token:
  #   {\"portfolio\": \"3fa8...\", \"token\": \"9b2d...\",
  #    \"ipsWhitelist\": [\"198.51.100.1\", \"198.51.100.2\"], \"validFor\": \"30d\"}
  # What would change (exit 6 if anything would), then make it so:
  etoro-token apply --from desired.jsonl --plan
  etoro-token apply --from desired.jsonl --journal apply.journal";

/// Where `apply`'s own help begins; the bulk flags and credentials follow.
pub const AFTER_HELP: &str = "\
The file: one JSON object a line, naming each token once, with `portfolio`,
`token` and the fields that should hold: scopeNames (or the deprecated
scopeIds), ipsWhitelist (compared as sets), and either expiresAt (exactly) or
validFor (\"30d\": expires no sooner than that from now; when it would, it is
set to that plus a margin of 1%, between a minute and a day, so that a re-run
soon after finds it satisfied). A token that never expires satisfies validFor.
Lines naming a token the listing does not have are reported and not sent
(exit 3). The listing decides what is sent: a journal only resumes a send an
earlier run left unfinished, under its request id.";

/// `etoro-token apply`.
#[derive(Debug, Args)]
#[command(after_help = format!("{AFTER_HELP}\n\n{CREDENTIALS_HELP}\n\n{}\n\n{EXAMPLES}", crate::exit::TABLE))]
pub struct ApplyArgs {
    /// The desired state, one JSON object a line (`-` reads standard input).
    #[arg(long, value_name = "FILE.jsonl")]
    pub from: PathBuf,

    /// The plan, the journal, the pace and the endpoint of the updates it sends.
    #[command(flatten)]
    pub run: BulkRun,

    /// Results (or, with --plan, the plan) as JSON objects on stdout, one a line, then a summary object.
    #[arg(long)]
    pub json: bool,

    /// Where and how to connect (listed after the command's own flags).
    #[command(flatten)]
    pub connection: Connection,
}

/// One valid line of the desired state.
struct Wanted {
    line: InputLine,
    desired: DesiredToken,
}

/// What one line comes to, once compared with the listing.
enum Verdict {
    Change(Reconciliation),
    Unchanged,
    Missing,
}

/// Runs `apply`.
pub async fn run(args: ApplyArgs) -> Exit {
    if let Err(message) = one_file_one_role(&[("--from", Some(&args.from)), ("--journal", args.run.journal.as_deref())])
    {
        return output::fail(&message, Exit::Invalid);
    }
    let journal = match setup::open_journal(args.run.journal.as_deref(), false) {
        Ok(journal) => journal,
        Err((message, exit)) => return output::fail(&message, exit),
    };
    let version: ApiVersion = args.run.api.into();
    let lines = match input::open(&args.from).and_then(|reader| input::read(reader, &["validFor"])) {
        Ok(lines) => lines,
        Err(err) => return output::fail(&format!("cannot read {}: {err}", args.from.display()), Exit::LocalIo),
    };
    let now = Utc::now();
    let (wanted, invalid) = desired_states(lines, version, now);

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
    let current: HashMap<(Uuid, Uuid), UserToken> = listing
        .into_iter()
        .flat_map(|portfolio| {
            portfolio
                .tokens
                .into_iter()
                .map(move |token| ((portfolio.id, token.id), token))
        })
        .collect();
    let now = Utc::now();
    let mut verdicts = Vec::with_capacity(wanted.len());
    for wanted in wanted {
        let verdict = match current.get(&(wanted.line.portfolio, wanted.line.token)) {
            None => Verdict::Missing,
            // The desired state was validated when read; reconciling cannot fail on it now.
            Some(token) => match wanted.desired.reconcile(token, now) {
                Ok(Some(change)) => Verdict::Change(change),
                Ok(None) => Verdict::Unchanged,
                Err(err) => {
                    return output::fail(&format!("line {}: {err}", wanted.line.number), Exit::Invalid);
                }
            },
        };
        verdicts.push((wanted.line, verdict));
    }

    if args.run.plan {
        return print_plan(&verdicts, &invalid, args.json);
    }
    let mut desired = Desired::default();
    let mut jobs = Vec::new();
    for (line, verdict) in verdicts {
        match verdict {
            Verdict::Change(change) => match job(line, change.update, version, now) {
                Ok(job) => jobs.push(job),
                Err(message) => return output::fail(&message, Exit::Invalid),
            },
            Verdict::Unchanged => {
                desired.unchanged += 1;
                if args.json && print(&line_report(&line, "unchanged", None)).is_err() {
                    return Exit::LocalIo;
                }
            }
            Verdict::Missing => {
                desired.missing += 1;
                let message = missing_message(&line);
                if args.json {
                    if print(&line_report(&line, "refused", Some(message))).is_err() {
                        return Exit::LocalIo;
                    }
                } else {
                    output::note(&message);
                }
            }
        }
    }
    let how = FromListing {
        concurrency: args.run.concurrency,
        json: args.json,
        journal,
        desired,
        track_updated: false,
    };
    let summary = bulk::run_from_listing(client, invalid, jobs, how).await;
    if let Some(bulk::Stop::Signal(signal)) = summary.stopped {
        drop(connected);
        std::process::exit(signal.exit_code());
    }
    summary.exit
}

/// Reads each valid line into a desired state; a line that breaks a rule, or names a token named before, is
/// invalid (naming the line, the field and the rule).
fn desired_states(
    lines: Vec<Result<InputLine, InvalidLine>>,
    version: ApiVersion,
    now: DateTime<Utc>,
) -> (Vec<Wanted>, Vec<InvalidLine>) {
    let mut wanted = Vec::new();
    let mut invalid = Vec::new();
    let mut first_line: HashMap<(Uuid, Uuid), u64> = HashMap::new();
    for line in lines {
        let line = match line {
            Ok(line) => line,
            Err(bad) => {
                invalid.push(bad);
                continue;
            }
        };
        let refuse = |message: String| InvalidLine {
            number: line.number,
            message,
            prefix: None,
        };
        if let Some(first) = first_line.get(&(line.portfolio, line.token)) {
            invalid.push(refuse(format!(
                "token {} of agent-portfolio {} is already described on line {first}: a desired state names each \
                 token once",
                line.token, line.portfolio
            )));
            continue;
        }
        match desired_state(&line, version, now) {
            Ok(desired) => {
                first_line.insert((line.portfolio, line.token), line.number);
                wanted.push(Wanted { line, desired });
            }
            Err(message) => invalid.push(refuse(message)),
        }
    }
    (wanted, invalid)
}

/// The desired state one line describes.
fn desired_state(line: &InputLine, version: ApiVersion, now: DateTime<Utc>) -> Result<DesiredToken, String> {
    let body = &line.body;
    if body.scope_names.is_some() && body.scope_ids.is_some() {
        return Err("scopeIds, scopeNames: give one of them, not both (scopeIds is deprecated)".to_owned());
    }
    if body.scope_ids.is_some() && version == ApiVersion::V2 {
        return Err("scopeIds: API v2 takes scope names only (scopeNames)".to_owned());
    }
    let mut desired = DesiredToken::new();
    if let Some(names) = &body.scope_names {
        desired = desired.scope_names(names.iter().map(|name| name.as_str().to_owned()));
    }
    if let Some(ids) = &body.scope_ids {
        #[allow(deprecated)]
        {
            desired = desired.scope_ids(ids.iter().copied());
        }
    }
    if let Some(ips) = &body.ips_whitelist {
        desired = desired.ips_whitelist(ips.iter().copied());
    }
    if let Some(at) = body.expires_at {
        desired = desired.expires_at(at);
    }
    if line.expires_in.is_some() {
        return Err(
            "expiresIn: a desired state takes validFor (\"expires no sooner than this long from now\") or expiresAt; \
             expiresIn would move the expiry on every run"
                .to_owned(),
        );
    }
    if let Some(value) = line.extra.get("validFor") {
        desired = desired.valid_for(input::duration_field("validFor", value)?);
    }
    desired.validate(now).map_err(|err| err.to_string())?;
    Ok(desired)
}

/// The bulk job that sends `update` for `line`: its journal key is the request body in canonical form.
fn job(line: InputLine, update: TokenUpdate, version: ApiVersion, now: DateTime<Utc>) -> Result<Job, String> {
    let canonical = match version {
        ApiVersion::V2 => update
            .to_request_v2(now)
            .map(|body| serde_json::value::to_raw_value(&body)),
        _ => update
            .to_request(now)
            .map(|body| serde_json::value::to_raw_value(&body)),
    };
    let body = canonical
        .map_err(|err| format!("line {}: {err}", line.number))?
        .expect("the generated body always serializes");
    Ok(Job {
        line: line.number,
        portfolio: line.portfolio,
        token: line.token,
        update,
        body,
        input: line.input,
    })
}

/// Prints the plan and returns its exit code: invalid lines (2) and missing tokens (3) first, then 6 when
/// something would change, else 0.
fn print_plan(verdicts: &[(InputLine, Verdict)], invalid: &[InvalidLine], as_json: bool) -> Exit {
    let (mut change, mut unchanged, mut missing) = (0u64, 0u64, 0u64);
    let mut printed = Ok(());
    for bad in invalid {
        if as_json {
            printed = printed.and(print(
                &json!({"line": bad.number, "action": "invalid", "error": bad.to_string()}),
            ));
        } else {
            output::note(&bad.to_string());
        }
    }
    for (line, verdict) in verdicts {
        let head = json!({"line": line.number, "portfolio": line.portfolio, "token": line.token});
        match verdict {
            Verdict::Change(reconciliation) => {
                change += 1;
                printed = printed.and(if as_json {
                    let mut shown = head;
                    shown["action"] = json!("change");
                    shown["changes"] = json!(reconciliation.changes.iter().map(change_json).collect::<Vec<_>>());
                    print(&shown)
                } else {
                    print_change(line, &reconciliation.changes)
                });
            }
            Verdict::Unchanged => {
                unchanged += 1;
                if as_json {
                    let mut shown = head;
                    shown["action"] = json!("unchanged");
                    printed = printed.and(print(&shown));
                }
            }
            Verdict::Missing => {
                missing += 1;
                if as_json {
                    let mut shown = head;
                    shown["action"] = json!("missing");
                    shown["error"] = json!(missing_message(line));
                    printed = printed.and(print(&shown));
                } else {
                    output::note(&missing_message(line));
                }
            }
        }
    }
    let broken = [
        (!invalid.is_empty()).then_some(Exit::Invalid),
        (missing > 0).then_some(Exit::Refused),
    ];
    let pending = if change > 0 { Exit::Changes } else { Exit::Success };
    let exit = broken.into_iter().flatten().max().unwrap_or(pending);
    let invalid = invalid.len();
    printed = printed.and(if as_json {
        print(
            &json!({"plan": {"change": change, "unchanged": unchanged, "missing": missing, "invalid": invalid,
                               "exitCode": exit as i32}}),
        )
    } else {
        output::line(&format!(
            "plan: {change} to change, {unchanged} unchanged, {missing} missing (not in the listing), {invalid} \
             invalid; nothing was changed"
        ))
    });
    match printed {
        Ok(()) => exit,
        Err(io) => io,
    }
}

/// One token's changes, as people read them.
fn print_change(line: &InputLine, changes: &[FieldChange]) -> Result<(), Exit> {
    output::line(&format!(
        "~ token {} of agent-portfolio {} (line {})",
        line.token, line.portfolio, line.number
    ))?;
    changes
        .iter()
        .try_for_each(|change| output::line(&format!("    {change}")))
}

fn change_json(change: &FieldChange) -> Value {
    json!({"field": change.field, "from": change.from, "to": change.to})
}

fn missing_message(line: &InputLine) -> String {
    format!(
        "line {}: refused: token {} of agent-portfolio {} is not in the listing (not sent)",
        line.number, line.token, line.portfolio
    )
}

/// A result line for a token `apply` did not send.
fn line_report(line: &InputLine, outcome: &'static str, error: Option<String>) -> Value {
    let report = Report {
        line: Some(line.number),
        outcome,
        portfolio: Some(line.portfolio),
        token: Some(line.token),
        error,
        at: Some(Utc::now()),
        input: Some(&line.input),
        ..Report::default()
    };
    serde_json::to_value(&report).expect("a report always serializes")
}

fn print(value: &Value) -> Result<(), Exit> {
    output::line(&value.to_string())
}
