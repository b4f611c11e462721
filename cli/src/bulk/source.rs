//! What the engine reads: the lines of the input, in file order, through a bounded channel, so that whoever
//! produces them (a thread reading a file, or a command holding them already) is never far ahead.
//!
//! Lines travel in batches of up to [`BATCH`]: one hand-over, and at most one wake-up of either side, per batch
//! rather than per line. (Line by line, the reader, always ahead, was woken and put back to sleep once per line
//! the engine took.)

use tokio::sync::mpsc;

use super::input::InvalidLine;
use super::Job;

/// What the engine reads, line by line, in file order.
pub enum Item {
    /// A line to send.
    Job(Job),
    /// A line that cannot be sent, and why.
    Invalid(InvalidLine),
    /// The input cannot be read further: what failed (the run stops, exit 5).
    Unreadable(String),
}

/// Consecutive items, handed over together.
pub type Batch = Vec<Item>;

/// The most items a [`Batch`] holds.
pub const BATCH: usize = 64;

/// How many items the reader may have ready ahead of the engine (in [`BATCH`]es).
pub const READ_AHEAD: usize = 256;

/// The channel from a reader to the engine: [`READ_AHEAD`] items at most.
pub fn channel() -> (mpsc::Sender<Batch>, mpsc::Receiver<Batch>) {
    mpsc::channel(READ_AHEAD / BATCH)
}

/// Sends `items` to a new source, from a task of their own (for a command whose lines are already in memory).
pub fn source_of(items: Vec<Item>) -> mpsc::Receiver<Batch> {
    let (sender, receiver) = channel();
    tokio::spawn(async move {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let batch = items.by_ref().take(BATCH).collect();
            if sender.send(batch).await.is_err() {
                break;
            }
        }
    });
    receiver
}
