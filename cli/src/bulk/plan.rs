//! What a run sends, as lines arrive: with a journal, the key of each line, what earlier runs already did, and the
//! request id of a line an earlier run left unfinished.
//!
//! The rule for skipping: per token, the longest prefix of its lines (in file order) that the journal shows as
//! done is skipped, and every line from the first one not done is sent again, in order. A prefix counts as done
//! only when the journal shows those lines as the last updates applied to the token, in that order (leaving out
//! the lines that are sent again anyway), so that an edited or reordered file can never leave a token in a state
//! the file does not end with.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::journal::{Entry, History, Key, State};
use super::occurrence::Occurrences;
use super::Job;

/// One line to send.
pub struct Planned {
    /// The line.
    pub job: Job,
    /// Its key in the journal.
    pub key: Key,
    /// The `x-request-id` of an earlier run that started this line and recorded no result: the request may have
    /// reached eToro, so it is sent again under the same id.
    pub resume_id: Option<Uuid>,
}

/// What a journal of earlier runs is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalUse {
    /// `update --from`: skip, per token, the prefix of lines already done, and resume the unfinished ones under
    /// their request ids.
    SkipDone,
    /// `apply`: skip nothing (the fresh listing, not the journal, says what differs); only resume a line an
    /// earlier run left unfinished under its request id, since that send may have landed.
    ResumeOnly,
}

/// Plans lines as they arrive. A line of a token the journal knows nothing of is planned at once (nothing to
/// skip). With [`JournalUse::SkipDone`], the lines of a token the journal has history for are held until the
/// input ends, since which prefix is done depends on every line of that token; they are as many as the journal
/// knows of, not as many as the file holds.
pub struct Planner<'j> {
    journal: Option<&'j History>,
    usage: JournalUse,
    occurrences: Option<Occurrences>,
    held: HashMap<(Uuid, Uuid), Vec<Planned>>,
    held_order: Vec<(Uuid, Uuid)>,
    /// Lines the journal shows as done (known once [`Planner::finish`] has run).
    pub skipped: u64,
}

impl<'j> Planner<'j> {
    /// A planner for a run with `journal` (occurrences are only numbered when there is one: they key it).
    pub fn new(journal: Option<&'j History>, usage: JournalUse) -> Self {
        Planner {
            journal,
            usage,
            occurrences: journal.map(|_| Occurrences::new()),
            held: HashMap::new(),
            held_order: Vec::new(),
            skipped: 0,
        }
    }

    /// Plans one line: `Some` when it can be sent (in its token's order), `None` when it is held.
    pub fn add(&mut self, job: Job) -> Option<Planned> {
        let occurrence = match &mut self.occurrences {
            Some(occurrences) => occurrences.next(job.portfolio, job.token, job.body.get()),
            None => 1,
        };
        let key = Key {
            body: job.body.get().into(),
            occurrence,
        };
        let Some(journal) = self.journal else {
            return Some(Planned {
                job,
                key,
                resume_id: None,
            });
        };
        let id = (job.portfolio, job.token);
        let history = journal.of(id.0, id.1);
        if self.usage == JournalUse::ResumeOnly || history.is_empty() {
            let resume_id = unfinished(history, &key);
            return Some(Planned { job, key, resume_id });
        }
        self.held
            .entry(id)
            .or_insert_with(|| {
                self.held_order.push(id);
                Vec::new()
            })
            .push(Planned {
                job,
                key,
                resume_id: None,
            });
        None
    }

    /// Once the input has ended: the held lines of each token, less the prefix the journal shows as done, in the
    /// order each token first came.
    pub fn finish(&mut self) -> Vec<Planned> {
        let Some(journal) = self.journal else {
            return Vec::new();
        };
        let mut planned = Vec::new();
        for id in std::mem::take(&mut self.held_order) {
            let Some(mut group) = self.held.remove(&id) else {
                continue;
            };
            let history = journal.of(id.0, id.1);
            let keys: Vec<&Key> = group.iter().map(|planned| &planned.key).collect();
            let done = skippable(&keys, history);
            group.drain(..done);
            self.skipped += done as u64;
            for line in &mut group {
                line.resume_id = unfinished(history, &line.key);
            }
            planned.extend(group);
        }
        planned
    }
}

/// How many leading `lines` of one token can be skipped given the token's `history`.
fn skippable(lines: &[&Key], history: &[Entry]) -> usize {
    let applied: HashSet<&Key> = history
        .iter()
        .filter(|entry| entry.state == State::Applied)
        .map(|entry| &entry.key)
        .collect();
    let done = lines.iter().take_while(|key| applied.contains(**key)).count();
    (1..=done)
        .rev()
        .find(|&count| ends_with(history, &lines[..count], &lines[count..]))
        .unwrap_or(0)
}

