//! What a run sends, and in which order: the lines of each token one after another in file order, tokens side by
//! side; and, with a journal, what earlier runs already did.
//!
//! The rule for skipping: per token, the longest prefix of its lines (in file order) that the journal shows as
//! done is skipped, and every line from the first one not done is sent again, in order. A prefix counts as done
//! only when the journal shows those lines as the last updates applied to the token, in that order (leaving out
//! the lines that are sent again anyway), so that an edited or reordered file can never leave a token in a state
//! the file does not end with.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::journal::{Entry, Journal, Key, State};
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

/// The work of a run.
pub struct Plan {
    /// One group per token, in the order each token first appears; within a group, file order.
    pub groups: Vec<Vec<Planned>>,
    /// Lines the journal shows as done.
    pub skipped: u64,
}

impl Plan {
    /// How many lines are to be sent.
    pub fn to_send(&self) -> u64 {
        self.groups.iter().map(|group| group.len() as u64).sum()
    }
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

/// Groups `jobs` by token, numbers the occurrences of identical inputs, and (with [`JournalUse::SkipDone`]) drops
/// what `journal` shows as done.
pub fn plan(jobs: Vec<Job>, journal: Option<&Journal>, usage: JournalUse) -> Plan {
    let mut index: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    let mut groups: Vec<Vec<Planned>> = Vec::new();
    let mut occurrences: HashMap<(Uuid, Uuid, Box<str>), u32> = HashMap::new();
    for job in jobs {
        let body: Box<str> = job.body.get().into();
        let count = occurrences.entry((job.portfolio, job.token, body.clone())).or_insert(0);
        *count += 1;
        let key = Key {
            body,
            occurrence: *count,
        };
        let slot = *index.entry((job.portfolio, job.token)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(Planned {
            job,
            key,
            resume_id: None,
        });
    }
    let mut skipped = 0;
    if let Some(journal) = journal {
        for group in &mut groups {
            let history = journal.history(group[0].job.portfolio, group[0].job.token);
            let keys: Vec<&Key> = group.iter().map(|planned| &planned.key).collect();
            let done = match usage {
                JournalUse::SkipDone => skippable(&keys, history),
                JournalUse::ResumeOnly => 0,
            };
            group.drain(..done);
            skipped += done as u64;
            for planned in group.iter_mut() {
                planned.resume_id = unfinished(history, &planned.key);
            }
        }
        groups.retain(|group| !group.is_empty());
    }
    Plan { groups, skipped }
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
