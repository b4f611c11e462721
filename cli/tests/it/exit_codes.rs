//! The exit codes of the README's table, command by command: each local failure (missing input, missing
//! directory, a path under a regular file, a full standard output) is 5 and each remote one 3 (4xx) or 4 (5xx), with
//! a message that names what failed, said once.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{PORTFOLIO as P, TOKEN as T};
const SCOPE: &str = "etoro-public:trade.real:read";

/// Where standard output goes.
#[derive(Clone, Copy)]
enum Out {
    Pipe,
    Full,
}

fn run<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], out: Out) -> Output {
    let stdout = match out {
        Out::Pipe => Stdio::piped(),
        Out::Full => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_etoro-token"))
        .env_clear()
        // Where `rotate` keeps its state by default (~/.local/state): the test's own directory.
        .env("HOME", dir)
        .env("ETORO_API_KEY", "exit-codes-api-key")
        .env("ETORO_USER_KEY", "exit-codes-user-key")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every case ends by itself; a hang is a failure the test harness's own timeout reports.
    child.wait_with_output().unwrap()
}

fn check(dir: &Path, args: &[&str], out: Out, code: i32, names: &str, once: &str) {
    let output = run(dir, args, out);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {errors}");
    assert!(
        errors.contains(names),
        "{args:?}: the message names {names:?}: {errors}"
    );
    assert_eq!(errors.matches(once).count(), 1, "{args:?}: said once: {errors}");
}

#[test]
fn every_local_failure_is_5_and_names_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let line = json!({"portfolio": P, "token": T, "ipsWhitelist": ["203.0.113.7"]}).to_string();
    std::fs::write(dir.path().join("in.jsonl"), format!("{line}\n")).unwrap();
    let many: String = (0..3)
        .map(|i| format!("{}\n", json!({"portfolio": P, "token": format!("9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5{i}"), "ipsWhitelist": ["203.0.113.7"]})))
        .collect();
    std::fs::write(dir.path().join("many.jsonl"), many).unwrap();
    let create = ["create", "--mock", "--portfolio", P, "--name", "bot", "--scope", SCOPE];
    let rotate = ["rotate", "--mock", "--portfolio", P, "--token", T, "--yes"];
    let with = |base: &[&'static str], extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra).copied().collect()
    };
    // Each local failure: exit 5, the message names the file, said once.
    let local: Vec<(Vec<&str>, &str)> = vec![
        // Missing input.
        (vec!["update", "--mock", "--from", "missing.jsonl"], "missing.jsonl"),
        (vec!["apply", "--mock", "--from", "missing.jsonl"], "missing.jsonl"),
        (
            vec!["mock", "--port", "0", "--seed-file", "missing.json"],
            "--seed-file missing.json",
        ),
        // A missing directory.
        (
            vec!["update", "--mock", "--from", "in.jsonl", "--journal", "nodir/j"],
            "journal nodir/j",
        ),
        (
            vec!["apply", "--mock", "--from", "in.jsonl", "--journal", "nodir/j"],
            "journal nodir/j",
        ),
        (with(&create, &["--secret-file", "nodir/s"]), "--secret-file nodir/s"),
        (with(&rotate, &["--secret-file", "nodir/s"]), "nodir/s"),
        (with(&rotate, &["--state", "nodir/state"]), "nodir/state"),
        (
            vec!["mock", "--port", "0", "--log", "/proc/nope/x"],
            "request log /proc/nope/x",
        ),
        // A file that cannot be created (its parent is a regular file; the tests run as root, so modes would not do).
        (
            vec!["update", "--mock", "--from", "in.jsonl", "--journal", "in.jsonl/j"],
            "in.jsonl/j",
        ),
        (with(&create, &["--secret-file", "in.jsonl/s"]), "in.jsonl/s"),
        (
            vec!["mock", "--port", "0", "--log", "in.jsonl/log"],
            "request log in.jsonl/log",
        ),
    ];
    for (args, names) in local {
        check(dir.path(), &args, Out::Pipe, 5, names, "error:");
    }
    // The message said once (a created token's warning, for `create`), however many lines were to come.
    let full_stdout: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list", "--mock"], "error:"),
        (vec!["list", "--mock", "--json"], "error:"),
        (vec!["scopes", "--mock"], "error:"),
        (vec!["apply", "--mock", "--from", "many.jsonl", "--plan"], "error:"),
        (
            vec!["apply", "--mock", "--from", "many.jsonl", "--plan", "--json"],
            "error:",
        ),
        (vec!["update", "--mock", "--from", "many.jsonl", "--json"], "error:"),
        (vec!["update", "--mock", "--from", "many.jsonl", "--dry-run"], "error:"),
        (
            vec![
                "update",
                "--mock",
                "--portfolio",
                P,
                "--token",
                T,
                "--ip",
                "203.0.113.7",
                "--json",
            ],
            "error:",
        ),
        (vec!["completions", "bash"], "error:"),
        (vec!["mock", "--port", "0"], "error:"),
        (create.to_vec(), "WAS CREATED"),
    ];
    for (args, once) in full_stdout {
        check(dir.path(), &args, Out::Full, 5, "standard output", once);
    }
}

async fn answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    let body = json!({"errorCode": "Refused", "errorMessage": format!("status {status} from the test server")});
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_3_and_a_server_failure_4_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let line = json!({"portfolio": P, "token": T, "ipsWhitelist": ["203.0.113.7"]}).to_string();
    std::fs::write(dir.path().join("in.jsonl"), format!("{line}\n")).unwrap();
    for (status, code) in [(400, 3), (503, 4)] {
        let server = answering(status).await;
        let url = server.uri();
        let base = ["--base-url", url.as_str(), "--attempts", "1"];
        let commands: Vec<Vec<&str>> = vec![
            vec!["list"],
            vec!["scopes"],
            vec!["update", "--portfolio", P, "--token", T, "--ip", "203.0.113.7"],
            vec!["update", "--from", "in.jsonl"],
            vec!["apply", "--from", "in.jsonl"],
            vec!["create", "--portfolio", P, "--name", "bot", "--scope", SCOPE],
            vec!["revoke", "--portfolio", P, "--token", T, "--yes"],
            vec![
                "rotate",
                "--portfolio",
                P,
                "--token",
                T,
                "--yes",
                "--secret-file",
                "bot.secret",
            ],
        ];
        for command in commands {
            let args: Vec<String> = command.iter().chain(&base).map(|arg| (*arg).to_owned()).collect();
            let dir = dir.path().to_owned();
            let output = tokio::task::spawn_blocking(move || run(&dir, &args, Out::Pipe))
                .await
                .unwrap();
            let errors = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(code),
                "{command:?} against {status}: {errors}"
            );
            assert!(
                errors.contains(&format!("status {status} from the test server"))
                    || errors.contains(&status.to_string()),
                "{command:?}: the server's answer is named: {errors}"
            );
        }
    }
}
