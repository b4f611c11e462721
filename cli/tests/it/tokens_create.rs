//! `etoro-token create`: the secret goes once to stdout or a new secret file and nowhere else; refusals send
//! nothing; a secret that cannot be stored after the create is reported loudly.

use std::process::{Output, Stdio};

use crate::support::tokens::*;
use etoro_mock::MockServer;
use serde_json::Value;
use tempfile::TempDir;

struct Setup {
    dir: TempDir,
    server: MockServer,
    proxy: Proxy,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(example(), Some(dir.path().join("mock.log"))).await;
    let proxy = Proxy::start(server.addr()).await;
    Setup { dir, server, proxy }
}

impl Setup {
    fn create(&self, extra: &[&str]) -> tokio::process::Command {
        let mut cmd = etoro_token(self.dir.path());
        cmd.args(["create", "--base-url", &self.proxy.base_url(), "--portfolio", PORTFOLIO])
            .args(extra);
        cmd
    }

    /// Checks that no secret handed out appears in `outputs` or any file but `except`.
    fn assert_no_leak(&self, outputs: &[&Output], stdout_may_hold: bool, except: &[&str]) {
        let secrets = self.proxy.secrets();
        for output in outputs {
            assert_absent(&secrets, &stderr(output), "stderr");
            if !stdout_may_hold {
                assert_absent(&secrets, &stdout(output), "stdout");
            }
        }
        let except: Vec<_> = except.iter().map(|name| self.dir.path().join(name)).collect();
        assert_absent_from_files(&secrets, self.dir.path(), &except);
    }
}

