//! `cargo xtask`'s command line as a user meets it: help on stdout with status 0, bad usage refused before
//! anything runs, with status 2 under `upstream` (its documented status for bad usage) and 1 elsewhere.

use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        // A root that does not exist: nothing may get as far as reading it.
        .env("CARGO_MANIFEST_DIR", "/nonexistent/xtask")
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_task_on_stdout() {
    for args in [&["--help"][..], &["help"]] {
        let output = xtask(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        for task in ["regen", "upstream", "semver", "bench"] {
            assert!(text.contains(task), "{args:?}: {text}");
        }
    }
    let output = xtask(&["upstream", "diff", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--json"));
}

#[test]
fn bad_usage_is_refused_with_the_task_s_status() {
    for (args, status) in [
        (&[][..], 1),
        (&["merge"], 1),
        (&["regen", "--force"], 1),
        (&["semver", "--baseline"], 1),
        (&["bench", "--quick", "extra"], 1),
        (&["upstream"], 2),
        (&["upstream", "diff"], 2),
        (&["upstream", "import", "f.json", "--json"], 2),
    ] {
        let output = xtask(args);
        assert_eq!(output.status.code(), Some(status), "{args:?}");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(
            message.contains("Usage: cargo xtask") || message.contains("try '--help'"),
            "{args:?}: {message}"
        );
        assert!(
            !message.contains("/nonexistent"),
            "{args:?} got as far as the root: {message}"
        );
    }
}
