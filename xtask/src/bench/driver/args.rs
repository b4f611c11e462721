//! The driver's command line (clap): the options `cargo xtask bench` hands over, and the modes that run one
//! piece alone (a child process of the bench itself, or one measurement for a change that touches only it).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::clients::Which;
use crate::servers::Kind;

/// `xtask-bench`: the measuring half of `cargo xtask bench`.
#[derive(Debug, Parser)]
#[command(
    name = "xtask-bench",
    about = "The measuring half of `cargo xtask bench` (which builds and runs it)",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// A mode that runs one piece alone; without one, every step (or `--only STEP`).
    #[command(subcommand)]
    pub mode: Option<Mode>,
    /// What `cargo xtask bench` hands over.
    #[command(flatten)]
    pub options: Options,
}

/// What `cargo xtask bench` hands over.
#[derive(Debug, Args)]
pub struct Options {
    /// The checkout (for `bench/` and `cargo xtask regen`).
    #[arg(long, required = true)]
    pub root: Option<PathBuf>,
    /// Where the inputs and `results.{json,md}` go.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// `etoro-token`, built in release.
    #[arg(long, required = true)]
    pub cli: Option<PathBuf>,
    /// `etoro-token` built without the embedded mock.
    #[arg(long)]
    pub cli_lean: Option<PathBuf>,
    /// The cargo that runs `cargo xtask regen --check`.
    #[arg(long, default_value = "cargo")]
    pub cargo: PathBuf,
    /// The Python interpreter of the baseline's virtual environment.
    #[arg(long, conflicts_with = "python_skip")]
    pub python: Option<PathBuf>,
    /// Why there is no Python baseline (said in the notes).
    #[arg(long, value_name = "REASON")]
    pub python_skip: Option<String>,
    /// Small workloads, to smoke-test the bench itself (figures not comparable).
    #[arg(long)]
    pub quick: bool,
    /// How long `cargo xtask bench` spent building, for the notes.
    #[arg(long, value_name = "SECONDS")]
    pub build_seconds: Option<f64>,
    /// Run one step, for a change that touches only what it measures.
    #[arg(long, value_name = "STEP")]
    pub only: Option<Step>,
    /// The bulk step's file size instead of the plan's (peak RSS at another size).
    #[arg(long, value_name = "N")]
    pub bulk_lines: Option<usize>,
}

/// [`Options`] once clap has checked them: the paths it requires are there.
#[derive(Debug)]
pub struct Settings {
    /// `--root`.
    pub root: PathBuf,
    /// `--out`.
    pub out: PathBuf,
    /// `--cli`.
    pub cli: PathBuf,
    /// `--cli-lean`.
    pub cli_lean: Option<PathBuf>,
    /// `--cargo`.
    pub cargo: PathBuf,
    /// `--python`, or why there is none (`--python-skip`).
    pub python: Result<PathBuf, String>,
    /// `--quick`.
    pub quick: bool,
    /// `--build-seconds`, NaN when not given.
    pub build_seconds: f64,
    /// `--only`.
    pub only: Option<Step>,
    /// `--bulk-lines`.
    pub bulk_lines: Option<usize>,
}

impl Options {
    /// The settings of a full run; clap requires the paths unless a mode is given, so their absence is an error.
    pub fn settings(self) -> Result<Settings, String> {
        let missing = |name: &str| format!("missing {name}");
        Ok(Settings {
            root: self.root.ok_or_else(|| missing("--root"))?,
            out: self.out.ok_or_else(|| missing("--out"))?,
            cli: self.cli.ok_or_else(|| missing("--cli"))?,
            cli_lean: self.cli_lean,
            cargo: self.cargo,
            python: self
                .python
                .ok_or_else(|| self.python_skip.unwrap_or_else(|| "no --python given".to_owned())),
            quick: self.quick,
            build_seconds: self.build_seconds.unwrap_or(f64::NAN),
            only: self.only,
            bulk_lines: self.bulk_lines,
        })
    }
}

