//! The `etoro-token` binary, run as a user would, against mock servers on 127.0.0.1.

use std::collections::HashSet;

use assert_cmd::Command;
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::Value;

use crate::support::{assert_no_secret, etoro_token, mock, on_test_token, stderr, stdout, API_KEY, PORTFOLIO, TOKEN};

/// `update` against `server`, for the test token, plus `extra` flags.
fn update(server: &MockServer, extra: &[&str]) -> Command {
    on_test_token("update", &server.base_url(), extra)
}

#[test]
fn the_readme_command_updates_against_the_embedded_mock() {
    let output = Command::cargo_bin("etoro-token")
        .unwrap()
        .env_clear()
        .args(["update", "--mock", "--portfolio", PORTFOLIO, "--token", TOKEN])
        .args([
            "--scope",
            "etoro-public:real:read",
            "--ip",
            "203.0.113.7",
            "--expires-in",
            "30d",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("updated user token") && stdout(&output).contains("request id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn success_exits_0_and_prints_the_request_id() {
    let server = mock(MockConfig::default()).await;
    let output = update(
        &server,
        &[
            "--scope",
            "etoro-public:trade.real:read",
            "--ip",
            "203.0.113.7",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(result["outcome"], "updated");
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].header("x-request-id"), result["requestId"].as_str());
    assert_eq!(
        recorded[0].header("x-api-key"),
        Some(API_KEY),
        "credentials come from the environment"
    );
    assert_no_secret(&output);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_exits_2_and_sends_nothing() {
    let server = mock(MockConfig::default()).await;
    let cases: [&[&str]; 7] = [
        &["--scope", "etoro-public:real:read", "--scope-id", "200"],
        &[],
        &["--ip", "300.1.2.3"],
        &["--expires-at", "2001-01-01T00:00:00Z"],
        &["--expires-at", "tomorrow"],
        &["--scope", "has space"],
        &["--ip", "203.0.113.7", "--ip", "203.0.113.7"],
    ];
    for flags in cases {
        let output = update(&server, flags).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {}", stderr(&output));
        assert!(!stderr(&output).is_empty(), "{flags:?}: the error is explained");
    }
    let output = etoro_token()
        .args([
            "update",
            "--base-url",
            &server.base_url(),
            "--portfolio",
            "not-a-uuid",
            "--token",
            TOKEN,
        ])
        .args(["--ip", "203.0.113.7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(server.request_count(), 0, "nothing may be sent for invalid input");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_problems_exit_2_and_send_nothing() {
    let server = mock(MockConfig::default()).await;
    let flags = [
        "update",
        "--base-url",
        &server.base_url(),
        "--portfolio",
        PORTFOLIO,
        "--token",
        TOKEN,
    ];
    let none = Command::cargo_bin("etoro-token")
        .unwrap()
        .env_clear()
        .args(flags)
        .args(["--ip", "203.0.113.7"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("no credentials"));

    let both = etoro_token()
        .env("ETORO_ACCESS_TOKEN", "bearer-secret-9")
        .args(flags)
        .args(["--ip", "203.0.113.7"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("--auth"));
    assert!(!stderr(&both).contains("bearer-secret-9"));
    assert_eq!(server.request_count(), 0);

    let chosen = etoro_token()
        .env("ETORO_ACCESS_TOKEN", "bearer-secret-9")
        .args(flags)
        .args(["--ip", "203.0.113.7", "--auth", "bearer"])
        .output()
        .unwrap();
    assert_eq!(chosen.status.code(), Some(0), "{}", stderr(&chosen));
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer bearer-secret-9")
    );
    assert_eq!(server.requests()[0].header("x-api-key"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_refusal_exits_3_with_status_code_message_and_request_id() {
    let config = MockConfig {
        missing: HashSet::from([TOKEN.parse().unwrap()]),
        ..MockConfig::default()
    };
    let server = mock(config).await;
    let output = update(&server, &["--ip", "203.0.113.7"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    let sent = server.requests()[0].header("x-request-id").unwrap().to_owned();
    for part in ["404", "NotFound", "User token not found", sent.as_str()] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    assert_eq!(server.request_count(), 1, "a 404 is not retried");

    let json = update(&server, &["--ip", "203.0.113.7", "--json"]).output().unwrap();
    assert_eq!(json.status.code(), Some(3));
    let result: Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(result["outcome"], "refused");
    assert_eq!(result["status"], 404);
    assert_eq!(result["errorCode"], "NotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn failure_after_retries_exits_4() {
    let config = MockConfig {
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let server = mock(config).await;
    let output = update(&server, &["--ip", "203.0.113.7", "--attempts", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("3 attempts"), "{}", stderr(&output));
    assert_eq!(server.request_count(), 3);
    let ids: HashSet<_> = server
        .requests()
        .iter()
        .map(|r| r.header("x-request-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same x-request-id");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = etoro_token()
        .args([
            "update",
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--portfolio",
            PORTFOLIO,
        ])
        .args(["--token", TOKEN, "--ip", "203.0.113.7", "--attempts", "1"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_request_redacted_and_sends_nothing() {
    let server = mock(MockConfig::default()).await;
    let output = update(
        &server,
        &["--scope", "etoro-public:trade.demo:read", "--dry-run", "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(server.request_count(), 0);
    assert_no_secret(&output);
    let request: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(request["method"], "PATCH");
    assert_eq!(
        request["url"],
        format!(
            "{}/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}",
            server.base_url()
        )
    );
    assert_eq!(request["headers"]["x-api-key"], "[REDACTED]");
    assert_eq!(request["headers"]["x-user-key"], "[REDACTED]");
    assert_eq!(
        request["body"],
        serde_json::json!({ "scopeNames": ["etoro-public:trade.demo:read"] })
    );
}

#[test]
fn deprecated_scope_ids_warn_on_stderr_and_still_work() {
    let output = etoro_token()
        .args([
            "update",
            "--mock",
            "--portfolio",
            PORTFOLIO,
            "--token",
            TOKEN,
            "--scope-id",
            "200",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let warnings: Vec<_> = stderr(&output)
        .lines()
        .filter(|l| l.contains("deprecated"))
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "one line: {warnings:?}");
}

#[test]
fn help_documents_credentials_exit_codes_and_examples() {
    for command in ["update", "scopes"] {
        let output = etoro_token().args([command, "--help"]).output().unwrap();
        let help = stdout(&output);
        for text in [
            "ETORO_API_KEY + ETORO_USER_KEY",
            "ETORO_ACCESS_TOKEN",
            "0  done",
            "2  invalid input",
            "3  the API refused",
            "4  failure after retries",
            "5  local I/O failure",
            "exits with the highest",
        ] {
            assert!(help.contains(text), "{text:?} missing from `{command} --help`");
        }
    }
    let output = etoro_token().args(["update", "--help"]).output().unwrap();
    let help = stdout(&output);
    for example in ["Examples:", "update --mock", "--from tokens.jsonl --journal", "Resume"] {
        assert!(help.contains(example), "{example:?} missing from `update --help`");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_v2_is_one_flag_away() {
    let server = mock(MockConfig::default()).await;
    let output = update(&server, &["--api", "v2", "--scope", "etoro-public:trade.real:read"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        server.requests()[0].path,
        format!("/api/v2/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
    );

    let ids = update(&server, &["--api", "v2", "--scope-id", "200"]).output().unwrap();
    assert_eq!(ids.status.code(), Some(2), "scope ids with v2 are refused locally");
    assert!(stderr(&ids).contains("scopeIds"));

    let forbidden = update(&server, &["--api", "v2", "--scope", "etoro-public:not-a-scope"])
        .output()
        .unwrap();
    assert_eq!(forbidden.status.code(), Some(3));
    assert!(stderr(&forbidden).contains("ScopeNameNotAllowed"));
    assert_eq!(server.request_count(), 2, "the refused ids were never sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_lists_the_allowed_names() {
    let config = MockConfig {
        allowed_scope_names: vec![
            "etoro-public:trade.real:read".into(),
            "etoro-public:trade.demo:write".into(),
        ],
        ..MockConfig::default()
    };
    let server = mock(config).await;
    let mut cmd = etoro_token();
    let output = cmd
        .args(["scopes", "--json", "--base-url", &server.base_url()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let names: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(
        names,
        serde_json::json!(["etoro-public:trade.real:read", "etoro-public:trade.demo:write"])
    );

    let plain = etoro_token()
        .args(["scopes", "--base-url", &server.base_url()])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&plain),
        "etoro-public:trade.real:read\netoro-public:trade.demo:write\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_honours_api_v2() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("updates.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            serde_json::json!({ "portfolio": PORTFOLIO, "token": TOKEN, "scopeNames": ["etoro-public:trade.real:read"] }),
            serde_json::json!({ "portfolio": PORTFOLIO, "token": TOKEN, "scopeIds": [200] }),
        ),
    )
    .unwrap();
    let output = etoro_token()
        .args(["update", "--api", "v2", "--base-url", &server.base_url(), "--from"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "line 2 is invalid for v2: {}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("line 2: invalid"));
    assert_eq!(server.request_count(), 1);
    assert!(server.requests()[0].path.starts_with("/api/v2/"));
}
