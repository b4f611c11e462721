//! Hostile quota: how many requests `etoro-token update --from` sends in a minute to a server that answers every
//! one eToro's 429 without saying when to come back (no `Retry-After`, no `RateLimit-*`). A client that retries
//! a 429 without backing off sends hundreds; this one backs off for every worker at once.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use xtask::bench::{Goal, Row};

use crate::clients;
use crate::procs::child_env;
use crate::procs::{self, silent};
use crate::report::Report;
use crate::servers::Servers;

/// Lines of the run, and how many tokens are worked on at once.
const LINES: usize = 100;
const CONCURRENCY: &str = "8";
/// How long the run is watched.
const WATCH: Duration = Duration::from_secs(60);

/// The row: requests in the first minute.
pub fn hostile(servers: &Servers, cli: &Path, out: &Path, report: &mut Report) -> Result<(), String> {
    let io = |err: std::io::Error| err.to_string();
    let input = out.join("hostile.jsonl");
    procs::write_jsonl(&input, &clients::jobs(LINES)).map_err(io)?;
    let server = servers.always_rate_limited().map_err(io)?;
    let mut command = silent(cli);
    command
        .args(["update", "--from"])
        .arg(&input)
        .args(["--base-url", server.base_url(), "--concurrency", CONCURRENCY])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = child_env(&mut command).spawn().map_err(io)?;
    // The run would go on for its 15-minute deadline per line: it is watched for a minute, then stopped.
    while started.elapsed() < WATCH {
        if child.try_wait().map_err(io)?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = server.requests();
    let _ = child.kill();
    let _ = child.wait();
    report.figures.insert(
        "hostile_quota".to_owned(),
        json!({ "lines": LINES, "concurrency": CONCURRENCY, "watched_seconds": WATCH.as_secs(), "requests": sent }),
    );
    report.row(
        "hostile_quota_requests_first_minute",
        Row::new(
            format!(
                "8. hostile quota: `update --from` ({LINES} lines, concurrency {CONCURRENCY}) against a server that \
                 answers every request 429 without hints: requests in the first {} s",
                WATCH.as_secs()
            ),
            sent.to_string(),
            "",
            sent as f64,
            Goal::AtMost(10.0),
        ),
    );
    Ok(())
}
