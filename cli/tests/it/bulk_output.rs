//! Standard output that goes away: closed (`| head -c0`) keeps the run's own exit code, never a panic's 101;
//! full (`> /dev/full`) is a local I/O failure, exit 5. For one update and for bulk mode.

#![cfg(unix)]

use std::process::{Command, Stdio};

use crate::support::bulk::*;
use etoro_mock::MockConfig;
use serde_json::json;
use uuid::Uuid;

/// Runs `command` with its standard output closed before it writes anything, as `| head -c0` does.
fn with_closed_stdout(mut command: Command) -> std::process::Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

fn with_full_stdout(mut command: Command) -> std::process::Output {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    command.stdout(full).stderr(Stdio::piped()).output().unwrap()
}

fn single(base_url: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("etoro-token"));
    command
        .env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .args(["update", "--base-url", base_url])
        .args([
            "--portfolio",
            &Uuid::new_v4().to_string(),
            "--token",
            &Uuid::new_v4().to_string(),
        ])
        .args(["--ip", "203.0.113.7"])
        .args(extra);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_keeps_the_exit_code_of_the_run() {
    let missing = Uuid::new_v4();
    let server = mock(MockConfig {
        missing: [missing].into(),
        ..MockConfig::default()
    })
    .await;
    for extra in [&[][..], &["--json"], &["--dry-run"]] {
        let output = with_closed_stdout(single(&server.base_url(), extra));
        assert_eq!(output.status.code(), Some(0), "{extra:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    }

    let dir = tempfile::tempdir().unwrap();
    let mut input = lines(20);
    input[7]["token"] = json!(missing);
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&input));
    for extra in [&["--json"][..], &["--json", "--dry-run"]] {
        let output = with_closed_stdout(bulk_process(&server.base_url(), &file, extra));
        let expected = if extra.contains(&"--dry-run") { 0 } else { 3 };
        assert_eq!(output.status.code(), Some(expected), "{extra:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"));
    }
    assert_eq!(
        server.requests().iter().filter(|r| r.status == 204).count(),
        2 + 19,
        "a closed stdout does not stop the work: the reader has what it wanted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_stdout_exits_5() {
    let server = mock(MockConfig::default()).await;
    for extra in [&[][..], &["--json"], &["--dry-run"]] {
        let output = with_full_stdout(single(&server.base_url(), extra));
        assert_eq!(output.status.code(), Some(5), "{extra:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("cannot write to standard output"));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(30)));
    let before = server.request_count();
    let output = with_full_stdout(bulk_process(
        &server.base_url(),
        &file,
        &["--json", "--concurrency", "1"],
    ));
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let message = stderr(&output);
    assert_eq!(
        message.matches("cannot write to standard output").count(),
        1,
        "said once: {message}"
    );
    assert!(
        message.contains("stopped by a local I/O failure"),
        "the summary goes to stderr then: {message}"
    );
    assert!(
        server.request_count() - before < 30,
        "the run stopped: results had nowhere to go"
    );
    let dry = with_full_stdout(bulk_process(&server.base_url(), &file, &["--dry-run"]));
    assert_eq!(dry.status.code(), Some(5), "{}", stderr(&dry));
}
