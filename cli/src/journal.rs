//! The bulk journal: one JSON object per result, appended and handed to the OS as soon as the result is known,
//! so killing the process loses no record of a request that completed.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::report::Report;

/// An open journal, and what earlier runs already did.
pub struct Journal {
    file: File,
    /// Line number -> the text of the input that was updated successfully on that line.
    done: HashMap<u64, String>,
}

/// The part of a record a resumed run needs.
#[derive(Deserialize)]
struct Done {
    line: u64,
    outcome: String,
    input: Option<Box<RawValue>>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads which lines already succeeded. Records that do not
    /// parse (a line cut short by a crash mid-write) are ignored: their update runs again.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut done = HashMap::new();
        if let Ok(existing) = File::open(path) {
            for line in BufReader::new(existing).lines() {
                let Ok(record) = serde_json::from_str::<Done>(&line?) else {
                    continue;
                };
                if let (true, Some(input)) = (record.outcome == "updated", record.input) {
                    done.insert(record.line, input.get().to_owned());
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal { file, done })
    }

    /// True when an earlier run updated exactly this input text on this line (an edited line runs again).
    pub fn already_done(&self, line: u64, input: &str) -> bool {
        self.done.get(&line).is_some_and(|done| done == input)
    }

    /// Appends one record with a single `write` call: no userspace buffer holds it back.
    pub fn append(&mut self, record: &Report<'_>) -> io::Result<()> {
        let mut bytes = record.to_json().into_bytes();
        bytes.push(b'\n');
        self.file.write_all(&bytes)
    }
}
