//! The README's synopsis keeps up with the command line: every long flag of every command is in it.

use std::process::Command;

#[test]
fn every_flag_of_every_command_is_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let commands = [
        "update",
        "apply",
        "list",
        "create",
        "revoke",
        "rotate",
        "scopes",
        "completions",
        "mock",
    ];
    let mut missing = Vec::new();
    for command in commands {
        let output = Command::new(env!("CARGO_BIN_EXE_etoro-token"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(output.stdout).unwrap();
        let flags = help
            .lines()
            .filter_map(|line| line.trim_start().trim_start_matches("-v, ").strip_prefix("--"))
            .filter_map(|rest| rest.split([' ', '.']).next())
            .filter(|flag| !["help", "verbose"].contains(flag));
        for flag in flags {
            if !readme.contains(&format!("--{flag}")) {
                missing.push(format!("{command} --{flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in the README: {missing:?}");
    assert!(readme.contains("-v to log"), "-v is in the README");
}
