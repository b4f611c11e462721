//! `cargo xtask upstream import|diff`: notice when eToro's published API moves away from our spec.
//!
//! `import` keeps a facts-only snapshot of eToro's agent-portfolio operations in the repository
//! ([`snapshot::SNAPSHOT_PATH`]); `diff` compares a newer published document (a file or a URL) with that snapshot,
//! operation by operation, and judges each change against what this client calls and sends, read from
//! `openapi/etoro-user-tokens.json`. Nothing here reads outside the repository unless given a path or URL.

pub mod diff;
pub mod fetch;
pub mod normalize;
pub mod refs;
pub mod report;
pub mod shape;
pub mod snapshot;
pub mod source;
pub mod text;
pub mod usage;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use fetch::Limits;
use report::DiffReport;
use snapshot::Kind;
use source::InputError;
use usage::ClientUsage;

/// Exit status: nothing breaks this client (warnings may have been printed).
pub const EXIT_OK: u8 = 0;
/// Exit status: something breaks this client.
pub const EXIT_BREAKING: u8 = 1;
/// Exit status: an input (the document, the snapshot, the client's spec) could not be read or is invalid, or the
/// command line is wrong; nothing was compared or written.
pub const EXIT_INVALID: u8 = 2;

/// What `cargo xtask upstream --help` adds under the subcommands.
pub const AFTER_HELP: &str = "\
A URL must be https (plain http only to 127.0.0.0/8 or [::1]); downloads stop at 32 MiB and 60 s.

Exit status: 0 nothing breaks, 1 something breaks (diff), 2 unreadable or invalid input, or bad usage";

/// `cargo xtask upstream import|diff`, parsed.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Keep only the agent-portfolio operations of an eToro OpenAPI document (JSON or YAML), without prose, in
    /// openapi/upstream/etoro-agent-portfolios.json
    ///
    /// A whole document replaces the snapshot; a page (a document with one operation, or --page) replaces only
    /// the operations it holds.
    #[command(after_help = AFTER_HELP)]
    Import {
        /// The document: a file or a URL
        #[arg(value_name = "FILE|URL")]
        source: String,
        #[command(flatten)]
        kind: KindFlags,
    },
    /// Compare a newer eToro document with the snapshot, operation by operation, and say whether it breaks this
    /// client (exit 1) or not (exit 0)
    ///
    /// Each change is judged BREAKING, a warning (deserves a look) or ok. A page only compares the operations it
    /// holds.
    #[command(after_help = AFTER_HELP)]
    Diff {
        /// The document: a file or a URL
        #[arg(value_name = "FILE|URL")]
        source: String,
        /// Print one JSON object instead of lines
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        kind: KindFlags,
    },
}

/// `--page` or `--whole`: what the document is, when its number of operations should not decide.
#[derive(Debug, Default, PartialEq, Eq, Args)]
pub struct KindFlags {
    /// Read the document as a page about some operations only
    #[arg(long, conflicts_with = "whole")]
    page: bool,
    /// Read the document as a whole document (every operation that exists)
    #[arg(long)]
    whole: bool,
}

impl KindFlags {
    /// The kind the flags force, if any.
    pub fn forced(&self) -> Option<Kind> {
        if self.page {
            Some(Kind::Page)
        } else if self.whole {
            Some(Kind::Document)
        } else {
            None
        }
    }
}

/// Runs `cargo xtask upstream <command>` and returns the exit status; results go to stdout, messages to stderr.
pub fn run(root: Result<PathBuf, String>, command: Command) -> u8 {
    let root = match root {
        Ok(root) => root,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_INVALID;
        }
    };
    let limits = Limits::default();
    match command {
        Command::Import { source, kind } => match import(&root, &source, kind.forced(), &limits) {
            Ok(imported) => {
                let operations = imported.operations.len();
                eprintln!(
                    "{} {} ({}, {operations} agent-portfolio operation{}) into {}",
                    if imported.changed {
                        "imported"
                    } else {
                        "already up to date with"
                    },
                    text::sanitize(&imported.version),
                    imported.kind.label(),
                    if operations == 1 { "" } else { "s" },
                    snapshot::SNAPSHOT_PATH,
                );
                EXIT_OK
            }
            Err(err) => {
                eprintln!("error: {err}");
                EXIT_INVALID
            }
        },
        Command::Diff { source, kind, json } => match diff(&root, &source, kind.forced(), &limits) {
            Ok(report) => {
                if json {
                    println!("{}", report::json(&report));
                } else {
                    print!("{}", report::human(&report));
                }
                eprintln!("{}", report::summary(&report));
                if report.breaks() {
                    EXIT_BREAKING
                } else {
                    EXIT_OK
                }
            }
            Err(err) => {
                eprintln!("error: {err}");
                EXIT_INVALID
            }
        },
    }
}

/// `cargo xtask upstream import`: reads `source` and imports it into the snapshot under `root`.
pub fn import(
    root: &Path,
    source: &str,
    kind: Option<Kind>,
    limits: &Limits,
) -> Result<snapshot::Imported, InputError> {
    let document = source::load(source, limits)?;
    let kind = Kind::detect(&document, kind);
    snapshot::import(root, &document, kind).map_err(|reason| InputError::new(source, reason))
}

/// `cargo xtask upstream diff`: compares `source` with the snapshot under `root`.
pub fn diff(root: &Path, source: &str, kind: Option<Kind>, limits: &Limits) -> Result<DiffReport, InputError> {
    let client = ClientUsage::load(root)?;
    let snapshot = snapshot::read(root)?;
    let document = source::load(source, limits)?;
    let kind = Kind::detect(&document, kind);
    let normalized = normalize::normalize(&document).map_err(|reason| InputError::new(source, reason))?;
    let changes =
        diff::diff(&snapshot, &normalized, kind, &client).map_err(|reason| InputError::new(source, reason))?;
    Ok(DiffReport {
        snapshot_version: normalize::version_of(&snapshot).to_owned(),
        source: source::display_source(source),
        version: normalize::version_of(&document).to_owned(),
        kind,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Task};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let args = ["cargo xtask", "upstream"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(args)?.task {
            Task::Upstream { command } => Ok(command),
            other => panic!("not upstream: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_parsed_strictly() {
        let page = KindFlags {
            page: true,
            whole: false,
        };
        assert_eq!(
            parse(&["diff", "f.json", "--json", "--page"]).unwrap(),
            Command::Diff {
                source: "f.json".into(),
                kind: page,
                json: true
            }
        );
        assert_eq!(
            parse(&["import", "f.yaml"]).unwrap(),
            Command::Import {
                source: "f.yaml".into(),
                kind: KindFlags::default()
            }
        );
        let Command::Import { kind, .. } = parse(&["import", "f", "--whole"]).unwrap() else {
            panic!("not import");
        };
        assert_eq!(kind.forced(), Some(Kind::Document));
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
        for (args, expected) in [
            (&["import", "f", "--json"][..], "unexpected argument '--json'"),
            (&["diff"], "<FILE|URL>"),
            (&["diff", "a", "b"], "unexpected argument 'b'"),
            (&["diff", "a", "--page", "--whole"], "cannot be used with"),
            (&["merge", "a"], "unrecognized subcommand 'merge'"),
            (&[], "Usage: cargo xtask upstream <COMMAND>"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}
