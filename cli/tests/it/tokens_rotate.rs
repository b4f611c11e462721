//! `etoro-token rotate`: interrupted at each crash point (kill -9 while a request is held) and run again, from the
//! same directory or another, it ends with exactly one new token whose secret was stored, and the old token
//! revoked, or stops (exit 3) naming the token it will not touch; the secret appears nowhere but where it was
//! sent. The library's own tests (`tests/tests/it/rotation.rs`) crash it at every save of its state.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use crate::support::tokens::*;
use chrono::{Duration, Utc};
use etoro_mock::{MockServer, Portfolio, Token};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

/// The README token's default new name.
const NEW_NAME: &str = "readme-token-rotated-9b2d3c4e";
const SECRET_FILE: &str = "bot.secret";

struct Setup {
    dir: TempDir,
    log: PathBuf,
    server: MockServer,
    proxy: Proxy,
    /// Every run's output, to search for secrets at the end.
    outputs: Vec<Output>,
}

async fn setup(portfolios: Vec<Portfolio>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mock.log");
    let server = mock(portfolios, Some(log.clone())).await;
    let proxy = Proxy::start(server.addr()).await;
    Setup {
        dir,
        log,
        server,
        proxy,
        outputs: Vec::new(),
    }
}

impl Setup {
    /// The binary, run in `dir`, with this test's state directory (`XDG_STATE_HOME`).
    fn command(&self, dir: &std::path::Path) -> tokio::process::Command {
        let mut cmd = etoro_token(dir);
        cmd.env("XDG_STATE_HOME", self.path("xdg"));
        cmd
    }

    /// Where the rotation's state is by default.
    fn state_path(&self) -> PathBuf {
        self.path("xdg")
            .join("etoro-token/rotations")
            .join(format!("rotation-{PORTFOLIO}-{TOKEN}.json"))
    }

    /// `rotate --yes` of the README token through the proxy, plus `extra`.
    fn rotate(&self, extra: &[&str]) -> tokio::process::Command {
        self.rotate_in(self.dir.path(), extra)
    }

    /// The same, run in `dir`.
    fn rotate_in(&self, dir: &std::path::Path, extra: &[&str]) -> tokio::process::Command {
        let mut cmd = self.command(dir);
        cmd.args(["rotate", "--base-url", &self.proxy.base_url(), "--portfolio", PORTFOLIO])
            .args(["--token", TOKEN, "--yes"])
            .args(extra);
        cmd
    }

    /// Runs `rotate` to the end and keeps its output.
    async fn run(&mut self, extra: &[&str]) -> Output {
        let output = run(&mut self.rotate(extra)).await;
        self.outputs.push(output.clone());
        output
    }

    /// Starts `rotate`, waits until the proxy holds `held` requests, and kills it there.
    async fn kill_when_held(&mut self, extra: &[&str], held: usize) -> Output {
        let mut child = self.rotate(extra).spawn().unwrap();
        self.proxy.until_held(held).await;
        child.start_kill().unwrap();
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.status.code(), None, "killed by a signal: {}", stderr(&output));
        self.outputs.push(output.clone());
        output
    }

    /// Holds the first request matching `method` and `path` with `action`, kills the run there (writing the
    /// secret to the secret file), and returns the step its state recorded.
    async fn killed_at(&mut self, method: &'static str, path: &'static str, action: Action) -> String {
        self.proxy.on(method, path, action, 1);
        self.kill_when_held(&["--secret-file", SECRET_FILE], 1).await;
        self.state()["step"]["name"].as_str().unwrap_or_default().to_owned()
    }

    /// Runs rotate with the secret file and `extra`, and checks it exits 0.
    async fn run_to_file(&mut self, extra: &[&str]) -> Output {
        let args: Vec<&str> = ["--secret-file", SECRET_FILE].iter().chain(extra).copied().collect();
        let output = self.run(&args).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        output
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The rotation's state, as recorded by default.
    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }

    /// Nothing but the state file is left in the state directory (no lock file, no temporary file).
    fn assert_only_the_state_is_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.state_path().parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, [self.state_path().file_name().unwrap()], "{left:?}");
    }

    /// The end every rotation must reach: the old token gone, exactly one token of the new name holding the old
    /// one's scopes, `stored` its secret, and every other token this rotation created revoked.
    fn assert_rotated(&self, stored: &str) -> Uuid {
        let tokens = tokens(&self.server);
        assert!(
            !tokens.iter().any(|t| t.id == token_id()),
            "the old token is revoked: {tokens:?}"
        );
        assert_eq!(tokens.len(), 1, "exactly one token is left: {tokens:?}");
        let new = &tokens[0];
        assert_eq!(new.name, NEW_NAME);
        assert_eq!(
            new.scope_names.as_deref(),
            Portfolio::example().tokens[0].scope_names.as_deref()
        );
        assert_eq!(
            self.proxy.secret_of(new.id).as_deref(),
            Some(stored),
            "what was stored is the secret of the token that is left"
        );
        new.id
    }

    /// No secret in any output or file, but the one stored in `secret_file` (or printed, for `stdout_holds`).
    fn assert_no_leak(&self, secret_file: Option<&str>, stdout_holds: Option<&str>) {
        let secrets = self.proxy.secrets();
        assert!(!secrets.is_empty());
        for output in &self.outputs {
            assert_absent(&secrets, &stderr(output), "stderr");
            let out = stdout(output);
            match stdout_holds {
                Some(secret) if out.contains(secret) => {
                    assert_eq!(out, format!("{secret}\n"), "the secret is alone on stdout");
                }
                _ => assert_absent(&secrets, &out, "stdout"),
            }
        }
        let except: Vec<PathBuf> = secret_file.map(|name| self.path(name)).into_iter().collect();
        assert_absent_from_files(&secrets, self.dir.path(), &except);
        assert!(std::fs::read_to_string(&self.log).unwrap().contains("user-tokens"));
    }
}