/// Whether the history, without the entries of `later` lines (sent again anyway), ends with `prefix` applied in
/// that order. Back-to-back entries of one line count once (applied if any of them was): sending a line again
/// right after itself changes nothing.
fn ends_with(history: &[Entry], prefix: &[&Key], later: &[&Key]) -> bool {
    let later: HashSet<&Key> = later.iter().copied().collect();
    let mut collapsed: Vec<(&Key, bool)> = Vec::new();
    for entry in history.iter().filter(|entry| !later.contains(&entry.key)) {
        let applied = entry.state == State::Applied;
        match collapsed.last_mut() {
            Some((key, was_applied)) if **key == entry.key => *was_applied |= applied,
            _ => collapsed.push((&entry.key, applied)),
        }
    }
    let Some(start) = collapsed.len().checked_sub(prefix.len()) else {
        return false;
    };
    collapsed[start..]
        .iter()
        .zip(prefix)
        .all(|((key, applied), expected)| *applied && key == expected)
}

/// The request id of the latest run of `key`, when that run recorded no result.
fn unfinished(history: &[Entry], key: &Key) -> Option<Uuid> {
    history
        .iter()
        .rev()
        .find(|entry| entry.key == *key)
        .filter(|entry| entry.state == State::Started)
        .map(|entry| entry.request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            body: name.into(),
            occurrence: 1,
        }
    }

    fn entry(name: &str, state: State) -> Entry {
        Entry {
            key: key(name),
            request_id: Uuid::from_u128(name.bytes().map(u128::from).sum()),
            state,
        }
    }

    fn skip(lines: &[&str], history: &[Entry]) -> usize {
        let keys: Vec<Key> = lines.iter().map(|name| key(name)).collect();
        let refs: Vec<&Key> = keys.iter().collect();
        skippable(&refs, history)
    }

    use State::{Applied, Ended, Started};

    #[test]
    fn the_done_prefix_is_skipped_and_the_rest_sent_again() {
        let history = [entry("a", Applied), entry("b", Applied)];
        assert_eq!(skip(&["a", "b"], &history), 2, "all done");
        assert_eq!(skip(&["a", "b", "c"], &history), 2, "a line added at the end");
        assert_eq!(
            skip(&["z", "a", "b"], &history),
            0,
            "a line added at the top: all again"
        );
        assert_eq!(
            skip(&["a", "z", "b"], &history),
            1,
            "a line added in the middle: from it on, again"
        );
        assert_eq!(skip(&["a"], &[]), 0, "nothing done");
    }

    #[test]
    fn a_line_in_flight_when_killed_does_not_stop_the_prefix() {
        let history = [entry("a", Applied), entry("b", Applied), entry("c", Started)];
        assert_eq!(skip(&["a", "b", "c", "d"], &history), 2);
        let failed = [entry("a", Applied), entry("b", Ended), entry("c", Applied)];
        assert_eq!(skip(&["a", "b", "c"], &failed), 1, "b failed: from b on, again");
    }

    #[test]
    fn an_edited_file_never_leaves_an_older_state() {
        // The file said a, b, a (twice the same input) and ran; now it ends with b.
        let twice = Key {
            body: "a".into(),
            occurrence: 2,
        };
        let mut history = vec![entry("a", Applied), entry("b", Applied)];
        history.push(Entry {
            key: twice,
            request_id: Uuid::nil(),
            state: Applied,
        });
        assert_eq!(
            skip(&["a", "b"], &history),
            0,
            "the token holds a, the file ends with b"
        );
        // An update that is not in the file any more came after a: a is sent again.
        assert_eq!(skip(&["a", "c"], &[entry("a", Applied), entry("x", Applied)]), 0);
        // Reordered: c, then b was applied before; the file now says b, c: b's prefix holds, c is sent.
        assert_eq!(skip(&["b", "c"], &[entry("c", Applied), entry("b", Applied)]), 1);
        // An unknown outcome after the prefix may have changed the token.
        assert_eq!(skip(&["a"], &[entry("a", Applied), entry("x", Started)]), 0);
        assert_eq!(
            skip(&["a"], &[entry("a", Applied), entry("a", Ended)]),
            1,
            "the same line again changes nothing"
        );
    }

    #[test]
    fn only_an_unfinished_line_keeps_its_request_id() {
        let history = [entry("a", Applied), entry("b", Started), entry("c", Ended)];
        assert_eq!(unfinished(&history, &key("a")), None);
        assert_eq!(unfinished(&history, &key("b")), Some(history[1].request_id));
        assert_eq!(
            unfinished(&history, &key("c")),
            None,
            "a recorded failure is a new call"
        );
        assert_eq!(unfinished(&history, &key("d")), None);
    }
}
