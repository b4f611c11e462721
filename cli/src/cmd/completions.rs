//! `etoro-token completions <SHELL>`: the shell completion script, from clap's own description of the command
//! line (`clap_complete`), so it never falls behind a flag.

use clap::Args;
use clap_complete::Shell;

use crate::cmd::raw;
use crate::exit::Exit;

const EXAMPLES: &str = "\
Examples:
  etoro-token completions bash \\
      > ~/.local/share/bash-completion/completions/etoro-token
  etoro-token completions zsh > \"${fpath[1]}/_etoro-token\"
  etoro-token completions fish > ~/.config/fish/completions/etoro-token.fish
  etoro-token completions powershell >> $PROFILE";

/// `etoro-token completions`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The binary's name, as the shells see it.
const BIN: &str = "etoro-token";

/// Prints the script for `cli` (the whole command line, which `main` passes down: the commands sit below the
/// argument tree and do not reach up into it) on standard output.
pub fn run(args: &CompletionsArgs, mut cli: clap::Command) -> Exit {
    raw::bytes(&script(args.shell, &mut cli)).err().unwrap_or(Exit::Success)
}

/// The completion script for `shell`.
fn script(shell: Shell, cli: &mut clap::Command) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, cli, BIN, &mut script);
    if shell == Shell::Bash {
        return bash_fixed(&String::from_utf8_lossy(&script)).into_bytes();
    }
    script
}

/// Works around clap_complete's bug for a binary name with a hyphen (clap-rs/clap#6421): its bash script sets
/// `cmd="etoro__token__subcmd__rotate"` while the case arms that list each subcommand's flags read
/// `etoro__subcmd__token__subcmd__rotate`, so no subcommand's flag ever completes. The arms are renamed to what `cmd`
/// is set to; once clap fixes the bug, there is nothing left to rename and the script passes through unchanged.
fn bash_fixed(script: &str) -> String {
    script.replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_arm_of_the_bash_script_is_a_name_cmd_is_set_to() {
        let script = String::from_utf8(script(
            Shell::Bash,
            &mut <crate::args::Cli as clap::CommandFactory>::command(),
        ))
        .unwrap();
        let set: std::collections::HashSet<&str> = script
            .lines()
            .filter_map(|line| line.trim().strip_prefix("cmd=\"")?.strip_suffix('"'))
            .collect();
        let arms: Vec<&str> = script
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("etoro__") && line.ends_with(')') && !line.contains(','))
            .map(|line| line.trim_end_matches(')'))
            .collect();
        assert!(arms.len() > 10, "{arms:?}");
        for arm in arms {
            assert!(set.contains(arm), "the arm {arm} is never selected");
        }
    }
}
