//! `etoro-token list`: the table marks expired and soon expiring tokens with a word, escapes names from the
//! network, shows deprecated scope ids as ids; `--json` is one object per token a line.

use crate::support::tokens::*;
use chrono::{Duration, Utc};
use etoro_mock::{Portfolio, Token};
use serde_json::Value;
use uuid::Uuid;

/// A name that would recolour the terminal, forge a line, reorder the row (U+202E), break it (U+2028, NEL) and
/// hide text (U+200B), with DEL and CSI.
const EVIL: &str = "evil\u{1b}[31m\nerror: forged line\u{202e}gpj.exe\u{2028}\u{200b}\u{85}\u{7f}\u{9b}";
/// What must never reach stdout raw (a line break shows in the count of lines).
const RAW: [char; 8] = [
    '\u{1b}', '\u{202e}', '\u{2028}', '\u{200b}', '\u{85}', '\u{7f}', '\u{9b}', '\r',
];

fn seeded() -> (Vec<Portfolio>, [Uuid; 6]) {
    let ids = [(); 6].map(|()| Uuid::new_v4());
    let now = Utc::now();
    let portfolio = Portfolio::new(portfolio_id(), "tokens")
        .token(
            Token::new(ids[0], "expired")
                .scope_names(["a:b"])
                .expires_at(now - Duration::minutes(1)),
        )
        // Within the 7 days by a minute, and beyond them by ten: the edge, allowing for the test's own time.
        .token(
            Token::new(ids[1], "inside the week")
                .scope_names(["a:b"])
                .expires_at(now + Duration::days(7) - Duration::minutes(1)),
        )
        .token(
            Token::new(ids[2], "beyond the week")
                .scope_names(["a:b"])
                .expires_at(now + Duration::days(7) + Duration::minutes(10)),
        )
        .token(Token::new(ids[3], "never").scope_names(["a:b", "c:d"]))
        .token(
            Token::new(ids[4], "legacy")
                .scope_ids([200, 211])
                .ips_whitelist(["198.51.100.4".parse().unwrap()]),
        )
        .token(Token::new(ids[5], EVIL).scope_names(["a:b"]));
    let other =
        Portfolio::new(Uuid::new_v4(), "other").token(Token::new(Uuid::new_v4(), "elsewhere").scope_names(["a:b"]));
    (vec![portfolio, other], ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_marks_expiry_with_a_word_and_escapes_names() {
    let (portfolios, ids) = seeded();
    let server = mock(portfolios, None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args(["list", "--base-url", &server.base_url()]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        !text.contains('\u{1b}'),
        "no colour and no raw escape when stdout is not a terminal: {text:?}"
    );
    assert!(!text.contains(RAW), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1 + 7,
        "a header and one line per token, the forged line included: {text}"
    );
    assert!(lines[0].starts_with("PORTFOLIO") && lines[0].ends_with("STATUS"));
    let row = |id: Uuid| *lines.iter().find(|line| line.contains(&id.to_string())).unwrap();
    assert!(row(ids[0]).ends_with("  EXPIRED"), "{}", row(ids[0]));
    assert!(row(ids[1]).ends_with("  EXPIRING"), "{}", row(ids[1]));
    assert!(row(ids[2]).ends_with("  ok"), "{}", row(ids[2]));
    assert!(row(ids[3]).ends_with("  ok") && row(ids[3]).contains("never") && row(ids[3]).contains("a:b,c:d"));
    assert!(row(ids[4]).contains("ids:200,211") && row(ids[4]).contains("198.51.100.4"));
    assert!(
        row(ids[5])
            .contains("evil\\u001b[31m\\u000aerror: forged line\\u202egpj.exe\\u2028\\u200b\\u0085\\u007f\\u009b"),
        "{}",
        row(ids[5])
    );
    // The columns line up: every TOKEN cell starts at the same place.
    let at = lines[0].find("TOKEN").unwrap();
    for id in ids {
        assert_eq!(row(id).find(&id.to_string()), Some(at));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_is_one_object_per_token_a_line() {
    let (portfolios, ids) = seeded();
    let server = mock(portfolios, None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args([
        "list",
        "--json",
        "--base-url",
        &server.base_url(),
        "--portfolio",
        PORTFOLIO,
    ]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let raw = stdout(&output);
    assert!(
        !raw.contains(RAW),
        "nothing from the network raw in JSON either: {raw:?}"
    );
    let objects: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(objects.len(), 6, "only the chosen portfolio's tokens");
    let status = |id: Uuid| {
        let object = objects.iter().find(|o| o["token"] == id.to_string()).unwrap();
        assert_eq!(object["portfolio"], PORTFOLIO);
        object["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        ids.map(status),
        ["expired", "expiring", "ok", "ok", "ok", "ok"].map(str::to_owned)
    );
    let legacy = objects.iter().find(|o| o["token"] == ids[4].to_string()).unwrap();
    assert_eq!(legacy["scopeIds"], serde_json::json!([200, 211]));
    assert_eq!(legacy["scopeNames"], serde_json::json!([]));
    let evil = objects.iter().find(|o| o["token"] == ids[5].to_string()).unwrap();
    assert_eq!(evil["name"], EVIL, "JSON carries the name exactly, escaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_portfolio_exits_3() {
    let server = mock(example(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let other = Uuid::new_v4().to_string();
    let mut cmd = etoro_token(dir.path());
    cmd.args(["list", "--base-url", &server.base_url(), "--portfolio", &other]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains(&other) && stdout(&output).is_empty());
}

#[test]
fn the_embedded_mock_lists_the_readme_token() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_etoro-token"))
        .env_clear()
        .args(["list", "--mock"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(TOKEN) && text.contains("readme-token") && text.contains(PORTFOLIO));
}

/// `-v` on a terminal is coloured, and never with NO_COLOR; the server's text in it is escaped either way.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_are_coloured_on_a_terminal_unless_no_color() {
    let body = r#"{"errorCode": "Down", "errorMessage": "down\u001b]0;owned\u0007"}"#;
    let (addr, _count) = fixed_answer(503, body).await;
    for no_color in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = etoro_token(dir.path());
        cmd.args(["list", "-v", "--attempts", "2", "--base-url", &format!("http://{addr}")]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let (code, seen) = Terminal::spawn(&mut cmd).finish().await;
        assert_eq!(code, Some(4), "{seen}");
        assert!(seen.contains("retrying"), "{seen:?}");
        assert!(
            seen.contains("down\\u001b]0;owned\\u0007"),
            "the server's text escaped: {seen:?}"
        );
        assert!(!seen.contains("\u{1b}]0;owned"), "{seen:?}");
        assert_eq!(
            seen.contains("\u{1b}["),
            !no_color,
            "colour only without NO_COLOR: {seen:?}"
        );
    }
}
