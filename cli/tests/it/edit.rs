//! `etoro-token edit`: incremental edits against the stateful mock (closed world, seeded), whose request record
//! and store are the evidence; a proxy in front of it lets a second writer in between our PATCH and our re-read.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::tokens::{etoro_token, mock, portfolio_id, run, stderr, stdout, tokens, Action, Proxy};
use crate::support::{methods, patched_tokens};
use chrono::{DateTime, SubsecRound, Utc};
use etoro_mock::{MockServer, Portfolio, Token};
use serde_json::Value;
use uuid::Uuid;

const READ: &str = "etoro-public:trade.real:read";
const WRITE: &str = "etoro-public:trade.real:write";

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn id(i: usize) -> Uuid {
    Uuid::from_u128(0x1000 + i as u128)
}

/// `count` tokens named bot-00.., each with scope READ and address 203.0.113.1 (plus 198.51.100.9 for the
/// indices in `have_new`), expiring in 10 days.
fn seed(count: usize, have_new: &[usize], expiry: DateTime<Utc>) -> Portfolio {
    (0..count).fold(Portfolio::new(portfolio_id(), "alpha"), |seeded, i| {
        let mut ips = vec![ip("203.0.113.1")];
        if have_new.contains(&i) {
            ips.push(ip("198.51.100.9"));
        }
        seeded.token(
            Token::new(id(i), format!("bot-{i:02}"))
                .scope_names([READ])
                .ips_whitelist(ips)
                .expires_at(expiry),
        )
    })
}

fn in_days(days: i64) -> DateTime<Utc> {
    (Utc::now() + chrono::Duration::days(days)).trunc_subsecs(0)
}

/// `etoro-token edit --base-url URL --portfolio P` plus `args`, run in `dir`.
fn edit_in(dir: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    let portfolio = portfolio_id().to_string();
    let mut cmd = etoro_token(dir);
    cmd.args(["edit", "--base-url", base_url, "--portfolio", &portfolio])
        .args(args);
    cmd
}

/// The same in a fresh directory, run to the end.
async fn edit(base_url: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    run(&mut edit_in(dir.path(), base_url, args)).await
}

