//! The opt-in check of scope names against the list eToro allows, fetched once and kept for a bounded time.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::InvalidInput;

/// The allowed scope names, as last fetched.
///
/// No lock is held across the fetch: one caller fetches while the others wait for it (each within its own
/// deadline, see the callers), and if that fetch fails, the next waiter fetches in turn. So an outage costs each
/// caller its own deadline at most, not a place in a queue behind every other caller's retries.
#[derive(Debug)]
pub(crate) struct ScopeCache {
    ttl: Duration,
    state: Mutex<State>,
    fetched: Notify,
}

#[derive(Debug, Default)]
struct State {
    list: Option<(Instant, Arc<[String]>)>,
    fetching: bool,
}

impl ScopeCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        ScopeCache {
            ttl,
            state: Mutex::new(State::default()),
            fetched: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached list while it is younger than the TTL; otherwise the list `fetch` returns (which is cached), or
    /// the list another caller is fetching right now.
    pub(crate) async fn get<F, Fut, E>(&self, fetch: F) -> Result<Arc<[String]>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<String>, E>>,
    {
        let mut fetch = Some(fetch);
        loop {
            let waiting = {
                let mut state = self.lock();
                if let Some((fetched, names)) = &state.list {
                    if fetched.elapsed() < self.ttl {
                        return Ok(names.clone());
                    }
                }
                if state.fetching {
                    // Created under the lock: a `notify_waiters` after this point wakes it even before its first poll.
                    Some(self.fetched.notified())
                } else {
                    state.fetching = true;
                    None
                }
            };
            match (waiting, fetch.take()) {
                (Some(notified), fetch_later) => {
                    notified.await;
                    fetch = fetch_later;
                }
                (None, Some(fetch)) => {
                    // Clears `fetching` and wakes the waiters however the fetch ends, cancellation included.
                    let _done = Fetching(self);
                    let names: Arc<[String]> = fetch().await?.into();
                    self.lock().list = Some((Instant::now(), names.clone()));
                    return Ok(names);
                }
                (None, None) => unreachable!("a caller fetches at most once: it takes its closure to do so"),
            }
        }
    }
}

/// Marks the end of a fetch when dropped.
struct Fetching<'a>(&'a ScopeCache);

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        self.0.lock().fetching = false;
        self.0.fetched.notify_waiters();
    }
}

/// Refuses the first name not in `allowed`, naming the allowed ones.
pub(crate) fn check(names: &[String], allowed: &[String]) -> Result<(), InvalidInput> {
    match names.iter().position(|name| !allowed.contains(name)) {
        None => Ok(()),
        Some(index) => Err(InvalidInput::new(
            format!("scopeNames[{index}]"),
            format!(
                "{:?} is not among the scope names eToro allows: {}",
                names[index],
                allowed.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch_and_no_one_waits_behind_a_failure() {
        let cache = ScopeCache::new(Duration::from_secs(60));
        let fetches = AtomicUsize::new(0);
        let fetch = |fail: bool| {
            let fetches = &fetches;
            move || async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                if fail {
                    Err("outage")
                } else {
                    Ok(vec!["a".to_owned()])
                }
            }
        };
        // The first fetch fails; its waiter fetches in turn and succeeds; the third caller reuses that list.
        let (first, second) = tokio::join!(cache.get(fetch(true)), cache.get(fetch(false)));
        assert_eq!(first, Err("outage"));
        assert_eq!(second.unwrap().as_ref(), ["a".to_owned()]);
        assert_eq!(cache.get(fetch(false)).await.unwrap().len(), 1);
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_fetch_lets_the_next_caller_fetch() {
        let cache = ScopeCache::new(Duration::from_secs(60));
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, ()>(vec![])
        };
        assert!(tokio::time::timeout(Duration::from_secs(1), cache.get(slow))
            .await
            .is_err());
        let quick = || async { Ok::<_, ()>(vec!["b".to_owned()]) };
        assert_eq!(cache.get(quick).await.unwrap().as_ref(), ["b".to_owned()]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_list_expires_after_the_ttl() {
        let cache = ScopeCache::new(Duration::from_secs(10));
        let list = |name: &'static str| move || async move { Ok::<_, ()>(vec![name.to_owned()]) };
        assert_eq!(cache.get(list("old")).await.unwrap()[0], "old");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(cache.get(list("new")).await.unwrap()[0], "old");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(cache.get(list("new")).await.unwrap()[0], "new");
    }
}