fn secret_in(setup: &Setup) -> String {
    std::fs::read_to_string(setup.path(SECRET_FILE)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_replaces_the_token_and_a_second_run_is_a_no_op() {
    let mut s = setup(example()).await;
    let first = s.run_to_file(&[]).await;
    let new = s.assert_rotated(&secret_in(&s));
    assert!(stdout(&first).contains(&new.to_string()) && stdout(&first).contains("rotated"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [s.path(SECRET_FILE), s.state_path()] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    s.assert_only_the_state_is_left();
    assert_eq!(s.state()["step"]["name"], "done");

    let sent = s.proxy.seen().len();
    let second = s.run_to_file(&[]).await;
    assert!(stderr(&second).contains("nothing to do"), "{}", stderr(&second));
    assert_eq!(s.proxy.seen().len(), sent, "a finished rotation sends nothing");
    s.assert_rotated(&secret_in(&s));
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_to_stdout_prints_the_secret_alone_on_its_line() {
    let mut s = setup(example()).await;
    let output = s.run(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    let secret = printed.strip_suffix('\n').unwrap();
    s.assert_rotated(secret);
    assert_eq!(s.state()["step"]["name"], "done");
    let again = s.run(&[]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("nothing to do") && stdout(&again).is_empty());
    s.assert_no_leak(None, Some(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_answer_is_found_by_name_and_replaced_in_the_same_run() {
    let mut s = setup(example()).await;
    s.proxy.on("POST", "/user-tokens", Action::LoseAnswer, 1);
    let output = s.run_to_file(&[]).await;
    let created = s.proxy.created();
    assert_eq!(created.len(), 2, "one create lost, one more: {created:?}");
    let lost = created[0].0;
    assert!(
        stderr(&output).contains(&format!("found user token {lost}")),
        "{}",
        stderr(&output)
    );
    let new = s.assert_rotated(&secret_in(&s));
    assert_eq!(new, created[1].0);
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_create_was_made_the_rerun_revokes_the_unknown_token_and_creates_once_more() {
    let mut s = setup(example()).await;
    // The create reaches the mock, which makes the token; its answer never comes back, and the process dies.
    assert_eq!(
        s.killed_at("POST", "/user-tokens", Action::ForwardAndHold).await,
        "createSent"
    );
    assert_eq!(tokens(&s.server).len(), 2, "the old token and the unknown new one");
    assert_eq!(secret_in(&s), "", "the secret file is reserved, still empty");

    s.run_to_file(&[]).await;
    let created = s.proxy.created();
    assert_eq!(created.len(), 2);
    assert_eq!(s.assert_rotated(&secret_in(&s)), created[1].0);
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_create_arrived_the_rerun_creates_exactly_once() {
    let mut s = setup(example()).await;
    assert_eq!(s.killed_at("POST", "/user-tokens", Action::Hold).await, "createSent");
    assert!(!s.server.requests().iter().any(|r| r.method == "POST"));

    s.run_to_file(&[]).await;
    assert_eq!(s.proxy.created().len(), 1, "nothing to clean up, one create");
    s.assert_rotated(&secret_in(&s));
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_cannot_be_printed_revokes_the_new_token_and_the_rerun_creates_another() {
    let mut s = setup(example()).await;
    let full = std::fs::File::create("/dev/full").unwrap();
    let output = run(s.rotate(&[]).stdout(Stdio::from(full))).await;
    s.outputs.push(output.clone());
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let first = s.proxy.created()[0].0;
    assert!(
        stderr(&output).contains(&format!("user token {first}")),
        "{}",
        stderr(&output)
    );
    let left: Vec<Uuid> = tokens(&s.server).iter().map(|t| t.id).collect();
    assert_eq!(
        left,
        [token_id()],
        "the new token is revoked at once, the old one untouched"
    );
    assert_eq!(s.state()["step"]["name"], "planned");

    let output = s.run(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let secret = stdout(&output).trim_end().to_owned();
    assert_eq!(s.assert_rotated(&secret), s.proxy.created()[1].0);
    s.assert_no_leak(None, Some(&secret));
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_left_created_without_its_secret_is_revoked_by_the_rerun() {
    let mut s = setup(example()).await;
    // Standard output fails, and so does the immediate revoke of the new token: the run stops at "discarding".
    s.proxy.on("DELETE", "/user-tokens/", Action::Reset, 1);
    let full = std::fs::File::create("/dev/full").unwrap();
    let output = run(s.rotate(&["--attempts", "1"]).stdout(Stdio::from(full))).await;
    s.outputs.push(output.clone());
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let state = s.state();
    let first = s.proxy.created()[0].0;
    assert!(
        stderr(&output).contains(&format!("user token {first}")),
        "{}",
        stderr(&output)
    );
    assert_eq!(state["step"]["name"], "discarding");
    assert_eq!(state["step"]["newToken"], first.to_string());
    assert_eq!(tokens(&s.server).len(), 2);

    let output = s.run(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("secret was never stored"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains(&first.to_string()), "{}", stderr(&output));
    let secret = stdout(&output).trim_end().to_owned();
    assert_eq!(s.assert_rotated(&secret), s.proxy.created()[1].0);
    s.assert_no_leak(None, Some(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_secret_was_stored_the_rerun_only_revokes_the_old_token() {
    let mut s = setup(example()).await;
    assert_eq!(s.killed_at("DELETE", TOKEN, Action::Hold).await, "secretStored");
    let stored = secret_in(&s);
    assert_eq!(Some(stored.clone()), s.proxy.secret_of(s.proxy.created()[0].0));
    assert_eq!(
        tokens(&s.server).len(),
        2,
        "the old token is not revoked before its successor is safe"
    );

    let output = s.run(&["--secret-file", SECRET_FILE, "--ip", "198.51.100.9"]).await;
    assert!(
        stderr(&output).contains("--ip, --expires-*: ignored"),
        "{}",
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(s.proxy.created().len(), 1, "no second create");
    s.assert_rotated(&stored);
    assert_eq!(secret_in(&s), stored);
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_revoke_answer_is_finished_by_the_rerun() {
    let mut s = setup(example()).await;
    s.proxy.on("DELETE", TOKEN, Action::LoseAnswer, 1);
    let output = s.run(&["--secret-file", SECRET_FILE, "--attempts", "1"]).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run the same command again"),
        "{}",
        stderr(&output)
    );
    assert_eq!(s.state()["step"]["name"], "secretStored");

    let output = s.run_to_file(&[]).await;
    assert!(stdout(&output).contains("already gone"), "{}", stdout(&output));
    assert_eq!(s.state()["step"]["alreadyGone"], true);
    s.assert_only_the_state_is_left();
    s.assert_rotated(&secret_in(&s));
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leftover_without_state_is_left_alone_until_named_with_discard_orphan() {
    let leftover = Uuid::new_v4();
    let mut portfolio = Portfolio::example();
    portfolio = portfolio.token(Token::new(leftover, NEW_NAME).scope_names(["etoro-public:trade.real:read"]));
    let mut s = setup(vec![portfolio]).await;
    let output = s.run(&["--secret-file", SECRET_FILE]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&leftover.to_string()) && said.contains(&format!("--discard-orphan {leftover}")),
        "{said}"
    );
    assert_eq!(tokens(&s.server).len(), 2, "nothing revoked");
    assert!(
        s.server.requests().iter().all(|r| r.method == "GET"),
        "only the list was sent"
    );
    assert!(!s.path_exists(SECRET_FILE) && !s.state_path().exists());

    let output = s
        .run(&["--secret-file", SECRET_FILE, "--discard-orphan", &leftover.to_string()])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let new = s.assert_rotated(&secret_in(&s));
    assert_ne!(new, leftover);
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_token_keeps_the_old_ones_ips_and_expiry() {
    let old = Uuid::new_v4();
    let expiry = (Utc::now() + Duration::days(40)).with_timezone(&Utc);
    let expiry = chrono::DateTime::from_timestamp(expiry.timestamp(), 0).unwrap();
    let token = Token::new(old, "ops bot")
        .scope_names(["etoro-public:trade.demo:read"])
        .ips_whitelist(["198.51.100.7".parse().unwrap(), "198.51.100.8".parse().unwrap()])
        .expires_at(expiry);
    let s = setup(vec![Portfolio::new(portfolio_id(), "p").token(token.clone())]).await;
    let mut cmd = s.command(s.dir.path());
    cmd.args([
        "rotate",
        "--base-url",
        &s.proxy.base_url(),
        "--portfolio",
        PORTFOLIO,
        "--yes",
    ])
    .args(["--token", &old.to_string(), "--secret-file", "ops.secret"]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let left = tokens(&s.server);
    assert_eq!(left.len(), 1);
    let new = &left[0];
    assert_eq!(new.name, format!("ops bot-rotated-{}", &old.simple().to_string()[..8]));
    assert_eq!(
        (&new.scope_names, &new.ips_whitelist, new.expires_at),
        (&token.scope_names, &token.ips_whitelist, token.expires_at)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_ids_only_are_never_mapped_to_names_by_guessing() {
    let old = Uuid::new_v4();
    let token = Token::new(old, "legacy").scope_ids([200, 211]);
    let s = setup(vec![Portfolio::new(portfolio_id(), "p").token(token)]).await;
    let rotate = |extra: &[&str]| {
        let mut cmd = s.command(s.dir.path());
        cmd.args([
            "rotate",
            "--base-url",
            &s.proxy.base_url(),
            "--portfolio",
            PORTFOLIO,
            "--yes",
        ])
        .args(["--token", &old.to_string(), "--secret-file", "legacy.secret"])
        .args(extra);
        cmd
    };
    let output = run(&mut rotate(&[])).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--scope") && stderr(&output).contains("200, 211"));
    assert!(
        s.server.requests().iter().all(|r| r.method == "GET"),
        "only the list was sent"
    );
    assert!(!s.path_exists("legacy.secret"));
    let state_dir = s.path("xdg").join("etoro-token/rotations");
    assert!(
        std::fs::read_dir(&state_dir).map_or(true, |mut dir| dir.next().is_none()),
        "no state, no lock"
    );

    let output = run(&mut rotate(&["--scope", "etoro-public:trade.real:read"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let left = tokens(&s.server);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].scope_names.as_deref(),
        Some(&["etoro-public:trade.real:read".to_owned()][..])
    );
    assert_eq!(left[0].scope_ids, None);
}

impl Setup {
    fn path_exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_2_and_send_nothing() {
    let mut s = setup(example()).await;
    std::fs::write(s.path("taken.secret"), "keep me").unwrap();
    let mut no_yes = s.command(s.dir.path());
    no_yes
        .args(["rotate", "--base-url", &s.proxy.base_url(), "--portfolio", PORTFOLIO])
        .args(["--token", TOKEN, "--secret-file", SECRET_FILE]);
    let nil = Uuid::nil().to_string();
    for (mut cmd, says) in [
        (s.rotate(&["--secret-file", "taken.secret"]), "already exists"),
        (no_yes, "--yes"),
        (s.rotate(&["--ip", "1.2.3"]), "--ip"),
        (s.rotate(&["--expires-in", "soon"]), "--expires-in"),
        (s.rotate(&["--portfolio", &nil]), "--portfolio"),
        (s.rotate(&["--secret-file", "same", "--state", "same"]), "--secret-file"),
    ] {
        let output = run(&mut cmd).await;
        assert_eq!(output.status.code(), Some(2), "{says}: {}", stderr(&output));
        assert!(stderr(&output).contains(says), "{says}: {}", stderr(&output));
    }
    assert!(s.proxy.seen().is_empty(), "nothing was sent: {:?}", s.proxy.seen());
    assert_eq!(std::fs::read_to_string(s.path("taken.secret")).unwrap(), "keep me");

    // A name given by hand that another token has is refused after the list, before any change.
    let output = s.run(&["--name", "readme-token"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--name"));
    let output = s.run(&["--expires-at", "2001-01-01T00:00:00Z"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--expires-at"), "{}", stderr(&output));
    assert!(s.server.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_while_the_first_is_in_flight_is_refused_and_a_foreign_state_too() {
    let mut s = setup(example()).await;
    s.proxy.on("POST", "/user-tokens", Action::Hold, 1);
    let mut first = s.rotate(&["--secret-file", SECRET_FILE]).spawn().unwrap();
    s.proxy.until_held(1).await;
    let seen = s.proxy.seen().len();
    let second = s.run(&["--secret-file", SECRET_FILE]).await;
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(stderr(&second).contains("locked"), "{}", stderr(&second));
    assert_eq!(s.proxy.seen().len(), seen, "the second run sent nothing");
    first.start_kill().unwrap();
    let _ = first.wait().await;

    // The state of this rotation does not serve another token's.
    let other = Uuid::new_v4().to_string();
    let state = s.state_path().display().to_string();
    let mut cmd = s.command(s.dir.path());
    cmd.args([
        "rotate",
        "--base-url",
        &s.proxy.base_url(),
        "--portfolio",
        PORTFOLIO,
        "--yes",
    ])
    .args(["--token", &other, "--state", &state, "--secret-file", SECRET_FILE]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains(TOKEN), "{}", stderr(&output));
    assert_eq!(s.proxy.seen().len(), seen);

    s.run_to_file(&[]).await;
    s.assert_rotated(&secret_in(&s));
    s.assert_no_leak(Some(SECRET_FILE), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_refused_for_good_leaves_nothing_behind() {
    let mut s = setup(example()).await;
    // The mock's v2 allowed list has no such name: 403 ScopeNameNotAllowed, a definite "no".
    let output = s
        .run(&["--secret-file", SECRET_FILE, "--scope", "etoro-public:nonexistent:read"])
        .await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("ScopeNameNotAllowed"));
    assert!(!s.path_exists(SECRET_FILE) && !s.state_path().exists());
    assert_eq!(tokens(&s.server).len(), 1);
    // Corrected, the same command starts afresh.
    s.run_to_file(&[]).await;
    s.assert_rotated(&secret_in(&s));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_a_declined_rotation_changes_nothing() {
    let s = setup(example()).await;
    let mut cmd = s.command(s.dir.path());
    cmd.args(["rotate", "--base-url", &s.proxy.base_url(), "--portfolio", PORTFOLIO])
        .args(["--token", TOKEN, "--secret-file", SECRET_FILE]);
    let mut terminal = Terminal::spawn(&mut cmd);
    terminal.until("Rotate? [y/N]").await;
    assert!(terminal.seen().contains(NEW_NAME) && terminal.seen().contains("\"readme-token\""));
    terminal.type_line("no");
    let (code, seen) = terminal.finish().await;
    assert_eq!(code, Some(2), "{seen}");
    assert!(!s.path_exists(SECRET_FILE) && !s.state_path().exists());
    assert!(s.server.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(tokens(&s.server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_from_another_directory_finishes_the_rotation_and_never_revokes_the_stored_token() {
    let mut s = setup(example()).await;
    let (a, b) = (s.path("dA"), s.path("dB"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // Run A stores the new secret in dA/bot.secret, then its revoke of the old token fails.
    s.proxy.on("DELETE", TOKEN, Action::Reset, 1);
    let output = run(&mut s.rotate_in(&a, &["--secret-file", SECRET_FILE, "--attempts", "1"])).await;
    s.outputs.push(output.clone());
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(s.state()["step"]["name"], "secretStored");
    let stored = std::fs::read_to_string(a.join(SECRET_FILE)).unwrap();

    // Run B, the same command in dB, finds the rotation by its ids and only revokes the old token.
    let output = run(&mut s.rotate_in(&b, &["--secret-file", SECRET_FILE])).await;
    s.outputs.push(output.clone());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(s.proxy.created().len(), 1, "no second create");
    assert!(!b.join(SECRET_FILE).exists());
    assert!(
        stdout(&output).contains(&a.join(SECRET_FILE).display().to_string()),
        "{}",
        stdout(&output)
    );
    s.assert_rotated(&stored);
    s.assert_only_the_state_is_left();
    s.assert_no_leak(Some("dA"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_create_a_rerun_elsewhere_is_told_where_the_secret_goes_and_a_lost_state_stops_at_3() {
    let mut s = setup(example()).await;
    let (a, b) = (s.path("dA"), s.path("dB"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    s.proxy.on("POST", "/user-tokens", Action::ForwardAndHold, 1);
    let mut child = s.rotate_in(&a, &["--secret-file", SECRET_FILE]).spawn().unwrap();
    s.proxy.until_held(1).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let made = s.proxy.created()[0].0;

    // A fresh workspace whose state directory is gone (a new CI machine): the token of the new name is an
    // orphan whose secret may be held; it is named, left alone, and the command that resolves it is printed.
    let mut fresh = s.rotate_in(&b, &["--secret-file", SECRET_FILE]);
    fresh.env("XDG_STATE_HOME", s.path("other-xdg"));
    let output = run(&mut fresh).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("--discard-orphan {made}")),
        "{}",
        stderr(&output)
    );
    assert_eq!(tokens(&s.server).len(), 2, "nothing revoked");

    // From dB with the same state: the secret goes to dA/bot.secret, recorded; a different file is refused.
    let output = run(&mut s.rotate_in(&b, &["--secret-file", SECRET_FILE])).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let recorded = a.join(SECRET_FILE).display().to_string();
    assert!(
        stderr(&output).contains(&format!("--secret-file {recorded}")),
        "{}",
        stderr(&output)
    );
    let output = run(&mut s.rotate_in(&b, &["--secret-file", &recorded])).await;
    s.outputs.push(output.clone());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let new = s.assert_rotated(&std::fs::read_to_string(a.join(SECRET_FILE)).unwrap());
    assert_ne!(new, made, "the unknown token was revoked, another created");
    s.assert_no_leak(Some("dA"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_first_save_the_rerun_starts_afresh() {
    let mut s = setup(example()).await;
    s.proxy.on("GET", "/agent-portfolios", Action::Hold, 1);
    s.kill_when_held(&["--secret-file", SECRET_FILE], 1).await;
    assert!(
        !s.state_path().exists() && !s.path_exists(SECRET_FILE),
        "nothing was recorded or reserved"
    );
    s.run_to_file(&[]).await;
    s.assert_rotated(&secret_in(&s));
    s.assert_only_the_state_is_left();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_state_paths_are_refused_at_once_with_nothing_sent() {
    let s = setup(example()).await;
    let hostile = s.path("hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    std::os::unix::fs::symlink("/dev/zero", hostile.join("zero.json")).unwrap();
    let fifo = std::ffi::CString::new(hostile.join("fifo.json").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::write(hostile.join("st.json"), "").unwrap();
    std::fs::hard_link(hostile.join("st.json"), hostile.join("hard")).unwrap();
    for (extra, says) in [
        (vec!["--state", "zero.json"], "symbolic link"),
        (vec!["--state", "fifo.json"], "FIFO"),
        (vec!["--secret-file", "s", "--state", "./s"], "--secret-file"),
        (vec!["--secret-file", "s", "--state", "../hostile/s"], "--secret-file"),
        (vec!["--secret-file", "hard", "--state", "st.json"], "--secret-file"),
        (vec!["--secret-file", "s.lock", "--state", "s"], "--secret-file"),
    ] {
        let started = std::time::Instant::now();
        let output = run(&mut s.rotate_in(&hostile, &extra)).await;
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(says), "{extra:?}: {}", stderr(&output));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{extra:?} did not hang"
        );
    }
    assert!(s.proxy.seen().is_empty(), "nothing was sent: {:?}", s.proxy.seen());
    assert!(!hostile.join("s").exists() && !hostile.join("zero.json.lock").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_the_embedded_mock_the_state_is_as_short_lived_as_the_mock() {
    let s = setup(example()).await;
    for file in ["one.secret", "two.secret"] {
        let mut cmd = s.command(s.dir.path());
        cmd.args(["rotate", "--mock", "--portfolio", PORTFOLIO, "--token", TOKEN, "--yes"])
            .args(["--secret-file", file]);
        let output = run(&mut cmd).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains("rotated"), "{}", stdout(&output));
        assert!(!std::fs::read_to_string(s.path(file)).unwrap().is_empty());
    }
    assert!(!s.path("xdg").exists(), "nothing kept for a mock that is gone");
}
