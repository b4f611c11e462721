//! The token commands' help (credentials, exit codes, examples) and `etoro-token completions`.

use std::process::Command;

fn etoro_token(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_etoro-token"))
        .env_clear()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_carries_credentials_exit_codes_and_examples() {
    for command in ["list", "create", "revoke", "rotate"] {
        let output = etoro_token(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0));
        let help = String::from_utf8_lossy(&output.stdout);
        for part in [
            "ETORO_API_KEY",
            "ETORO_ACCESS_TOKEN",
            "Exit codes",
            "  5  local I/O failure",
            "Examples:",
        ] {
            assert!(help.contains(part), "{command} --help lacks {part:?}:\n{help}");
        }
        assert!(
            help.contains(&format!("etoro-token {command} --mock")),
            "{command}: an example runs on --mock"
        );
    }
    let rotate = String::from_utf8_lossy(&etoro_token(&["rotate", "--help"]).stdout).into_owned();
    assert!(rotate.contains("--state") && rotate.contains("--secret-file") && rotate.contains("--yes"));
}

#[test]
fn completions_cover_every_shell_and_the_new_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = etoro_token(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        for word in ["etoro-token", "rotate", "revoke", "secret-file", "completions"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let bad = etoro_token(&["completions", "cmd.exe"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_bash_script_is_valid_bash() {
    let Ok(bash) = which("bash") else { return };
    let output = etoro_token(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etoro-token.bash");
    std::fs::write(&path, &output.stdout).unwrap();
    let checked = Command::new(bash).arg("-n").arg(&path).output().unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    // Sourced, it registers a completion for etoro-token.
    let sourced = Command::new(which("bash").unwrap())
        .arg("-c")
        .arg(format!("source {} && complete -p etoro-token", path.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&sourced.stdout).contains("etoro-token"));
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    ["/bin", "/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|path| path.exists())
        .ok_or(())
}
