//! The completion scripts complete subcommands and their flags: the bash script sourced in a real bash, as bash
//! itself calls it on TAB; fish's likewise when fish is installed; zsh's checked for each subcommand's flags.

use std::process::Command;

fn script(shell: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_etoro-token"))
        .args(["completions", shell])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).unwrap()
}

/// What bash offers for the words of `line` (the last one being completed), through the function the script
/// registers for `etoro-token`.
fn bash_complete(script_path: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        r#"source '{}'
COMP_WORDS=({})
COMP_CWORD={}
COMP_LINE='{}'
COMP_POINT=${{#COMP_LINE}}
function_name=$(complete -p etoro-token | sed -E 's/.*-F ([^ ]+) .*/\1/')
"$function_name" etoro-token '{}' '{}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script_path.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let output = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etoro-token.bash");
    std::fs::write(&path, script("bash")).unwrap();

    let flags = bash_complete(&path, &["etoro-token", "rotate", "--s"]);
    assert!(flags.contains(&"--secret-file".to_owned()), "{flags:?}");
    assert!(flags.contains(&"--state".to_owned()), "{flags:?}");
    assert!(flags.iter().all(|flag| flag.starts_with("--s")), "{flags:?}");

    let commands = bash_complete(&path, &["etoro-token", "ro"]);
    assert_eq!(commands, ["rotate"]);
    let apply = bash_complete(&path, &["etoro-token", "apply", "--pl"]);
    assert_eq!(apply, ["--plan"]);
    let mock = bash_complete(&path, &["etoro-token", "mock", "--max-"]);
    assert_eq!(mock, ["--max-tokens-per-portfolio"]);
}

#[test]
fn fish_and_zsh_scripts_give_each_subcommand_its_flags() {
    let fish = script("fish");
    assert!(
        fish.lines()
            .any(|line| line.contains("__fish_etoro_token_using_subcommand rotate") && line.contains("-l secret-file")),
        "{fish}"
    );
    let zsh = script("zsh");
    let rotate = zsh.split("(rotate)").nth(1).unwrap();
    assert!(
        rotate.split(";;").next().unwrap().contains("'--secret-file=["),
        "{rotate}"
    );
    assert!(zsh.starts_with("#compdef etoro-token"));

    // With fish installed, ask fish itself.
    if Command::new("fish").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etoro-token.fish");
        std::fs::write(&path, fish).unwrap();
        let output = Command::new("fish")
            .arg("--no-config")
            .arg("-c")
            .arg(format!(
                "source '{}'; complete -C 'etoro-token rotate --s'",
                path.display()
            ))
            .output()
            .unwrap();
        let offered = String::from_utf8_lossy(&output.stdout);
        assert!(
            offered.lines().any(|line| line.starts_with("--secret-file")),
            "{offered}"
        );
    }
}
