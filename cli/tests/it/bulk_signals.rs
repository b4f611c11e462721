//! Ctrl-C and SIGTERM during a bulk run: no new line starts, the lines in flight finish and are journaled, the
//! summary and the command that resumes are printed, the exit code is 130 or 143; a second signal quits at once.

#![cfg(unix)]

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::bulk::*;
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::Value;

async fn slow_mock(latency: Duration) -> MockServer {
    mock(MockConfig {
        faults: Faults {
            latency,
            ..Faults::default()
        },
        ..MockConfig::default()
    })
    .await
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_starting_lines_and_the_resume_sends_no_line_twice() {
    let server = slow_mock(Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let mut input = lines(30);
    // Two tokens with three lines each, to interrupt a token in the middle of its lines.
    for i in [1, 2] {
        input[i]["portfolio"] = input[0]["portfolio"].clone();
        input[i]["token"] = input[0]["token"].clone();
        input[i + 10]["portfolio"] = input[10]["portfolio"].clone();
        input[i + 10]["token"] = input[10]["token"].clone();
    }
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&input));
    let child = spawn_journaled(&server.base_url(), &file, 3, &journal_path, &[]);
    assert!(
        journal_reaches(&journal_path, "updated", 4).await,
        "some results are in"
    );
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("interrupted (SIGINT)"), "the summary: {message}");
    assert!(message.contains(" not sent"), "{message}");
    assert!(
        message.contains(&format!("etoro-token update --base-url {} --from", server.base_url()))
            && message.contains(&format!("--journal {}", journal_path.display())),
        "the command that resumes: {message}"
    );
    assert!(
        !message.contains(API_KEY) && !message.contains(USER_KEY),
        "no credentials in it"
    );
    // Every line started was finished and journaled.
    let at_stop = journal(&journal_path);
    let started = records(&at_stop, "started").len();
    let updated = records(&at_stop, "updated").len();
    assert_eq!(started, updated, "the lines in flight finished");
    assert!(updated < 30, "stopped early: {updated}");
    assert_eq!(server.request_count(), updated);

    let resumed = bulk(&server.base_url(), &file, &["--concurrency", "3", "--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains(&format!("{updated} of 30 line(s) already done, skipped")),
        "{}",
        stderr(&resumed)
    );
    let grouped = by_input(&server);
    assert_eq!(grouped.len(), 30);
    for line in &input {
        let requests = &grouped[&(path_of(line), body_of(line).to_string())];
        assert_eq!(requests.len(), 1, "sent once: {line}");
        assert_eq!(requests[0].1, 204);
    }
    // Each token got its lines in file order, across both runs.
    let mut order: HashMap<String, Vec<Value>> = HashMap::new();
    for (path, body, _, _) in sent(&server) {
        order.entry(path).or_default().push(body);
    }
    for token in [0, 10] {
        let expected: Vec<Value> = (token..token + 3).map(|i| body_of(&input[i])).collect();
        assert_eq!(order[&path_of(&input[token])], expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_same_way_with_exit_143() {
    let server = slow_mock(Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(20)));
    let child = spawn_journaled(&server.base_url(), &file, 2, &journal_path, &["--json"]);
    assert!(journal_reaches(&journal_path, "updated", 2).await);
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["interrupted"], "SIGTERM");
    assert_eq!(summary["summary"]["exitCode"], 143);
    let not_sent = summary["summary"]["notSent"].as_u64().unwrap();
    let updated = summary["summary"]["updated"].as_u64().unwrap();
    assert!(not_sent > 0 && updated + not_sent == 20, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_quits_at_once() {
    let server = slow_mock(Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(6)));
    let child = bulk_process(&server.base_url(), &file, &["--concurrency", "2", "--journal"])
        .arg(&journal_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(30), || server.request_count() == 2).await);
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    signal(&child, libc::SIGINT);
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "it did not wait for the 5 s answers"
    );
    assert_eq!(output.status.code(), Some(130));
    let message = stderr(&output);
    assert!(message.contains("SIGINT again: quitting now"), "{message}");
    assert!(
        !message.contains("\\u000a"),
        "a line of its own, no escaped line break: {message}"
    );
    assert!(message.contains("same request ids"), "{message}");
}
