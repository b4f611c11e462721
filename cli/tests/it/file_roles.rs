//! One file, one role: every command refuses two of its file flags naming the same file (by any path), before
//! anything is read, written or sent (exit 2), and leaves the file as it was.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

use crate::support::{PORTFOLIO as P, TOKEN as T};

fn etoro_token(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("etoro-token").unwrap();
    cmd.env_clear().current_dir(dir).timeout(Duration::from_secs(60));
    cmd
}

#[test]
fn every_command_refuses_one_file_in_two_roles() {
    let dir = tempfile::tempdir().unwrap();
    let line = format!(r#"{{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["203.0.113.7"]}}"#);
    let file = dir.path().join("input.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let before = std::fs::read(&file).unwrap();
    // The same file by another name: through a sub-directory and back.
    let roundabout = "sub/../input.jsonl";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["update", "--mock", "--from", "input.jsonl", "--journal", roundabout],
            "--from and --journal",
        ),
        (
            vec!["apply", "--mock", "--from", "input.jsonl", "--journal", roundabout],
            "--from and --journal",
        ),
        (
            vec![
                "rotate",
                "--mock",
                "--portfolio",
                P,
                "--token",
                T,
                "--yes",
                "--secret-file",
                "new.secret",
                "--state",
                "sub/../new.secret",
            ],
            "--secret-file and --state",
        ),
        (
            vec!["mock", "--port", "0", "--seed-file", "input.jsonl", "--log", roundabout],
            "--seed-file and --log",
        ),
    ];
    for (args, names) in cases {
        let output = etoro_token(dir.path()).args(&args).output().unwrap();
        let errors = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {errors}");
        assert!(
            errors.contains(&format!("{names} name the same file")),
            "{args:?}: {errors}"
        );
        assert!(errors.contains("nothing was sent"), "{args:?}: {errors}");
        assert_eq!(errors.matches("error:").count(), 1, "said once: {errors}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "{args:?}: the input is untouched"
        );
        assert!(
            !dir.path().join("new.secret").exists(),
            "{args:?}: no secret file created"
        );
    }
}
