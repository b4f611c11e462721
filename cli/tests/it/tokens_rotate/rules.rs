//! A rotation from start to end, what it keeps of the old token, and what it refuses.

use super::*;

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
async fn the_new_token_keeps_the_old_ones_ips_and_expiry() {
    let old = Uuid::new_v4();
    let expiry = (Utc::now() + Duration::days(40)).with_timezone(&Utc);
    let expiry = chrono::DateTime::from_timestamp(expiry.timestamp(), 0).unwrap();
    let token = Token::new(old, "ops bot")
        .scope_names(["etoro-public:trade.demo:read"])
        .ips_whitelist(["198.51.100.7".parse().unwrap(), "198.51.100.8".parse().unwrap()])
        .expires_at(expiry);
    let s = setup(vec![Portfolio::new(portfolio_id(), "p").token(token.clone())]).await;
    let mut cmd = s.rotate_token_in(s.dir.path(), &old.to_string(), &["--secret-file", "ops.secret"]);
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
        let mut cmd = s.rotate_token_in(s.dir.path(), &old.to_string(), &["--secret-file", "legacy.secret"]);
        cmd.args(extra);
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
    let mut cmd = s.rotate_token_in(s.dir.path(), &other, &["--state", &state, "--secret-file", SECRET_FILE]);
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
