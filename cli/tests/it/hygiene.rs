//! What `etoro-token` prints when the input, the environment or the server is hostile: escaped network text,
//! messages in the user's terms, no secret anywhere, and the documented exit code.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use assert_cmd::Command;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{etoro_token, on_test_token, stderr, stdout, API_KEY, PORTFOLIO, TOKEN, USER_KEY};

fn update(base_url: &str, extra: &[&str]) -> Command {
    on_test_token("update", base_url, extra)
}

/// A server whose every answer is `template`.
async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PATCH")).respond_with(template).mount(&server).await;
    server
}

#[tokio::test]
async fn escape_sequences_and_line_breaks_from_the_server_are_escaped() {
    let hostile = "\u{1b}[2J\u{1b}[31mred\r\nerror: your keys were revoked\u{7}\u{9b}31m";
    let server = answering(
        ResponseTemplate::new(400).set_body_json(json!({"errorCode": "BadRequest\u{1b}[0m", "errorMessage": hostile})),
    )
    .await;
    let output = update(&server.uri(), &["--ip", "203.0.113.7"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let text = stderr(&output);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{7}') && !text.contains('\u{9b}'),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 1, "one error, one line: {text:?}");
    assert!(
        !text.lines().any(|line| line.starts_with("error: your keys")),
        "a forged line: {text:?}"
    );
    assert!(
        text.contains("\\u001b[31mred\\u000d\\u000aerror: your keys were revoked"),
        "{text:?}"
    );

    // The same answer with --json: JSON escapes it, and stdout holds one line.
    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--json"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text:?}");
    let report: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        report["errorMessage"], hostile,
        "JSON keeps the text, escaped by JSON itself"
    );
    assert!(!text.contains('\u{1b}'));
}

#[tokio::test]
async fn verbose_logs_escape_the_servers_text_and_have_no_colour_in_a_pipe() {
    let hostile = "\u{1b}[2Jdown\u{202e}\u{2028}error: forged\u{9b}";
    let server =
        answering(ResponseTemplate::new(503).set_body_json(json!({"errorCode": "Down", "errorMessage": hostile})))
            .await;
    for no_color in [None, Some("1")] {
        let mut cmd = update(&server.uri(), &["--ip", "203.0.113.7", "--attempts", "2", "-v"]);
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        let output = cmd.output().unwrap();
        assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
        let text = stderr(&output);
        assert!(text.contains("retrying"), "-v logs the retry: {text:?}");
        assert!(
            text.contains("\\u001b[2Jdown\\u202e\\u2028error: forged\\u009b"),
            "{text:?}"
        );
        for raw in ['\u{1b}', '\u{202e}', '\u{2028}', '\u{9b}'] {
            assert!(
                !text.contains(raw),
                "no raw U+{:04X} and no colour in a pipe: {text:?}",
                raw as u32
            );
        }
    }
}

#[tokio::test]
async fn an_undocumented_success_status_is_not_reported_as_updated() {
    let server = answering(ResponseTemplate::new(200).set_body_string("<html>Sign in to the hotel wifi</html>")).await;
    let output = update(&server.uri(), &["--ip", "203.0.113.7"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "nothing says updated: {}", stdout(&output));
    let text = stderr(&output);
    assert!(
        text.contains("outside the spec") && text.contains("may or may not have been applied"),
        "{text}"
    );

    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(
        (report["portfolio"].as_str(), report["token"].as_str()),
        (Some(PORTFOLIO), Some(TOKEN))
    );
}

#[tokio::test]
async fn credentials_that_cannot_be_keys_are_refused_naming_the_variable_not_the_value() {
    let server = answering(ResponseTemplate::new(204)).await;
    let cases: [(&str, &OsStr, &str); 5] = [
        ("ETORO_API_KEY", OsStr::new("key\twith-tab"), "whitespace"),
        ("ETORO_API_KEY", OsStr::new("clé-secrète"), "non-ASCII"),
        ("ETORO_USER_KEY", OsStr::new(" leading-space"), "whitespace"),
        (
            "ETORO_USER_KEY",
            OsStr::from_bytes(b"bad-\xff-bytes"),
            "not valid UTF-8",
        ),
        ("ETORO_API_KEY", OsStr::new("line\nbreak"), "line break"),
    ];
    for (name, value, rule) in cases {
        let output = update(&server.uri(), &["--ip", "203.0.113.7"])
            .env(name, value)
            .output()
            .unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {text}");
        assert!(text.contains(name) && text.contains(rule), "{name}: {text}");
        let shown = value.to_string_lossy();
        assert!(!text.contains(shown.trim()), "{name}: the value was echoed: {text}");
    }
    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--auth", "bearer"])
        .env("ETORO_ACCESS_TOKEN", " padded-token")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("ETORO_ACCESS_TOKEN"), "{}", stderr(&output));
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing was sent");
}

