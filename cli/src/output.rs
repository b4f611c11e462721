//! Everything the command prints goes through here, one line at a time:
//!
//! - control characters are escaped, so text that came from the network (an `errorMessage`, a body snippet, a
//!   token's name) cannot move the cursor, recolour the terminal or forge a line such as a fake `error:`;
//! - each line is one `write` call (stderr is unbuffered: `eprintln!` writes each formatted piece on its own);
//! - a closed standard output (`| head`) is not an error: the reader has what it wanted, so output stops and the
//!   run keeps its exit code; any other write failure (`> /dev/full`) is a local I/O failure (exit 5). Nothing
//!   here panics, unlike `println!`.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Exit;

/// Set once standard output is found closed: later lines are dropped without trying.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to standard output.
pub fn line(text: &str) -> Result<(), Exit> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(terminated(text).as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(err) => {
            note(&format!("error: cannot write to standard output: {err}"));
            Err(Exit::LocalIo)
        }
    }
}

/// Writes one line to standard error; a failure to do so has nowhere to be reported, so it is ignored.
pub fn note(text: &str) {
    let _ = std::io::stderr().write_all(terminated(text).as_bytes());
}

/// Says why a command cannot go on (`error: ...` on standard error) and returns the exit code it ends with.
pub fn fail(message: &str, exit: Exit) -> Exit {
    note(&format!("error: {message}"));
    exit
}

/// `text` with its control characters escaped, and a newline.
fn terminated(text: &str) -> String {
    let mut out = escape(text).into_owned();
    out.push('\n');
    out
}

/// Escapes every control character (C0, DEL, C1; line breaks and tabs included) as `\uXXXX`, so that one call
/// prints exactly one visible line. The form is JSON's own, so a JSON line stays valid JSON (serde escapes C0 in
/// strings, but leaves DEL and C1 raw).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_not_copied() {
        assert!(matches!(escape("plain text: ok"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}[31mred\r\nerror: fake\u{7}\u{9b}"),
            "a\\u001b[31mred\\u000d\\u000aerror: fake\\u0007\\u009b"
        );
        assert_eq!(terminated("x\ty"), "x\\u0009y\n");
        let json = serde_json::json!({"m": "\u{9b}\u{7f}\u{1b}"}).to_string();
        let escaped: serde_json::Value = serde_json::from_str(&escape(&json)).unwrap();
        assert_eq!(
            escaped["m"], "\u{9b}\u{7f}\u{1b}",
            "a JSON line stays JSON with the same text"
        );
    }
}
