//! The in-process clients measured in turns: a block of requests each, in a rotating order, so that a change of
//! the machine's load hits every client alike.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use xtask::bench::{median, paired_ratio, Goal, Row};

use crate::clients::{self, Job, Sender, Which, Wire};
use crate::servers::{Kind, Servers};

/// `order` rotated by `round`, so no client always runs first.
pub fn rotated<T: Copy>(order: &[T], round: usize) -> Vec<T> {
    let mut items = order.to_vec();
    let len = items.len();
    items.rotate_left(round % len);
    items
}

/// The in-process clients every interleaved measurement compares.
pub const CLIENTS: [Which; 3] = [Which::Wrapper, Which::Reqwest, Which::Hyper];

/// How one interleaved measurement sends its requests.
#[derive(Clone, Copy)]
pub enum Pace {
    /// One request after another.
    Sequential,
    /// From this many tasks at once.
    Concurrent(usize),
}

/// Seconds each client spent on `blocks` blocks of `block` requests, per run.
///
/// A run starts a fresh target and one client of each kind, warms each up, then sends block after block,
/// taking turns (in a rotating order) every block: a block lasts tens of milliseconds, so a change of the
/// machine's load hits every client alike instead of whichever happened to run then.
pub fn interleaved(
    servers: &Servers,
    client_rt: &Runtime,
    kind: Kind,
    wire: &Wire,
    (runs, blocks, block, warmup): (usize, usize, usize, usize),
    pace: Pace,
) -> Result<BTreeMap<&'static str, Vec<f64>>, String> {
    let jobs = Arc::new(clients::jobs(block));
    let warmup = Arc::new(clients::jobs(warmup));
    let mut seconds: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let target = servers.target(kind).map_err(|err| err.to_string())?;
        let senders = CLIENTS
            .iter()
            .map(|&which| {
                let sender = Sender::new(which, target.base_url(), wire)?;
                sender.check_against_wrapper()?;
                Ok(Arc::new(sender))
            })
            .collect::<Result<Vec<_>, String>>();
        let totals = senders.and_then(|senders| {
            client_rt.block_on(async {
                let send = async |sender: &Arc<Sender>, jobs: &Arc<Vec<Job>>| match pace {
                    Pace::Sequential => clients::sequential(sender, jobs).await,
                    Pace::Concurrent(concurrency) => {
                        clients::concurrent(sender.clone(), jobs.clone(), concurrency).await
                    }
                };
                for sender in &senders {
                    send(sender, &warmup).await?;
                }
                let mut totals = [Duration::ZERO; CLIENTS.len()];
                for round in 0..blocks {
                    for index in rotated(&[0, 1, 2], round) {
                        totals[index] += send(&senders[index], &jobs).await?;
                    }
                }
                Ok::<_, String>(totals)
            })
        });
        let seen = target.requests_seen();
        servers.stop(target);
        let totals = totals?;
        let expected = CLIENTS.len() * (warmup.len() + blocks * block);
        if seen.is_some_and(|seen| seen != expected) {
            return Err(format!("the mock saw {seen:?} requests, expected {expected}"));
        }
        for (which, total) in CLIENTS.iter().zip(totals) {
            seconds.entry(which.key()).or_default().push(total.as_secs_f64());
        }
    }
    Ok(seconds)
}

/// Two clients compared: each one's per-run figures (`values`, by [`Which::key`]) shown with `show`, and the
/// median of their per-round ratios `ours / baseline` with its range, as the row's value.
pub fn compared_row(
    values: &BTreeMap<&str, Vec<f64>>,
    (ours, baseline): (Which, Which),
    measurement: String,
    show: impl Fn(f64) -> String,
    goal: Goal,
) -> Row {
    let (ours, baseline) = (&values[ours.key()], &values[baseline.key()]);
    let (ratio, low, high) = paired_ratio(ours, baseline);
    Row::new(measurement, show(median(ours)), show(median(baseline)), ratio, goal).with_range((low, high))
}

/// The per-round differences `ours[i] - baseline[i]`, as a median.
pub fn paired_difference(ours: &[f64], baseline: &[f64]) -> f64 {
    median(
        &ours
            .iter()
            .zip(baseline)
            .map(|(ours, base)| ours - base)
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_starts_each_round_with_another_client() {
        assert_eq!(rotated(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(rotated(&[1, 2, 3], 1), [2, 3, 1]);
        assert_eq!(rotated(&[1, 2, 3], 4), [2, 3, 1]);
    }
}
