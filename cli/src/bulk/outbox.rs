//! What the engine writes during one turn, written together at the turn's end: the journal's staged records
//! first (one `write`), then the results for standard output (one `write`) and the lines of text for standard
//! error (one `write`). A turn is one wake-up of the engine: every result that came in, every `started` record of
//! a line about to go. (Written line by line, 10,000 lines took 40,700 `write` calls; now about 1,600: `strace -c`.)
//!
//! A line that needs its `started` record written before it is sent takes a [`Ticket`] when it stages the record
//! and waits for [`Outbox::written`]: the engine's next write covers it.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use super::journal::Record;

/// The turn a staged record is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// The output of the current turn, and the lines waiting for it to be written.
#[derive(Default)]
pub struct Outbox {
    /// Escaped lines for standard output, each ended by a newline.
    stdout: RefCell<Vec<u8>>,
    /// Lines of text for standard error (escaped when written).
    stderr: RefCell<Vec<String>>,
    /// Something was staged in the journal during this turn.
    journal_staged: Cell<bool>,
    /// The turn being gathered; the ones before it are written.
    turn: Cell<u64>,
    /// The first turn whose journal write failed: its records and every later turn's are not on disk.
    failed_from: Cell<Option<u64>>,
    /// The lines waiting for the current turn's write.
    waiting: RefCell<Vec<Waker>>,
}

/// What a turn's end writes: taken out of the outbox, so that the writes borrow nothing of it.
pub struct Batch {
    /// For standard output, as it is to be written.
    pub stdout: Vec<u8>,
    /// Lines for standard error.
    pub stderr: Vec<String>,
    /// The journal has records staged.
    pub journal: bool,
}

impl Outbox {
    /// Notes that a journal record was staged, and returns the ticket of the write that will hold it.
    pub fn staged(&self) -> Ticket {
        self.journal_staged.set(true);
        Ticket(self.turn.get())
    }

    /// Adds a record, as a line of JSON, for standard output.
    pub fn print(&self, record: &Record<'_>) {
        record.write_line(&mut self.stdout.borrow_mut());
    }

    /// Adds a line of text for standard error.
    pub fn say(&self, text: String) {
        self.stderr.borrow_mut().push(text);
    }

    /// True when the turn has something to write.
    pub fn pending(&self) -> bool {
        self.journal_staged.get() || !self.stdout.borrow().is_empty() || !self.stderr.borrow().is_empty()
    }

    /// Takes what the turn gathered, for writing.
    pub fn take(&self) -> Batch {
        Batch {
            stdout: std::mem::take(&mut *self.stdout.borrow_mut()),
            stderr: std::mem::take(&mut *self.stderr.borrow_mut()),
            journal: self.journal_staged.replace(false),
        }
    }

    /// Ends the turn once its batch is written: `journal_ok` tells whether its journal records reached the file.
    /// Wakes the lines waiting for it.
    pub fn end_turn(&self, journal_ok: bool) {
        let turn = self.turn.get();
        if !journal_ok && self.failed_from.get().is_none() {
            self.failed_from.set(Some(turn));
        }
        self.turn.set(turn + 1);
        for waker in self.waiting.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Waits until the write that holds `ticket`'s record is done: true when the record is in the journal.
    pub async fn written(&self, ticket: Ticket) -> bool {
        poll_fn(|cx| {
            if self.turn.get() > ticket.0 {
                return Poll::Ready(self.failed_from.get().is_none_or(|failed| ticket.0 < failed));
            }
            self.waiting.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Context;

    use super::*;

    fn poll<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_line_waits_for_the_write_of_its_turn_and_learns_whether_it_failed() {
        let outbox = Outbox::default();
        let first = outbox.staged();
        let mut waiting = pin!(outbox.written(first));
        assert!(poll(waiting.as_mut()).is_pending(), "nothing is written yet");
        assert!(outbox.pending());
        let batch = outbox.take();
        assert!(batch.journal && !outbox.pending());
        outbox.end_turn(true);
        assert_eq!(poll(waiting.as_mut()), Poll::Ready(true));

        let second = outbox.staged();
        outbox.take();
        outbox.end_turn(false);
        let third = outbox.staged();
        outbox.take();
        outbox.end_turn(true);
        assert_eq!(poll(pin!(outbox.written(second))), Poll::Ready(false));
        assert_eq!(
            poll(pin!(outbox.written(third))),
            Poll::Ready(false),
            "a journal that failed once is not trusted after"
        );
        assert_eq!(
            poll(pin!(outbox.written(first))),
            Poll::Ready(true),
            "written before the failure"
        );
    }

    #[test]
    fn output_is_gathered_in_order_and_taken_once() {
        let record = |line| Record {
            report: crate::report::Report {
                line: Some(line),
                outcome: "updated",
                ..Default::default()
            },
            body: None,
            occurrence: None,
            input_prefix: None,
        };
        let outbox = Outbox::default();
        outbox.print(&record(1));
        outbox.say("line 1: updated".to_owned());
        outbox.print(&record(2));
        let batch = outbox.take();
        assert_eq!(
            batch.stdout,
            b"{\"line\":1,\"outcome\":\"updated\"}\n{\"line\":2,\"outcome\":\"updated\"}\n"
        );
        assert_eq!(batch.stderr, ["line 1: updated"]);
        assert!(!batch.journal);
        assert!(!outbox.pending());
        assert!(outbox.take().stdout.is_empty());
    }
}
