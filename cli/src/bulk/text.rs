//! What the engine says in words: the journal's warnings, each result as a line of text, and what to do next.

use etoro_client::{Error, Updated};

use super::journal::Journal;
use super::summary::{self, Summary};
use crate::output;

/// Says first what is wrong with the journal.
pub fn announce(journal: &Journal) {
    let shown = journal.path().display();
    if journal.undecodable() > 0 {
        output::note(&format!(
            "warning: the journal {shown} holds {} record(s) that cannot be read (cut short by a crash?): ignored",
            journal.undecodable()
        ));
    }
    if journal.unkeyed() > 0 {
        output::note(&format!(
            "warning: the journal {shown} holds {} result(s) of an older etoro-token, without the key of their \
             line: they skip nothing",
            journal.unkeyed()
        ));
    }
}

/// What to do next, when not everything was done.
pub fn hint(summary: &Summary, journaled: bool) {
    if summary.would_send.is_some() {
        return;
    }
    if summary.not_sent > 0 {
        if journaled {
            output::note("to resume (the journal skips what is done), run the same command again:");
            output::note(&format!("  {}", summary::this_command()));
        } else {
            output::note(&format!(
                "{} line(s) were not sent; without --journal, running the command again sends every line again \
                 (add --journal FILE to make a run resumable)",
                summary.not_sent
            ));
        }
    } else if journaled && summary.refused + summary.failed > 0 {
        output::note(
            "running the same command again sends again the lines that did not succeed (and the later lines of \
             their tokens); the others are skipped",
        );
    }
}

/// One result as a line of text.
pub fn text_of(line: u64, result: &Result<Updated, Error>) -> String {
    match result {
        Ok(updated) => format!(
            "line {line}: updated user token {} of agent-portfolio {} (request id {})",
            updated.token, updated.portfolio, updated.request_id
        ),
        Err(err) if err.is_invalid_input() => invalid_text(line, err),
        Err(err) => format!("line {line}: {}: {err}", crate::report::outcome_of(err)),
    }
}

/// "line N: invalid: FIELD: RULE (not sent)", said once (the library's own message says it too).
pub fn invalid_text(line: u64, err: &Error) -> String {
    match err {
        Error::InvalidInput(invalid) => format!("line {line}: invalid: {}: {} (not sent)", invalid.field, invalid.rule),
        other => format!("line {line}: invalid: {other}"),
    }
}
