//! `etoro-token update --from FILE.jsonl`: one update per line, concurrent, rate-limited, journaled.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::path::Path;

use chrono::Utc;
use etoro_client::{types, ApiVersion, Client, PreparedRequest, TokenUpdate};
use futures::stream::{self, StreamExt};
use governor::{Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::args::UpdateArgs;
use crate::journal::Journal;
use crate::outcome::{self, Exit};

/// eToro's documented quota: 60 requests per 60 seconds per user key.
const ETORO_REQUESTS_PER_MINUTE: u32 = 60;

/// One valid line, ready to send.
struct Job {
    line: u64,
    input: Value,
    portfolio: Uuid,
    token: Uuid,
    update: TokenUpdate,
}

/// Reads one line: a JSON object with `portfolio`, `token` and the API's own body fields, checked by the same
/// rules as the flags (and, for v2, without scope ids).
fn parse_line(line: u64, text: &str, version: ApiVersion) -> Result<Job, String> {
    let input: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let Value::Object(mut body) = input.clone() else {
        return Err("must be a JSON object".to_owned());
    };
    let mut id = |field: &str| -> Result<Uuid, String> {
        match body.remove(field) {
            Some(Value::String(text)) => text.parse().map_err(|_| format!("{field}: {text:?} is not a UUID")),
            Some(_) => Err(format!("{field}: must be a UUID string")),
            None => Err(format!("{field}: missing")),
        }
    };
    let (portfolio, token) = (id("portfolio")?, id("token")?);
    // The generated type refuses unknown fields, bad IPv4s, bad dates and malformed scope names.
    let body: types::UpdateUserTokenRequest =
        serde_json::from_value(Value::Object(body)).map_err(|err| err.to_string())?;
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
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(line, text, client.api_version()) {
            Ok(job) if journal.as_ref().is_some_and(|j| j.already_done(line, &job.input)) => counts.skipped += 1,
            Ok(job) => jobs.push(job),
            Err(message) => {
                eprintln!("line {line}: invalid: {message} (not sent)");
                worst = worst.max(Exit::Invalid);
                counts.invalid += 1;
                let record = json!({ "line": line, "outcome": "invalid", "error": message, "at": Utc::now() });
                if !args.dry_run {
                    write(&mut journal, &record);
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
                Ok(request) => print_prepared(&request, true),
                Err(err) => {
                    eprintln!("line {}: {err}", job.line);
                    worst = worst.max(outcome::exit_for(&err));
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
                    .await;
                (job, result)
            }
        })
        .buffer_unordered(usize::from(args.concurrency));

    while let Some((job, result)) = results.next().await {
        let mut record = match &result {
            Ok(updated) => {
                counts.updated += 1;
                outcome::updated_json(updated)
            }
            Err(err) => {
                worst = worst.max(outcome::exit_for(err));
                counts.failed += 1;
                outcome::error_json(err)
            }
        };
        let fields = record.as_object_mut().expect("outcome JSON is an object");
        fields.insert("line".into(), json!(job.line));
        fields.insert("portfolio".into(), json!(job.portfolio));
        fields.insert("token".into(), json!(job.token));
        fields.insert("at".into(), json!(Utc::now()));
        fields.insert("input".into(), job.input);
        write(&mut journal, &record);
        report(&progress, job.line, &record);
    }
    progress.finish_and_clear();

    let summary = json!({
        "updated": counts.updated, "failed": counts.failed, "invalid": counts.invalid, "skipped": counts.skipped,
    });
    if args.json {
        println!("{summary}");
    }
    eprintln!(
        "{} updated, {} failed, {} invalid, {} skipped (already done)",
        counts.updated, counts.failed, counts.invalid, counts.skipped
    );
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

fn write(journal: &mut Option<Journal>, record: &Value) {
    if let Some(journal) = journal {
        if let Err(err) = journal.append(record) {
            // Losing the journal must not go unnoticed: a re-run would repeat work or skip nothing.
            eprintln!("error: cannot write the journal: {err}");
        }
    }
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

fn report(progress: &ProgressBar, line: u64, record: &Value) {
    let outcome = record["outcome"].as_str().unwrap_or("unknown");
    if progress.is_hidden() {
        match record.get("error") {
            Some(error) => eprintln!("line {line}: {outcome}: {}", error.as_str().unwrap_or_default()),
            None => eprintln!(
                "line {line}: {outcome} (request id {})",
                record["requestId"].as_str().unwrap_or("?")
            ),
        }
    } else {
        if outcome != "updated" {
            progress.println(format!(
                "line {line}: {outcome}: {}",
                record["error"].as_str().unwrap_or_default()
            ));
        }
        progress.inc(1);
    }
}

/// Prints a dry-run request: as a JSON object, or as HTTP/1.1-style text.
pub fn print_prepared(request: &PreparedRequest, json: bool) {
    if json {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
        println!(
            "{}",
            json!({ "dryRun": true, "method": request.method, "url": request.url, "headers": headers, "body": body })
        );
    } else {
        println!("{} {}", request.method, request.url);
        for (name, value) in &request.headers {
            println!("{name}: {value}");
        }
        println!();
        println!("{}", request.body);
    }
}
