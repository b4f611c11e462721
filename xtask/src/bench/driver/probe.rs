//! `xtask-bench probe CLIENT TARGET N CONCURRENCY`: one in-process workload alone, to profile it.

use std::sync::Arc;

use tokio::runtime::Runtime;

use crate::clients::{self, Sender, Which, Wire};
use crate::servers::{Kind, Servers};

/// One workload with its warm-up, in this process, then its rate on stdout.
pub fn probe(which: Which, kind: Kind, n: usize, concurrency: usize) -> Result<(), String> {
    let servers = Servers::start().map_err(|err| err.to_string())?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let wire = client_rt.block_on(Wire::discover())?;
    let (warmup, jobs) = (Arc::new(clients::jobs(concurrency * 4)), Arc::new(clients::jobs(n)));
    let expected = warmup.len() + n;
    let elapsed = with_client(
        &servers,
        &client_rt,
        kind,
        which,
        &wire,
        expected,
        async move |sender| {
            clients::concurrent(sender.clone(), warmup, concurrency).await?;
            clients::concurrent(sender, jobs, concurrency).await
        },
    )?;
    println!(
        "{} -> {}: {n} updates, c={concurrency}: {:.3} s, {:.0} req/s",
        which.key(),
        kind.key(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Runs `work` with a fresh target of `kind` and a fresh client; checks the mock saw `expected` requests.
fn with_client<T>(
    servers: &Servers,
    client_rt: &Runtime,
    kind: Kind,
    which: Which,
    wire: &Wire,
    expected: usize,
    work: impl AsyncFnOnce(Arc<Sender>) -> Result<T, String>,
) -> Result<T, String> {
    let target = servers.target(kind).map_err(|err| err.to_string())?;
    let sender = Arc::new(Sender::new(which, target.base_url(), wire)?);
    sender.check_against_wrapper()?;
    let result = client_rt.block_on(work(sender));
    let seen = target.requests_seen();
    servers.stop(target);
    let value = result?;
    if let Some(seen) = seen {
        if seen != expected {
            return Err(format!("the mock saw {seen} requests, expected {expected}"));
        }
    }
    Ok(value)
}