const BOT: [&str; 8] = [
    "--name",
    "reporting bot",
    "--scope",
    "etoro-public:trade.real:read",
    "--ip",
    "203.0.113.7",
    "--expires-at",
    "2099-01-02T03:04:05Z",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_is_printed_once_alone_on_stdout() {
    let s = setup().await;
    let output = run(&mut s.create(&BOT)).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (id, secret) = s.proxy.created()[0].clone();
    assert_eq!(stdout(&output), format!("{secret}\n"));
    assert!(stderr(&output).contains(&id.to_string()) && stderr(&output).contains("shown this once"));
    let token = tokens(&s.server).into_iter().find(|t| t.id == id).unwrap();
    assert_eq!(token.name, "reporting bot");
    assert_eq!(token.scope_names, Some(vec!["etoro-public:trade.real:read".to_owned()]));
    assert_eq!(token.ips_whitelist, Some(vec!["203.0.113.7".parse().unwrap()]));
    assert_eq!(token.expires_at.unwrap().to_rfc3339(), "2099-01-02T03:04:05+00:00");
    s.assert_no_leak(&[&output], true, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_holds_the_secret_in_one_object() {
    let s = setup().await;
    let output = run(&mut s.create(&["--name", "j", "--scope", "etoro-public:trade.demo:read", "--json"])).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (id, secret) = s.proxy.created()[0].clone();
    let printed = stdout(&output);
    assert_eq!(printed.lines().count(), 1, "one object: {printed}");
    let value: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(value["secret"], secret.as_str());
    assert_eq!(value["token"], id.to_string());
    assert_eq!(value["outcome"], "created");
    assert!(value["requestId"].is_string());
    s.assert_no_leak(&[&output], true, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_is_new_private_and_holds_only_the_secret() {
    let s = setup().await;
    let mut args = BOT.to_vec();
    args.extend(["--secret-file", "bot.secret"]);
    let output = run(&mut s.create(&args)).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (id, secret) = s.proxy.created()[0].clone();
    let path = s.dir.path().join("bot.secret");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(stdout(&output).contains(&id.to_string()) && stdout(&output).contains("bot.secret"));

    let json = run(&mut s.create(&[
        "--name",
        "second",
        "--scope",
        "etoro-public:trade.demo:read",
        "--secret-file",
        "second.secret",
        "--json",
    ]))
    .await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let value: Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(value["secretFile"], "second.secret");
    assert!(value.get("secret").is_none());
    s.assert_no_leak(&[&output, &json], false, &["bot.secret", "second.secret"]);
    let second = s.proxy.created()[1].1.clone();
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("second.secret")).unwrap(),
        second
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_secret_file_is_refused_and_nothing_is_created() {
    let s = setup().await;
    let path = s.dir.path().join("taken.secret");
    std::fs::write(&path, "an older secret").unwrap();
    let mut args = BOT.to_vec();
    args.extend(["--secret-file", "taken.secret"]);
    let output = run(&mut s.create(&args)).await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--secret-file") && stderr(&output).contains("already exists"));
    assert!(s.proxy.seen().is_empty(), "nothing was sent");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "an older secret");
    assert_eq!(tokens(&s.server).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_exits_2_naming_the_flag_and_sends_nothing() {
    let s = setup().await;
    let scope = "etoro-public:trade.real:read";
    let nil = uuid::Uuid::nil().to_string();
    let cases: [(&[&str], &str); 8] = [
        (&["--name", " padded", "--scope", scope], "--name"),
        (&["--name", "a\u{1b}b", "--scope", scope], "--name"),
        (&["--name", "n", "--scope", "two words"], "--scope (the 1st one)"),
        (
            &["--name", "n", "--scope", scope, "--ip", "1.2.3.4", "--ip", "1.2.3.4"],
            "--ip (the 2nd one)",
        ),
        (
            &["--name", "n", "--scope", scope, "--expires-at", "2001-01-01T00:00:00Z"],
            "--expires-at",
        ),
        (&["--name", "n"], "--scope"),
        (&["--name", "n", "--scope", scope, "--ip", "300.1.1.1"], "--ip"),
        (&["--name", "n", "--scope", scope, "--portfolio", &nil], "--portfolio"),
    ];
    for (args, says) in cases {
        let output = run(&mut s.create(args)).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(says), "{args:?}: {}", stderr(&output));
    }
    // A secret file in a missing directory is local I/O (5), and nothing is sent either.
    let output = run(&mut s.create(&["--name", "n", "--scope", scope, "--secret-file", "no/such/dir/s"])).await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--secret-file no/such/dir/s"),
        "{}",
        stderr(&output)
    );
    assert!(s.proxy.seen().is_empty(), "nothing was sent: {:?}", s.proxy.seen());
}

/// Runs `create` with a file-size limit of 0 bytes: the secret file is created, writing to it fails (EFBIG).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_that_cannot_be_written_after_the_create_says_the_token_exists_and_the_secret_is_lost() {
    let s = setup().await;
    let mut sh = tokio::process::Command::new("/bin/sh");
    sh.env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .current_dir(s.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .args(["-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_etoro-token"))
        .args(["create", "--base-url", &s.proxy.base_url(), "--portfolio", PORTFOLIO])
        .args([
            "--name",
            "lost",
            "--scope",
            "etoro-public:trade.real:read",
            "--secret-file",
            "lost.secret",
        ]);
    let output = run(&mut sh).await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let (id, _) = s.proxy.created()[0].clone();
    let message = stderr(&output);
    for part in [
        id.to_string().as_str(),
        "WAS CREATED",
        "secret is lost",
        "etoro-token revoke",
    ] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    assert!(tokens(&s.server).iter().any(|t| t.id == id), "the token exists");
    assert!(
        !s.dir.path().join("lost.secret").exists(),
        "no partial secret is left behind"
    );
    s.assert_no_leak(&[&output], false, &[]);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stdout_after_the_create_says_the_token_exists_and_the_secret_is_lost() {
    let s = setup().await;
    let full = std::fs::File::create("/dev/full").unwrap();
    let output = run(s
        .create(&["--name", "full", "--scope", "etoro-public:trade.real:read"])
        .stdout(Stdio::from(full)))
    .await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let (id, _) = s.proxy.created()[0].clone();
    assert!(stderr(&output).contains(&id.to_string()) && stderr(&output).contains("WAS CREATED"));
    s.assert_no_leak(&[&output], false, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_of_unknown_outcome_gives_the_library_advice_and_is_never_repeated() {
    let s = setup().await;
    s.proxy.on("POST", "/user-tokens", Action::LoseAnswer, 1);
    let args = [
        "--name",
        "maybe",
        "--scope",
        "etoro-public:trade.real:read",
        "--secret-file",
        "maybe.secret",
    ];
    let output = run(&mut s.create(&args)).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("may or may not have been created"), "{message}");
    assert!(
        message.contains(&format!("etoro-token list --portfolio {PORTFOLIO}")),
        "{message}"
    );
    let posts = s.proxy.seen().iter().filter(|(method, _)| method == "POST").count();
    assert_eq!(posts, 1, "a create is never repeated blindly");
    assert!(tokens(&s.server).iter().any(|t| t.name == "maybe"), "it was created");
    assert!(
        !s.dir.path().join("maybe.secret").exists(),
        "the empty secret file is removed"
    );
    // Creating it again is refused by name: the advice was right to say "list first".
    let again = run(&mut s.create(&args)).await;
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(stderr(&again).contains("UserKeyNameAlreadyExists"));
    s.assert_no_leak(&[&output, &again], false, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_with_control_characters_is_never_printed() {
    let body = r#"{"userTokenId": "0d6c1f0e-9b1a-4c55-8a8e-3a2d6d1f4c21", "userToken": "s3cr\u001b[2Jet", "userTokenName": "x"}"#;
    let (addr, count) = fixed_answer(201, body).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args([
        "create",
        "--base-url",
        &format!("http://{addr}"),
        "--portfolio",
        PORTFOLIO,
    ])
    .args(["--name", "x", "--scope", "etoro-public:trade.real:read"]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(output.stdout.is_empty(), "nothing on stdout");
    assert!(!output.stderr.contains(&0x1b), "no raw escape on stderr");
    assert!(stderr(&output).contains("control characters") && stderr(&output).contains("WAS CREATED"));
    assert!(!stderr(&output).contains("s3cr"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_json_escapes_the_servers_text_and_keeps_its_value() {
    let name = "bot\u{9b}31m\u{85}\u{7f}\u{202e}\u{200b}";
    let body = serde_json::json!({"userTokenId": "0d6c1f0e-9b1a-4c55-8a8e-3a2d6d1f4c21", "userToken": "s3cret-value",
                                  "userTokenName": name})
    .to_string();
    let (addr, _count) = fixed_answer(201, Box::leak(body.into_boxed_str())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = etoro_token(dir.path());
    cmd.args([
        "create",
        "--json",
        "--base-url",
        &format!("http://{addr}"),
        "--portfolio",
        PORTFOLIO,
    ])
    .args(["--name", "bot", "--scope", "etoro-public:trade.real:read"]);
    let output = run(&mut cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.is_ascii(), "every character from the server escaped: {text:?}");
    let created: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(created["name"], name, "the same value, escaped");
    assert_eq!(created["secret"], "s3cret-value");
}

#[test]
fn the_embedded_mock_creates_the_readme_example() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_etoro-token"))
        .env_clear()
        .current_dir(dir.path())
        .args(["create", "--mock", "--portfolio", PORTFOLIO, "--name", "demo"])
        .args([
            "--scope",
            "etoro-public:trade.demo:read",
            "--secret-file",
            "demo.secret",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("demo.secret")).unwrap().len(),
        64
    );
}
