//! Step 4: one `etoro-token update` process against one `curl` (cold start, one request), the start-up
//! breakdown, and the size and start-up of the CLI built without the embedded mock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use xtask::bench::{Goal, Row};

use crate::clients::{self};
use crate::context::Context;
use crate::interleave::rotated;
use crate::procs::{child_env, measure_ok, silent};
use crate::report::{round, Report};
use crate::runs::Runs;
use crate::servers::Kind;

/// The measurement, as table rows.
pub fn oneshot(context: &Context, report: &mut Report) -> Result<(), String> {
    let (servers, settings, wire, plan) = (context.servers, context.settings, context.wire, context.plan);
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Shot {
        Cli,
        Curl,
        CliVersion,
        CliDryRun,
        LeanVersion,
    }
    let target = servers.target(Kind::Mock).map_err(|err| err.to_string())?;
    let base_url = target.base_url().to_owned();
    let mut runs: BTreeMap<&str, Runs> = BTreeMap::new();
    let shots: Vec<Shot> = [Shot::Cli, Shot::Curl, Shot::CliVersion, Shot::CliDryRun]
        .into_iter()
        .chain(settings.cli_lean.as_ref().map(|_| Shot::LeanVersion))
        .collect();
    let result = (|| -> Result<(), String> {
        for round in 0..plan.oneshot_runs {
            for shot in rotated(&shots, round) {
                let job = &clients::jobs(1)[0];
                let (portfolio, token) = (job.portfolio.to_string(), job.token.to_string());
                let mut command = match shot {
                    Shot::Cli | Shot::CliDryRun => {
                        let mut command = silent(&settings.cli);
                        command.args([
                            "update",
                            "--base-url",
                            &base_url,
                            "--portfolio",
                            &portfolio,
                            "--token",
                            &token,
                            "--scope",
                            clients::SCOPE,
                            "--ip",
                            &clients::IP.to_string(),
                        ]);
                        if shot == Shot::CliDryRun {
                            command.arg("--dry-run");
                        }
                        command
                    }
                    Shot::CliVersion => {
                        let mut command = silent(&settings.cli);
                        command.arg("--version");
                        command
                    }
                    Shot::LeanVersion => {
                        let mut command = silent(settings.cli_lean.as_ref().expect("only planned with a lean binary"));
                        command.arg("--version");
                        command
                    }
                    Shot::Curl => {
                        let mut command = silent("curl");
                        command
                            .args(["-s", "-f", "-o", "/dev/null", "-X", "PATCH"])
                            .args(["-H", &format!("x-api-key: {}", clients::API_KEY)])
                            .args(["-H", &format!("x-user-key: {}", clients::USER_KEY)])
                            .args(["-H", &format!("x-request-id: {}", uuid::Uuid::new_v4())])
                            .args(["-H", "content-type: application/json", "-H", "accept: application/json"])
                            .args(["-H", &format!("api-version: {}", wire.api_version)])
                            .args([
                                "--data-binary",
                                &json!({ "scopeNames": [clients::SCOPE], "ipsWhitelist": [clients::IP] }).to_string(),
                            ])
                            .arg(wire.url(&base_url, job.portfolio, job.token));
                        command
                    }
                };
                let key = match shot {
                    Shot::Cli => "cli",
                    Shot::Curl => "curl",
                    Shot::CliVersion => "cli_version",
                    Shot::CliDryRun => "cli_dry_run",
                    Shot::LeanVersion => "lean_version",
                };
                let measured = measure_ok(child_env(&mut command)).map_err(|err| format!("one-shot {key}: {err}"))?;
                runs.entry(key).or_default().push(&measured);
            }
        }
        Ok(())
    })();
    let seen = target.requests_seen();
    servers.stop(target);
    result?;
    if seen != Some(2 * plan.oneshot_runs) {
        return Err(format!("one-shot: the mock saw {seen:?} requests"));
    }
    let ms = |key: &str| runs[key].median_seconds() * 1e3;
    let (cli, curl) = (ms("cli"), ms("curl"));
    report.figures.insert(
        "oneshot".to_owned(),
        Value::Object(
            runs.iter()
                .map(|(key, runs)| ((*key).to_owned(), runs.to_json()))
                .collect(),
        ),
    );
    report.row(
        "oneshot_cli_over_curl",
        Row::new(
            format!(
                "4. one-shot: one `etoro-token update` process vs one `curl` (cold start, one request, median of {})",
                plan.oneshot_runs
            ),
            format!("{cli:.2} ms"),
            format!("{curl:.2} ms"),
            cli / curl,
            Goal::AtMost(1.5),
        ),
    );
    report.context(Row::new(
        "4. one-shot breakdown: `etoro-token --version` / `update --dry-run` (no request)".to_owned(),
        format!("{:.2} ms / {:.2} ms", ms("cli_version"), ms("cli_dry_run")),
        "",
        f64::NAN,
        Goal::None,
    ));
    if let Some(lean) = &settings.cli_lean {
        let size = |path: &PathBuf| std::fs::metadata(path).map(|meta| meta.len() as f64 / (1024.0 * 1024.0));
        let (full_size, lean_size) = (
            size(&settings.cli).map_err(|err| err.to_string())?,
            size(lean).map_err(|err| err.to_string())?,
        );
        report.figure("binary", "full_mib", json!(round(full_size, 2)));
        report.figure("binary", "lean_mib", json!(round(lean_size, 2)));
        report.row(
            "cli_lean_size_over_full",
            Row::new(
                "4. binary: `etoro-token` without the embedded mock (`--no-default-features --features rustls`) \
                 vs the default",
                format!("{lean_size:.1} MiB"),
                format!("{full_size:.1} MiB"),
                lean_size / full_size,
                Goal::None,
            ),
        );
        report.row(
            "cli_lean_startup_over_full",
            Row::new(
                format!(
                    "4. start-up: `etoro-token --version`, lean vs default (median of {})",
                    plan.oneshot_runs
                ),
                format!("{:.2} ms", ms("lean_version")),
                format!("{:.2} ms", ms("cli_version")),
                ms("lean_version") / ms("cli_version"),
                Goal::None,
            ),
        );
    }
    Ok(())
}