fn stored(server: &MockServer, i: usize) -> Token {
    tokens(server).into_iter().find(|token| token.id == id(i)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn add_ip_on_every_token_sends_only_the_tokens_that_lack_it_and_keeps_the_rest() {
    let server = mock(vec![seed(10, &[3], in_days(10))], None).await;

    let output = edit(&server.base_url(), &["--all", "--add-ip", "198.51.100.9"]).await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut sent = patched_tokens(&server);
    sent.sort();
    let expected: Vec<Uuid> = (0..10).filter(|i| *i != 3).map(id).collect();
    assert_eq!(sent, expected, "one PATCH per token that changes");
    let methods = methods(&server);
    assert_eq!(
        methods.iter().filter(|method| *method == "GET").count(),
        2,
        "list, then the check"
    );
    assert_eq!(methods.first().map(String::as_str), Some("GET"));
    assert_eq!(methods.last().map(String::as_str), Some("GET"));
    for i in 0..10 {
        let token = stored(&server, i);
        let mut ips = token.ips_whitelist.unwrap();
        ips.sort();
        assert_eq!(ips, [ip("198.51.100.9"), ip("203.0.113.1")], "token {i}");
        assert_eq!(token.scope_names, Some(vec![READ.to_owned()]), "scopes untouched");
    }
    assert!(stderr(&output).contains("9 updated"), "{}", stderr(&output));

    // The same command again finds nothing to do: one list request, no PATCH.
    let before = server.request_count();
    let again = edit(&server.base_url(), &["--all", "--add-ip", "198.51.100.9"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(server.request_count() - before, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_prints_each_change_and_sends_nothing_but_the_list() {
    let server = mock(vec![seed(3, &[1], in_days(10))], None).await;

    let output = edit(&server.base_url(), &["--all", "--add-ip", "198.51.100.9", "--plan"]).await;

    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let shown = stdout(&output);
    assert!(
        shown.contains("ipsWhitelist: 203.0.113.1 -> 198.51.100.9, 203.0.113.1"),
        "{shown}"
    );
    assert!(
        shown.contains(&id(0).to_string()) && !shown.contains(&id(1).to_string()),
        "{shown}"
    );
    assert!(shown.contains("plan: 2 to change, 1 unchanged"), "{shown}");
    assert_eq!(methods(&server), ["GET"]);

    let json = edit(
        &server.base_url(),
        &[
            "--token",
            &id(1).to_string(),
            "--add-ip",
            "198.51.100.9",
            "--plan",
            "--json",
        ],
    )
    .await;
    assert_eq!(json.status.code(), Some(0), "nothing would change: {}", stderr(&json));
    let lines: Vec<Value> = stdout(&json)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines[0]["action"], "unchanged");
    assert_eq!(lines[1]["plan"]["change"], 0);

    // A token named twice is one token; one the portfolio does not have is missing (exit 3), nothing sent.
    let absent = Uuid::from_u128(0xdead).to_string();
    let token = id(0).to_string();
    let args = [
        "--token",
        &token,
        "--token",
        &token,
        "--token",
        &absent,
        "--add-ip",
        "198.51.100.9",
    ];
    let missing = edit(&server.base_url(), &args).await;
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains(&format!("token {absent} is not in agent-portfolio")),
        "{}",
        stderr(&missing)
    );
    assert_eq!(
        patched_tokens(&server),
        [id(0)],
        "the present token once, the missing one never"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_last_address_or_scope_is_refused_for_that_token_only() {
    // Token 1 has two addresses; token 0 only the one being removed.
    let server = mock(vec![seed(2, &[1], in_days(10))], None).await;

    let output = edit(&server.base_url(), &["--all", "--remove-ip", "203.0.113.1"]).await;

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--remove-ip"), "{}", stderr(&output));
    assert!(stderr(&output).contains("last address"), "{}", stderr(&output));
    assert_eq!(patched_tokens(&server), [id(1)], "nothing sent for the refused token");
    assert_eq!(stored(&server, 0).ips_whitelist, Some(vec![ip("203.0.113.1")]));
    assert_eq!(stored(&server, 1).ips_whitelist, Some(vec![ip("198.51.100.9")]));

    let scopes = edit(
        &server.base_url(),
        &["--token", &id(0).to_string(), "--remove-scope", READ],
    )
    .await;
    assert_eq!(scopes.status.code(), Some(2), "{}", stderr(&scopes));
    assert!(stderr(&scopes).contains("last scope"), "{}", stderr(&scopes));
    assert_eq!(patched_tokens(&server).len(), 1, "still only the first PATCH");
}

#[tokio::test(flavor = "multi_thread")]
async fn add_ip_leaves_an_open_token_open_and_says_so() {
    let open = Portfolio::new(portfolio_id(), "alpha").token(Token::new(id(0), "open").scope_names([READ]));
    let server = mock(vec![open], None).await;

    let output = edit(
        &server.base_url(),
        &["--all", "--add-ip", "198.51.100.9", "--add-scope", WRITE],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("usable from any address"),
        "{}",
        stderr(&output)
    );
    let token = stored(&server, 0);
    assert_eq!(token.ips_whitelist, None, "still open to any address");
    assert_eq!(token.scope_names, Some(vec![READ.to_owned(), WRITE.to_owned()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flags_are_refused_before_anything_is_sent() {
    let server = mock(vec![seed(1, &[], in_days(10))], None).await;
    let cases: [(&[&str], &str); 5] = [
        (
            &["--all", "--add-ip", "198.51.100.9", "--remove-ip", "198.51.100.9"],
            "--add-ip, --remove-ip",
        ),
        (&["--all", "--add-scope", "a b"], "--add-scope"),
        (&["--all"], "--add-ip, --remove-ip"),
        (&["--all", "--name", "[", "--extend", "1d"], "--name"),
        (&["--all", "--expires-at", "2001-01-01T00:00:00Z"], "--expires-at"),
    ];
    for (args, named) in cases {
        let output = edit(&server.base_url(), args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(named), "{args:?}: {}", stderr(&output));
    }
    let clap_refused = edit(&server.base_url(), &["--all", "--extend", "1d", "--expires-in", "2d"]).await;
    assert_eq!(clap_refused.status.code(), Some(2));
    assert_eq!(server.request_count(), 0, "nothing was sent");

    // A portfolio the listing does not have: exit 3 after the one list request.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args([
        "edit",
        "--base-url",
        &server.base_url(),
        "--portfolio",
        &Uuid::from_u128(7).to_string(),
    ]);
    let output = run(cmd.args(["--all", "--add-ip", "198.51.100.9"])).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("is not in the listing"), "{}", stderr(&output));
    assert_eq!(methods(&server), ["GET"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_extends_only_the_tokens_expiring_soon_and_the_name_glob_narrows() {
    let soon = in_days(3);
    let later = in_days(60);
    let portfolio = Portfolio::new(portfolio_id(), "alpha")
        .token(
            Token::new(id(0), "bot-a")
                .scope_names([READ])
                .ips_whitelist([ip("203.0.113.1")])
                .expires_at(soon),
        )
        .token(
            Token::new(id(1), "bot-b")
                .scope_names([READ])
                .ips_whitelist([ip("203.0.113.1")])
                .expires_at(later),
        )
        .token(
            Token::new(id(2), "svc-c")
                .scope_names([READ])
                .ips_whitelist([ip("203.0.113.1")])
                .expires_at(soon),
        );
    let server = mock(vec![portfolio], None).await;

    let output = edit(
        &server.base_url(),
        &[
            "--all",
            "--name",
            "bot-*",
            "--expiring-within",
            "7d",
            "--extend",
            "30d",
            "--api",
            "v2",
        ],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(patched_tokens(&server), [id(0)]);
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path.starts_with("/api/v2/")),
        "--api v2"
    );
    assert_eq!(stored(&server, 0).expires_at, Some(soon + chrono::Duration::days(30)));
    assert_eq!(stored(&server, 1).expires_at, Some(later));
    assert_eq!(stored(&server, 2).expires_at, Some(soon));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_writer_between_our_patch_and_the_reread_is_a_conflict() {
    let server = mock(vec![seed(2, &[], in_days(10))], None).await;
    let proxy = Proxy::start(server.addr()).await;
    // The listing passes; the re-read is held (until its attempt times out and is retried), and meanwhile
    // someone else sets token 0's allow-list to one address.
    proxy.on("GET", "agent-portfolios", Action::Forward, 1);
    proxy.on("GET", "agent-portfolios", Action::Hold, 1);
    let base_url = proxy.base_url();
    let editing = tokio::spawn(async move {
        edit(
            &base_url,
            &["--all", "--add-ip", "198.51.100.9", "--timeout", "2s", "--json"],
        )
        .await
    });
    proxy.until_held(1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut other = etoro_token(dir.path());
    other.args([
        "update",
        "--base-url",
        &server.base_url(),
        "--portfolio",
        &portfolio_id().to_string(),
    ]);
    other.args(["--token", &id(0).to_string(), "--ip", "192.0.2.77"]);
    let written = run(&mut other).await;
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));

    let output = editing.await.unwrap();

    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    let conflicts: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["outcome"] == "conflict")
        .collect();
    assert_eq!(conflicts.len(), 1, "{}", stdout(&output));
    assert_eq!(conflicts[0]["token"], id(0).to_string());
    assert_eq!(conflicts[0]["ours"][0]["value"], "198.51.100.9, 203.0.113.1");
    assert_eq!(conflicts[0]["found"][0]["value"], "192.0.2.77");
    // The last object gives machines the read-back and the final code (the engine's summary came before it).
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(last["check"]["checked"], 2);
    assert_eq!(last["check"]["conflicts"], 1);
    assert_eq!(last["check"]["exitCode"], 7);
    // Not written again: the second writer's state stands, and each token had one PATCH of ours.
    assert_eq!(stored(&server, 0).ips_whitelist, Some(vec![ip("192.0.2.77")]));
    assert_eq!(patched_tokens(&server).len(), 3, "ours twice, theirs once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_halfway_resumes_with_its_journal_without_extending_twice() {
    let expiry = in_days(2);
    let config = etoro_mock::MockConfig {
        world: etoro_mock::World::Closed,
        portfolios: vec![seed(6, &[], expiry)],
        faults: etoro_mock::Faults {
            latency: Duration::from_millis(300),
            ..etoro_mock::Faults::default()
        },
        ..etoro_mock::MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("renew.journal");
    let args = [
        "--all",
        "--extend",
        "30d",
        "--concurrency",
        "1",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let mut child = edit_in(dir.path(), &server.base_url(), &args).spawn().unwrap();
    // Kill -9 once two PATCHes have landed.
    let landed = || {
        server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.status == 204)
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while landed() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no PATCH landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let sent_first = patched_tokens(&server).len();
    assert!(sent_first < 6, "killed halfway, after {sent_first} PATCHes");

    let output = run(&mut edit_in(dir.path(), &server.base_url(), &args)).await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for i in 0..6 {
        assert_eq!(
            stored(&server, i).expires_at,
            Some(expiry + chrono::Duration::days(30)),
            "token {i} extended exactly once"
        );
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_the_read_back_ends_it_at_once_and_says_what_was_not_checked() {
    let server = mock(vec![seed(2, &[], in_days(10))], None).await;
    let proxy = Proxy::start(server.addr()).await;
    // The re-read is held, and its attempt would wait a minute.
    proxy.on("GET", "agent-portfolios", Action::Forward, 1);
    proxy.on("GET", "agent-portfolios", Action::Hold, 1);
    let dir = tempfile::tempdir().unwrap();
    let portfolio = portfolio_id().to_string();
    let mut cmd = etoro_token(dir.path());
    cmd.args(["edit", "--base-url", &proxy.base_url(), "--portfolio", &portfolio]);
    cmd.args(["--all", "--add-ip", "198.51.100.9", "--timeout", "60s"]);
    let child = cmd.spawn().unwrap();
    proxy.until_held(1).await;
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    let sent = tokio::time::Instant::now();
    // SAFETY: a plain kill(2) on the child this test spawned and still holds.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the read-back ignored Ctrl-C")
        .unwrap();

    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "ended at once: {:?}",
        sent.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("interrupted (SIGINT) while reading the 2 updated token(s) back"),
        "{said}"
    );
    assert_eq!(patched_tokens(&server).len(), 2, "the updates were made");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_never_hides_a_token_changed_since_the_run_it_records() {
    let server = mock(vec![seed(2, &[], in_days(10))], None).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("edit.journal");
    let portfolio = portfolio_id().to_string();
    let args = [
        "--all",
        "--add-ip",
        "198.51.100.9",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let first = run(&mut edit_in(dir.path(), &server.base_url(), &args)).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // Someone sets token 0 back to its old list; the same command with the same journal puts the address back.
    let mut other = etoro_token(dir.path());
    other.args(["update", "--base-url", &server.base_url(), "--portfolio", &portfolio]);
    let reset = run(other.args(["--token", &id(0).to_string(), "--ip", "203.0.113.1"])).await;
    assert_eq!(reset.status.code(), Some(0), "{}", stderr(&reset));

    let again = run(&mut edit_in(dir.path(), &server.base_url(), &args)).await;

    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let mut ips = stored(&server, 0).ips_whitelist.unwrap();
    ips.sort();
    assert_eq!(ips, [ip("198.51.100.9"), ip("203.0.113.1")]);
    assert_eq!(
        patched_tokens(&server).len(),
        2 + 1 + 1,
        "ours twice, theirs once, ours once more for token 0"
    );
}
