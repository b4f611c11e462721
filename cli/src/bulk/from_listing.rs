//! The engine's entry for the commands that decide from a fresh listing what to send (`apply`, `edit`): the
//! jobs are in memory already (each token was compared with the listing, which is), so the engine takes them as
//! it takes a file, invalid lines first.

use etoro_client::Client;

use super::input::InvalidLine;
use super::journal::Journal;
use super::setup::DEFAULT_CONCURRENCY;
use super::{run, source_of, Desired, Item, Job, JournalUse, Options, Summary};

/// How a run decided from a listing goes.
pub struct FromListing {
    /// `--concurrency` (else the default).
    pub concurrency: Option<u16>,
    /// Results as JSON objects on stdout.
    pub json: bool,
    /// `--journal`, opened and locked.
    pub journal: Option<Journal>,
    /// What the command decided before sending, for the summary.
    pub desired: Desired,
    /// Keep every updated token in [`Summary::updated_tokens`] (for a read-back after the run).
    pub track_updated: bool,
}

/// Sends `jobs` (after reporting `invalid`) through the engine and returns what happened.
pub async fn run_from_listing(client: &Client, invalid: Vec<InvalidLine>, jobs: Vec<Job>, how: FromListing) -> Summary {
    let options = Options {
        concurrency: usize::from(how.concurrency.unwrap_or(DEFAULT_CONCURRENCY)),
        json: how.json,
        dry_run: false,
        journal: how.journal,
        // The listing just read says what differs: a journal that shows a line done must not hide a token changed
        // since (by `update`, the web site, another tool). It only gives back the request id of a send an earlier
        // run left unfinished.
        journal_use: JournalUse::ResumeOnly,
        expected: Some((invalid.len() + jobs.len()) as u64),
        desired: Some(how.desired),
        track_updated: how.track_updated,
    };
    let items = invalid
        .into_iter()
        .map(Item::Invalid)
        .chain(jobs.into_iter().map(Item::Job))
        .collect();
    run(client, source_of(items), options).await
}
