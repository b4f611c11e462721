//! Asking before an irreversible change (`revoke`, `rotate`): on a terminal the user answers; without one, `--yes`
//! is required, and its absence is found before anything is sent.

use std::io::{self, BufRead, IsTerminal};

use crate::exit::Exit;
use crate::output;

/// True when a question can be asked and answered: standard input and standard error are both terminals.
pub fn terminal() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Checks, before anything is sent, that the change is confirmed already (`--yes`) or can be confirmed on a
/// terminal. The error names `--yes`; the run exits 2.
pub fn possible(yes: bool, what: &str) -> Result<(), Exit> {
    if yes || terminal() {
        return Ok(());
    }
    output::note(&format!(
        "error: {what} needs --yes when standard input is not a terminal (nothing was sent)"
    ));
    Err(Exit::Invalid)
}

/// Asks `question` on standard error (escaped: it holds names from the network) and reads one answer from
/// standard input. Only `y` or `yes` (any case) confirm; end of input, an error or anything else declines.
pub fn ask(question: &str) -> bool {
    output::note(&format!("{question} [y/N]"));
    let mut answer = String::new();
    // Reading a terminal blocks; the runtime's other threads carry on meanwhile.
    let read = tokio::task::block_in_place(|| io::stdin().lock().read_line(&mut answer));
    matches!(read, Ok(n) if n > 0) && is_yes(&answer)
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y", " yes \r\n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yess", "ye", "y y", "oui"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
