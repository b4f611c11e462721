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

/// The help text of `cargo xtask upstream`.
pub const USAGE: &str = "\
usage: cargo xtask upstream import <FILE|URL> [--page | --whole]
       cargo xtask upstream diff <FILE|URL> [--json] [--page | --whole]

  import  keep only the agent-portfolio operations of an eToro OpenAPI document (JSON or YAML), without prose,
          in openapi/upstream/etoro-agent-portfolios.json. A whole document replaces the snapshot; a page
          (a document with one operation, or --page) replaces only the operations it holds.
  diff    compare a newer eToro document with the snapshot, operation by operation, and say for each change
          whether it breaks this client (BREAKING), deserves a look (warning) or not (ok). A page only
          compares the operations it holds. --json prints one JSON object instead of lines.

  A URL must be https (plain http only to 127.0.0.0/8 or [::1]); downloads stop at 32 MiB and 60 s.

exit status: 0 nothing breaks, 1 something breaks (diff), 2 unreadable or invalid input, or bad usage";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Import {
        source: String,
        kind: Option<Kind>,
    },
    Diff {
        source: String,
        kind: Option<Kind>,
        json: bool,
    },
    Help,
}

fn parse_args(args: &[&str]) -> Result<Command, String> {
    let Some((verb, rest)) = args.split_first() else {
        return Err("missing subcommand: import or diff".to_owned());
    };
    if matches!(*verb, "help" | "--help" | "-h") {
        return Ok(Command::Help);
    }
    let mut source = None;
    let mut kind = None;
    let mut json = false;
    for arg in rest {
        match *arg {
            "--help" | "-h" => return Ok(Command::Help),
            "--json" if *verb == "diff" => json = true,
            "--page" | "--whole" => {
                let wanted = if *arg == "--page" { Kind::Page } else { Kind::Document };
                if kind.is_some_and(|k| k != wanted) {
                    return Err("--page and --whole exclude each other".to_owned());
                }
                kind = Some(wanted);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag:?} for `upstream {verb}`")),
            value if source.is_none() => source = Some(value.to_owned()),
            value => return Err(format!("unexpected argument {value:?}: give one FILE or URL")),
        }
    }
    let source = source.ok_or_else(|| format!("`upstream {verb}` needs a FILE or URL"))?;
    match *verb {
        "import" => Ok(Command::Import { source, kind }),
        "diff" => Ok(Command::Diff { source, kind, json }),
        other => Err(format!("unknown subcommand {other:?}: import or diff")),
    }
}

/// Runs `cargo xtask upstream <args>` and returns the exit status; results go to stdout, messages to stderr.
pub fn run(root: Result<PathBuf, String>, args: &[&str]) -> u8 {
    let command = match parse_args(args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {}\n\n{USAGE}", text::sanitize(&message));
            return EXIT_INVALID;
        }
    };
    if command == Command::Help {
        println!("{USAGE}");
        return EXIT_OK;
    }
    let root = match root {
        Ok(root) => root,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_INVALID;
        }
    };
    let limits = Limits::default();
    match command {
        Command::Import { source, kind } => match import(&root, &source, kind, &limits) {
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
        Command::Diff { source, kind, json } => match diff(&root, &source, kind, &limits) {
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
        Command::Help => EXIT_OK,
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
    use super::*;

    #[test]
    fn the_command_line_is_parsed_strictly() {
        assert_eq!(
            parse_args(&["diff", "f.json", "--json", "--page"]),
            Ok(Command::Diff {
                source: "f.json".into(),
                kind: Some(Kind::Page),
                json: true
            })
        );
        assert_eq!(
            parse_args(&["import", "f.yaml"]),
            Ok(Command::Import {
                source: "f.yaml".into(),
                kind: None
            })
        );
        assert_eq!(parse_args(&["--help"]), Ok(Command::Help));
        for (args, expected) in [
            (&["import", "f", "--json"][..], "unknown option \"--json\""),
            (&["diff"], "needs a FILE or URL"),
            (&["diff", "a", "b"], "unexpected argument \"b\""),
            (&["diff", "a", "--page", "--whole"], "exclude each other"),
            (&["merge", "a"], "unknown subcommand"),
            (&[], "missing subcommand"),
        ] {
            let err = parse_args(args).unwrap_err();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}
