//! The command line of `cargo xtask` (clap), and the exit status of each task.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::builder::NonEmptyStringValueParser;
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

use crate::upstream;

/// `cargo xtask <task>`: the workspace's maintenance commands.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The workspace's maintenance commands",
    args_override_self = true
)]
pub struct Cli {
    /// The task to run.
    #[command(subcommand)]
    pub task: Task,
}

/// The tasks.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Task {
    /// Regenerate client/src/generated.rs from openapi/etoro-user-tokens.json
    Regen {
        /// Write nothing; fail if the generated client differs from what the spec produces
        #[arg(long)]
        check: bool,
    },
    /// Keep a facts-only snapshot of eToro's agent-portfolio operations in openapi/upstream/, and say whether a
    /// newer eToro document breaks this client
    #[command(after_help = upstream::AFTER_HELP)]
    Upstream {
        /// import or diff.
        #[command(subcommand)]
        command: upstream::Command,
    },
    /// Fail if etoro-client's public API changed in a way its version does not allow (cargo-semver-checks, pinned)
    Semver {
        /// The revision to compare with (default: the last etoro-client-v* tag, else the previous commit)
        #[arg(long, value_name = "REV", value_parser = NonEmptyStringValueParser::new())]
        baseline: Option<String>,
    },
    /// Build in release and measure the wrapper, the CLI and regen against loopback servers; writes
    /// target/bench/results.{json,md} and prints the table
    Bench {
        /// Small workloads, to smoke-test the bench itself (figures not comparable)
        #[arg(long)]
        quick: bool,
    },
}

/// Exit status of bad usage and failures, except under `upstream` (which has [`upstream::EXIT_INVALID`]).
const EXIT_FAILURE: u8 = 1;

/// Parses `args` (the program name first) and runs the task; messages go to stderr, results to stdout.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let under_upstream = args.get(1).is_some_and(|task| task == "upstream");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            print!("{}", err.render());
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // The message quotes what was typed: escaped, like every other line xtask prints from outside.
            for line in err.render().to_string().lines() {
                eprintln!("{}", etoro_escape::escape(line));
            }
            return ExitCode::from(if under_upstream {
                upstream::EXIT_INVALID
            } else {
                EXIT_FAILURE
            });
        }
    };
    let root = crate::try_workspace_root();
    let result = match cli.task {
        Task::Upstream { command } => return ExitCode::from(upstream::run(root, command)),
        Task::Regen { check } => root.and_then(|root| regen(&root, check)),
        Task::Semver { baseline } => root.and_then(|root| crate::semver::run(&root, baseline.as_deref())),
        Task::Bench { quick } => root.and_then(|root| crate::bench::run(&root, quick)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `cargo xtask regen [--check]`.
fn regen(root: &Path, check: bool) -> Result<(), String> {
    crate::codegen::regen(root, check).map_err(|err| err.to_string())?;
    if check {
        eprintln!("{} is up to date", crate::codegen::GENERATED_PATH);
    } else {
        eprintln!("wrote {}", crate::codegen::GENERATED_PATH);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Task, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied())).map(|cli| cli.task)
    }

    #[test]
    fn each_task_takes_its_own_flags_only() {
        assert_eq!(parse(&["regen", "--check"]).unwrap(), Task::Regen { check: true });
        assert_eq!(parse(&["bench"]).unwrap(), Task::Bench { quick: false });
        assert_eq!(
            parse(&["semver", "--baseline", "HEAD~2"]).unwrap(),
            Task::Semver {
                baseline: Some("HEAD~2".into())
            }
        );
        for args in [
            &["semver", "--baseline"][..],
            &["semver", "--baseline", ""],
            &["semver", "--baseline", "--x"],
            &["semver", "--base", "HEAD"],
            &["semver", "x"],
            &["regen", "--quick"],
            &["bench", "--check"],
            &["merge"],
            &[],
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.use_stderr(), "{args:?} is bad usage: {err}");
        }
    }
}
