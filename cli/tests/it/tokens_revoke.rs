//! `etoro-token revoke`: asks on a terminal (showing the token's name), needs `--yes` without one, and reports a
//! token that an earlier, unanswered attempt revoked as already gone.

use crate::support::tokens::*;

fn revoke(base_url: &str, dir: &std::path::Path, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = etoro_token(dir);
    cmd.args(crate::support::test_token_args("revoke", base_url))
        .args(extra);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_yes_the_token_is_revoked() {
    let server = mock(example(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let output = run(&mut revoke(&server.base_url(), dir.path(), &["--yes"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).starts_with(&format!("revoked user token {TOKEN}")));
    assert!(tokens(&server).is_empty());
    assert_eq!(server.request_count(), 1, "with --yes, no list is needed");
    assert_absent(&[], &stderr(&output), "stderr");

    // Revoked already: eToro's 404 on a first attempt is an error, not a success.
    let again = run(&mut revoke(&server.base_url(), dir.path(), &["--yes"])).await;
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(stderr(&again).contains("404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_yes_is_required_and_nothing_is_sent() {
    let server = mock(example(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let output = run(&mut revoke(&server.base_url(), dir.path(), &[])).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--yes") && stderr(&output).contains("nothing was sent"));
    assert_eq!(server.request_count(), 0, "the mock saw nothing");
    assert_eq!(tokens(&server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_whose_answer_was_lost_reports_the_token_already_gone() {
    let server = mock(example(), None).await;
    let proxy = Proxy::start(server.addr()).await;
    proxy.on("DELETE", TOKEN, Action::LoseAnswer, 1);
    let dir = tempfile::tempdir().unwrap();
    let output = run(&mut revoke(&proxy.base_url(), dir.path(), &["--yes"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("already gone"), "{}", stdout(&output));
    assert!(tokens(&server).is_empty());
    let deletes = proxy.seen().iter().filter(|(method, _)| method == "DELETE").count();
    assert_eq!(deletes, 2, "the lost attempt and the retry that found it gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nil_ids_are_refused_naming_the_flag() {
    let server = mock(example(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let nil = uuid::Uuid::nil().to_string();
    let output = run(&mut revoke(&server.base_url(), dir.path(), &["--yes", "--token", &nil])).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--token"));
    assert_eq!(server.request_count(), 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_user_is_asked_with_the_tokens_name() {
    let server = mock(example(), None).await;
    let dir = tempfile::tempdir().unwrap();

    let mut declined = Terminal::spawn(&mut revoke(&server.base_url(), dir.path(), &[]));
    declined.until("[y/N]").await;
    assert!(declined.seen().contains("\"readme-token\""), "{}", declined.seen());
    declined.type_line("n");
    let (code, seen) = declined.finish().await;
    assert_eq!(code, Some(2), "{seen}");
    assert!(seen.contains("nothing was revoked"));
    assert_eq!(tokens(&server).len(), 1);
    assert!(server.requests().iter().all(|r| r.method == "GET"), "only the list");

    let mut confirmed = Terminal::spawn(&mut revoke(&server.base_url(), dir.path(), &[]));
    confirmed.until("[y/N]").await;
    confirmed.type_line("y");
    let (code, seen) = confirmed.finish().await;
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("revoked user token"));
    assert!(tokens(&server).is_empty());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_table_is_coloured_as_well_as_worded() {
    let expired = etoro_mock::Token::new(uuid::Uuid::new_v4(), "old")
        .scope_names(["a:b"])
        .expires_at(chrono::Utc::now() - chrono::Duration::hours(1));
    let server = mock(vec![etoro_mock::Portfolio::example().token(expired)], None).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args(["list", "--base-url", &server.base_url()]);
    let (code, seen) = Terminal::spawn(&mut cmd).finish().await;
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("\u{1b}[1;31mEXPIRED\u{1b}[0m"), "{seen:?}");

    cmd.env("NO_COLOR", "1");
    let (_, plain) = Terminal::spawn(&mut cmd).finish().await;
    assert!(plain.contains("EXPIRED") && !plain.contains('\u{1b}'), "{plain:?}");
}
