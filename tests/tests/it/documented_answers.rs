//! Every error answer eToro documents, for every operation, replayed by a local server through the library: what
//! the error says, and how many requests the call sent. A refusal is sent once; a 5xx is retried up to the
//! attempts, but a create's never (a second create makes a second token); eToro's 429 is waited out with a backoff
//! and bounded by the deadline; a 429 `MaxUserTokensExceeded` is a refusal.
//!
//! The server runs on the test's paused clock: the waits take no real time, and the counts are exact.

use std::net::Ipv4Addr;
use std::time::Duration;

use etoro_client::{code, ApiVersion, Error, NewToken, RetryPolicy, TokenUpdate};
use etoro_mock::Operation as Op;
use serde_json::json;

use crate::support::*;

/// (status, errorCode, errorMessage), as eToro's documentation publishes them.
type Answer = (u16, &'static str, &'static str);

/// Every documented error answer of every operation ([`etoro_mock::documented_answers`]).
fn documented() -> Vec<(Op, Answer)> {
    etoro_mock::documented_answers()
        .into_iter()
        .map(|(op, answer)| (op, (answer.status, answer.error_code, answer.error_message)))
        .collect()
}

const ATTEMPTS: u32 = 3;
const DEADLINE: Duration = Duration::from_secs(30);

async fn call(op: Op, url: &str) -> Error {
    let version = if op == Op::UpdateV1 {
        ApiVersion::V1
    } else {
        ApiVersion::V2
    };
    let client = key_builder(url)
        .api_version(version)
        .retry(RetryPolicy::default().max_attempts(ATTEMPTS).deadline(DEADLINE))
        .build()
        .unwrap();
    let update = || TokenUpdate::new().ips_whitelist([Ipv4Addr::new(203, 0, 113, 7)]);
    let outcome = match op {
        Op::UpdateV1 | Op::UpdateV2 => client.update_user_token(portfolio(), token(), update()).await.err(),
        Op::Revoke => client.revoke_user_token(portfolio(), token()).await.err(),
        Op::Create => {
            let new = NewToken::new("trading-bot", ["etoro-public:trade.real:read"]);
            client.create_user_token(portfolio(), new).await.err()
        }
        Op::List => client.list_agent_portfolios().await.err(),
        Op::Scopes => client.allowed_scopes().await.err(),
        other => panic!("{other:?}: a new operation; call it here"),
    };
    outcome.unwrap_or_else(|| panic!("{op:?}: an error answer came back as a success"))
}

#[tokio::test(start_paused = true)]
async fn every_documented_error_answer_is_reported_and_retried_as_it_deserves() {
    for (op, (status, error_code, message)) in documented() {
        let what = format!("{op:?} answered {status} {error_code}");
        let body = json!({"errorCode": error_code, "errorMessage": message});
        let (url, seen) = answering(status, body, &[]).await;
        let started = tokio::time::Instant::now();
        let err = call(op, &url).await;
        let elapsed = started.elapsed();
        let sent = seen.lock().unwrap().len();

        assert_eq!(
            err.status().map(|status| status.as_u16()),
            Some(status),
            "{what}: {err}"
        );
        assert_eq!(err.code(), Some(error_code), "{what}");
        assert_eq!(err.message(), Some(message), "{what}");
        let text = err.to_string();
        assert!(text.contains(error_code) && text.contains(message), "{what}: {text}");
        assert!(elapsed <= DEADLINE, "{what}: ended after {elapsed:?}");
        match (status, error_code) {
            (429, code::TOO_MANY_REQUESTS) => {
                assert!(
                    err.is_rate_limited() && matches!(err, Error::QuotaWait(_)),
                    "{what}: {err:?}"
                );
                // 0, ~1, ~3, ~7, ~15 s: the next wait would end past the 30 s deadline.
                assert!((3..=6).contains(&sent), "{what}: {sent} requests in {elapsed:?}");
            }
            (500, _) if op == Op::Create => {
                assert_eq!(sent, 1, "{what}: a create is never repeated once it may have arrived");
                assert!(err.outcome_unknown(), "{what}");
                assert!(text.contains("list the agent-portfolio's tokens"), "{what}: {text}");
            }
            (500, _) => {
                assert_eq!(sent, ATTEMPTS as usize, "{what}: retried up to the attempts");
                assert_eq!(err.attempts(), ATTEMPTS, "{what}");
            }
            _ => {
                assert_eq!(sent, 1, "{what}: a refusal is sent once");
                assert!(!err.is_rate_limited() && !err.is_retryable(), "{what}");
            }
        }
    }
}
