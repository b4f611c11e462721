//! The end of each turn of the engine: what the turn gathered (journal records, results, text) written with one
//! `write` each ([`outbox`](super::outbox)), and the lines that wait for their `started` record woken. A turn is one
//! wake-up of the engine's task: every token that was woken is polled until none is ready, then the turn writes.

use std::future::Future;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};

use super::journal::Record;
use super::outbox::Ticket;
use super::{Engine, Stop};
use crate::exit::Exit;
use crate::output;

impl Engine<'_> {
    /// Polls every token that was woken, until none is ready: ready once a token has finished (its slot is free)
    /// or the turn has something to write (a line may be waiting for its `started` record to be written).
    pub(super) fn poll_workers<F>(&self, workers: &mut FuturesUnordered<F>, cx: &mut Context<'_>) -> Poll<()>
    where
        F: Future<Output = ()>,
    {
        let mut finished = false;
        while let Poll::Ready(Some(())) = workers.poll_next_unpin(cx) {
            finished = true;
        }
        if finished || self.outbox.pending() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Writes what this turn gathered: the journal's records (one `write`), then the results on standard output
    /// and the text on standard error; then wakes the lines waiting for their `started` record.
    pub(super) fn write_turn(&self) {
        if !self.outbox.pending() {
            return;
        }
        let mut batch = self.outbox.take();
        let mut journal_ok = true;
        if batch.journal {
            if let Some(journal) = self.journal.borrow_mut().as_mut() {
                if let Err(err) = journal.write_staged() {
                    journal_ok = false;
                    if self.stop.get() != Some(Stop::LocalIo) {
                        batch.stderr.push(format!(
                            "error: cannot write the journal {}: {err}; no new line is started",
                            journal.path().display()
                        ));
                    }
                    self.stop_for(Stop::LocalIo, Exit::LocalIo);
                }
            }
        }
        if !batch.stdout.is_empty() && !self.stdout_failed.get() {
            if let Err(exit) = output::write_stdout(&batch.stdout) {
                self.stdout_failed.set(true);
                self.stop_for(Stop::LocalIo, exit);
            }
        }
        self.progress.say_all(&batch.stderr);
        self.outbox.end_turn(journal_ok);
    }

    /// Stages a record for the journal, if there is one: written at the end of the turn, whose ticket this returns.
    pub(super) fn journal_stage(&self, record: &Record<'_>) -> Option<Ticket> {
        let mut journal = self.journal.borrow_mut();
        journal.as_mut()?.stage(record);
        Some(self.outbox.staged())
    }

    /// Stages a line's `started` record and waits until it is written: false when it could not be (the journal
    /// failed, the run stops). True at once without a journal.
    pub(super) async fn journal_started(&self, record: &Record<'_>) -> bool {
        match self.journal_stage(record) {
            Some(ticket) => self.outbox.written(ticket).await,
            None => true,
        }
    }

    /// Prints one result: the record on stdout with `--json`, else a line of text on stderr; at the end of the
    /// turn.
    pub(super) fn emit(&self, record: &Record<'_>, text: impl FnOnce() -> String) {
        if !self.json {
            self.outbox.say(text());
        } else if !self.stdout_failed.get() {
            self.outbox.print(record);
        }
    }

    /// Writes one line on standard output at once, until that fails once.
    pub(super) fn print(&self, line: &str) {
        if self.stdout_failed.get() {
            return;
        }
        if let Err(exit) = output::line(line) {
            self.stdout_failed.set(true);
            self.stop_for(Stop::LocalIo, exit);
        }
    }
}
