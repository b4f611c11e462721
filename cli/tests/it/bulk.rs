//! `etoro-token update --from FILE.jsonl`: every line accounted for, the order of each token's lines kept, bad
//! lines refused one by one, results and exit codes as documented.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use crate::support::bulk::*;
use etoro_mock::{Faults, MockConfig};
use serde_json::{json, Value};
use uuid::Uuid;

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
    let server = mock(config).await;
    let mut text = to_strings(&lines(40));
    text[9] = r#"{"portfolio": "not-a-uuid", "token": "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"}"#.to_owned();
    text[19] = json!({"portfolio": Uuid::new_v4(), "token": Uuid::new_v4(), "scopeIds": [200], "scopeNames": ["a:b"]})
        .to_string();
    text[29] = "{ broken json".to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &text);
    let journal_path = dir.path().join("journal.jsonl");

    let output = bulk(
        &server.base_url(),
        &file,
        &["--concurrency", "4", "--attempts", "10", "--json", "--journal"],
    )
    .arg(&journal_path)
    .output()
    .unwrap();

    assert_eq!(
        output.status.code(),
        Some(2),
        "the worst outcome is 'invalid': {}",
        stderr(&output)
    );
    let results = journal(&journal_path);
    let finished: HashMap<u64, &Value> = results
        .iter()
        .filter(|r| r["outcome"] != "started")
        .map(|r| (r["line"].as_u64().unwrap(), r))
        .collect();
    assert_eq!(finished.len(), 40, "one result per line");
    for (line, record) in &finished {
        let expected = if [10, 20, 30].contains(line) {
            "invalid"
        } else {
            "updated"
        };
        assert_eq!(record["outcome"], expected, "line {line}: {record}");
    }
    assert_eq!(records(&results, "started").len(), 37, "a started record per line sent");

    // stdout: one JSON object per result, in completion order, then the summary.
    let out: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 41);
    assert!(out[..40]
        .iter()
        .all(|r| r["outcome"] == "updated" || r["outcome"] == "invalid"));
    let summary = &out[40]["summary"];
    assert_eq!(
        (
            &summary["updated"],
            &summary["invalid"],
            &summary["failed"],
            &summary["refused"]
        ),
        (&json!(37), &json!(3), &json!(0), &json!(0))
    );
    assert_eq!(
        (&summary["skipped"], &summary["notSent"], &summary["exitCode"]),
        (&json!(0), &json!(0), &json!(2))
    );
    assert!(summary["elapsedSeconds"].as_f64().is_some());
    assert!(
        server.requests().iter().any(|r| r.status == 429),
        "faults were injected"
    );
    let updated = out.iter().find(|r| r["outcome"] == "updated").unwrap();
    for field in [
        "line",
        "portfolio",
        "token",
        "requestId",
        "status",
        "attempts",
        "input",
        "body",
        "occurrence",
    ] {
        assert!(updated.get(field).is_some(), "{field} missing from {updated}");
    }
}

