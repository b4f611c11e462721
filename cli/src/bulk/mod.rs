//! Bulk mode: many token updates through one engine, which `update --from FILE` feeds line by line from a thread
//! reading the file ([`update_from`]) and `apply` from its desired state in memory ([`source_of`]); either way the
//! engine reads [`Item`]s, a [`Batch`] at a time, from a bounded channel ([`run`]) and plans, sends and journals
//! each line as it arrives.
//! Memory holds the lines waiting for their token's turn, at most [`WAITING_PER_WORKER`] a worker (reading pauses
//! until they drain), not the file: the same for 20,000 lines as for 200,000.
//!
//! What the engine promises:
//! - **Per-token order**: the jobs of one (portfolio, token) run one after another in the order given, whatever
//!   their retries; different tokens run side by side, up to [`Options::concurrency`] at once. A token ends in
//!   the state its last job asks for.
//! - **One pace**: every attempt goes through the client, so through its [`etoro_client::Pacer`] (retries
//!   included); a 429 holds every worker (longer after each 429 in a row), and a job that meets one waits for
//!   quota within the client's deadline instead of failing. When eToro holds every request back for longer than
//!   that deadline, the job is not sent, the run stops at once ([`Stop::Quota`], exit 4) and every line not sent
//!   is left for a resume.
//! - **A journal** ([`journal::Journal`]): a `started` record with the request id before the first attempt of a
//!   job, its result after; a resumed run skips per token the longest prefix already done ([`plan`]; the lines
//!   of a token the journal knows are held until the input ends, since that prefix depends on all of them) and
//!   re-sends a job left unfinished under its request id. A journal that cannot be written stops the run (exit
//!   5): no new job starts, the ones in flight finish and are reported.
//! - **Signals**: the first Ctrl-C or SIGTERM stops every job not sent (those waiting for a turn or for quota
//!   included, at once), lets the requests in flight finish, prints the summary and how to resume (exit 130 or
//!   143); a second one quits at once.
//! - **Output**: with `json`, one JSON object per result on stdout in completion order (a journal record's
//!   shape), then the summary object; otherwise results and summary as text on stderr, with a progress line on a
//!   terminal.

mod from_file;
mod from_listing;
pub mod input;
pub mod interrupt;
pub mod journal;
mod lines;
mod occurrence;
mod outbox;
mod plan;
mod progress;
mod schedule;
pub mod setup;
mod source;
mod summary;
mod text;
mod turn;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::time::Duration;

use chrono::Utc;
use etoro_client::{CancellationToken, Client, Error};
use futures::stream::FuturesUnordered;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::exit::{exit_for, Exit};
use crate::output;
use crate::report::Report;

pub use from_file::{update_from, FromFile};
pub use from_listing::{run_from_listing, FromListing};
use input::InvalidLine;
use interrupt::Interrupt;
use journal::{Journal, Record};
use outbox::Outbox;
pub use plan::JournalUse;
use plan::{Planned, Planner};
use progress::{Progress, Snapshot};
use schedule::{Schedule, TokenId};
pub use source::{source_of, Batch, Item, READ_AHEAD};
pub use summary::{Desired, Stop, Summary};
use text::{announce, hint, invalid_text, text_of};

/// One update to make.
pub struct Job {
    /// Where it comes from (a line number), for messages and records.
    pub line: u64,
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The user token.
    pub token: Uuid,
    /// The update, already checked.
    pub update: etoro_client::TokenUpdate,
    /// The job's key in the journal: the request body in one canonical form (so that key order and whitespace
    /// do not matter). Jobs with the same portfolio, token and body are told apart by their order.
    pub body: Box<RawValue>,
    /// The input as given, recorded with the result.
    pub input: Box<RawValue>,
}

/// How to run the jobs.
pub struct Options {
    /// How many tokens are worked on at once (at least 1).
    pub concurrency: usize,
    /// Results as JSON objects on stdout, instead of text on stderr.
    pub json: bool,
    /// Print the requests instead of sending them.
    pub dry_run: bool,
    /// Where results are recorded, and what earlier runs did.
    pub journal: Option<Journal>,
    /// What the journal's earlier records are used for: skipping lines done, or only resuming unfinished ones.
    pub journal_use: JournalUse,
    /// For `apply`: what it decided before sending, counted in the summary (missing tokens exit 3).
    pub desired: Option<summary::Desired>,
    /// How many lines the input holds at most, when known beforehand (for the progress line's total).
    pub expected: Option<u64>,
    /// Keep the (portfolio, token) of every line updated in [`Summary::updated_tokens`] (off: memory stays
    /// flat in the number of lines).
    pub track_updated: bool,
}

