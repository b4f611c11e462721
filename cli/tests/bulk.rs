//! `etoro-token update --from FILE.jsonl`: every line accounted for, faults survived, resumable, kill-safe.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use assert_cmd::Command;
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::{json, Value};
use uuid::Uuid;

fn lines(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "portfolio": Uuid::new_v4(),
                "token": Uuid::new_v4(),
                "scopeNames": ["etoro-public:trade.real:read"],
                "ipsWhitelist": [format!("203.0.113.{}", i % 250 + 1)],
            })
        })
        .collect()
}

fn write_file(lines: &[String]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    file
}

fn bulk(server: &MockServer, file: &std::path::Path, journal: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("etoro-token").unwrap();
    cmd.env_clear()
        .env("ETORO_API_KEY", "bulk-api-key")
        .env("ETORO_USER_KEY", "bulk-user-key")
        .args(["update", "--base-url", &server.base_url(), "--from"])
        .arg(file)
        .arg("--journal")
        .arg(journal)
        .args(extra)
        .timeout(Duration::from_secs(120));
    cmd
}

fn journal(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every journal record is whole JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_with_faults_accounts_for_every_line() {
    let config = MockConfig {
        faults: Faults {
            rate_limit_every: Some(4),
            retry_after: Duration::ZERO,
            error_rate: 0.2,
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let mut text: Vec<String> = lines(40).iter().map(Value::to_string).collect();
    text[9] = r#"{"portfolio": "not-a-uuid", "token": "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"}"#.to_owned();
    text[19] = json!({"portfolio": Uuid::new_v4(), "token": Uuid::new_v4(), "scopeIds": [200], "scopeNames": ["a:b"]})
        .to_string();
    text[29] = "{ broken json".to_owned();
    let file = write_file(&text);
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");

    let output = bulk(
        &server,
        file.path(),
        &journal_path,
        &["--concurrency", "4", "--attempts", "10", "--json"],
    )
    .output()
    .unwrap();

    assert_eq!(
        output.status.code(),
        Some(2),
        "invalid lines make the worst outcome 'invalid'"
    );
    let records = journal(&journal_path);
    assert_eq!(records.len(), 40, "one record per line");
    let by_line: HashMap<u64, &Value> = records.iter().map(|r| (r["line"].as_u64().unwrap(), r)).collect();
    assert_eq!(by_line.len(), 40);
    for (line, record) in &by_line {
        let expected = if [10, 20, 30].contains(line) {
            "invalid"
        } else {
            "updated"
        };
        assert_eq!(record["outcome"], expected, "line {line}: {record}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 10: invalid") && stderr.contains("line 30: invalid"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(
        summary,
        json!({ "updated": 37, "failed": 0, "invalid": 3, "skipped": 0 })
    );
    assert!(
        server.requests().iter().any(|r| r.status == 429),
        "faults were injected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_sends_nothing_for_finished_lines() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap();
    let mut input = lines(12);
    let file = write_file(&input.iter().map(Value::to_string).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");

    bulk(&server, file.path(), &journal_path, &[]).assert().success();
    assert_eq!(server.request_count(), 12);

    bulk(&server, file.path(), &journal_path, &[]).assert().success();
    assert_eq!(server.request_count(), 12, "the second run skips every finished line");

    // An edited line is a different update: it runs again, and only it.
    input[5]["ipsWhitelist"] = json!(["198.51.100.1"]);
    let edited = write_file(&input.iter().map(Value::to_string).collect::<Vec<_>>());
    bulk(&server, edited.path(), &journal_path, &[]).assert().success();
    assert_eq!(server.request_count(), 13);
}

fn journal_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_run_loses_no_completed_result() {
    let config = MockConfig {
        faults: Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let file = write_file(&lines(60).iter().map(Value::to_string).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("etoro-token"))
        .env_clear()
        .env("ETORO_API_KEY", "k")
        .env("ETORO_USER_KEY", "u")
        .args([
            "update",
            "--base-url",
            &server.base_url(),
            "--concurrency",
            "2",
            "--from",
        ])
        .arg(file.path())
        .arg("--journal")
        .arg(&journal_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some results are in, however slowly the machine started the process.
    let started = std::time::Instant::now();
    while journal_lines(&journal_path) < 5 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().unwrap();

    let first = journal(&journal_path);
    let answered = server.requests().iter().filter(|r| r.status == 204).count();
    assert!(
        !first.is_empty() && first.len() < 60,
        "killed mid-run: {} records",
        first.len()
    );
    // Requests still in flight when killed (at most --concurrency) may be answered but not yet recorded.
    assert!(
        first.len() + 2 >= answered,
        "{} records for {answered} answered requests",
        first.len()
    );

    bulk(&server, file.path(), &journal_path, &["--concurrency", "2"])
        .assert()
        .success();
    let updated: std::collections::HashSet<u64> = journal(&journal_path)
        .iter()
        .filter(|r| r["outcome"] == "updated")
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(updated.len(), 60, "after the resume every line is updated");
    assert!(
        server.request_count() <= 60 + 2,
        "the resume repeated at most the in-flight requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_dry_run_prints_one_request_per_line_and_sends_nothing() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap();
    let file = write_file(&lines(3).iter().map(Value::to_string).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let output = bulk(&server, file.path(), &dir.path().join("j"), &["--dry-run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 3);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_with_an_unknown_or_misspelled_field_is_invalid() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), MockConfig::default())
        .await
        .unwrap();
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let file = write_file(&[
        json!({ "portfolio": portfolio, "token": token, "scopeNamez": ["a:b"], "ipsWhitelist": ["203.0.113.7"] })
            .to_string(),
        json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.300"] }).to_string(),
        json!({ "token": token, "ipsWhitelist": ["203.0.113.7"] }).to_string(),
        json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.7"] }).to_string(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");

    let output = bulk(&server, file.path(), &journal_path, &[]).output().unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 1: invalid") && stderr.contains("scopeNamez"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: invalid") && stderr.contains("line 3: invalid"),
        "{stderr}"
    );
    assert!(stderr.contains("portfolio"), "the missing field is named: {stderr}");
    assert_eq!(server.request_count(), 1, "only the valid line is sent");
    let outcomes: Vec<_> = journal(&journal_path)
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["invalid", "invalid", "invalid", "updated"]);
}
