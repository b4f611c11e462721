//! The opt-in check of scope names against the list eToro allows, fetched once and kept for a bounded time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::error::InvalidInput;

/// The allowed scope names, as last fetched.
#[derive(Debug)]
pub(crate) struct ScopeCache {
    ttl: Duration,
    // A tokio mutex held across the fetch: concurrent updates wait for one lookup instead of each sending one.
    slot: Mutex<Option<(Instant, Arc<[String]>)>>,
}

impl ScopeCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        ScopeCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached list while it is younger than the TTL; otherwise the list `fetch` returns, which is cached.
    pub(crate) async fn get<F, Fut, E>(&self, fetch: F) -> Result<Arc<[String]>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((fetched, names)) = slot.as_ref() {
            if fetched.elapsed() < self.ttl {
                return Ok(names.clone());
            }
        }
        let names: Arc<[String]> = fetch().await?.into();
        *slot = Some((Instant::now(), names.clone()));
        Ok(names)
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