#[test]
fn the_last_line_of_a_token_wins_whatever_the_retries() {
    let (portfolio, token, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // The first attempt of the token's first line fails (503, come back in 1 s); everything else succeeds. (By the
    // token's path, not by arrival: the other token's line may arrive first.)
    let failed_once = std::sync::atomic::AtomicBool::new(false);
    let token_path = format!("/api/v1/agent-portfolios/{portfolio}/user-tokens/{token}");
    let server = Scripted::start(move |_, seen| {
        if seen.path == token_path && !failed_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            (503, vec![("retry-after", "1".to_owned())])
        } else {
            (204, vec![])
        }
    });
    let first = json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["198.51.100.1"] });
    let last = json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["198.51.100.2"] });
    let side = json!({ "portfolio": portfolio, "token": other, "ipsWhitelist": ["198.51.100.3"] });
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        "in.jsonl",
        &to_strings(&[first, last.clone(), side.clone()]),
    );

    let output = bulk(&server.base_url, &file, &["--concurrency", "4"]).output().unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let seen = server.seen();
    let ours: Vec<&Seen> = seen.iter().filter(|s| s.path == path_of(&last)).collect();
    let statuses: Vec<u16> = ours.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [503, 204, 204], "line 1, its retry, then line 2");
    assert_eq!(ours[0].request_id, ours[1].request_id, "a retry keeps its request id");
    assert_eq!(
        ours[2].body,
        body_of(&last),
        "the token ends as the file's last line says"
    );
    // The other token did not wait for the first one's retry.
    let side_at = seen.iter().position(|s| s.path == path_of(&side)).unwrap();
    let retry_at = seen
        .iter()
        .position(|s| s.request_id == ours[1].request_id && s.status == 204)
        .unwrap();
    assert!(side_at < retry_at, "tokens run side by side: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_with_an_unknown_or_misspelled_field_is_invalid() {
    let server = mock(MockConfig::default()).await;
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(
        dir.path(),
        "in.jsonl",
        &[
            json!({ "portfolio": portfolio, "token": token, "scopeNamez": ["a:b"], "ipsWhitelist": ["203.0.113.7"] })
                .to_string(),
            json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.300"] }).to_string(),
            json!({ "token": token, "ipsWhitelist": ["203.0.113.7"] }).to_string(),
            json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.7"] }).to_string(),
        ],
    );
    let journal_path = dir.path().join("journal.jsonl");

    let output = bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("line 1: invalid") && err.contains("scopeNamez"), "{err}");
    assert!(
        err.contains("line 2: invalid: ipsWhitelist: invalid IPv4"),
        "the field is named: {err}"
    );
    assert!(err.contains("line 3: invalid: portfolio: missing"), "{err}");
    assert_eq!(server.request_count(), 1, "only the valid line is sent");
    let outcomes: Vec<_> = journal(&journal_path)
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["invalid", "invalid", "invalid", "started", "updated"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_lines_are_one_invalid_line_each_and_only_a_short_escaped_prefix_is_echoed() {
    let server = mock(MockConfig::default()).await;
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let good = json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.7"] }).to_string();
    let mut text = Vec::new();
    // 1: a duplicate key.
    writeln!(
        text,
        r#"{{"portfolio": "{portfolio}", "token": "{token}", "ipsWhitelist": ["1.1.1.1"], "ipsWhitelist": ["2.2.2.2"]}}"#
    )
    .unwrap();
    // 2: not UTF-8.
    text.extend_from_slice(b"{\"portfolio\": \"\xff\xfe\", \"token\": 1}\n");
    // 3: over 64 KiB, with a secret-looking tail that must never be echoed.
    text.extend_from_slice(b"{\"portfolio\": \"");
    text.extend(std::iter::repeat_n(b'a', 70 * 1024));
    text.extend_from_slice(b"TAIL-MARKER\"}\n");
    // 4: not JSON, with an escape sequence that would recolour a terminal.
    text.extend_from_slice(b"\x1b[31m{ not json\n");
    // 5: fine.
    text.extend_from_slice(good.as_bytes());
    text.push(b'\n');
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, &text).unwrap();
    let journal_path = dir.path().join("journal.jsonl");

    let output = bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(r#"line 1: invalid: duplicate key "ipsWhitelist""#),
        "{err}"
    );
    assert!(err.contains("line 2: invalid: not UTF-8 text"), "{err}");
    assert!(err.contains("line 3: invalid: longer than 64 KiB"), "{err}");
    assert!(err.contains("line 4: invalid: not JSON"), "{err}");
    assert!(!err.contains('\u{1b}'), "control characters are escaped: {err:?}");
    let journal_text = std::fs::read_to_string(&journal_path).unwrap();
    for text in [&err, &journal_text] {
        assert!(!text.contains("TAIL-MARKER"), "only a prefix of a long line is echoed");
        assert!(
            !text.contains(&"a".repeat(81)),
            "at most 80 characters of a long line are echoed"
        );
    }
    assert!(!journal_text.contains('\u{1b}'), "the journal escapes them too");
    assert_eq!(server.request_count(), 1, "the good line is sent");
    assert_eq!(records(&journal(&journal_path), "invalid").len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dash_reads_standard_input() {
    let server = mock(MockConfig::default()).await;
    let input = to_strings(&lines(3)).join("\n");
    let output = bulk(&server.base_url(), std::path::Path::new("-"), &[])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(server.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_piped_in_alone_is_sent_before_the_next_one_comes() {
    // Lines reach the engine in batches; a batch must not wait to fill up when nothing more is at hand (a feed
    // such as `tail -f | etoro-token update --from -`).
    let server = mock(MockConfig::default()).await;
    let mut child = bulk_process(&server.base_url(), std::path::Path::new("-"), &[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for (sent, line) in to_strings(&lines(2)).iter().enumerate() {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while server.request_count() < sent + 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "line {} was not sent while the input stayed open",
                sent + 1
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(stdin);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_cannot_be_read_exits_5_and_sends_nothing() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path().join("missing.jsonl"), dir.path().to_owned()] {
        let output = bulk(&server.base_url(), &path, &[]).output().unwrap();
        assert_eq!(output.status.code(), Some(5), "{}", path.display());
        assert!(
            stderr(&output).contains(&format!("cannot read {}", path.display())),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_flags_without_from_are_refused_naming_the_flag() {
    let server = mock(MockConfig::default()).await;
    for (flag, value) in [("--journal", "j"), ("--concurrency", "2"), ("--rate", "5")] {
        let output = assert_cmd::Command::cargo_bin("etoro-token")
            .unwrap()
            .env_clear()
            .env("ETORO_API_KEY", API_KEY)
            .env("ETORO_USER_KEY", USER_KEY)
            .args(["update", "--base-url", &server.base_url()])
            .args([
                "--portfolio",
                &Uuid::new_v4().to_string(),
                "--token",
                &Uuid::new_v4().to_string(),
            ])
            .args(["--ip", "203.0.113.7", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(
            stderr(&output).contains(&format!("{flag} applies to bulk mode only")),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_honours_json_and_counts_what_would_be_sent() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let input = lines(3);
    let mut text = to_strings(&input);
    let journal_path = dir.path().join("journal.jsonl");
    // A first run does line 1 of 3.
    let first = write_lines(dir.path(), "first.jsonl", &text[..1]);
    bulk(&server.base_url(), &first, &["--journal"])
        .arg(&journal_path)
        .assert()
        .success();
    text.push("{ invalid".to_owned());
    let file = write_lines(dir.path(), "in.jsonl", &text);
    let before = std::fs::read(&journal_path).unwrap();

    let json = bulk(&server.base_url(), &file, &["--dry-run", "--json", "--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(2), "an invalid line: {}", stderr(&json));
    let out: Vec<Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let requests: Vec<&Value> = out.iter().filter(|v| v["dryRun"] == true).collect();
    assert_eq!(requests.len(), 2, "lines 2 and 3: {out:?}");
    assert_eq!(requests[0]["headers"]["x-api-key"], "[REDACTED]");
    assert_eq!(requests[0]["body"], body_of(&input[1]));
    let summary = &out.last().unwrap()["summary"];
    assert_eq!(
        (&summary["wouldSend"], &summary["skipped"], &summary["invalid"]),
        (&json!(2), &json!(1), &json!(1))
    );

    let text_run = bulk(&server.base_url(), &file, &["--dry-run", "--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&text_run).matches("curl -X PATCH").count(),
        2,
        "{}",
        stdout(&text_run)
    );
    assert!(
        stderr(&text_run).contains(
            "dry run: 2 line(s) would be sent, 1 skipped (already done per the journal), 1 refused (invalid)"
        ),
        "{}",
        stderr(&text_run)
    );
    assert!(!stdout(&text_run).contains(API_KEY) && !stdout(&text_run).contains(USER_KEY));
    assert_eq!(server.request_count(), 1, "only the first run sent anything");
    assert_eq!(
        std::fs::read(&journal_path).unwrap(),
        before,
        "a dry run writes no journal"
    );

    let fresh = dir.path().join("fresh.journal");
    bulk(&server.base_url(), &file, &["--dry-run", "--journal"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(!fresh.exists(), "a dry run creates no journal");
}

#[test]
fn the_exit_code_is_the_highest_of_all_lines_and_the_summary_counts_each_outcome() {
    let refused = Uuid::new_v4();
    let failing = Uuid::new_v4();
    let server = Scripted::start(move |_, seen| {
        if seen.path.ends_with(&refused.to_string()) {
            (404, vec![])
        } else if seen.path.ends_with(&failing.to_string()) {
            (500, vec![])
        } else {
            (204, vec![])
        }
    });
    let portfolio = Uuid::new_v4();
    let line = |token: Uuid| json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.9"] });
    let dir = tempfile::tempdir().unwrap();
    let all = [
        line(Uuid::new_v4()).to_string(),
        line(refused).to_string(),
        "not json".to_owned(),
        line(failing).to_string(),
    ];
    let file = write_lines(dir.path(), "in.jsonl", &all);
    let output = bulk(&server.base_url, &file, &["--attempts", "2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 updated, 1 refused, 1 failed, 1 invalid, 0 skipped (already done), 0 not sent"),
        "{}",
        stderr(&output)
    );
    let without_failure = write_lines(dir.path(), "some.jsonl", &all[..3]);
    let output = bulk(&server.base_url, &without_failure, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "a refusal beats an invalid line");
}

#[test]
fn help_documents_the_bulk_flags_and_exit_codes() {
    let output = assert_cmd::Command::cargo_bin("etoro-token")
        .unwrap()
        .args(["update", "--help"])
        .output()
        .unwrap();
    let help = stdout(&output);
    for text in [
        "--journal <FILE>",
        "--concurrency <N>",
        "--rate <PER_MINUTE>",
        "--deadline <DURATION>",
        "\"scopeNames\"",
        "Resume after Ctrl-C",
        "130 after",
        "143 after SIGTERM",
        "highest of all lines' codes",
        "5  local I/O failure",
    ] {
        assert!(help.contains(text), "{text:?} missing from `update --help`");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_that_breaks_a_rule_names_the_field_and_says_not_sent_once() {
    let server = mock(MockConfig::default()).await;
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let lines = [
        json!({"portfolio": portfolio, "token": token, "expiresAt": "2001-01-01T00:00:00Z"}),
        json!({"portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.7", "203.0.113.7"]}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines));
    let output = bulk(&server.base_url(), &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("line 1: invalid: expiresAt: must be in the future"),
        "{err}"
    );
    assert!(
        err.contains("line 2: invalid: ipsWhitelist[1]: duplicate entry 203.0.113.7 (not sent)"),
        "{err}"
    );
    for line in err.lines().filter(|line| line.starts_with("line ")) {
        assert_eq!(line.matches("sent").count(), 1, "said once: {line}");
        assert!(!line.contains("invalid: invalid"), "{line}");
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tokens_lines_far_apart_in_a_long_file_stay_in_order() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let ours = |ip: &str| json!({"portfolio": portfolio, "token": token, "ipsWhitelist": [ip]});
    // More lines between them than the engine lets wait (64 a worker): reading pauses and resumes in between.
    let mut input = vec![ours("198.51.100.1")];
    input.extend(lines(700));
    input.push(ours("198.51.100.2"));
    input.extend(lines(700));
    input.push(ours("198.51.100.3"));
    let file = write_lines(dir.path(), "far.jsonl", &to_strings(&input));
    let output = bulk(&server.base_url(), &file, &["--concurrency", "4"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(server.request_count(), input.len());
    let ours: Vec<Value> = sent(&server)
        .into_iter()
        .filter(|(path, ..)| path.ends_with(&token.to_string()))
        .map(|(_, body, ..)| body["ipsWhitelist"][0].clone())
        .collect();
    assert_eq!(
        ours,
        [json!("198.51.100.1"), json!("198.51.100.2"), json!("198.51.100.3")]
    );
}
