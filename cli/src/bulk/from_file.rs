//! `etoro-token update --from FILE`: the journal locked first, the file read and checked, the client built with
//! the bulk pace and retry policy, then the engine.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use etoro_client::{Pacer, RetryPolicy};

use super::input::{self, InvalidLine};
use super::journal::{Journal, OpenError};
use super::{Job, Options, Stop};
use crate::args::UpdateArgs;
use crate::connect::connect;
use crate::exit::Exit;
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

/// Runs `update --from path`. After a signal, the process exits here with 130 or 143.
pub async fn update_from(args: &UpdateArgs, path: &Path) -> Exit {
    // The lock first: a second run on the same journal is refused before anything is read or sent.
    let journal = match args.journal.as_deref() {
        None => None,
        Some(journal) => {
            let opened = if args.dry_run {
                Journal::open_read_only(journal)
            } else {
                Journal::open(journal)
            };
            match opened {
                Ok(journal) => Some(journal),
                Err(OpenError::Refused(message)) => return fail(&message, Exit::Invalid),
                Err(OpenError::Io(message)) => return fail(&message, Exit::LocalIo),
            }
        }
    };
    let shown = if path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let lines = match input::open(path).and_then(|reader| input::read(reader, &[])) {
        Ok(lines) => lines,
        Err(err) => return fail(&format!("cannot read {shown}: {err}"), Exit::LocalIo),
    };
    let version = args.api.into();
    let mut jobs = Vec::with_capacity(lines.len());
    let mut invalid = Vec::new();
    for line in lines {
        let line = match line {
            Ok(line) => line,
            Err(bad) => {
                invalid.push(bad);
                continue;
            }
        };
        match line.update(version) {
            Ok(update) => jobs.push(Job {
                line: line.number,
                portfolio: line.portfolio,
                token: line.token,
                update,
                body: line.canonical_body(),
                input: line.input,
            }),
            Err(message) => invalid.push(InvalidLine {
                number: line.number,
                message,
                prefix: None,
            }),
        }
    }

    let retry = RetryPolicy::default()
        .max_attempts(args.connection.attempts)
        .deadline(args.deadline.unwrap_or(DEFAULT_DEADLINE));
    let connected = match connect(&args.connection, version, retry, Some(pacer(args))).await {
        Ok(connected) => connected,
        Err((message, exit)) => return fail(&message, exit),
    };
    let options = Options {
        concurrency: usize::from(args.concurrency.unwrap_or(DEFAULT_CONCURRENCY)),
        json: args.json,
        dry_run: args.dry_run,
        journal,
    };
    let summary = super::run(&connected.client, jobs, invalid, options).await;
    if let Some(Stop::Signal(signal)) = summary.stopped {
        drop(connected);
        std::process::exit(signal.exit_code());
    }
    summary.exit
}

fn fail(message: &str, exit: Exit) -> Exit {
    output::note(&format!("error: {message}"));
    exit
}

/// `--rate`, else eToro's quota against the real API, else (against the embedded mock or a loopback server) no
/// pace of its own: the server's `RateLimit-*` headers and 429s still pace every request.
fn pacer(args: &UpdateArgs) -> Pacer {
    let rate = match args.rate {
        Some(rate) => Some(rate),
        None if args.connection.mock || is_loopback(&args.connection.base_url) => None,
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
}
