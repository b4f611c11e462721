//! Rate limits at their edges, through the command line: eToro's documented error answers replayed for every
//! command (exit code, what is shown, how many requests), a quota pause longer than `--deadline` (the run ends at
//! once, the rest resumable), `Retry-After: 0` (no flood), and a signal while lines wait for quota (the run ends
//! at once).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::bulk::*;
use etoro_mock::{MockConfig, Operation, Portfolio, Quota, Token, World};
use serde_json::{json, Value};
use uuid::Uuid;

/// `etoro-token ARGS --base-url URL` with test credentials.
fn etoro_token(base_url: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = crate::support::etoro_token();
    cmd.args(args).args(["--base-url", base_url]);
    cmd
}

/// (status, errorCode, errorMessage), as eToro's documentation publishes them.
type Answer = (u16, &'static str, &'static str);

/// Every command that talks to eToro, and every error answer eToro documents for its operation
/// ([`etoro_mock::documented_answers`]).
fn documented() -> Vec<(&'static str, Vec<&'static str>, Answer)> {
    let p = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    let t = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
    let scope = "etoro-public:trade.real:read";
    let update = vec!["update", "--portfolio", p, "--token", t, "--ip", "203.0.113.7"];
    etoro_mock::documented_answers()
        .into_iter()
        .map(|(operation, answer)| {
            let (name, args) = match operation {
                Operation::UpdateV1 => ("update", update.clone()),
                Operation::UpdateV2 => ("update --api v2", [update.clone(), vec!["--api", "v2"]].concat()),
                Operation::Revoke => ("revoke", vec!["revoke", "--portfolio", p, "--token", t, "--yes"]),
                Operation::Create => (
                    "create",
                    vec!["create", "--portfolio", p, "--name", "bot", "--scope", scope],
                ),
                Operation::List => ("list", vec!["list"]),
                Operation::Scopes => ("scopes", vec!["scopes"]),
                other => panic!("no command for {other:?}"),
            };
            (name, args, (answer.status, answer.error_code, answer.error_message))
        })
        .collect()
}

#[test]
fn every_documented_error_answer_exits_as_the_readme_says_and_sends_what_it_should() {
    let cases = documented();
    // Each case has its own server and process; they run side by side (the 429 cases wait for quota).
    std::thread::scope(|scope| {
        for (command, args, (status, error_code, message)) in cases.iter() {
            scope.spawn(move || {
                let (status, error_code, message) = (*status, *error_code, *message);
                let what = format!("{command} answered {status} {error_code}");
                let body = json!({"errorCode": error_code, "errorMessage": message}).to_string();
                let server = Scripted::start(move |_, _| Reply {
                    status,
                    headers: vec![],
                    body: body.clone(),
                });
                let started = Instant::now();
                let output = etoro_token(&server.base_url, args)
                    .args(["--attempts", "3", "--deadline", "8s"])
                    .output()
                    .unwrap();
                let elapsed = started.elapsed();
                let (sent, shown) = (server.seen().len(), stderr(&output));
                assert!(
                    shown.contains(error_code) && shown.contains(message),
                    "{what}: eToro's errorCode and errorMessage are shown: {shown}"
                );
                let expected = match (status, error_code) {
                    (429, "TooManyRequests") => {
                        // 0, ~1, ~3, ~7 s: the next wait would end past the 8 s deadline.
                        assert!((3..=5).contains(&sent), "{what}: {sent} requests in {elapsed:?}");
                        assert!(elapsed < Duration::from_secs(10), "{what}: {elapsed:?}");
                        assert!(shown.contains("for quota"), "{what}: {shown}");
                        4
                    }
                    (500, _) if *command == "create" => {
                        assert_eq!(sent, 1, "{what}: a create is never repeated once it may have arrived");
                        assert!(shown.contains("list the agent-portfolio's tokens"), "{what}: {shown}");
                        4
                    }
                    (500, _) => {
                        assert_eq!(sent, 3, "{what}: retried up to --attempts");
                        4
                    }
                    _ => {
                        assert_eq!(sent, 1, "{what}: a refusal is sent once");
                        3
                    }
                };
                assert_eq!(output.status.code(), Some(expected), "{what}: {shown}");
            });
        }
    });
}

#[test]
fn retry_after_zero_draws_no_flood() {
    // eToro's 429 with `Retry-After: 0`, forever: a fresh wait of nothing each time was thousands of requests.
    let server = Scripted::start(|_, _| Reply {
        status: 429,
        headers: vec![("retry-after", "0".to_owned())],
        body: json!({"errorCode": "TooManyRequests", "errorMessage": "Too many requests"}).to_string(),
    });
    let started = Instant::now();
    let output = etoro_token(
        &server.base_url,
        &[
            "update",
            "--portfolio",
            &Uuid::new_v4().to_string(),
            "--token",
            &Uuid::new_v4().to_string(),
        ],
    )
    .args(["--ip", "203.0.113.7", "--attempts", "1", "--deadline", "5s"])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(6));
    let sent = server.seen().len();
    assert!((2..=4).contains(&sent), "{sent} requests in 5 s");
}