/// How often the progress line is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// How many lines may wait for their token's turn before reading pauses, per worker: enough to keep every worker
/// busy, few enough that memory stays flat whatever the file's size.
const WAITING_PER_WORKER: usize = 64;

/// Runs the lines of `source` as they arrive under `options`, and returns what happened. It prints every result,
/// the summary and, when the run stopped early, how to resume. Memory holds the lines waiting for their turn (a
/// bounded number: reading pauses while they drain), not the file.
///
/// The engine is one task, on the caller's; on the CLI's one-thread runtime the connections it waits for share
/// its thread.
pub async fn run(client: &Client, source: mpsc::Receiver<Batch>, mut options: Options) -> Summary {
    let started = Instant::now();
    if let Some(journal) = &options.journal {
        announce(journal);
    }
    // The planner reads what earlier runs did while the engine appends this run's records.
    let resuming = match &options.journal {
        Some(journal) if journal.has_records() && options.journal_use == JournalUse::SkipDone => {
            Some(journal.path().display().to_string())
        }
        _ => None,
    };
    let history = options.journal.as_mut().map(Journal::take_history);
    // Every call of the run stops waiting when this is cancelled: by a signal, or by a quota pause past the
    // deadline.
    let stop_waiting = CancellationToken::new();
    let client = &client.with_cancellation(stop_waiting.clone());
    let concurrency = options.concurrency.max(1);
    let mut engine = Engine {
        client,
        stop_waiting,
        json: options.json,
        track_updated: options.track_updated,
        dry_run: options.dry_run,
        journal: RefCell::new(options.journal),
        summary: RefCell::new(Summary {
            desired: options.desired,
            exit: match options.desired {
                Some(desired) if desired.missing > 0 => Exit::Refused,
                _ => Exit::Success,
            },
            would_send: options.dry_run.then_some(0),
            ..Summary::default()
        }),
        stop: Cell::new(None),
        stdout_failed: Cell::new(false),
        outbox: Outbox::default(),
        interrupt: None,
        progress: Progress::new(),
        in_flight: Cell::new(0),
        done: Cell::new(0),
        planned: Cell::new(0),
        offered: Cell::new(0),
        expected: options.expected,
        schedule: RefCell::new(Schedule::new(concurrency, concurrency * WAITING_PER_WORKER)),
        started,
    };
    if !options.dry_run {
        engine.listen_for_signals();
    }
    let mut planner = Planner::new(history.as_ref(), options.journal_use);
    engine.stream(source, &mut planner, resuming.as_deref()).await;
    engine.summary.borrow_mut().skipped = planner.skipped;
    engine.end()
}

/// The state of one run. Every job runs on the engine's one task, so plain cells do.
struct Engine<'a> {
    client: &'a Client,
    /// Cancelled when no line may be sent any more: the lines waiting for a turn or for quota end at once.
    stop_waiting: CancellationToken,
    json: bool,
    track_updated: bool,
    dry_run: bool,
    journal: RefCell<Option<Journal>>,
    summary: RefCell<Summary>,
    stop: Cell<Option<Stop>>,
    /// Standard output failed (other than closed): nothing more is written to it, and the run stops.
    stdout_failed: Cell<bool>,
    /// What this turn of the engine writes, written together at its end.
    outbox: Outbox,
    interrupt: Option<Interrupt>,
    progress: Progress,
    in_flight: Cell<u64>,
    /// Lines sent that have a result.
    done: Cell<u64>,
    /// Lines planned to be sent so far.
    planned: Cell<u64>,
    /// Lines planned so far, whether sent, printed (dry run) or not sent (the run stopped).
    offered: Cell<u64>,
    /// How many lines the input holds at most, when known beforehand.
    expected: Option<u64>,
    /// The lines waiting for their token's turn, and the tokens running.
    schedule: RefCell<Schedule>,
    started: Instant,
}

