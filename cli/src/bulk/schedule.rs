//! Per-token order over a stream of lines, in bounded memory: a queue per token that has lines waiting or in
//! flight, and the tokens ready to start in the order they came. A line for a token already in flight waits
//! behind it, however far apart the two are in the file; a token's queue is dropped as soon as it is empty, so
//! what is held is what waits, not what was read. The reader stops when [`Schedule::full`] says so, until the
//! waiting lines drain.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use super::plan::Planned;

/// A token: its agent-portfolio and its id.
pub type TokenId = (Uuid, Uuid);

/// The lines waiting, per token, and the tokens ready to start.
pub struct Schedule {
    queues: HashMap<TokenId, VecDeque<Planned>>,
    ready: VecDeque<TokenId>,
    running: usize,
    waiting: usize,
    concurrency: usize,
    max_waiting: usize,
}

impl Schedule {
    /// Up to `concurrency` tokens at once; reading pauses while `max_waiting` lines wait.
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        Schedule {
            queues: HashMap::new(),
            ready: VecDeque::new(),
            running: 0,
            waiting: 0,
            concurrency: concurrency.max(1),
            max_waiting: max_waiting.max(1),
        }
    }

    /// Queues a line behind the earlier lines of its token.
    pub fn push(&mut self, planned: Planned) {
        let id = (planned.job.portfolio, planned.job.token);
        self.waiting += 1;
        match self.queues.get_mut(&id) {
            Some(queue) => queue.push_back(planned),
            None => {
                self.queues.insert(id, VecDeque::from([planned]));
                self.ready.push_back(id);
            }
        }
    }

    /// The next token to start, if one is ready and fewer than `concurrency` run.
    pub fn start(&mut self) -> Option<TokenId> {
        if self.running >= self.concurrency {
            return None;
        }
        let id = self.ready.pop_front()?;
        self.running += 1;
        Some(id)
    }

    /// The next line of a running token; `None` ends the token's turn (its queue is dropped, and a later line
    /// of it starts a new turn).
    pub fn next(&mut self, id: TokenId) -> Option<Planned> {
        let queue = self.queues.get_mut(&id)?;
        match queue.pop_front() {
            Some(planned) => {
                self.waiting -= 1;
                Some(planned)
            }
            None => {
                self.queues.remove(&id);
                self.running -= 1;
                None
            }
        }
    }

    /// True while so many lines wait that reading must pause.
    pub fn full(&self) -> bool {
        self.waiting >= self.max_waiting
    }

    /// True when no line waits and no token runs.
    pub fn idle(&self) -> bool {
        self.waiting == 0 && self.running == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::journal::Key;
    use crate::bulk::Job;

    fn line(number: u64, token: u128) -> Planned {
        Planned {
            job: Job {
                line: number,
                portfolio: Uuid::nil(),
                token: Uuid::from_u128(token),
                update: etoro_client::TokenUpdate::new(),
                body: serde_json::value::to_raw_value(&number).unwrap(),
                input: serde_json::value::to_raw_value(&number).unwrap(),
            },
            key: Key {
                body: "{}".into(),
                occurrence: 1,
            },
            resume_id: None,
        }
    }

    #[test]
    fn a_token_in_flight_keeps_its_later_lines_behind_it_and_others_run_beside() {
        let mut schedule = Schedule::new(2, 100);
        schedule.push(line(1, 1));
        schedule.push(line(2, 2));
        let first = schedule.start().unwrap();
        let second = schedule.start().unwrap();
        assert_eq!(schedule.start(), None, "two at once");
        assert_eq!(schedule.next(first).unwrap().job.line, 1);
        // Token 1's next line arrives while its first is in flight: it waits behind, not beside.
        schedule.push(line(3, 1));
        schedule.push(line(4, 3));
        assert_eq!(schedule.start(), None, "token 3 waits for a free slot");
        assert_eq!(schedule.next(first).unwrap().job.line, 3, "in order, on the same turn");
        assert!(schedule.next(first).is_none(), "token 1's turn ends");
        assert_eq!(schedule.start(), Some((Uuid::nil(), Uuid::from_u128(3))));
        assert_eq!(schedule.next(second).unwrap().job.line, 2);
        assert!(schedule.next(second).is_none());
        // A line for a token whose turn has ended starts a new turn.
        schedule.push(line(5, 1));
        assert_eq!(schedule.start(), Some((Uuid::nil(), Uuid::from_u128(1))));
    }

    #[test]
    fn reading_pauses_while_too_many_lines_wait() {
        let mut schedule = Schedule::new(1, 3);
        for number in 0..3 {
            schedule.push(line(number, 9));
        }
        assert!(schedule.full());
        let id = schedule.start().unwrap();
        schedule.next(id);
        assert!(!schedule.full());
        while schedule.next(id).is_some() {}
        assert!(schedule.idle());
    }
}
