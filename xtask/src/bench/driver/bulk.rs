//! Step 3: `etoro-token update --from` over a file, with and without `--journal`, against a raw reqwest loop
//! (this binary's `raw-bulk`), a bash loop of curl and pooled Python requests; and the CLI's peak memory.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};
use xtask::bench::{median, paired_ratio, Goal, Row};

use crate::clients::{self, Job};
use crate::context::Context;
use crate::interleave::rotated;
use crate::procs::{self, child_env, measure_ok, silent};
use crate::report::{round, Report};
use crate::runs::Runs;
use crate::servers::Kind;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BulkVariant {
    CliJournal,
    CliNoJournal,
    RawReqwest,
}

impl BulkVariant {
    fn key(self) -> &'static str {
        match self {
            BulkVariant::CliJournal => "cli_journal",
            BulkVariant::CliNoJournal => "cli_no_journal",
            BulkVariant::RawReqwest => "raw_reqwest",
        }
    }
}

/// The `updated` records of a bulk journal (each line also has a `started` record before it is sent).
fn updated_records(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| {
        text.lines()
            .filter(|line| serde_json::from_str::<Value>(line).is_ok_and(|record| record["outcome"] == "updated"))
            .count()
    })
}

/// The measurement, as table rows.
pub fn bulk(context: &Context, report: &mut Report) -> Result<(), String> {
    let (servers, settings, wire, plan) = (context.servers, context.settings, context.wire, context.plan);
    let jobs: Vec<Job> = clients::jobs(plan.bulk_n);
    let input = settings.out.join("bulk.jsonl");
    let tsv = settings.out.join("curl-sample.tsv");
    let journal = settings.out.join("journal.jsonl");
    let io = |err: std::io::Error| err.to_string();
    procs::write_jsonl(&input, &jobs).map_err(io)?;
    procs::write_tsv(&tsv, &jobs[..plan.curl_sample.min(jobs.len())]).map_err(io)?;
    let concurrency = plan.concurrency.to_string();
    let self_exe = std::env::current_exe().map_err(io)?;

    let mut runs: BTreeMap<&str, Runs> = BTreeMap::new();
    let variants = [
        BulkVariant::CliJournal,
        BulkVariant::CliNoJournal,
        BulkVariant::RawReqwest,
    ];
    for round in 0..plan.bulk_runs {
        for variant in rotated(&variants, round) {
            let target = servers.target(Kind::Mock).map_err(io)?;
            let mut command = match variant {
                BulkVariant::CliJournal | BulkVariant::CliNoJournal => {
                    let mut command = silent(&settings.cli);
                    command.args(["update", "--from"]).arg(&input).args([
                        "--concurrency",
                        &concurrency,
                        "--base-url",
                        target.base_url(),
                    ]);
                    if variant == BulkVariant::CliJournal {
                        let _ = std::fs::remove_file(&journal);
                        command.arg("--journal").arg(&journal);
                    }
                    command
                }
                BulkVariant::RawReqwest => {
                    let mut command = silent(&self_exe);
                    command.arg("raw-bulk").arg("--from").arg(&input).args([
                        "--concurrency",
                        &concurrency,
                        "--base-url",
                        target.base_url(),
                        "--api-version",
                        &wire.api_version,
                        "--path",
                        &wire.path,
                    ]);
                    command
                }
            };
            let measured = measure_ok(child_env(&mut command));
            let seen = target.requests_seen();
            servers.stop(target);
            let measured = measured.map_err(|err| format!("bulk {}: {err}", variant.key()))?;
            if seen != Some(plan.bulk_n) {
                return Err(format!("bulk {}: the mock saw {seen:?} requests", variant.key()));
            }
            if variant == BulkVariant::CliJournal && updated_records(&journal) != plan.bulk_n {
                return Err(format!(
                    "bulk: the journal has {} `updated` records",
                    updated_records(&journal)
                ));
            }
            runs.entry(variant.key()).or_default().push(&measured);
        }
    }

    // curl: one process per line, on a sample; the per-request cost is scaled to the whole file.
    let mut curl = Runs::default();
    let sample = plan.curl_sample.min(plan.bulk_n);
    let codes = settings.out.join("curl-codes.txt");
    for _ in 0..plan.side_runs {
        let target = servers.target(Kind::Mock).map_err(io)?;
        let out = std::fs::File::create(&codes).map_err(io)?;
        let mut command = silent("bash");
        command
            .arg(settings.root.join("bench").join("curl_loop.sh"))
            .arg(format!("{}{}", target.base_url(), wire.path))
            .arg(&wire.api_version)
            .arg(&tsv)
            .stdout(out);
        let measured = measure_ok(child_env(&mut command));
        servers.stop(target);
        let measured = measured.map_err(|err| format!("curl loop: {err}"))?;
        let ok = std::fs::read_to_string(&codes)
            .map_err(io)?
            .lines()
            .filter(|l| *l == "204")
            .count();
        if ok != sample {
            return Err(format!("curl loop: {ok} of {sample} answers were 204"));
        }
        curl.push(&measured);
    }
    let curl_projected = curl.median_seconds() / sample as f64 * plan.bulk_n as f64;

    // Python: the loop's own time is scaled from the sample; start-up and imports are counted once.
    let mut python_projected = Vec::new();
    let mut python_runs = Runs::default();
    let python_sample = plan.python_sample.min(plan.bulk_n);
    let python_note = match &settings.python {
        Ok(python) => {
            let stdout = settings.out.join("python-out.json");
            for _ in 0..plan.side_runs {
                let target = servers.target(Kind::Mock).map_err(io)?;
                let out = std::fs::File::create(&stdout).map_err(io)?;
                let mut command = silent(python);
                command
                    .arg(settings.root.join("bench").join("bulk.py"))
                    .arg(format!("{}{}", target.base_url(), wire.path))
                    .arg(&wire.api_version)
                    .arg(&input)
                    .arg(&concurrency)
                    .arg(python_sample.to_string())
                    .stdout(out);
                let measured = measure_ok(child_env(&mut command));
                servers.stop(target);
                let measured = measured.map_err(|err| format!("python: {err}"))?;
                let said: Value = serde_json::from_str(&std::fs::read_to_string(&stdout).map_err(io)?)
                    .map_err(|err| format!("python output: {err}"))?;
                if said["sent"] != json!(python_sample) || said["failed"] != json!(0) {
                    return Err(format!("python: {said}"));
                }
                let loop_seconds = said["loop_seconds"].as_f64().unwrap_or(f64::NAN);
                let wall = measured.elapsed.as_secs_f64();
                python_projected.push(wall - loop_seconds + loop_seconds * plan.bulk_n as f64 / python_sample as f64);
                python_runs.push(&measured);
            }
            None
        }
        Err(reason) => Some(format!("Python baseline skipped: {reason}.")),
    };
    let python_seconds = median(&python_projected);

    let cli = runs[BulkVariant::CliJournal.key()].median_seconds();
    let cli_no_journal = runs[BulkVariant::CliNoJournal.key()].median_seconds();
    let raw = runs[BulkVariant::RawReqwest.key()].median_seconds();
    let rate = |seconds: f64| plan.bulk_n as f64 / seconds;
    // Throughput ratios: the baseline's time over ours, paired by round.
    let seconds = |variant: BulkVariant| runs[variant.key()].seconds.as_slice();
    let journal_ratio = paired_ratio(seconds(BulkVariant::RawReqwest), seconds(BulkVariant::CliJournal));
    let no_journal_ratio = paired_ratio(seconds(BulkVariant::RawReqwest), seconds(BulkVariant::CliNoJournal));
    let bulk_figures = json!({
        "lines": plan.bulk_n,
        "concurrency": plan.concurrency,
        "cli_journal": runs[BulkVariant::CliJournal.key()].to_json(),
        "cli_no_journal": runs[BulkVariant::CliNoJournal.key()].to_json(),
        "raw_reqwest": runs[BulkVariant::RawReqwest.key()].to_json(),
        "curl_loop": { "sample": sample, "sample_runs": curl.to_json(), "projected_seconds": round(curl_projected, 3) },
        "python": match &settings.python {
            Ok(_) => json!({ "sample": python_sample, "concurrency": plan.concurrency, "runs": python_runs.to_json(),
                             "projected_seconds": round(python_seconds, 3) }),
            Err(reason) => json!({ "skipped": reason }),
        },
    });
    report.figures.insert("bulk".to_owned(), bulk_figures);

    let lines = plan.bulk_n;
    let c = plan.concurrency;
    report.row(
        "bulk_cli_journal_over_reqwest",
        Row::new(
            format!(
                "3. bulk {lines} lines, c={c}: etoro-token --from --journal vs raw reqwest loop (median of {})",
                plan.bulk_runs
            ),
            format!("{cli:.2} s, {:.0} req/s", rate(cli)),
            format!("{raw:.2} s, {:.0} req/s", rate(raw)),
            journal_ratio.0,
            Goal::AtLeast(0.85),
        )
        .with_range((journal_ratio.1, journal_ratio.2)),
    );
    report.row(
        "bulk_cli_no_journal_over_reqwest",
        Row::new(
            format!("3. bulk {lines} lines, c={c}: etoro-token --from, no journal, vs raw reqwest loop"),
            format!("{cli_no_journal:.2} s, {:.0} req/s", rate(cli_no_journal)),
            format!("{raw:.2} s, {:.0} req/s", rate(raw)),
            no_journal_ratio.0,
            Goal::None,
        )
        .with_range((no_journal_ratio.1, no_journal_ratio.2)),
    );
    report.row(
        "bulk_cli_over_curl",
        Row::new(
            format!(
                "3. bulk {lines} lines: etoro-token --journal vs a bash loop of curl (sequential; {sample}-line \
                 sample, scaled; median of {})",
                plan.side_runs
            ),
            format!("{cli:.2} s"),
            format!(
                "{curl_projected:.1} s ({:.2} ms/req)",
                curl_projected * 1e3 / lines as f64
            ),
            curl_projected / cli,
            Goal::AtLeast(30.0),
        ),
    );
    let python_how = if python_sample == lines {
        String::new()
    } else {
        format!("; {python_sample}-line sample, loop time scaled")
    };
    let side_runs = plan.side_runs;
    report.row(
        "bulk_cli_over_python",
        Row::new(format!(
                "3. bulk {lines} lines: etoro-token --journal vs pooled Python requests.Session ({c} threads{python_how}; \
                 median of {side_runs})"
            ), format!("{cli:.2} s"), match &python_note {
                None => format!("{python_seconds:.2} s, {:.0} req/s", rate(python_seconds)),
                Some(_) => "skipped (see notes)".to_owned(),
            }, python_seconds / cli, Goal::AtLeast(5.0)),
    );
    let cli_rss = runs[BulkVariant::CliJournal.key()].peak_rss();
    // What the measuring helper hands down to any child: the floor of every RSS figure.
    let floor = measure_ok(&mut silent("true")).map_or(f64::NAN, |measured| measured.max_rss_mib());
    report.figure("bulk", "rss_floor_mib", json!(round(floor, 2)));
    report.row(
        "bulk_cli_peak_rss_mib",
        Row::new(
            format!("3. bulk {lines} lines: peak RSS of etoro-token --journal (largest of the runs)"),
            format!("{cli_rss:.1} MiB"),
            format!(
                "raw reqwest {:.1} MiB{}",
                runs[BulkVariant::RawReqwest.key()].peak_rss(),
                if python_note.is_none() {
                    format!(", Python {:.1} MiB", python_runs.peak_rss())
                } else {
                    String::new()
                }
            ),
            cli_rss,
            Goal::Below(32.0),
        ),
    );
    report.notes.push(format!(
        "Ratios with a range are the median of per-round ratios (lowest–highest in brackets): each round runs \
         every client back to back, so the machine's slower drifts cancel. Bulk: the raw reqwest loop is this bench's own `xtask-bench raw-bulk` process (reads and parses the same \
         file, {c} tasks, same client settings); bulk ratios are throughput ratios (baseline time / our time). \
         The curl loop pre-generates request ids. Peak RSS is `ru_maxrss` from `wait4` on each child, spawned \
         from a small helper process (so it is at least the helper's own {floor:.1} MiB: `true` measures that)."
    ));
    if let Some(note) = python_note {
        report.notes.push(note);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_check_counts_results_not_started_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let text = "{\"outcome\":\"started\"}\n{\"outcome\":\"updated\"}\n{\"outcome\":\"updated\"\n";
        std::fs::write(&path, text).unwrap();
        assert_eq!(updated_records(&path), 1, "a cut record does not count");
    }
}
