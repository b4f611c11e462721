//! `cargo xtask bench`: how fast the wrapper, the CLI and the tooling are, against loopback servers only.
//!
//! This module is the light half, compiled into every `cargo xtask`: it builds `etoro-token` and the benchmark
//! driver (`xtask-bench`, the `bench` feature of this crate, which pulls in tokio, reqwest, hyper, the client and
//! the mock) in release mode, prepares the Python baseline's virtual environment under `target/bench/venv`, then
//! runs the driver. The driver measures, writes `target/bench/results.json` and `target/bench/results.md`, and
//! prints the table. The report types and the markdown rendering live here so both halves share them.
//!
//! `results.json` (layout version [`RESULTS_SCHEMA`]) holds `machine`, `plan` (the workload sizes),
//! `build_seconds`, `bench_seconds`, the raw `figures`, `notes`, and these stable keys under `ratios` (with
//! `ratio_ranges`, the lowest and highest per-round ratio, and `goals`, each `{goal, value, met}`):
//!
//! | key | meaning | goal |
//! |---|---|---|
//! | `sequential_wrapper_over_reqwest_{mock,bare}` | time per sequential update, wrapper / raw reqwest | ≤ 1.05 |
//! | `sequential_reqwest_over_hyper_{mock,bare}` | the same, raw reqwest / raw hyper (context) | — |
//! | `throughput_wrapper_over_reqwest_{mock,bare}` | updates per second at c=64, wrapper / raw reqwest | ≥ 0.9 |
//! | `throughput_wrapper_over_hyper_{mock,bare}` | the same, wrapper / raw hyper (context) | — |
//! | `bulk_cli_journal_over_reqwest` | `etoro-token update --from --journal` throughput / raw reqwest loop | ≥ 0.85 |
//! | `bulk_cli_no_journal_over_reqwest` | the same without `--journal` (context) | — |
//! | `bulk_cli_over_curl` | the CLI's throughput / a bash loop of curl | ≥ 30 |
//! | `bulk_cli_over_python` | the CLI's throughput / pooled Python requests (null when skipped) | ≥ 5 |
//! | `bulk_cli_peak_rss_mib` | the CLI's peak RSS in MiB (a size, not a ratio) | < 32 (flat in the number of lines: `--bulk-lines 200000` shows the same) |
//! | `oneshot_cli_over_curl` | one `etoro-token update` process / one `curl`, wall time | ≤ 1.5 |
//! | `cli_lean_size_over_full` | the size of `etoro-token` built without the embedded mock / with it (the default) | — |
//! | `cli_lean_startup_over_full` | `etoro-token --version` wall time, lean / full (median of the one-shot runs) | — |
//! | `regen_check_seconds` | `cargo xtask regen --check`, already built, in seconds (a time, not a ratio) | — |
//! | `quota_elapsed_over_least_headers` | a bulk run against the mock's quota (50/5s, background 10/5s, `RateLimit-*` headers): elapsed / the least possible (lines / 40 per 5 s) | ≤ 1.10 |
//! | `quota_429s_headers` | the 429 answers of that run (a count) | = 0 |
//! | `quota_elapsed_over_least_no_headers` | the same run with the `RateLimit-*` headers stripped by a proxy: elapsed / the least possible (context) | — |
//! | `quota_lines_not_applied_once` | lines of both runs not applied exactly once, failed lines included (a count) | = 0 |
//! | `apply_requests_over_least` | requests `etoro-token apply` sent for 10,000 tokens of which 20% differ / (1 list + 1 PATCH per differing token) | ≤ 1.0 |
//! | `apply_elapsed_over_least` | apply's elapsed time / the least possible for those requests under the mock's quota (1000/5s) | ≤ 1.10 |
//! | `apply_speedup_over_naive` | naive `update --from` of the same desired state (a sample, scaled) / apply, elapsed (context) | — |
//! | `edit_requests_over_least` | requests `etoro-token edit --all --add-ip` sent for 10,000 tokens of which 10% already allow the address / (2 list + 1 PATCH per token lacking it) | ≤ 1.0 |
//! | `edit_elapsed_over_least` | edit's elapsed time / the least possible for those requests under the mock's quota (1000/5s) | ≤ 1.10 |
//! | `hostile_quota_requests_first_minute` | requests `update --from` (100 lines, concurrency 8) sends in 60 s to a server that answers every request 429 without hints (a count) | ≤ 10 |

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The version of the `results.json` layout; bumped when a key changes meaning or disappears.
pub const RESULTS_SCHEMA: u32 = 1;

/// The Python packages the Python baseline needs, installed into the bench's own virtual environment.
pub const PYTHON_PACKAGES: &[&str] = &["requests"];

