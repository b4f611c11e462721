//! What every bulk command (`update --from`, and `apply` next) sets up before the engine runs: the journal,
//! locked first, and the pace and retry policy of its client.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use etoro_client::{ApiVersion, Pacer, RetryPolicy};

use super::journal::{Journal, OpenError};
use crate::connect::{connect, Connected};
use crate::exit::Exit;
use crate::options::Connection;
use crate::output;

/// eToro's documented quota: 60 requests per 60 seconds per user key, shared with every endpoint.
const ETORO_REQUESTS_PER_MINUTE: u32 = 60;

/// How long one line may take, its retries and waits for quota included, unless `--deadline` says otherwise:
/// long enough to wait out a 60-second window many times over when other traffic shares the key.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How many tokens are worked on at once, unless `--concurrency` says otherwise. Under a quota, more workers
/// only wait in the pacer's queue, where each holds a turn spaced as the pace stood when it queued (measured by
/// `cargo xtask bench`: 8 workers lose a quarter of the quota after every pause, 4 almost nothing); against a
/// local server without a quota, `--concurrency 64` goes faster.
pub const DEFAULT_CONCURRENCY: u16 = 4;

/// Opens the journal at `path`, if any: locked for a run, read only (and not created) for a dry run. The error
/// is the message to print and the exit code: 2 for a journal refused as given (a link, not a regular file, in
/// use by another run), 5 for one that cannot be read or created. Call it before reading anything else, so that
/// a second run is refused at once.
pub fn open_journal(path: Option<&Path>, dry_run: bool) -> Result<Option<Journal>, (String, Exit)> {
    let Some(path) = path else {
        return Ok(None);
    };
    let opened = if dry_run {
        Journal::open_read_only(path)
    } else {
        Journal::open(path)
    };
    match opened {
        Ok(journal) => Ok(Some(journal)),
        Err(OpenError::Refused(message)) => Err((message, Exit::Invalid)),
        Err(OpenError::Io(message)) => Err((message, Exit::LocalIo)),
    }
}

/// The retry policy of a bulk client: `attempts` after failures, and waits for quota (429) within `deadline`
/// per line instead of failing (a pause longer than that fails the line unsent, and stops the run).
fn retry_policy(attempts: u32, deadline: Option<Duration>) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .wait_for_quota(true)
        .deadline(deadline.unwrap_or(DEFAULT_DEADLINE))
}

/// The client of a bulk run: [`retry_policy`] and [`pacer`] for `connection`, `version` and `--rate`. A failure is
/// said here; the caller returns the exit code.
pub async fn connect_paced(connection: &Connection, version: ApiVersion, rate: Option<u32>) -> Result<Connected, Exit> {
    let retry = retry_policy(connection.attempts, connection.deadline);
    connect(connection, version, retry, Some(pacer(rate, connection)))
        .await
        .map_err(|(message, exit)| output::fail(&message, exit))
}

/// The pace of a bulk client: `--rate`, else eToro's quota against the real API, else (against the embedded mock
/// or a loopback server) no pace of its own. The server's `RateLimit-*` headers and 429s pace every attempt
/// either way.
fn pacer(rate: Option<u32>, connection: &Connection) -> Pacer {
    let rate = match rate {
        Some(rate) => Some(rate),
        None if connection.mock || is_loopback(&connection.base_url) => None,
        None => Some(ETORO_REQUESTS_PER_MINUTE),
    };
    match rate.and_then(NonZeroU32::new) {
        Some(rate) => Pacer::per_minute(rate),
        None => Pacer::unlimited(),
    }
}

/// The client's own rule (`Client::targets_loopback`), for the base URL before the client exists.
fn is_loopback(base_url: &str) -> bool {
    match url::Url::parse(base_url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_what_the_client_calls_loopback() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://127.8.9.10"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(is_loopback("http://LocalHost:80"));
        assert!(!is_loopback("https://public-api.etoro.com"));
        assert!(!is_loopback("http://10.0.0.1"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn the_real_api_gets_etoros_quota_and_a_local_server_none() {
        let connection = |base_url: &str, mock: bool| Connection {
            base_url: base_url.to_owned(),
            auth: None,
            timeout: None,
            attempts: 4,
            deadline: None,
            mock,
        };
        let real = connection(etoro_client::DEFAULT_BASE_URL, false);
        assert_eq!(pacer(None, &real).interval(), Duration::from_secs(1));
        assert_eq!(pacer(Some(120), &real).interval(), Duration::from_millis(500));
        assert_eq!(
            pacer(None, &connection("http://127.0.0.1:1", false)).interval(),
            Duration::ZERO
        );
        assert_eq!(
            pacer(None, &connection(etoro_client::DEFAULT_BASE_URL, true)).interval(),
            Duration::ZERO
        );
        assert_eq!(
            pacer(Some(6), &connection("http://127.0.0.1:1", false)).interval(),
            Duration::from_secs(10)
        );
        assert_eq!(retry_policy(3, None).total_deadline(), DEFAULT_DEADLINE);
        assert_eq!(
            retry_policy(3, Some(Duration::from_secs(5))).total_deadline(),
            Duration::from_secs(5)
        );
    }
}
