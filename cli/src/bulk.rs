//! `etoro-token update --from FILE.jsonl`: one update per line, concurrent, rate-limited, journaled.

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::Path;

use chrono::Utc;
use etoro_client::{types, ApiVersion, Client, TokenUpdate};
use futures::stream::{self, StreamExt};
use governor::{Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::args::UpdateArgs;
use crate::cmd::update::print_prepared;
use crate::exit::{exit_for, Exit};
use crate::journal::Journal;
use crate::report::Report;

/// eToro's documented quota: 60 requests per 60 seconds per user key.
const ETORO_REQUESTS_PER_MINUTE: u32 = 60;

/// One valid line, ready to send.
struct Job<'a> {
    line: u64,
    input: &'a RawValue,
    portfolio: Uuid,
    token: Uuid,
    update: TokenUpdate,
}

/// Reads one line: a JSON object with `portfolio`, `token` and the API's own body fields, checked by the same
/// rules as the flags (and, for v2, without scope ids).
fn parse_line(line: u64, text: &str, version: ApiVersion) -> Result<Job<'_>, String> {
    let input: &RawValue = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
        return Err("must be a JSON object".to_owned());
    };
    let mut id = |field: &str| -> Result<Uuid, String> {
        match fields.remove(field) {
            Some(Value::String(text)) => text.parse().map_err(|_| format!("{field}: {text:?} is not a UUID")),
            Some(_) => Err(format!("{field}: must be a UUID string")),
            None => Err(format!("{field}: missing")),
        }
    };
    let (portfolio, token) = (id("portfolio")?, id("token")?);
    // The generated type refuses unknown fields (a misspelled name would otherwise be dropped silently), bad
    // IPv4s, bad dates and malformed scope names. (`#[serde(flatten)]` would skip that refusal, hence the map.)
    let body: types::UpdateUserTokenRequest =
        serde_json::from_value(Value::Object(fields)).map_err(|err| err.to_string())?;
    let update = TokenUpdate::try_from(body).map_err(|err| err.to_string())?;
    match version {
        ApiVersion::V2 => update.to_request_v2(Utc::now()).map(drop),
        _ => update.validate(Utc::now()),
    }
    .map_err(|err| err.to_string())?;
    Ok(Job {
        line,
        input,
        portfolio,
        token,
        update,
    })
}

/// Runs the file. The exit code is the worst outcome of any line.
pub async fn run(client: &Client, path: &Path, args: &UpdateArgs) -> Exit {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", path.display());
            return Exit::Invalid;
        }
    };
    let mut journal = match args.journal.as_deref().map(Journal::open).transpose() {
        Ok(journal) => journal,
        Err(err) => {
            eprintln!("error: cannot open the journal: {err}");
            return Exit::Invalid;
        }
    };

    let mut worst = Exit::Success;
    let mut counts = Counts::default();
    let mut jobs = Vec::new();
    for (index, text) in text.lines().enumerate() {
        let line = index as u64 + 1;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match parse_line(line, text, client.api_version()) {
            Ok(job) if journal.as_ref().is_some_and(|j| j.already_done(line, job.input.get())) => counts.skipped += 1,
            Ok(job) => jobs.push(job),
            Err(message) => {
                say(&format!("line {line}: invalid: {message} (not sent)"));
                worst = worst.max(Exit::Invalid);
                counts.invalid += 1;
                if !args.dry_run {
                    write(&mut journal, &Report::invalid_line(line, message));
                }
            }
        }
    }

    if args.dry_run {
        for job in jobs {
            match client
                .update_user_token(job.portfolio, job.token, job.update)
                .dry_run()
                .await
            {
                Ok(request) => {
                    let _ = print_prepared(&request, true);
                }
                Err(err) => {
                    say(&format!("line {}: {err}", job.line));
                    worst = worst.max(exit_for(&err));
                }
            }
        }
        return worst;
    }

    let limiter = rate_per_minute(client, args.rate).map(|rate| {
        // A burst of one spreads requests evenly instead of spending the whole minute's quota at once.
        RateLimiter::direct(Quota::per_minute(rate).allow_burst(NonZeroU32::MIN))
    });
    let progress = progress_bar(jobs.len() as u64);
    let mut results = stream::iter(jobs)
        .map(|job| {
            let limiter = &limiter;
            async move {
                if let Some(limiter) = limiter {
                    limiter.until_ready().await;
                }
                let result = client
                    .update_user_token(job.portfolio, job.token, job.update.clone())
                    .send()
                    .await;
                (job, result)
            }
        })
        .buffer_unordered(usize::from(args.concurrency));

    while let Some((job, result)) = results.next().await {
        let mut report = match &result {
            Ok(updated) => {
                counts.updated += 1;
                Report::updated(updated)
            }
            Err(err) => {
                worst = worst.max(exit_for(err));
                counts.failed += 1;
                Report::failed(err)
            }
        };
        report.line = Some(job.line);
        report.portfolio = Some(job.portfolio);
        report.token = Some(job.token);
        report.at = Some(Utc::now());
        report.input = Some(job.input);
        write(&mut journal, &report);
        show(&progress, &report);
    }
    progress.finish_and_clear();

    if args.json {
        println!(
            "{}",
            json!({
                "updated": counts.updated, "failed": counts.failed, "invalid": counts.invalid,
                "skipped": counts.skipped,
            })
        );
    }
    say(&format!(
        "{} updated, {} failed, {} invalid, {} skipped (already done)",
        counts.updated, counts.failed, counts.invalid, counts.skipped
    ));
    worst
}

#[derive(Default)]
struct Counts {
    updated: u64,
    failed: u64,
    invalid: u64,
    skipped: u64,
}

/// `--rate`, or eToro's quota against the real API, or no limit against a local server.
fn rate_per_minute(client: &Client, rate: Option<u32>) -> Option<NonZeroU32> {
    match rate {
        Some(rate) => NonZeroU32::new(rate),
        None if client.targets_loopback() => None,
        None => NonZeroU32::new(ETORO_REQUESTS_PER_MINUTE),
    }
}

fn write(journal: &mut Option<Journal>, report: &Report<'_>) {
    if let Some(journal) = journal {
        if let Err(err) = journal.append(report) {
            // Losing the journal must not go unnoticed: a re-run would repeat work or skip nothing.
            say(&format!("error: cannot write the journal: {err}"));
        }
    }
}

/// One line on stderr in one `write` (stderr is unbuffered: `eprintln!` writes each formatted piece on its own,
/// which `cargo xtask bench` measured at several system calls a line).
fn say(message: &str) {
    let mut line = String::with_capacity(message.len() + 1);
    line.push_str(message);
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A bar on a terminal; nothing drawn otherwise (each result is then a plain line).
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} updates  {per_sec}  eta {eta}  {msg}") {
        bar.set_style(style);
    }
    bar
}

fn show(progress: &ProgressBar, report: &Report<'_>) {
    let line = report.line.unwrap_or_default();
    let message = match (&report.error, report.request_id) {
        (Some(error), _) => format!("line {line}: {}: {error}", report.outcome),
        (None, Some(id)) => format!("line {line}: {} (request id {id})", report.outcome),
        (None, None) => format!("line {line}: {}", report.outcome),
    };
    if progress.is_hidden() {
        say(&message);
    } else {
        if report.error.is_some() {
            progress.println(message);
        }
        progress.inc(1);
    }
}
