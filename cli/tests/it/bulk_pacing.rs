//! One pace for every attempt of a bulk run: `--rate` spaces retries too, a 429 holds every worker until its
//! `Retry-After`, a line waits for quota instead of failing, up to `--deadline`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::bulk::*;
use etoro_mock::{MockConfig, Quota};
use serde_json::json;

#[test]
fn a_429_holds_every_worker_until_its_retry_after_and_the_line_waits_instead_of_failing() {
    let server = Scripted::start(|index, _| match index {
        3 => (429, vec![("retry-after", "1".to_owned())]),
        _ => (204, vec![]),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(12)));

    let output = bulk(&server.base_url, &file, &["--concurrency", "4", "--attempts", "1"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("12 updated, 0 refused, 0 failed"),
        "{}",
        stderr(&output)
    );
    // `Retry-After: 1`, or the first backoff (about a second, ±25%) when that is longer.
    assert!(
        [
            "waiting 1 s for quota (429, Retry-After)",
            "waiting 2 s for quota (429, Retry-After)"
        ]
        .iter()
        .any(|said| stderr(&output).contains(said)),
        "the wait is said, with its cause: {}",
        stderr(&output)
    );
    let seen = server.seen();
    let limited = &seen[3];
    // Requests sent before the 429 was read may still arrive just after it: the window starts 300 ms later.
    let quiet = (limited.at + Duration::from_millis(300))..(limited.at + Duration::from_millis(950));
    assert!(
        seen.iter().all(|s| !quiet.contains(&s.at)),
        "no worker sent during the pause: {:?}",
        seen.iter().map(|s| s.at.duration_since(seen[0].at)).collect::<Vec<_>>()
    );
    let retried: Vec<&Seen> = seen.iter().filter(|s| s.request_id == limited.request_id).collect();
    assert_eq!(retried.len(), 2, "the rate-limited line was sent again");
    assert_eq!(retried[1].status, 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_of_the_server_is_waited_out_and_no_line_fails() {
    let server = mock(MockConfig {
        quota: Some("10/1s".parse::<Quota>().unwrap()),
        quota_background: Some("2/1s".parse::<Quota>().unwrap()),
        ..MockConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(30)));
    let started = Instant::now();

    let output = bulk(&server.base_url(), &file, &["--concurrency", "8", "--json"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["updated"], json!(30));
    assert_eq!(summary["summary"]["failed"], json!(0));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "30 lines at 10 a second, less the background: at least 3 windows"
    );
    let applied = server.requests().iter().filter(|r| r.status == 204).count();
    assert_eq!(applied, 30, "each line applied once");
}

#[test]
fn rate_spaces_every_attempt_retries_included() {
    // The first attempt of every line fails with a 503; the retry succeeds.
    let tried = Mutex::new(HashSet::new());
    let server = Scripted::start(move |_, seen| {
        if tried.lock().unwrap().insert(seen.request_id.clone()) {
            (503, vec![])
        } else {
            (204, vec![])
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(8)));

    // 300 a minute: one attempt every 200 ms, from 4 workers.
    let output = bulk(&server.base_url, &file, &["--concurrency", "4", "--rate", "300"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let seen = server.seen();
    assert_eq!(seen.len(), 16, "two attempts a line");
    let gaps: Vec<Duration> = seen
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect();
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(120)),
        "every attempt, retries included, is spaced (a busy machine may delay one by a little): {gaps:?}"
    );
    // Turns are fixed times 200 ms apart, so the whole cannot be shorter than 15 of them.
    assert!(seen[15].at.duration_since(seen[0].at) >= Duration::from_millis(2950));
}

#[test]
fn the_deadline_bounds_the_wait_for_quota() {
    let server = Scripted::start(|_, _| (429, vec![("retry-after", "1".to_owned())]));
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(1)));
    let started = Instant::now();

    let output = bulk(&server.base_url, &file, &["--deadline", "3s", "--json"])
        .output()
        .unwrap();

    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    // 429s in a row back off (1 s, then about 2 s): once the next wait would end past the 3 s deadline, the line
    // gives up at once rather than sleeping into it.
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(4),
        "it waited for quota while the deadline allowed, then gave up: {elapsed:?}"
    );
    let result: serde_json::Value = serde_json::from_str(stdout(&output).lines().next().unwrap()).unwrap();
    assert_eq!(result["outcome"], "failed");
    assert_eq!(result["status"], 429);
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("for quota (429, Retry-After)") && error.contains("the call's deadline leaves"),
        "the error says how long eToro asks to wait and that the deadline is shorter: {error}"
    );
    let sent = server.seen().len();
    assert!(
        (2..=3).contains(&sent),
        "it waited and tried again, backing off: {sent} requests"
    );
}
