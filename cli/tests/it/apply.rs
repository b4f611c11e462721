//! `etoro-token apply`: a desired state, one list request, and a PATCH only where a token differs. Against the
//! stateful mock (closed world, seeded), whose request log and store are the evidence.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use etoro_mock::{MockConfig, MockServer, Portfolio, Token, World};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{methods, patched_tokens};

const API_KEY: &str = "apply-test-api-key-61";
const USER_KEY: &str = "apply-test-user-key-2f";

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// `count` tokens in one portfolio, each allowing 203.0.113.1 only, expiring in 10 days.
fn seed(count: usize) -> (Uuid, Vec<Uuid>, Portfolio) {
    let portfolio = Uuid::new_v4();
    let tokens: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    let expiry = Utc::now() + chrono::Duration::days(10);
    let seeded = tokens
        .iter()
        .enumerate()
        .fold(Portfolio::new(portfolio, "alpha"), |seeded, (i, id)| {
            seeded.token(
                Token::new(*id, format!("bot-{i}"))
                    .scope_names(["etoro-public:trade.real:read"])
                    .ips_whitelist([ip("203.0.113.1")])
                    .expires_at(expiry),
            )
        });
    (portfolio, tokens, seeded)
}

async fn mock_with(portfolios: Vec<Portfolio>, latency: Duration) -> MockServer {
    let config = MockConfig {
        world: World::Closed,
        portfolios,
        faults: etoro_mock::Faults {
            latency,
            ..etoro_mock::Faults::default()
        },
        ..MockConfig::default()
    };
    MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn write(dir: &Path, lines: &[Value]) -> std::path::PathBuf {
    let path = dir.join("desired.jsonl");
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn apply(server: &MockServer, file: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("etoro-token").unwrap();
    cmd.env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .args(["apply", "--base-url", &server.base_url(), "--from"])
        .arg(file)
        .args(extra)
        .timeout(Duration::from_secs(120));
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A desired-state file for `tokens` of `portfolio`, token `i` with `fields(i)`.
fn desired_file(dir: &Path, portfolio: Uuid, tokens: &[Uuid], fields: impl Fn(usize) -> Value) -> PathBuf {
    let lines: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| desired(portfolio, *token, fields(i)))
        .collect();
    write(dir, &lines)
}

fn desired(portfolio: Uuid, token: Uuid, fields: Value) -> Value {
    let mut line = json!({"portfolio": portfolio, "token": token});
    line.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    line
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_shows_exactly_the_differing_tokens_and_sends_no_patch() {
    let (portfolio, tokens, seeded) = seed(5);
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    // Tokens 0 and 3 differ (another IP set); 1, 2 and 4 ask for what they have (in another order, as a set).
    let file = desired_file(dir.path(), portfolio, &tokens, |i| {
        let ips = if i == 0 || i == 3 {
            json!(["198.51.100.1", "198.51.100.2"])
        } else {
            json!(["203.0.113.1"])
        };
        json!({"ipsWhitelist": ips, "scopeNames": ["etoro-public:trade.real:read"]})
    });

    let output = apply(&server, &file, &["--plan"]).output().unwrap();

    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    for (i, token) in tokens.iter().enumerate() {
        assert_eq!(
            shown.contains(&token.to_string()),
            i == 0 || i == 3,
            "token {i} in the plan: {shown}"
        );
    }
    assert!(
        shown.contains("ipsWhitelist: 203.0.113.1 -> 198.51.100.1, 198.51.100.2"),
        "{shown}"
    );
    assert!(shown.contains("plan: 2 to change, 3 unchanged, 0 missing"), "{shown}");
    assert_eq!(methods(&server), ["GET"], "one list request and nothing else");

    // The same plan for machines.
    let output = apply(&server, &file, &["--plan", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(6));
    let objects: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let changes: Vec<&Value> = objects.iter().filter(|object| object["action"] == "change").collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["changes"][0]["field"], "ipsWhitelist");
    assert_eq!(objects.last().unwrap()["plan"]["change"], 2);
    assert!(patched_tokens(&server).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_leaves_every_token_as_desired_and_a_second_plan_shows_nothing() {
    let (portfolio, tokens, seeded) = seed(6);
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let file = desired_file(
        dir.path(),
        portfolio,
        &tokens,
        |_| json!({"ipsWhitelist": ["198.51.100.1", "198.51.100.2"], "validFor": "30d"}),
    );

    let output = apply(&server, &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(patched_tokens(&server).len(), 6, "each token once");
    let soon = Utc::now() + chrono::Duration::days(30);
    for token in &tokens {
        let now = server.token(portfolio, *token).unwrap();
        assert_eq!(now.ips_whitelist, Some(vec![ip("198.51.100.1"), ip("198.51.100.2")]));
        assert!(now.expires_at.unwrap() >= soon, "validFor: {:?}", now.expires_at);
    }

    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("plan: 0 to change, 6 unchanged"));
    let output = apply(&server, &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(patched_tokens(&server).len(), 6, "a second apply sends no PATCH");
    assert!(text(&output.stderr).contains("6 unchanged"), "{}", text(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_missing_from_the_listing_is_reported_and_not_sent() {
    let (portfolio, tokens, seeded) = seed(2);
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let ghost = Uuid::new_v4();
    let lines = vec![
        desired(portfolio, tokens[0], json!({"ipsWhitelist": ["198.51.100.9"]})),
        desired(portfolio, ghost, json!({"ipsWhitelist": ["198.51.100.9"]})),
    ];
    let file = write(dir.path(), &lines);

    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "a missing token outranks pending changes"
    );
    assert!(
        text(&output.stderr).contains(&format!("token {ghost}")),
        "{}",
        text(&output.stderr)
    );

    let output = apply(&server, &file, &["--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(patched_tokens(&server), [tokens[0]], "the ghost was not sent");
    let objects: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ghost_report = objects
        .iter()
        .find(|object| object["token"] == ghost.to_string())
        .unwrap();
    assert_eq!(ghost_report["outcome"], "refused");
    let summary = &objects.last().unwrap()["summary"];
    assert_eq!(
        (summary["updated"].as_u64(), summary["missing"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_identical_to_the_current_state_sends_nothing() {
    let (portfolio, tokens, seeded) = seed(1);
    let expiry = seeded.tokens[0].expires_at.unwrap();
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let line = desired(
        portfolio,
        tokens[0],
        json!({"scopeNames": ["etoro-public:trade.real:read"], "ipsWhitelist": ["203.0.113.1"], "expiresAt": expiry}),
    );
    let file = write(dir.path(), &[line]);
    let output = apply(&server, &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(methods(&server), ["GET"]);
    assert!(text(&output.stderr).contains("1 unchanged"), "{}", text(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_for_is_met_by_a_later_expiry_and_fixes_a_sooner_one() {
    let portfolio = Uuid::new_v4();
    let (later, sooner) = (Uuid::new_v4(), Uuid::new_v4());
    let now: DateTime<Utc> = Utc::now();
    let seeded = Portfolio::new(portfolio, "alpha")
        .token(Token::new(later, "later").expires_at(now + chrono::Duration::days(31)))
        .token(Token::new(sooner, "sooner").expires_at(now + chrono::Duration::days(29)));
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = [later, sooner].map(|token| desired(portfolio, token, json!({"validFor": "30d"})));
    let file = write(dir.path(), &lines);

    let output = apply(&server, &file, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(patched_tokens(&server), [sooner]);
    let fixed = server.token(portfolio, sooner).unwrap().expires_at.unwrap();
    assert!(fixed >= now + chrono::Duration::days(30), "{fixed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desired_state_naming_a_token_twice_or_breaking_a_rule_is_invalid() {
    let (portfolio, tokens, seeded) = seed(2);
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        desired(portfolio, tokens[0], json!({"ipsWhitelist": ["198.51.100.1"]})),
        desired(portfolio, tokens[0], json!({"ipsWhitelist": ["198.51.100.2"]})),
        desired(portfolio, tokens[1], json!({"validFor": "soon"})),
        desired(
            portfolio,
            tokens[1],
            json!({"expiresAt": "2031-01-01T00:00:00Z", "validFor": "30d"}),
        ),
    ];
    let file = write(dir.path(), &lines);
    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = text(&output.stderr);
    assert!(
        errors.contains("line 2: invalid: token") && errors.contains("already described on line 1"),
        "{errors}"
    );
    assert!(errors.contains("line 3: invalid: validFor:"), "{errors}");
    assert!(
        errors.contains("line 4: invalid: invalid expiresAt, validFor"),
        "{errors}"
    );
}

fn journal_updates(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["outcome"] == "updated")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_run_then_run_again_every_token_ends_as_desired_and_none_is_patched_twice() {
    let (portfolio, tokens, seeded) = seed(24);
    let server = mock_with(vec![seeded], Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = desired_file(
        dir.path(),
        portfolio,
        &tokens,
        |_| json!({"ipsWhitelist": ["198.51.100.7"]}),
    );
    let journal = dir.path().join("apply.journal");

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("etoro-token"))
        .env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .args([
            "apply",
            "--base-url",
            &server.base_url(),
            "--concurrency",
            "2",
            "--from",
        ])
        .arg(&file)
        .arg("--journal")
        .arg(&journal)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while journal_updates(&journal).len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let first = patched_tokens(&server).len();
    assert!(first >= 4 && first < tokens.len(), "killed mid-run: {first} patched");

    let output: Output = apply(&server, &file, &["--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for token in &tokens {
        let now = server.token(portfolio, *token).unwrap();
        assert_eq!(now.ips_whitelist, Some(vec![ip("198.51.100.7")]), "{token}");
    }
    // A PATCH the kill cut before the mock answered it was not applied, and is sent again; none is applied twice.
    let mut applied: Vec<Uuid> = server
        .requests()
        .iter()
        .filter(|request| request.method == "PATCH" && request.status == 204)
        .map(|request| request.path.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    applied.sort();
    let before = applied.len();
    applied.dedup();
    assert_eq!(
        (before, applied.len()),
        (tokens.len(), tokens.len()),
        "every token applied exactly once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_changed_after_a_journaled_apply_is_sent_again_whatever_the_journal_says() {
    let (portfolio, tokens, seeded) = seed(2);
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let file = desired_file(
        dir.path(),
        portfolio,
        &tokens,
        |_| json!({"ipsWhitelist": ["198.51.100.7"]}),
    );
    let journal = dir.path().join("apply.journal");
    let with_journal = ["--journal", journal.to_str().unwrap()];

    let output = apply(&server, &file, &with_journal).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(patched_tokens(&server).len(), 2);

    // Someone changes token 0 behind the desired state's back.
    let mut update = Command::cargo_bin("etoro-token").unwrap();
    let output = update
        .env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .args(["update", "--base-url", &server.base_url(), "--portfolio"])
        .arg(portfolio.to_string())
        .arg("--token")
        .arg(tokens[0].to_string())
        .args(["--ip", "192.0.2.66"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    assert_eq!(output.status.code(), Some(6), "the plan sees the drift");

    let output = apply(&server, &file, &with_journal).output().unwrap();
    let errors = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{errors}");
    assert!(
        !errors.contains("skipped (already done)") || errors.contains("0 skipped"),
        "{errors}"
    );
    assert_eq!(
        server.token(portfolio, tokens[0]).unwrap().ips_whitelist,
        Some(vec![ip("198.51.100.7")]),
        "the drifted token is set back: {errors}"
    );
    assert_eq!(
        patched_tokens(&server)
            .iter()
            .filter(|token| **token == tokens[0])
            .count(),
        3,
        "apply, update, apply again: token 0 patched three times; token 1 (unchanged) not again"
    );
    assert_eq!(patched_tokens(&server).len(), 4);
    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_allow_list_reads_any_address_and_expires_in_is_refused_for_valid_for() {
    let portfolio = Uuid::new_v4();
    let (open, other) = (Uuid::new_v4(), Uuid::new_v4());
    let seeded = Portfolio::new(portfolio, "alpha")
        .token(Token::new(open, "open").scope_names(["etoro-public:trade.real:read"]))
        .token(Token::new(other, "other").scope_names(["etoro-public:trade.real:read"]));
    let server = mock_with(vec![seeded], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        &[
            desired(portfolio, open, json!({"ipsWhitelist": ["198.51.100.1"]})),
            desired(portfolio, other, json!({"expiresIn": "30d"})),
        ],
    );
    let output = apply(&server, &file, &["--plan"]).output().unwrap();
    let (out, errors) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{out}{errors}");
    assert!(out.contains("ipsWhitelist: any address -> 198.51.100.1"), "{out}");
    assert!(
        errors.contains("line 2: invalid: expiresIn: a desired state takes validFor"),
        "{errors}"
    );
}