/// Runs `cargo xtask bench [--quick]`: builds what it measures, then runs the driver.
///
/// `quick` shrinks every workload (for a smoke test of the bench itself); its figures are not comparable.
pub fn run(root: &Path, quick: bool) -> Result<(), String> {
    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir(root);
    let out = target.join("bench");
    std::fs::create_dir_all(&out).map_err(|err| format!("cannot create {}: {err}", out.display()))?;

    // The lean `etoro-token` first (without the embedded mock: `--no-default-features`, the default TLS backend
    // put back), kept aside: the build below writes the full one to the same path.
    cargo_build_release(
        &cargo,
        root,
        "-p etoro-token --no-default-features --features rustls --bin etoro-token",
    )?;
    let lean = out.join("etoro-token-lean");
    std::fs::copy(target.join("release").join("etoro-token"), &lean)
        .map_err(|err| format!("cannot keep the lean etoro-token at {}: {err}", lean.display()))?;

    // One build for both: their shared dependencies (tokio, hyper, reqwest, rustls, the client) then compile
    // once, which halves a cold build (measured: 5m42s as two builds, on 2 cores). The price is that feature
    // unification may switch on a few extra features of shared crates (tokio's `net`, hyper's `server`) in the
    // measured `etoro-token`; none of them is on its request path.
    cargo_build_release(
        &cargo,
        root,
        "-p etoro-token -p xtask --features xtask/bench --bin etoro-token --bin xtask-bench",
    )?;
    let built = started.elapsed();

    let python = python_env(&out);
    let mut driver = Command::new(target.join("release").join("xtask-bench"));
    driver
        .current_dir(root)
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(&out)
        .arg("--cli")
        .arg(target.join("release").join("etoro-token"))
        .arg("--cli-lean")
        .arg(&lean)
        .arg("--cargo")
        .arg(&cargo)
        .arg("--build-seconds")
        .arg(format!("{:.1}", built.as_secs_f64()));
    match &python {
        Ok(python) => driver.arg("--python").arg(python),
        Err(reason) => driver.arg("--python-skip").arg(reason),
    };
    if quick {
        driver.arg("--quick");
    }
    let status = driver
        .status()
        .map_err(|err| format!("cannot run the bench driver: {err}"))?;
    if !status.success() {
        return Err(format!("the bench driver failed ({status})"));
    }
    eprintln!(
        "bench done in {:.1} s ({:.1} s of it building)",
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    Ok(())
}

/// `CARGO_TARGET_DIR` if set (relative to the root), else `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// `cargo build --release <args>` in `root` (`args` split at spaces), its output on this process's stderr.
fn cargo_build_release(cargo: &std::ffi::OsStr, root: &Path, args: &str) -> Result<(), String> {
    let args: Vec<&str> = ["build", "--release"]
        .into_iter()
        .chain(args.split_whitespace())
        .collect();
    eprintln!("bench: cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .current_dir(root)
        .args(&args)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}

/// The Python interpreter of `<out>/venv`, created and given [`PYTHON_PACKAGES`] if needed; or why not.
fn python_env(out: &Path) -> Result<PathBuf, String> {
    let venv = out.join("venv");
    let python = venv.join("bin").join("python");
    let import = format!("import {}", PYTHON_PACKAGES.join(", "));
    if quiet(Command::new(&python).args(["-c", &import])).is_ok() {
        return Ok(python);
    }
    eprintln!("bench: creating {} with {}", venv.display(), PYTHON_PACKAGES.join(" "));
    quiet(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .map_err(|err| format!("python3 -m venv failed: {err}"))?;
    quiet(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PYTHON_PACKAGES),
    )
    .map_err(|err| format!("pip install {} failed: {err}", PYTHON_PACKAGES.join(" ")))?;
    quiet(Command::new(&python).args(["-c", &import])).map_err(|err| format!("{import} failed: {err}"))?;
    Ok(python)
}

/// Runs a command, keeping the last line of its stderr as the error.
fn quiet(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| err.to_string())?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
    Err(format!("{} {}", output.status, last.trim()))
}

/// The median of `values` (the mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A target a figure should meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// At most this much (a time ratio, a size).
    AtMost(f64),
    /// At least this much (a throughput ratio).
    AtLeast(f64),
    /// Below this much (the memory row, whose value is in MiB).
    Below(f64),
    /// A count that must be zero (429 answers, lines not applied exactly once).
    Zero,
    /// Reported for information only.
    None,
}

impl Goal {
    /// Whether `value` meets the goal; `None` for an informational figure or a value that is not a number.
    pub fn met(self, value: f64) -> Option<bool> {
        if value.is_nan() {
            return None;
        }
        match self {
            Goal::AtMost(limit) => Some(value <= limit),
            Goal::AtLeast(limit) => Some(value >= limit),
            Goal::Below(limit) => Some(value < limit),
            Goal::Zero => Some(value == 0.0),
            Goal::None => None,
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Goal::AtMost(limit) => write!(f, "≤ {limit}"),
            Goal::AtLeast(limit) => write!(f, "≥ {limit}"),
            Goal::Below(limit) => write!(f, "< {limit}"),
            Goal::Zero => f.write_str("= 0"),
            Goal::None => f.write_str("—"),
        }
    }
}

/// One line of the results table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured, and how (sample size, runs).
    pub measurement: String,
    /// Our figure, with its unit.
    pub ours: String,
    /// The baseline's figure, with its unit (empty when there is none).
    pub baseline: String,
    /// The number the goal applies to (a ratio, or a size for the memory row); NaN when there is none.
    pub value: f64,
    /// The lowest and highest per-round ratio, when `value` is the median of several.
    pub range: Option<(f64, f64)>,
    /// What `value` should be.
    pub goal: Goal,
}

