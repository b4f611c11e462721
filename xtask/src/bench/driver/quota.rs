//! Quota efficiency: how close `etoro-token update --from` comes to the least time eToro's quota allows, and
//! whether it gets there without 429s and without losing or repeating a line.
//!
//! The mock keeps a scaled quota ([`QUOTA`], with other traffic of the same key drawing [`BACKGROUND`]), so that
//! a run of a few hundred lines shows what a run of thousands against eToro's 60 a minute would. The least
//! possible time is the lines over the quota left to us (50 - 10 = 40 per 5 s). The run is measured twice: as
//! the mock answers (`RateLimit-*` headers on every answer), and through a proxy that strips those headers, so
//! that only 429s and their `Retry-After` can pace the run.

use std::collections::HashMap;
use std::path::Path;

use etoro_mock::{MockConfig, Quota};
use serde_json::json;
use uuid::Uuid;
use xtask::bench::{Goal, Row};

use crate::clients;
use crate::procs::child_env;
use crate::procs::{self, silent};
use crate::report::{round, Report};
use crate::servers::Servers;

/// The mock's quota: eToro's 60 per 60 s, scaled down twelve-fold in time (and a little in count).
const QUOTA: &str = "50/5s";
/// Other traffic of the same user key.
const BACKGROUND: &str = "10/5s";

/// One bulk run against the quota.
#[derive(Clone, Copy, Debug)]
pub struct QuotaRun {
    /// Wall time of the process.
    pub seconds: f64,
    /// 429 answers the mock gave.
    pub rate_limited: u64,
    /// Lines not applied exactly once (never, or twice).
    pub not_applied_once: usize,
    /// The process's exit code.
    pub code: Option<i32>,
}

/// The least time `lines` can take: the lines over the quota left once the background has its share.
pub fn least_seconds(lines: usize) -> Result<f64, String> {
    let (quota, background) = quotas()?;
    let ours = f64::from(quota.limit)
        - f64::from(background.limit) * quota.window.as_secs_f64() / background.window.as_secs_f64();
    Ok(lines as f64 / ours * quota.window.as_secs_f64())
}

fn quotas() -> Result<(Quota, Quota), String> {
    let parse = |text: &str| text.parse::<Quota>().map_err(|err| format!("{text}: {err}"));
    Ok((parse(QUOTA)?, parse(BACKGROUND)?))
}

/// Runs `cli` on `lines` fresh lines against a fresh mock with the quota, through the header-stripping proxy
/// when `strip` is set, and checks the mock's record.
pub fn run(servers: &Servers, cli: &Path, out: &Path, lines: usize, strip: bool) -> Result<QuotaRun, String> {
    let io = |err: std::io::Error| err.to_string();
    let jobs = clients::jobs(lines);
    let input = out.join("quota.jsonl");
    let journal = out.join("quota-journal.jsonl");
    procs::write_jsonl(&input, &jobs).map_err(io)?;
    let _ = std::fs::remove_file(&journal);
    let (quota, background) = quotas()?;
    let target = servers
        .mock_with(MockConfig {
            quota: Some(quota),
            quota_background: Some(background),
            ..MockConfig::default()
        })
        .map_err(io)?;
    let proxy = if strip {
        Some(servers.stripping_proxy(&target).map_err(io)?)
    } else {
        None
    };
    let base_url = proxy.as_ref().map_or(target.base_url(), |proxy| proxy.base_url());
    let mut command = silent(cli);
    command
        .args(["update", "--from"])
        .arg(&input)
        .args(["--base-url", base_url, "--journal"])
        .arg(&journal);
    let measured = procs::measure(child_env(&mut command));
    let mock = target.mock().ok_or("the quota target is a mock")?;
    let rate_limited = mock.rate_limited_count();
    let mut applied: HashMap<Uuid, usize> = HashMap::new();
    for request in mock.requests().iter().filter(|request| request.status == 204) {
        if let Some(token) = request.path.rsplit('/').next().and_then(|id| id.parse().ok()) {
            *applied.entry(token).or_default() += 1;
        }
    }
    drop(proxy);
    servers.stop(target);
    let measured = measured?;
    Ok(QuotaRun {
        seconds: measured.elapsed.as_secs_f64(),
        rate_limited,
        not_applied_once: jobs.iter().filter(|job| applied.get(&job.token) != Some(&1)).count(),
        code: measured.code,
    })
}

/// Both runs, as table rows.
pub fn quota(servers: &Servers, cli: &Path, out: &Path, lines: usize, report: &mut Report) -> Result<(), String> {
    let least = least_seconds(lines)?;
    let with = run(servers, cli, out, lines, false)?;
    let without = run(servers, cli, out, lines, true)?;
    let figure = |run: &QuotaRun| {
        json!({ "seconds": round(run.seconds, 3), "rate_limited": run.rate_limited,
                "not_applied_once": run.not_applied_once, "exit_code": run.code })
    };
    report.figures.insert(
        "quota".to_owned(),
        json!({ "lines": lines, "quota": QUOTA, "background": BACKGROUND, "least_seconds": round(least, 3),
                "with_headers": figure(&with), "without_headers": figure(&without) }),
    );
    let what = format!("6. quota: bulk {lines} lines, mock quota {QUOTA} with background {BACKGROUND}");
    let least_text = format!("{least:.1} s (the least possible: {lines} lines at 40 per 5 s)");
    let ours = |run: &QuotaRun| {
        format!(
            "{:.1} s, {} × 429, exit {}",
            run.seconds,
            run.rate_limited,
            run.code.map_or("by a signal".to_owned(), |code| code.to_string())
        )
    };
    report.row(
        "quota_elapsed_over_least_headers",
        Row::new(
            format!("{what}, RateLimit-* headers: elapsed vs the least possible"),
            ours(&with),
            least_text.clone(),
            with.seconds / least,
            Goal::AtMost(1.10),
        ),
    );
    report.row(
        "quota_429s_headers",
        Row::new(
            format!("{what}, RateLimit-* headers: 429 answers"),
            with.rate_limited.to_string(),
            "",
            with.rate_limited as f64,
            Goal::Zero,
        ),
    );
    report.row(
        "quota_elapsed_over_least_no_headers",
        Row::new(
            format!("{what}, no RateLimit-* headers (a proxy strips them): elapsed vs the least possible"),
            ours(&without),
            least_text,
            without.seconds / least,
            Goal::None,
        ),
    );
    let not_once = with.not_applied_once + without.not_applied_once;
    report.row(
        "quota_lines_not_applied_once",
        Row::new(
            format!("{what}: lines not applied exactly once, failed ones included (both runs)"),
            format!(
                "{} with headers, {} without",
                with.not_applied_once, without.not_applied_once
            ),
            "",
            not_once as f64,
            Goal::Zero,
        ),
    );
    report.notes.push(format!(
        "Quota: the mock keeps {QUOTA} per credential in fixed windows, with other traffic of the same key drawing \
         {BACKGROUND} from it; `etoro-token update --from --journal` runs with its defaults (concurrency 4, no \
         pace of its own against loopback: it follows the RateLimit-* headers and 429s). Without headers, a proxy \
         on the servers' runtime removes RateLimit-Limit/-Remaining/-Reset/-Policy from every answer (the mock \
         has no switch for them); Retry-After stays. Every line is checked against the mock's record: one 204 each."
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_time_is_the_lines_over_the_quota_left() {
        assert_eq!(least_seconds(500).unwrap(), 62.5);
        assert_eq!(least_seconds(40).unwrap(), 5.0);
    }
}