/// A mock whose quota allows one request in 100,000 days: its first answer says the window is used up for 273
/// years.
async fn starved_mock(portfolios: Vec<Portfolio>) -> etoro_mock::MockServer {
    mock(MockConfig {
        quota: Some("1/100000d".parse::<Quota>().unwrap()),
        world: if portfolios.is_empty() {
            World::Open
        } else {
            World::Closed
        },
        portfolios,
        ..MockConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quota_pause_longer_than_the_deadline_ends_the_run_at_once_and_the_rest_resumes() {
    let server = starved_mock(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut input = lines(2);
    input[1]["portfolio"] = input[0]["portfolio"].clone();
    input[1]["token"] = input[0]["token"].clone();
    input[1]["ipsWhitelist"] = json!(["203.0.113.99"]);
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&input));
    let journal_path = dir.path().join("journal.jsonl");

    // Run 1: the first line's answer says the window is used up for 273 years; the second line is not sent.
    // Run 2, a fresh process: the journal skips line 1; line 2 is sent once, its 429 says the same, and the run ends.
    for run in 1..=2 {
        let started = Instant::now();
        let output = bulk(&server.base_url(), &file, &["--deadline", "5s", "--json", "--journal"])
            .arg(&journal_path)
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let shown = stderr(&output);
        assert_eq!(output.status.code(), Some(4), "run {run}: {shown}");
        assert!(
            elapsed < Duration::from_secs(3),
            "run {run}: the run outlived the pause check: {elapsed:?}"
        );
        assert!(
            shown.contains("for quota") && shown.contains("stopping the run"),
            "run {run}: {shown}"
        );
        let summary: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
        let counts = &summary["summary"];
        assert_eq!(counts["stoppedForQuota"], true, "run {run}: {summary}");
        if run == 1 {
            assert!(
                shown.contains("not sent: eToro asks every request to wait 8640000000 s"),
                "{shown}"
            );
            assert_eq!(
                (&counts["updated"], &counts["notSent"]),
                (&json!(1), &json!(1)),
                "{summary}"
            );
        } else {
            assert_eq!(
                (&counts["skipped"], &counts["failed"]),
                (&json!(1), &json!(1)),
                "{summary}"
            );
        }
        assert_eq!(server.request_count(), run, "run {run}: one request a run");
    }
    let written = journal(&journal_path);
    assert_eq!(records(&written, "updated").len(), 1);
    assert_eq!(records(&written, "not-sent").len(), 1);
    assert_eq!(records(&written, "failed").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_behind_a_used_up_window_sends_nothing_more_and_ends_at_once() {
    let (portfolio, token) = (Uuid::new_v4(), Uuid::new_v4());
    let seeded = Portfolio::new(portfolio, "alpha").token(
        Token::new(token, "bot")
            .scope_names(["etoro-public:trade.real:read"])
            .ips_whitelist(["203.0.113.1".parse().unwrap()]),
    );
    let server = starved_mock(vec![seeded]).await;
    let dir = tempfile::tempdir().unwrap();
    let desired = json!({"portfolio": portfolio, "token": token, "ipsWhitelist": ["203.0.113.2"]});
    let file = write_lines(dir.path(), "desired.jsonl", &[desired.to_string()]);
    let started = Instant::now();
    let output = etoro_token(&server.base_url(), &["apply", "--from", file.to_str().unwrap()])
        .args(["--deadline", "5s"])
        .output()
        .unwrap();
    let shown = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{shown}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(shown.contains("1 not sent"), "{shown}");
    assert_eq!(
        server.request_count(),
        1,
        "the listing took the window's one request; no PATCH was sent"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_lines_wait_for_quota_ends_the_run_at_once() {
    // The first answer holds every request back for ten minutes, within the default 15-minute deadline.
    let server = Scripted::start(|index, _| match index {
        0 => (429, vec![("retry-after", "600".to_owned())]),
        _ => (204, vec![]),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write_lines(dir.path(), "in.jsonl", &to_strings(&lines(6)));
    let journal_path = dir.path().join("journal.jsonl");
    let child = bulk_process(&server.base_url, &file, &["--concurrency", "3", "--journal"])
        .arg(&journal_path)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || !server.seen().is_empty()).await,
        "the first request went out"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The lines sent before the 429 came back (up to the concurrency) are all that is ever sent.
    let sent_before = server.seen().len();
    assert!(sent_before <= 3, "{sent_before} requests before the pause");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let signalled = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    let shown = stderr(&output);
    assert_eq!(output.status.code(), Some(143), "{shown}");
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "one signal ends the wait for quota: {:?}",
        signalled.elapsed()
    );
    assert_eq!(server.seen().len(), sent_before, "nothing more was sent");
    assert!(shown.contains("interrupted (SIGTERM)"), "{shown}");
    assert!(shown.contains("not sent"), "{shown}");
    assert!(!shown.contains("again: quitting now"), "one signal sufficed: {shown}");
}
