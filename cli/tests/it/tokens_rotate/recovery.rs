//! A rotation cut off anywhere (kill -9 at each step, a lost answer, a run from another directory) is finished
//! by a re-run, which never revokes a token whose secret may be held.

use super::*;

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