impl Row {
    /// A row without a per-round range.
    pub fn new(
        measurement: impl Into<String>,
        ours: impl Into<String>,
        baseline: impl Into<String>,
        value: f64,
        goal: Goal,
    ) -> Row {
        Row {
            measurement: measurement.into(),
            ours: ours.into(),
            baseline: baseline.into(),
            value,
            range: None,
            goal,
        }
    }

    /// This row with the lowest and highest per-round ratio.
    pub fn with_range(self, (low, high): (f64, f64)) -> Row {
        Row {
            range: Some((low, high)),
            ..self
        }
    }

    /// `yes`, `no`, or `—` for an informational row.
    pub fn met_text(&self) -> &'static str {
        match self.goal.met(self.value) {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        }
    }
}

/// What the figures were measured on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub nproc: usize,
    /// The CPU model, from `/proc/cpuinfo`.
    pub cpu: String,
    /// `rustc --version`.
    pub rustc: String,
}

impl Machine {
    /// Looks at this machine.
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            rustc,
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "nproc": self.nproc, "cpu": self.cpu, "rustc": self.rustc })
    }
}

/// Formats a ratio for the table.
pub fn ratio_text(value: f64) -> String {
    if value.is_nan() {
        "—".to_owned()
    } else if value >= 10.0 {
        format!("{value:.1}×")
    } else {
        format!("{value:.3}×")
    }
}

fn range_text(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The median, lowest and highest of the per-round ratios `ours[i] / baseline[i]`. Each round runs every client
/// back to back, so a ratio within a round cancels the machine's slower drifts (other load, frequency).
pub fn paired_ratio(ours: &[f64], baseline: &[f64]) -> (f64, f64, f64) {
    let ratios: Vec<f64> = ours.iter().zip(baseline).map(|(ours, base)| ours / base).collect();
    let low = ratios.iter().copied().fold(f64::NAN, f64::min);
    let high = ratios.iter().copied().fold(f64::NAN, f64::max);
    (median(&ratios), low, high)
}

/// The markdown report: a heading, the machine, the table, then the notes as a list.
pub fn render_markdown(machine: &Machine, rows: &[Row], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## cargo xtask bench\n");
    let _ = writeln!(
        out,
        "Machine: {} logical CPUs, {}; {}.\n",
        machine.nproc, machine.cpu, machine.rustc
    );
    let _ = writeln!(out, "| measurement | ours | baseline | ratio | goal | met? |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for row in rows {
        let ratio = match (row.goal, row.range) {
            // The memory row's value is a size in MiB, not a ratio; a count row's is a count.
            (Goal::Below(_), _) => format!("{:.1} MiB", row.value),
            (Goal::Zero, _) => format!("{:.0}", row.value),
            (_, Some((low, high))) if !row.value.is_nan() => {
                format!("{} ({}–{})", ratio_text(row.value), range_text(low), range_text(high))
            }
            _ => ratio_text(row.value),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.measurement,
            row.ours,
            if row.baseline.is_empty() { "—" } else { &row.baseline },
            ratio,
            row.goal,
            row.met_text()
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn paired_ratios_pair_by_round() {
        let (median, low, high) = paired_ratio(&[2.0, 3.0, 8.0], &[1.0, 3.0, 4.0]);
        assert_eq!((median, low, high), (2.0, 1.0, 2.0));
    }

    #[test]
    fn goals() {
        assert_eq!(Goal::AtMost(1.05).met(1.05), Some(true));
        assert_eq!(Goal::AtLeast(0.9).met(0.89), Some(false));
        assert_eq!(Goal::Below(40.0).met(40.0), Some(false));
        assert_eq!(Goal::Zero.met(0.0), Some(true));
        assert_eq!(Goal::Zero.met(1.0), Some(false));
        assert_eq!(Goal::None.met(1.0), None);
        assert_eq!(Goal::AtLeast(5.0).met(f64::NAN), None);
    }

    #[test]
    fn table_has_one_line_per_row() {
        let machine = Machine {
            nproc: 2,
            cpu: "cpu".into(),
            rustc: "rustc".into(),
        };
        let rows = [
            Row {
                measurement: "m".into(),
                ours: "1".into(),
                baseline: String::new(),
                value: 1.0,
                range: None,
                goal: Goal::AtMost(1.05),
            },
            Row {
                measurement: "r".into(),
                ours: "2".into(),
                baseline: "3".into(),
                value: 0.5,
                range: Some((0.25, 0.75)),
                goal: Goal::AtLeast(0.9),
            },
        ];
        let text = render_markdown(&machine, &rows, &["note".into()]);
        assert!(text.contains("| m | 1 | — | 1.000× | ≤ 1.05 | yes |"), "{text}");
        assert!(
            text.contains("| r | 2 | 3 | 0.500× (0.25–0.75) | ≥ 0.9 | **no** |"),
            "{text}"
        );
        assert!(text.contains("- note"));
    }
}
