//! The command line, as clap sees it: the top of the CLI's layers. Each command's flags are its own struct in
//! `crate::cmd`; the groups several commands share are in `crate::options`. Arrows run one way: arguments ->
//! commands -> the bulk engine -> the library, with `options`, `output`, `report`, `connect` and `exit` below
//! them all.

use clap::{Parser, Subcommand};

use crate::options::{COMMON_OPTIONS, CREDENTIALS_HELP};

/// Change who may use an eToro agent-portfolio user token, from where, and until when.
#[derive(Debug, Parser)]
#[command(name = "etoro-token", version, after_help = crate::exit::TABLE)]
pub struct Cli {
    /// Log retries and waits to stderr (-v: this tool and the client; -vv: everything). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = COMMON_OPTIONS)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Update one user token (flags), or many (--from FILE.jsonl).
    Update(crate::cmd::update::UpdateArgs),
    /// Bring many tokens to a desired state: one list request, then a PATCH only for those that differ (--plan
    /// shows the changes and sends nothing).
    Apply(crate::cmd::apply::ApplyArgs),
    /// Add or remove addresses and scopes, or move the expiry, on one token or a selection, without restating
    /// the rest (--plan shows the changes and sends nothing).
    Edit(crate::cmd::edit::EditArgs),
    /// List the scope names a token may hold (GET /api/v2/agent-portfolios/user-tokens/scopes).
    #[command(after_help = format!("{CREDENTIALS_HELP}\n\n{}", crate::exit::TABLE))]
    Scopes(crate::cmd::scopes::ScopesArgs),
    /// List the user tokens of every agent-portfolio, marking the expired and the soon expiring.
    List(crate::cmd::list::ListArgs),
    /// Create a user token; its secret, returned this once, goes to stdout or a new --secret-file.
    Create(crate::cmd::create::CreateArgs),
    /// Revoke (delete) a user token, after confirming.
    Revoke(crate::cmd::revoke::RevokeArgs),
    /// Replace a user token: create a new one like it, store its secret, then revoke the old one (resumable).
    Rotate(crate::cmd::rotate::RotateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::cmd::completions::CompletionsArgs),
    /// Run a local stand-in for eToro's endpoints, with optional faults and quota, until interrupted.
    #[cfg(feature = "mock")]
    Mock(crate::mock::MockArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each subcommand's long help, as a terminal `width` columns wide shows it.
    fn helps(width: usize) -> Vec<(String, String)> {
        use clap::CommandFactory;
        let mut cli = Cli::command().term_width(width);
        cli.build();
        cli.get_subcommands()
            .filter(|command| command.get_name() != "help")
            .map(|command| {
                let text = command.clone().term_width(width).render_long_help().to_string();
                (command.get_name().to_owned(), text)
            })
            .collect()
    }

    #[test]
    fn examples_and_notes_are_never_wrapped_on_an_80_column_terminal() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        cli.build();
        let notes: Vec<(String, String)> = cli
            .get_subcommands()
            .filter_map(|command| Some((command.get_name().to_owned(), command.get_after_help()?.to_string())))
            .collect();
        assert!(notes.len() >= 8, "{notes:?}");
        let rendered = helps(80);
        for (name, after) in notes {
            // `rotate`'s help moves with the rotation's logic into the library (another change in flight).
            if name == "rotate" {
                continue;
            }
            let help = &rendered.iter().find(|(rendered, _)| *rendered == name).unwrap().1;
            let lines: std::collections::HashSet<&str> = help.lines().map(str::trim_end).collect();
            for line in after.lines() {
                assert!(line.chars().count() <= 80, "{name}: a line over 80 columns: {line}");
                assert!(lines.contains(line.trim_end()), "{name}: wrapped or missing: {line:?}");
            }
        }
    }

    #[test]
    fn each_commands_own_flags_come_first_and_the_shared_ones_after() {
        for (name, help) in helps(100) {
            let Some(common) = help.find(&format!("{COMMON_OPTIONS}:")) else {
                panic!("{name}: no {COMMON_OPTIONS} heading:\n{help}");
            };
            let own = help.find("Options:").unwrap();
            assert!(own < common, "{name}: its own flags first");
            let shared_part = &help[common..];
            assert!(shared_part.contains("--verbose"), "{name}: -v among the shared flags");
            assert!(
                !help[..common].contains("--verbose"),
                "{name}: -v not among its own flags"
            );
            if help.contains("--base-url <URL>") {
                assert!(
                    !help[..common].contains("--base-url <URL>"),
                    "{name}: --base-url after its own flags"
                );
            }
            for own_flag in ["--json", "--dry-run", "--portfolio <UUID>", "--from <FILE.jsonl>"] {
                if let Some(at) = help.find(own_flag) {
                    assert!(at < common, "{name}: {own_flag} is its own flag");
                }
            }
        }
    }
}
