//! `etoro-token update --from FILE`: the journal locked first, the file opened, the client built with the bulk
//! pace and retry policy, then the engine, fed line by line by a thread that reads and checks the file.

use std::io::Read;
use std::path::Path;

use etoro_client::ApiVersion;
use tokio::sync::mpsc;

use super::input::{self, InvalidLine, MAX_LINE_BYTES};
use super::lines::BoundedLines;
use super::setup::{self, DEFAULT_CONCURRENCY};
use super::source::{self, Batch, BATCH};
use super::{Item, Job, JournalUse, Options, Stop};
use crate::exit::Exit;
use crate::file_roles::one_file_one_role;
use crate::options::{Api, Connection};
use crate::output;

/// What `update --from` asks of a run: the flags that shape it.
pub struct FromFile<'a> {
    /// The input (`-` is standard input).
    pub path: &'a Path,
    /// `--journal`.
    pub journal: Option<&'a Path>,
    /// `--concurrency` (else the default).
    pub concurrency: Option<u16>,
    /// `--rate` (else the default for the base URL).
    pub rate: Option<u32>,
    /// `--api`.
    pub api: Api,
    /// `--json`.
    pub json: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// Where and how to connect.
    pub connection: &'a Connection,
}

/// Runs `update --from path`. After a signal, the process exits here with 130 or 143.
pub async fn update_from(args: FromFile<'_>) -> Exit {
    let path = args.path;
    // One file, one role: checked before the journal is created, so that nothing is written into the input.
    if let Err(message) = one_file_one_role(&[("--from", Some(path)), ("--journal", args.journal)]) {
        return output::fail(&message, Exit::Invalid);
    }
    // The lock next: a second run on the same journal is refused before anything is read or sent.
    let journal = match setup::open_journal(args.journal, args.dry_run) {
        Ok(journal) => journal,
        Err((message, exit)) => return output::fail(&message, exit),
    };
    let shown = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    // Opened here, so that a file that cannot be opened is said before anything is sent; read by a thread of its
    // own as the engine sends.
    let reader = match input::open(path) {
        Ok(reader) => reader,
        Err(err) => return output::fail(&format!("cannot read {shown}: {err}"), Exit::LocalIo),
    };
    let expected = if path.as_os_str() == "-" {
        None
    } else {
        count_lines(path)
    };
    let version = args.api.into();
    let connected = match setup::connect_paced(args.connection, version, args.rate).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    let options = Options {
        concurrency: usize::from(args.concurrency.unwrap_or(DEFAULT_CONCURRENCY)),
        json: args.json,
        dry_run: args.dry_run,
        journal,
        journal_use: JournalUse::SkipDone,
        desired: None,
        expected,
        track_updated: false,
    };
    let source = read(reader, shown, version);
    let summary = super::run(&connected.client, source, options).await;
    if let Some(Stop::Signal(signal)) = summary.stopped {
        drop(connected);
        std::process::exit(signal.exit_code());
    }
    summary.exit
}

/// Reads and checks the lines of `reader` on a thread of its own, and hands them to the engine in file order (at
/// most [`READ_AHEAD`](super::READ_AHEAD) ahead of it: the thread waits while the engine is behind). A batch goes
/// as soon as it is full or the next line is not at hand (nothing more is buffered), so that lines piped in one by
/// one are not held back waiting for more.
fn read(reader: input::Input, shown: String, version: ApiVersion) -> mpsc::Receiver<Batch> {
    let (sender, receiver) = source::channel();
    std::thread::spawn(move || {
        let mut lines = BoundedLines::new(reader, MAX_LINE_BYTES);
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(line) = lines.next() {
            let item = match line {
                Ok(line) if input::is_blank(&line) => continue,
                Ok(line) => item(input::parse(&line, &[]), version),
                Err(err) => Item::Unreadable(format!("cannot read {shown}: {err}")),
            };
            let unreadable = matches!(item, Item::Unreadable(_));
            batch.push(item);
            if batch.len() < BATCH && !unreadable && !lines.reader().buffer().is_empty() {
                continue;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            // A failed send: the engine is gone (the process is ending), nothing is left to read for.
            if sender.blocking_send(full).is_err() || unreadable {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
    });
    receiver
}

/// A line as the engine takes it: a job, or why it is invalid.
fn item(line: Result<input::InputLine, InvalidLine>, version: ApiVersion) -> Item {
    let line = match line {
        Ok(line) => line,
        Err(bad) => return Item::Invalid(bad),
    };
    match line.update(version) {
        Ok(update) => Item::Job(Job {
            line: line.number,
            portfolio: line.portfolio,
            token: line.token,
            update,
            body: line.canonical_body(),
            input: line.input,
        }),
        Err(message) => Item::Invalid(InvalidLine {
            number: line.number,
            message,
            prefix: None,
        }),
    }
}

/// How many lines a regular file holds (for the progress line's total), counted without keeping any.
fn count_lines(path: &Path) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut count, mut last) = (0u64, b'\n');
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        count += buffer[..read].iter().filter(|&&byte| byte == b'\n').count() as u64;
        last = buffer[read - 1];
    }
    Some(count + u64::from(last != b'\n'))
}