impl Engine<'_> {
    fn listen_for_signals(&mut self) {
        let on_force = if self.journal.borrow().is_some() {
            format!(
                "The lines in flight have a `started` record; to resume them under the same request ids, run the \
                 same command again: {}",
                summary::this_command()
            )
        } else {
            "Without --journal, the lines in flight may or may not have been applied.".to_owned()
        };
        match Interrupt::listen(self.stop_waiting.clone(), on_force) {
            Ok(interrupt) => self.interrupt = Some(interrupt),
            Err(err) => output::note(&format!("warning: cannot listen for Ctrl-C: {err}")),
        }
    }

    /// Reads, plans and sends as lines arrive: tokens side by side, each token's lines in order. Once the run
    /// stops (a signal, a local I/O failure, a quota pause past the deadline), the rest of the input is still
    /// read, to count what was not sent, and nothing more is sent. Each turn of the loop ends by writing what it
    /// gathered ([`Engine::write_turn`]).
    async fn stream(&self, mut source: mpsc::Receiver<Batch>, planner: &mut Planner<'_>, resuming: Option<&str>) {
        let mut workers = FuturesUnordered::new();
        let mut reading = true;
        let mut tick = tokio::time::interval(TICK);
        loop {
            while let Some(id) = self.schedule.borrow_mut().start() {
                workers.push(self.token(id));
            }
            if !reading && workers.is_empty() {
                break;
            }
            let room = !self.schedule.borrow().full();
            tokio::select! {
                biased;
                () = poll_fn(|cx| self.poll_workers(&mut workers, cx)) => {}
                batch = source.recv(), if reading && room => match batch {
                    Some(batch) => {
                        let mut taken = batch.len();
                        self.take_all(batch, planner).await;
                        // What else the reader has ready, while there is room (a bounded number a turn, so that
                        // a file of invalid lines cannot grow the turn's output without bound).
                        while taken < READ_AHEAD && !self.schedule.borrow().full() {
                            let Ok(batch) = source.try_recv() else {
                                break;
                            };
                            taken += batch.len();
                            self.take_all(batch, planner).await;
                        }
                    }
                    None => {
                        reading = false;
                        let held = planner.finish();
                        if let Some(journal) = resuming {
                            // Known once every line is read: which prefix of a token is done depends on all of them.
                            let (skipped, offered) = (planner.skipped, self.offered.get() + held.len() as u64);
                            self.outbox.say(format!(
                                "resuming with the journal {journal}: {skipped} of {} line(s) already done, skipped",
                                skipped + offered
                            ));
                        }
                        for planned in held {
                            self.plan(planned).await;
                        }
                    }
                },
                _ = tick.tick(), if !self.dry_run => self.show(),
            }
            self.write_turn();
        }
        self.write_turn();
        debug_assert!(self.schedule.borrow().idle());
    }

    /// A batch of the input, item by item (the schedule may go over [`Schedule::full`] by less than a batch).
    async fn take_all(&self, batch: Batch, planner: &mut Planner<'_>) {
        for item in batch {
            self.take(item, planner).await;
        }
    }

    /// One item of the input.
    async fn take(&self, item: Item, planner: &mut Planner<'_>) {
        match item {
            Item::Job(job) => {
                if let Some(planned) = planner.add(job) {
                    self.plan(planned).await;
                }
            }
            Item::Invalid(bad) => self.report_invalid(bad),
            Item::Unreadable(message) => {
                if self.stop.get() != Some(Stop::LocalIo) {
                    self.outbox.say(format!("error: {message}; no new line is started"));
                }
                self.stop_for(Stop::LocalIo, Exit::LocalIo);
            }
        }
    }

    /// A planned line: printed (dry run), counted as not sent (the run has stopped), or queued for its token.
    async fn plan(&self, planned: Planned) {
        self.offered.set(self.offered.get() + 1);
        if self.dry_run {
            self.print_request(planned).await;
        } else if self.stopped() {
            self.summary.borrow_mut().not_sent += 1;
        } else {
            self.planned.set(self.planned.get() + 1);
            self.schedule.borrow_mut().push(planned);
        }
    }

    /// The lines of one token, one after another, as long as it has lines waiting.
    async fn token(&self, id: TokenId) {
        loop {
            let Some(planned) = self.schedule.borrow_mut().next(id) else {
                return;
            };
            if self.stopped() {
                self.summary.borrow_mut().not_sent += 1;
                continue;
            }
            self.line(planned).await;
        }
    }

    /// One line: its `started` record, the call (retries and waits for quota inside), its result.
    async fn line(&self, planned: Planned) {
        let Planned { job, key, resume_id } = planned;
        let Job {
            line,
            portfolio,
            token,
            update,
            body,
            input,
        } = job;
        let request_id = resume_id.unwrap_or_else(Uuid::new_v4);
        // A record of this line with only its outcome: `started`, or `not-sent`.
        let mark = |outcome| Record {
            report: Report {
                line: Some(line),
                outcome,
                portfolio: Some(portfolio),
                token: Some(token),
                request_id: Some(request_id),
                at: Some(Utc::now()),
                ..Report::default()
            },
            body: Some(&body),
            occurrence: Some(key.occurrence),
            input_prefix: None,
        };
        if !self.journal_started(&mark("started")).await {
            // Without its `started` record, a line must not be sent: a resume could not tell it was.
            self.summary.borrow_mut().not_sent += 1;
            return;
        }
        self.in_flight.set(self.in_flight.get() + 1);
        let result = self
            .client
            .update_user_token(portfolio, token, update)
            .request_id(request_id)
            .await;
        self.in_flight.set(self.in_flight.get() - 1);
        if let Err(err) = &result {
            if matches!(err, Error::QuotaWait(_)) {
                self.stop_for_quota(line, err);
            }
            if stopped_unsent(err) {
                self.summary.borrow_mut().not_sent += 1;
                // The `started` record answered: the journal tells the line was not sent; a resume sends it under
                // the same request id.
                self.journal_stage(&mark("not-sent"));
                return;
            }
        }
        self.done.set(self.done.get() + 1);
        if self.track_updated && result.is_ok() {
            self.summary.borrow_mut().updated_tokens.push((portfolio, token));
        }

        let mut report = match &result {
            Ok(updated) => Report::updated(updated),
            Err(err) => Report::failed(err),
        };
        report.line = Some(line);
        report.portfolio = Some(portfolio);
        report.token = Some(token);
        report.request_id = Some(request_id);
        report.at = Some(Utc::now());
        report.input = Some(&input);
        let outcome = report.outcome;
        let record = Record {
            report,
            body: Some(&body),
            occurrence: Some(key.occurrence),
            input_prefix: None,
        };
        self.journal_stage(&record);
        self.count(outcome, result.as_ref().err());
        self.emit(&record, || text_of(line, &result));
    }

    /// A line met a quota pause longer than its deadline: every line behind it would wait as long, so the run
    /// stops (exit 4), and the lines waiting for a turn end at once, not sent. Said once.
    fn stop_for_quota(&self, line: u64, err: &Error) {
        if self.stop.get().is_some() {
            return;
        }
        self.stop_for(Stop::Quota, Exit::Failed);
        self.outbox.say(format!(
            "line {line}: {err}; stopping the run, since every line not sent yet would wait as long"
        ));
    }

    /// Counts one result.
    fn count(&self, outcome: &str, err: Option<&Error>) {
        let mut summary = self.summary.borrow_mut();
        match outcome {
            "updated" => summary.updated += 1,
            "refused" => summary.refused += 1,
            "invalid" => summary.invalid += 1,
            _ => summary.failed += 1,
        }
        if let Some(err) = err {
            summary.exit = summary.exit.max(exit_for(err));
        }
    }

    /// Reports a line that could not become a job (and journals it, unless this is a dry run).
    fn report_invalid(&self, bad: InvalidLine) {
        let record = Record {
            report: Report::invalid_line(bad.number, bad.message.clone()),
            body: None,
            occurrence: None,
            input_prefix: bad.prefix.as_deref(),
        };
        if !self.dry_run {
            self.journal_stage(&record);
        }
        let mut summary = self.summary.borrow_mut();
        summary.invalid += 1;
        summary.exit = summary.exit.max(Exit::Invalid);
        drop(summary);
        self.emit(&record, || format!("{bad} (not sent)"));
    }

    /// `--dry-run`: the request of a line that would be sent (in its token's order: lines come in file order,
    /// and the lines held for the journal come after, token by token).
    async fn print_request(&self, planned: Planned) {
        if self.stdout_failed.get() {
            return;
        }
        let Planned { job, resume_id, .. } = planned;
        // What came before this request (an invalid line) is printed before it.
        self.write_turn();
        let call = self
            .client
            .update_user_token(job.portfolio, job.token, job.update)
            .request_id(resume_id.unwrap_or_else(Uuid::new_v4));
        match call.dry_run().await {
            Ok(request) => {
                if let Some(count) = self.summary.borrow_mut().would_send.as_mut() {
                    *count += 1;
                }
                if let Err(exit) = output::print_prepared(&request, self.json) {
                    self.stdout_failed.set(true);
                    self.stop_for(Stop::LocalIo, exit);
                }
            }
            Err(err) => {
                let mut summary = self.summary.borrow_mut();
                summary.invalid += 1;
                summary.exit = summary.exit.max(exit_for(&err));
                drop(summary);
                output::note(&invalid_text(job.line, &err));
            }
        }
    }

    /// Stops the run: no line starts, and the lines waiting for a turn or for quota end at once, not sent.
    fn stop_for(&self, stop: Stop, exit: Exit) {
        if self.stop.get().is_none() {
            self.stop.set(Some(stop));
        }
        self.stop_waiting.cancel();
        let mut summary = self.summary.borrow_mut();
        summary.exit = summary.exit.max(exit);
    }

    /// True once the run must start no more lines: a signal, a local I/O failure, a quota pause past the
    /// deadline.
    fn stopped(&self) -> bool {
        if self.stop.get().is_none() {
            if let Some(signal) = self.interrupt.as_ref().and_then(Interrupt::received) {
                self.stop.set(Some(Stop::Signal(signal)));
            }
        }
        self.stop.get().is_some()
    }

    /// Redraws the progress line (or, without a terminal, tells of a pause or a stop).
    fn show(&self) {
        self.stopped();
        let stopping = matches!(self.stop.get(), Some(Stop::Signal(_)));
        let pause = self.client.pacer().pause();
        let summary = self.summary.borrow();
        let known = self
            .expected
            .map_or(0, |expected| expected.saturating_sub(summary.invalid));
        let snapshot = Snapshot {
            total: known.max(self.planned.get()),
            done: self.done.get(),
            refused: summary.refused,
            failed: summary.failed,
            in_flight: self.in_flight.get(),
            elapsed: self.started.elapsed(),
            waiting: pause.map(|pause| {
                (
                    pause.until.saturating_duration_since(Instant::now()),
                    pause.cause.to_string(),
                )
            }),
            stopping,
        };
        drop(summary);
        self.progress.show(&snapshot, pause);
    }

    /// Syncs the journal, prints the summary and how to resume, and returns the summary.
    fn end(self) -> Summary {
        self.write_turn();
        self.progress.finish();
        self.stopped();
        let journaled = self.journal.borrow().is_some();
        if let Some(journal) = self.journal.borrow().as_ref() {
            if let Err(err) = journal.sync() {
                output::note(&format!(
                    "error: cannot sync the journal {} to disk: {err}",
                    journal.path().display()
                ));
                self.stop_for(Stop::LocalIo, Exit::LocalIo);
            }
        }
        {
            let mut summary = self.summary.borrow_mut();
            summary.elapsed = self.started.elapsed();
            summary.stopped = self.stop.get();
        }
        if self.json {
            let json = self.summary.borrow().to_json();
            self.print(&json);
        }
        if !self.json || self.stdout_failed.get() {
            output::note(&self.summary.borrow().to_text());
        }
        hint(&self.summary.borrow(), journaled);
        self.summary.into_inner()
    }
}

/// True for a line that ended before it was sent because the run is stopping: cancelled while waiting for its
/// turn, or held back by a quota pause longer than its deadline.
fn stopped_unsent(err: &Error) -> bool {
    matches!(err, Error::Cancelled { .. } | Error::QuotaWait(_)) && err.nothing_sent()
}
