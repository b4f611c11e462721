//! The bulk journal: resumes that re-send nothing done and nothing under a new request id, keyed by the input
//! itself; one run at a time; regular files only; cut records tolerated; a failed write stops the run.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::bulk::*;
use etoro_mock::{Faults, MockConfig};
use serde_json::{json, Value};
use uuid::Uuid;

fn slow(latency_ms: u64) -> MockConfig {
    MockConfig {
        faults: Faults {
            latency: Duration::from_millis(latency_ms),
            ..Faults::default()
        },
        ..MockConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_skips_what_is_done_by_input_not_by_line_number() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let mut input = lines(12);
    let run = |input: &[Value], name: &str| {
        let file = write_lines(dir.path(), name, &to_strings(input));
        bulk(&server.base_url(), &file, &["--journal"])
            .arg(&journal_path)
            .output()
            .unwrap()
    };

    assert_eq!(run(&input, "a.jsonl").status.code(), Some(0));
    assert_eq!(server.request_count(), 12);

    let again = run(&input, "a.jsonl");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(server.request_count(), 12, "the second run skips every finished line");
    let first_note = stderr(&again).lines().next().unwrap_or_default().to_owned();
    assert!(
        first_note.contains("12 of 12 line(s) already done, skipped"),
        "the skip is said first: {}",
        stderr(&again)
    );

    // A line inserted at the top moves every line down: nothing below it is sent again.
    input.insert(0, lines(1).remove(0));
    assert_eq!(run(&input, "b.jsonl").status.code(), Some(0));
    assert_eq!(server.request_count(), 13, "only the new line");

    // Key order and whitespace do not make a line new.
    let mut reordered: Vec<String> = to_strings(&input);
    let line = &input[3];
    reordered[3] = format!(
        r#"{{ "ipsWhitelist" : {},   "scopeNames": {}, "token": {}, "portfolio": {} }}"#,
        line["ipsWhitelist"], line["scopeNames"], line["token"], line["portfolio"]
    );
    let file = write_lines(dir.path(), "c.jsonl", &reordered);
    bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .assert()
        .success();
    assert_eq!(server.request_count(), 13);

    // An edited line is a different update: it runs again, and only it.
    input[5]["ipsWhitelist"] = json!(["198.51.100.1"]);
    assert_eq!(run(&input, "d.jsonl").status.code(), Some(0));
    assert_eq!(server.request_count(), 14);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_input_twice_is_two_entries_and_an_edit_never_leaves_an_older_state() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let a = json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["192.0.2.1"] }).to_string();
    let b = json!({ "portfolio": portfolio, "token": token, "ipsWhitelist": ["192.0.2.2"] }).to_string();
    let run = |lines: &[&String], name: &str| {
        let lines: Vec<String> = lines.iter().map(|l| (*l).clone()).collect();
        let file = write_lines(dir.path(), name, &lines);
        bulk(&server.base_url(), &file, &["--journal"])
            .arg(&journal_path)
            .assert()
            .success();
    };

    run(&[&a, &b, &a], "1.jsonl");
    assert_eq!(server.request_count(), 3, "the same input twice is sent twice");
    run(&[&a, &b, &a], "1.jsonl");
    assert_eq!(server.request_count(), 3);
    run(&[&a, &b, &a, &a], "2.jsonl");
    assert_eq!(server.request_count(), 4, "a third copy is a third entry");

    // The file now ends with b, but the token holds a (sent last): the whole sequence is sent again, in order.
    run(&[&a, &b], "3.jsonl");
    let last = server.requests().pop().unwrap();
    assert_eq!(server.request_count(), 6);
    assert_eq!(
        serde_json::from_slice::<Value>(&last.body).unwrap(),
        json!({ "ipsWhitelist": ["192.0.2.2"] })
    );
    let held = server.token(portfolio, token).unwrap();
    assert_eq!(
        held.ips_whitelist
            .map(|ips| ips.iter().map(ToString::to_string).collect::<Vec<_>>()),
        Some(vec!["192.0.2.2".to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_journal_is_refused_at_once() {
    let server = mock(slow(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(8)));
    let mut first = spawn_journaled(&server.base_url(), &file, 1, &journal_path, &[]);
    assert!(
        journal_reaches(&journal_path, "started", 1).await,
        "the first run started"
    );

    let started = std::time::Instant::now();
    let second = bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let message = stderr(&second);
    assert!(
        message.contains(&journal_path.display().to_string()) && message.contains("in use by another run"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after waiting"
    );

    assert!(first.wait().unwrap().success());
    assert_eq!(server.request_count(), 8, "the second run sent nothing");
    let after = bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(
        after.status.code(),
        Some(0),
        "free once the first run is over: {}",
        stderr(&after)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_cut_mid_record_is_resumed_under_the_same_request_id() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(5)));
    bulk(&server.base_url(), &file, &["--concurrency", "1", "--journal"])
        .arg(&journal_path)
        .assert()
        .success();
    // A crash in the middle of writing the last result: half of it is on disk.
    let text = std::fs::read_to_string(&journal_path).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap() + 1;
    let cut_record: Value = serde_json::from_str(text[last_start..].trim()).unwrap();
    assert_eq!(cut_record["outcome"], "updated");
    std::fs::write(&journal_path, &text[..last_start + 40]).unwrap();

    let resumed = bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();

    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("1 record(s) that cannot be read"),
        "{}",
        stderr(&resumed)
    );
    assert!(
        stderr(&resumed).contains("4 of 5 line(s) already done"),
        "{}",
        stderr(&resumed)
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 6, "only the line whose result was lost is sent again");
    assert_eq!(
        requests[5].header("x-request-id"),
        cut_record["requestId"].as_str(),
        "under the request id of its started record"
    );
    // The cut record is followed by a newline, so every later record is whole.
    let after = std::fs::read_to_string(&journal_path).unwrap();
    let undecodable = after
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_err())
        .count();
    assert_eq!(undecodable, 1, "only the cut record: {after}");
    bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .assert()
        .success();
    assert_eq!(server.request_count(), 6, "and then everything is done");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_that_is_a_symlink_a_device_or_a_directory_is_refused() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(2)));
    let target = dir.path().join("target.jsonl");
    std::fs::write(&target, "").unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let dangling = dir.path().join("dangling.jsonl");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    for (journal_path, says) in [
        (link.as_path(), "symbolic link"),
        (dangling.as_path(), "symbolic link"),
        (std::path::Path::new("/dev/null"), "not a regular file"),
        (dir.path(), "directory"),
    ] {
        let output = bulk(&server.base_url(), &file, &["--journal"])
            .arg(journal_path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", journal_path.display());
        assert!(
            stderr(&output).contains(says),
            "{}: {}",
            journal_path.display(),
            stderr(&output)
        );
    }
    assert_eq!(server.request_count(), 0, "nothing sent");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "",
        "nothing written through the link"
    );
    assert!(
        !dir.path().join("nowhere").exists(),
        "no file created at the link's target"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_journal_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(1)));
    bulk(&server.base_url(), &file, &["--journal"])
        .arg(&journal_path)
        .assert()
        .success();
    let mode = std::fs::metadata(&journal_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_that_cannot_be_written_stops_the_run_with_exit_5() {
    use std::os::unix::process::CommandExt;
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(40)));
    let mut command = bulk_process(&server.base_url(), &file, &["--concurrency", "1", "--journal"]);
    command.arg(&journal_path);
    // SAFETY: only async-signal-safe calls between fork and exec. Files the process writes are limited to 2 KiB
    // (a few records), and SIGXFSZ is ignored so that the write fails with EFBIG instead of killing it.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 2048,
                rlim_max: 2048,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let output = command.output().unwrap();

    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("cannot write the journal"), "{message}");
    assert!(message.contains("stopped by a local I/O failure"), "{message}");
    let sent = server.request_count();
    assert!(sent > 0 && sent < 40, "the run stopped early: {sent} sent");
    // Every request that went out has its started record (the journal never lags behind what was sent).
    let started: HashSet<String> = records(&journal(&journal_path), "started")
        .iter()
        .map(|r| r["requestId"].as_str().unwrap().to_owned())
        .collect();
    for request in server.requests() {
        assert!(
            started.contains(request.header("x-request-id").unwrap()),
            "sent without a started record"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_then_resume_applies_every_line_and_none_under_a_new_request_id() {
    let server = mock(slow(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let input = lines(40);
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&input));
    let mut child = spawn_journaled(&server.base_url(), &file, 4, &journal_path, &[]);
    assert!(
        journal_reaches(&journal_path, "updated", 6).await,
        "some results are in"
    );
    child.kill().unwrap(); // SIGKILL: no chance to write anything more
    child.wait().unwrap();
    let at_kill = journal(&journal_path);
    let finished: HashSet<&str> = at_kill
        .iter()
        .filter(|r| r["outcome"] != "started")
        .map(|r| r["requestId"].as_str().unwrap())
        .collect();
    let unfinished: Vec<(String, String)> = records(&at_kill, "started")
        .iter()
        .filter(|r| !finished.contains(r["requestId"].as_str().unwrap()))
        .map(|r| {
            (
                r["token"].as_str().unwrap().to_owned(),
                r["requestId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(finished.len() < 40, "killed mid-run");
    assert!(!unfinished.is_empty(), "killed with lines in flight");
    // The records are written in batches, one per turn of the engine: still, no request reached the server
    // before the batch holding its `started` record was written.
    let started: HashSet<&str> = records(&at_kill, "started")
        .iter()
        .map(|r| r["requestId"].as_str().unwrap())
        .collect();
    for (sent, _) in by_input(&server).values().flatten() {
        assert!(
            started.contains(sent.as_str()),
            "{sent} was sent without a `started` record"
        );
    }

    let resumed = bulk(&server.base_url(), &file, &["--concurrency", "4", "--journal"])
        .arg(&journal_path)
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));

    let grouped = by_input(&server);
    for line in &input {
        let key = (path_of(line), body_of(line).to_string());
        let requests = grouped.get(&key).unwrap_or_else(|| panic!("never sent: {line}"));
        assert!(requests.iter().any(|(_, status)| *status == 204), "not applied: {line}");
        let ids: HashSet<&String> = requests.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 1, "re-sent under a new request id: {line}");
    }
    assert_eq!(grouped.len(), 40);
    // A line left `started` is sent again under the id of its started record.
    for (token, id) in unfinished {
        let line = input.iter().find(|l| l["token"] == token.as_str()).unwrap();
        let requests = &grouped[&(path_of(line), body_of(line).to_string())];
        assert!(
            requests.iter().all(|(sent, _)| *sent == id),
            "{token}: {requests:?} vs {id}"
        );
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_input_file_given_as_the_journal_is_refused_and_left_alone() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(2)));
    let before = std::fs::read(&file).unwrap();
    let hard_link = dir.path().join("same.jsonl");
    std::fs::hard_link(&file, &hard_link).unwrap();
    for journal_path in [&file, &hard_link] {
        let output = bulk(&server.base_url(), &file, &["--journal"])
            .arg(journal_path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("--from and --journal name the same file"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), before, "the input is untouched");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expires_in_line_is_sent_from_now_and_a_rerun_skips_it() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let line = json!({"portfolio": Uuid::new_v4(), "token": Uuid::new_v4(), "expiresIn": "30d"});
    let bad = json!({"portfolio": Uuid::new_v4(), "token": Uuid::new_v4(), "expiresIn": "soon\u{1b}[2J"});
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&[line, bad]));
    let run = || {
        bulk(&server.base_url(), &file, &["--journal"])
            .arg(&journal_path)
            .output()
            .unwrap()
    };
    let output = run();
    assert_eq!(output.status.code(), Some(2), "the invalid line: {}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("line 2: invalid: expiresIn: "), "{errors}");
    assert!(
        errors.contains(r#"(given "soon\u001b[2J")"#),
        "the value, escaped: {errors}"
    );
    let sent = sent(&server);
    assert_eq!(sent.len(), 1);
    let at: chrono::DateTime<chrono::Utc> = sent[0].1["expiresAt"].as_str().unwrap().parse().unwrap();
    let expected = chrono::Utc::now() + chrono::Duration::days(30);
    assert!((expected - at).num_seconds().abs() < 120, "30 days from now: {at}");

    let output = run();
    assert_eq!(
        server.request_count(),
        1,
        "the done line is skipped: {}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_with_tabs_between_its_fields_is_journaled_as_json_and_skipped_on_a_rerun() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    // A tab and a carriage return between the fields: JSON whitespace, which the journal must not turn into an
    // escape outside a string.
    let line = format!(
        "{{\"portfolio\":\t\"{}\",\r\"token\": \"{}\", \"ipsWhitelist\":[\"203.0.113.9\"]}}",
        Uuid::new_v4(),
        Uuid::new_v4()
    );
    let file = write_lines(dir.path(), "in.jsonl", &[line]);
    let run = || {
        bulk(&server.base_url(), &file, &["--json", "--journal"])
            .arg(&journal_path)
            .output()
            .unwrap()
    };
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each printed line is JSON"))
        .collect();
    assert_eq!(printed[0]["outcome"], "updated", "{printed:?}");
    assert_eq!(
        printed[0]["input"]["ipsWhitelist"][0], "203.0.113.9",
        "the input, as given"
    );
    let text = std::fs::read_to_string(&journal_path).unwrap();
    assert!(!text.contains(['\t', '\r']), "no raw control character: {text:?}");
    assert_eq!(
        text.lines().count(),
        journal(&journal_path).len(),
        "every record reads back: {text}"
    );

    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        server.request_count(),
        1,
        "the line is done, not sent again: {}",
        stderr(&output)
    );
}