/// The steps of a full run, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Step {
    /// Per-request overhead, sequential.
    Sequential,
    /// Throughput at a fixed concurrency.
    Concurrent,
    /// `etoro-token update --from` against the baselines.
    Bulk,
    /// One `etoro-token update` process against one `curl`.
    Oneshot,
    /// `cargo xtask regen --check`.
    Regen,
    /// A bulk run against the mock's quota.
    Quota,
    /// `etoro-token apply` against naive bulk.
    Apply,
    /// A server that answers every request 429 (a minute).
    Hostile,
    /// `etoro-token edit --all --add-ip`.
    Edit,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 9] = [
        Step::Sequential,
        Step::Concurrent,
        Step::Bulk,
        Step::Oneshot,
        Step::Regen,
        Step::Quota,
        Step::Apply,
        Step::Hostile,
        Step::Edit,
    ];

    /// What the progress line says.
    pub fn label(self) -> &'static str {
        match self {
            Step::Sequential => "sequential per-request overhead",
            Step::Concurrent => "concurrent throughput",
            Step::Bulk => "bulk from a file",
            Step::Oneshot => "one-shot latency",
            Step::Regen => "regen",
            Step::Quota => "quota efficiency",
            Step::Apply => "apply against naive bulk",
            Step::Hostile => "hostile quota (a minute)",
            Step::Edit => "edit: add an address to every token",
        }
    }
}

/// The modes that run one piece alone.
#[derive(Debug, Subcommand)]
pub enum Mode {
    /// The raw-reqwest bulk baseline, run as a child process as the CLI is.
    RawBulk {
        /// The bulk input (JSON lines).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Tasks sending at once.
        #[arg(long, value_name = "N")]
        concurrency: usize,
        /// The server.
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// The `api-version` header.
        #[arg(long, value_name = "V")]
        api_version: String,
        /// The path, with `{portfolio}` and `{token}` placeholders.
        #[arg(long, value_name = "P")]
        path: String,
    },
    /// Runs one child and writes its time, peak memory and exit code to REPORT.
    Measure {
        /// Where the report goes.
        report: PathBuf,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required = true, num_args = 1..)]
        command: Vec<OsString>,
    },
    /// One workload alone, to profile it (`perf record -g target/release/xtask-bench probe ...`).
    Probe {
        /// The client.
        which: Which,
        /// The server.
        kind: Kind,
        /// Updates to send.
        n: usize,
        /// Tasks sending at once.
        concurrency: usize,
    },
    /// The quota measurement alone, its rows on stdout.
    Quota {
        /// Lines of the bulk file.
        lines: usize,
        /// `etoro-token`.
        #[arg(long, value_name = "PATH")]
        cli: PathBuf,
        /// Where the inputs go.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// The hostile-quota measurement alone (a minute), its row on stdout.
    Hostile {
        /// `etoro-token`.
        #[arg(long, value_name = "PATH")]
        cli: PathBuf,
        /// Where the inputs go.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// The edit measurement alone, its rows on stdout.
    Edit {
        /// Tokens in the mock.
        tokens: usize,
        /// `etoro-token`.
        #[arg(long, value_name = "PATH")]
        cli: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask-bench").chain(args.iter().copied()))
    }

    #[test]
    fn a_full_run_needs_the_paths() {
        let cli = parse(&["--root", "/r", "--out", "/o", "--cli", "/c", "--python-skip", "no pip"]).unwrap();
        assert!(cli.mode.is_none());
        let settings = cli.options.settings().unwrap();
        assert_eq!(settings.python, Err("no pip".to_owned()));
        assert!(!settings.quick);
        assert!(settings.build_seconds.is_nan());
        assert!(parse(&["--out", "/o", "--cli", "/c"]).is_err());
    }

    #[test]
    fn only_takes_a_known_step() {
        let cli = parse(&["--root", "/r", "--out", "/o", "--cli", "/c", "--only", "hostile"]).unwrap();
        assert_eq!(cli.options.only, Some(Step::Hostile));
        assert!(parse(&["--root", "/r", "--out", "/o", "--cli", "/c", "--only", "bulkk"]).is_err());
    }

    #[test]
    fn modes_need_no_paths_and_measure_takes_everything_after_the_dashes() {
        let cli = parse(&["measure", "/tmp/report", "--", "curl", "-s", "--x"]).unwrap();
        let Some(Mode::Measure { report, command }) = cli.mode else {
            panic!("not measure: {cli:?}");
        };
        assert_eq!(report, PathBuf::from("/tmp/report"));
        assert_eq!(command, ["curl", "-s", "--x"].map(OsString::from));
        assert!(parse(&["measure", "/tmp/report"]).is_err(), "a program is required");
        let cli = parse(&["probe", "reqwest", "bare", "100", "8"]).unwrap();
        assert!(matches!(
            cli.mode,
            Some(Mode::Probe {
                which: Which::Reqwest,
                kind: Kind::Bare,
                n: 100,
                concurrency: 8
            })
        ));
        assert!(parse(&["probe", "curl", "bare", "100", "8"]).is_err());
    }
}
