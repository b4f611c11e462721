//! The bulk journal (`--journal FILE`): one JSON record per event. Records are staged and written in batches, one
//! `write` per batch: the engine writes the records of one turn together (the results that came in, the `started`
//! records of the lines about to go) and sends no request before the batch holding its `started` record is
//! written, so that killing the process loses no record of a request that was sent. (A result staged but not yet
//! written when the process is killed is lost, as it would be a moment earlier: its line is then `started`, and a
//! resumed run sends it again under the same request id.)
//!
//! - Before the first attempt of a line, a `started` record names it (portfolio, token, canonical body, which
//!   occurrence of that exact input it is) with its `x-request-id`; its result follows as an `updated`, `refused`
//!   or `failed` record of the same key. A resumed run re-sends a line left `started` under the same request id.
//! - Records are keyed by the input itself, not the line number: inserting a line at the top re-sends nothing
//!   below it.
//! - The file must be a regular file: it is opened without following a symbolic link (`O_NOFOLLOW`), without
//!   blocking on a FIFO (`O_NONBLOCK`), then checked with `fstat`; it is created with mode 0600; an exclusive lock
//!   keeps a second run off it.
//! - A record cut short by a crash, or one that does not decode, is skipped and counted; the file then gets a
//!   newline before the next record, so the cut record cannot swallow it.
//!
//! What it does not promise: a record is handed to the OS, not forced to disk (`fsync`) one by one, so a power
//! cut (unlike a crash or `kill -9`) may lose the latest records; the file is synced when a run ends.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::lines::BoundedLines;
use crate::report::Report;

/// The largest record read back; a longer one counts as undecodable. (A record holds one input line of at most
/// 64 KiB, its canonical body and an error message of bounded size.)
const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// What a line is, for the journal: its canonical body and which occurrence of that exact input (same
/// portfolio, token and body) in the file it is, from 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The canonical request body.
    pub body: Box<str>,
    /// 1 for the first line with this input, 2 for the second...
    pub occurrence: u32,
}

/// Where a line the journal knows of stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Started, with no result recorded: the request may or may not have reached eToro.
    Started,
    /// Updated (204).
    Applied,
    /// Refused or failed after retries. A failure may still have reached eToro.
    Ended,
}

/// One line of one token, as earlier runs left it, in the order the runs started it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The line.
    pub key: Key,
    /// The `x-request-id` it was sent under.
    pub request_id: Uuid,
    /// Where it stands.
    pub state: State,
}

/// Why a journal cannot be used: refused as given (exit 2) or an I/O failure (exit 5).
#[derive(Debug)]
pub enum OpenError {
    /// Not a regular file, a symbolic link, or locked by another run.
    Refused(String),
    /// It cannot be read or created.
    Io(String),
}

/// An open, locked journal, and what earlier runs did.
pub struct Journal {
    path: PathBuf,
    /// `None` when a dry run found no journal yet.
    file: Option<File>,
    writable: bool,
    history: HashMap<(Uuid, Uuid), Vec<Entry>>,
    undecodable: usize,
    /// Results without a key (written by an etoro-token before keys existed): they cannot be matched to a line.
    unkeyed: usize,
    /// The file does not end with a newline (a record cut short): write one before the next record.
    needs_newline: bool,
    /// Records staged for the next write ([`Journal::stage`]), each a line of escaped JSON. Kept between
    /// writes, so that the buffer is allocated once.
    staged: Vec<u8>,
}

/// What earlier runs did, per token: taken from a [`Journal`] when a run starts.
pub struct History(HashMap<(Uuid, Uuid), Vec<Entry>>);

impl History {
    /// What earlier runs did to this token, in the order they started it.
    pub fn of(&self, portfolio: Uuid, token: Uuid) -> &[Entry] {
        self.0.get(&(portfolio, token)).map_or(&[], Vec::as_slice)
    }
}

/// One record: the result shape of `--json` ([`Report`]) and the key of the line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    /// The result, or `outcome: "started"`.
    #[serde(flatten)]
    pub report: Report<'a>,
    /// The canonical body of the line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a RawValue>,
    /// Which occurrence of this exact input the line is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
    /// The beginning of an invalid line whose form was wrong (not UTF-8, not JSON, too long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_prefix: Option<&'a str>,
}

impl Record<'_> {
    /// Appends the record to `out` as one line of JSON, with text from the network escaped
    /// ([`crate::safe_json`]).
    pub fn write_line(&self, out: &mut Vec<u8>) {
        crate::safe_json::write_line(out, self);
    }
}