#[test]
fn a_base_url_with_a_password_is_never_echoed() {
    for url in [
        "https://user:hunter2-secret@public-api.etoro.com",
        "https://user:hunter2-secret@[bad",
    ] {
        let output = update(url, &["--ip", "203.0.113.7"]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}");
        let text = stderr(&output);
        assert!(text.contains("--base-url"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn a_dry_run_makes_the_same_credential_checks_as_a_real_run() {
    let server = answering(ResponseTemplate::new(204)).await;
    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--dry-run"])
        .env("ETORO_ACCESS_TOKEN", "bearer-secret-77")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--auth"), "{}", stderr(&output));
    let output = Command::cargo_bin("etoro-token")
        .unwrap()
        .env_clear()
        .args([
            "update",
            "--base-url",
            &server.uri(),
            "--portfolio",
            PORTFOLIO,
            "--token",
            TOKEN,
        ])
        .args(["--ip", "203.0.113.7", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no credentials"), "{}", stderr(&output));

    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let shown = stdout(&output);
    assert!(
        shown.starts_with("curl -X PATCH") && shown.contains("x-api-key: [REDACTED]"),
        "{shown}"
    );
    assert!(
        shown.contains("user-agent: etoro-client-rust/"),
        "the exact request: {shown}"
    );
    assert!(!shown.contains(API_KEY) && !shown.contains(USER_KEY));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn input_errors_name_the_flag_the_user_typed_once() {
    let server = answering(ResponseTemplate::new(204)).await;
    let output = update(&server.uri(), &["--ip", "203.0.113.7", "--ip", "203.0.113.7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("invalid --ip (the 2nd one): duplicate entry 203.0.113.7"),
        "{text}"
    );
    assert_eq!(text.matches("sent").count(), 1, "said once: {text}");
    let output = update(&server.uri(), &["--scope", "a:b", "--scope", "has space"])
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("invalid --scope (the 2nd one)"),
        "{}",
        stderr(&output)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn verbose_logs_each_retry_with_its_request_id_and_no_secret() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let output = update(&server.uri(), &["--ip", "203.0.113.7", "-v"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let logs = stderr(&output);
    let sent = server.received_requests().await.unwrap()[0].headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        logs.contains("retrying") && logs.contains(&sent) && logs.contains("503"),
        "{logs}"
    );
    assert!(!logs.contains(API_KEY) && !logs.contains(USER_KEY), "{logs}");
}

#[tokio::test]
async fn scope_names_from_the_server_are_escaped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"scopes": [{"name": "ok:read"}, {"name": "evil\u{1b}]0;owned\u{7}"}]})),
        )
        .mount(&server)
        .await;
    let output = etoro_token()
        .args(["scopes", "--base-url", &server.uri()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text, "ok:read\nevil\\u001b]0;owned\\u0007\n");
}

#[test]
fn a_mock_that_cannot_listen_is_a_local_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = etoro_token().args(["mock", "--port", &port]).output().unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot start the mock"), "{}", stderr(&output));
}
