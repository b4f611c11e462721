//! What the engine reads: the lines of the input, in file order, through a bounded channel, so that whoever
//! produces them (a thread reading a file, or a command holding them already) is never far ahead.

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

/// How many items the reader may have ready ahead of the engine.
pub const READ_AHEAD: usize = 256;

/// Sends `items` to a new source, from a task of their own (for a command whose lines are already in memory).
pub fn source_of(items: Vec<Item>) -> mpsc::Receiver<Item> {
    let (sender, receiver) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        for item in items {
            if sender.send(item).await.is_err() {
                break;
            }
        }
    });
    receiver
}