/// The part of a record a resumed run reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    outcome: String,
    portfolio: Option<Uuid>,
    token: Option<Uuid>,
    body: Option<Box<RawValue>>,
    occurrence: Option<u32>,
    request_id: Option<Uuid>,
}

impl Journal {
    /// Opens (creating it, mode 0600) and locks the journal at `path` for a run, and reads what earlier runs did.
    pub fn open(path: &Path) -> Result<Journal, OpenError> {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        Self::open_with(path, &options, true)
    }

    /// Reads the journal at `path` for a dry run: nothing is created or written, and a missing file is an empty
    /// journal. It is locked shared, so that it cannot change while being read.
    pub fn open_read_only(path: &Path) -> Result<Journal, OpenError> {
        let mut options = OpenOptions::new();
        options.read(true);
        match Self::open_with(path, &options, false) {
            Err(OpenError::Io(_)) if matches!(std::fs::symlink_metadata(path), Err(err) if err.kind() == io::ErrorKind::NotFound) => {
                Ok(Journal {
                    path: path.to_owned(),
                    file: None,
                    writable: false,
                    history: HashMap::new(),
                    undecodable: 0,
                    unkeyed: 0,
                    needs_newline: false,
                    staged: Vec::new(),
                })
            }
            other => other,
        }
    }

