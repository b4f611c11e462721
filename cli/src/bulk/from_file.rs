//! `etoro-token update --from FILE`: the journal locked first, the file read and checked, the client built with
//! the bulk pace and retry policy, then the engine.

use std::path::Path;

use super::input::{self, InvalidLine};
use super::setup::{self, DEFAULT_CONCURRENCY};
use super::{Job, JournalUse, Options, Stop};
use crate::args::UpdateArgs;
use crate::connect::connect;
use crate::exit::Exit;
use crate::file_roles::one_file_one_role;
use crate::output;

/// Runs `update --from path`. After a signal, the process exits here with 130 or 143.
pub async fn update_from(args: &UpdateArgs, path: &Path) -> Exit {
    // One file, one role: checked before the journal is created, so that nothing is written into the input.
    if let Err(message) = one_file_one_role(&[("--from", Some(path)), ("--journal", args.journal.as_deref())]) {
        return output::fail(&message, Exit::Invalid);
    }
    // The lock next: a second run on the same journal is refused before anything is read or sent.
    let journal = match setup::open_journal(args.journal.as_deref(), args.dry_run) {
        Ok(journal) => journal,
        Err((message, exit)) => return output::fail(&message, exit),
    };
    let shown = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let lines = match input::open(path).and_then(|reader| input::read(reader, &[])) {
        Ok(lines) => lines,
        Err(err) => return output::fail(&format!("cannot read {shown}: {err}"), Exit::LocalIo),
    };
    let version = args.api.into();
    let mut jobs = Vec::with_capacity(lines.len());
    let mut invalid = Vec::new();
    for line in lines {
        let line = match line {
            Ok(line) => line,
            Err(bad) => {
                invalid.push(bad);
                continue;
            }
        };
        match line.update(version) {
            Ok(update) => jobs.push(Job {
                line: line.number,
                portfolio: line.portfolio,
                token: line.token,
                update,
                body: line.canonical_body(),
                input: line.input,
            }),
            Err(message) => invalid.push(InvalidLine {
                number: line.number,
                message,
                prefix: None,
            }),
        }
    }

    let retry = setup::retry_policy(args.connection.attempts, args.connection.deadline);
    let pacer = setup::pacer(args.rate, &args.connection);
    let connected = match connect(&args.connection, version, retry, Some(pacer)).await {
        Ok(connected) => connected,
        Err((message, exit)) => return output::fail(&message, exit),
    };
    let options = Options {
        concurrency: usize::from(args.concurrency.unwrap_or(DEFAULT_CONCURRENCY)),
        json: args.json,
        dry_run: args.dry_run,
        journal,
        journal_use: JournalUse::SkipDone,
        desired: None,
    };
    let summary = super::run(&connected.client, jobs, invalid, options).await;
    if let Some(Stop::Signal(signal)) = summary.stopped {
        drop(connected);
        std::process::exit(signal.exit_code());
    }
    summary.exit
}