    fn open_with(path: &Path, options: &OpenOptions, writable: bool) -> Result<Journal, OpenError> {
        let shown = path.display();
        let mut options = options.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // No link is followed at the last step, and a FIFO cannot hang the open; the type is checked below.
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let file = options.open(path).map_err(|err| match err.raw_os_error() {
            #[cfg(unix)]
            Some(libc::ELOOP) => OpenError::Refused(format!(
                "the journal {shown} is a symbolic link; give the path of a regular file"
            )),
            #[cfg(unix)]
            Some(libc::EISDIR) => OpenError::Refused(format!(
                "the journal {shown} is a directory; give the path of a regular file"
            )),
            _ => OpenError::Io(format!("cannot open the journal {shown}: {err}")),
        })?;
        let metadata = file
            .metadata()
            .map_err(|err| OpenError::Io(format!("cannot inspect the journal {shown}: {err}")))?;
        if !metadata.is_file() {
            return Err(OpenError::Refused(format!(
                "the journal {shown} is not a regular file (a {}); give the path of a regular file",
                etoro_client::files::kind_of(&metadata.file_type())
            )));
        }
        let locked = if writable {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(OpenError::Refused(format!(
                    "the journal {shown} is in use by another run (it is locked); wait for that run to end, or \
                     give another journal"
                )))
            }
            Err(TryLockError::Error(err)) => {
                return Err(OpenError::Io(format!("cannot lock the journal {shown}: {err}")))
            }
        }
        let mut journal = Journal {
            path: path.to_owned(),
            file: None,
            writable,
            history: HashMap::new(),
            undecodable: 0,
            unkeyed: 0,
            needs_newline: false,
            staged: Vec::new(),
        };
        journal
            .read(&file)
            .map_err(|err| OpenError::Io(format!("cannot read the journal {shown}: {err}")))?;
        journal.file = Some(file);
        Ok(journal)
    }

    fn read(&mut self, file: &File) -> io::Result<()> {
        for line in BoundedLines::new(BufReader::with_capacity(64 * 1024, file), MAX_RECORD_BYTES) {
            let line = line?;
            self.needs_newline = !line.terminated;
            if line.bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Seen>(&line.bytes) {
                Ok(seen) if !line.overflow => self.learn(seen),
                _ => self.undecodable += 1,
            }
        }
        Ok(())
    }

    /// Takes one record into the history of its token. Records without a key (invalid lines) say nothing about
    /// any token.
    fn learn(&mut self, seen: Seen) {
        let (Some(portfolio), Some(token), Some(body), Some(occurrence), Some(request_id)) =
            (seen.portfolio, seen.token, seen.body, seen.occurrence, seen.request_id)
        else {
            if seen.outcome == "updated" {
                self.unkeyed += 1;
            }
            return;
        };
        let key = Key {
            body: body.get().into(),
            occurrence,
        };
        let history = self.history.entry((portfolio, token)).or_default();
        let state = match seen.outcome.as_str() {
            "started" => {
                history.push(Entry {
                    key,
                    request_id,
                    state: State::Started,
                });
                return;
            }
            "updated" => State::Applied,
            "refused" | "failed" | "invalid" => State::Ended,
            _ => return,
        };
        match history
            .iter_mut()
            .rev()
            .find(|entry| entry.key == key && entry.request_id == request_id)
        {
            Some(entry) if entry.state == State::Started => entry.state = state,
            Some(_) => {}
            // A result whose `started` record was lost (cut) still tells what happened.
            None => history.push(Entry { key, request_id, state }),
        }
    }

    /// What earlier runs did to this token, in the order they started it (before [`Journal::take_history`]).
    pub fn history(&self, portfolio: uuid::Uuid, token: uuid::Uuid) -> &[Entry] {
        self.history.get(&(portfolio, token)).map_or(&[], Vec::as_slice)
    }

    /// Moves what earlier runs did out of the journal, for the planner to read while the run appends records.
    /// (The journal then has no history; [`Journal::has_records`] is for before.)
    pub fn take_history(&mut self) -> History {
        History(std::mem::take(&mut self.history))
    }

    /// How many records could not be decoded (cut short by a crash, or not the journal's).
    pub fn undecodable(&self) -> usize {
        self.undecodable
    }

    /// How many `updated` records carry no key (from an older etoro-token): they skip nothing.
    pub fn unkeyed(&self) -> usize {
        self.unkeyed
    }

    /// The path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the file already held records.
    pub fn has_records(&self) -> bool {
        !self.history.is_empty() || self.undecodable > 0 || self.unkeyed > 0
    }

    /// Appends one record with a single `write` call, with whatever was staged before it.
    #[cfg(test)]
    pub fn append(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.stage(record);
        self.write_staged()
    }

    /// Stages one record for the next [`Journal::write_staged`], serialized straight into the batch. Text from the
    /// network in it is escaped (the same JSON value), so `cat` or `tail -f` on the journal cannot drive a
    /// terminal either.
    pub fn stage(&mut self, record: &Record<'_>) {
        record.write_line(&mut self.staged);
    }

    /// Writes every staged record with a single `write` call: no userspace buffer holds them back afterwards.
    /// On an error the staged records are dropped (the run stops: their lines are not sent).
    pub fn write_staged(&mut self) -> io::Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let result = match (&self.file, self.writable) {
            (Some(file), true) => {
                if self.needs_newline {
                    // A record cut short ends the file: a newline first, so that it cannot swallow the next one.
                    self.staged.insert(0, b'\n');
                }
                let mut writer = file;
                writer.write_all(&self.staged)
            }
            _ => Err(io::Error::other("the journal was opened for reading only")),
        };
        self.staged.clear();
        // A failed write may have left part of a record: the next one starts on a line of its own (a blank line
        // is skipped when read).
        self.needs_newline = result.is_err();
        result
    }

    /// Forces the records to disk, at the end of a run.
    pub fn sync(&self) -> io::Result<()> {
        match (&self.file, self.writable) {
            (Some(file), true) => file.sync_data(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    const T: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";

    fn record(outcome: &str, body: &str, occurrence: u32, id: Uuid) -> String {
        json!({ "outcome": outcome, "portfolio": P, "token": T, "body": serde_json::from_str::<serde_json::Value>(body).unwrap(),
                "occurrence": occurrence, "requestId": id })
        .to_string()
    }

    fn ids() -> (Uuid, Uuid) {
        (P.parse().unwrap(), T.parse().unwrap())
    }

    #[test]
    fn started_then_result_and_cut_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let text = [
            record("started", r#"{"ipsWhitelist":["1.1.1.1"]}"#, 1, a),
            record("updated", r#"{"ipsWhitelist":["1.1.1.1"]}"#, 1, a),
            "not json at all".to_owned(),
            record("started", r#"{"ipsWhitelist":["2.2.2.2"]}"#, 1, b),
            record("failed", r#"{"ipsWhitelist":["2.2.2.2"]}"#, 1, b),
            json!({"outcome": "invalid", "line": 9, "error": "x"}).to_string(),
            record("started", r#"{"ipsWhitelist":["3.3.3.3"]}"#, 1, c),
        ]
        .join("\n");
        // The last record is cut in the middle.
        let cut = format!(
            "{text}\n{}",
            &record("updated", r#"{"ipsWhitelist":["3.3.3.3"]}"#, 1, c)[..30]
        );
        std::fs::write(&path, cut).unwrap();

        let (portfolio, token) = ids();
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.undecodable(), 2);
        let states: Vec<(u32, State, Uuid)> = journal
            .history(portfolio, token)
            .iter()
            .map(|entry| (entry.key.occurrence, entry.state, entry.request_id))
            .collect();
        assert_eq!(
            states,
            [(1, State::Applied, a), (1, State::Ended, b), (1, State::Started, c)]
        );
        let report = Report {
            outcome: "started",
            ..Report::default()
        };
        let record = Record {
            report,
            body: None,
            occurrence: None,
            input_prefix: None,
        };
        journal.append(&record).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            written.ends_with("\n{\"outcome\":\"started\"}\n"),
            "a newline ends the cut record first: {written:?}"
        );
    }

    #[test]
    fn staged_records_reach_the_file_together_in_order_and_only_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path).unwrap();
        fn record<'a>(outcome: &'static str, error: Option<&str>, input: Option<&'a RawValue>) -> Record<'a> {
            Record {
                report: Report {
                    line: Some(1),
                    outcome,
                    error: error.map(str::to_owned),
                    input,
                    ..Report::default()
                },
                body: None,
                occurrence: None,
                input_prefix: None,
            }
        }
        // An input line as given, with a tab between its fields.
        let input = RawValue::from_string("{\"a\":\t\"\u{202e}\"}".to_owned()).unwrap();
        journal.stage(&record("started", None, None));
        journal.stage(&record("updated", Some("\u{1b}[31m\u{9b}"), Some(&input)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "staged is not written");
        journal.write_staged().unwrap();
        journal.write_staged().unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            written,
            "{\"line\":1,\"outcome\":\"started\"}\n\
             {\"line\":1,\"outcome\":\"updated\",\"error\":\"\\u001b[31m\\u009b\",\"input\":{\"a\": \"\\u202e\"}}\n",
            "both, in order, once, escaped"
        );
        drop(journal);
        let mut reader = Journal::open_read_only(&path).unwrap();
        reader.stage(&record("started", None, None));
        assert!(reader.write_staged().is_err(), "a read-only journal refuses");
        assert!(
            reader.write_staged().is_ok(),
            "and drops what was staged: nothing is left to write"
        );
    }

    #[cfg(unix)]
    #[test]
    fn created_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new");
        let _journal = Journal::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn links_directories_devices_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for (path, says) in [
            (link.as_path(), "symbolic link"),
            (dir.path(), "directory"),
            (Path::new("/dev/null"), "device"),
            (fifo.as_path(), "FIFO"),
        ] {
            for open in [Journal::open, Journal::open_read_only] {
                match open(path) {
                    Err(OpenError::Refused(message)) => {
                        assert!(message.contains(says), "{}: {message}", path.display())
                    }
                    Err(OpenError::Io(message)) => panic!("{}: {message}", path.display()),
                    Ok(_) => panic!("{} was accepted", path.display()),
                }
            }
        }
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "",
            "nothing written through the link"
        );
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let first = Journal::open(&path).unwrap();
        match Journal::open(&path) {
            Err(OpenError::Refused(message)) => assert!(message.contains("in use"), "{message}"),
            _ => panic!("the second open must be refused"),
        }
        assert!(matches!(Journal::open_read_only(&path), Err(OpenError::Refused(_))));
        drop(first);
        assert!(Journal::open(&path).is_ok(), "free again once the first is closed");
    }

    #[test]
    fn results_without_a_key_are_counted_not_matched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old");
        let old = json!({ "line": 1, "outcome": "updated", "portfolio": P, "token": T, "requestId": Uuid::new_v4(),
                          "input": { "portfolio": P, "token": T, "ipsWhitelist": ["1.1.1.1"] } });
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.unkeyed(), 1);
        let (portfolio, token) = ids();
        assert!(journal.history(portfolio, token).is_empty());
    }

    #[test]
    fn a_dry_run_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let journal = Journal::open_read_only(&path).unwrap();
        assert!(!journal.has_records());
        assert!(!path.exists());
    }

    #[test]
    fn an_oversized_record_is_undecodable_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let huge = format!(
            "{{\"outcome\":\"updated\",\"pad\":\"{}\"}}\n",
            "x".repeat(MAX_RECORD_BYTES)
        );
        std::fs::write(&path, huge).unwrap();
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.undecodable(), 1);
    }
}
