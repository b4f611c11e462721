//! Everything the command prints goes through here, one line at a time:
//!
//! - control characters, bidi controls, zero-width characters and line separators are escaped ([`escape`]), so text that came from the network (an `errorMessage`, a body snippet, a
//!   token's name) cannot move the cursor, recolour the terminal or forge a line such as a fake `error:`;
//! - each line is one `write` call (stderr is unbuffered: `eprintln!` writes each formatted piece on its own);
//! - a closed standard output (`| head`) is not an error: the reader has what it wanted, so output stops and the
//!   run keeps its exit code; any other write failure (`> /dev/full`) is a local I/O failure (exit 5), said once.
//!   Nothing here panics, unlike `println!`.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use etoro_client::PreparedRequest;
use serde_json::{json, Map, Value};

use crate::exit::Exit;

/// What is known of standard output: writable so far, closed by its reader, or failed (full, an I/O error).
static STDOUT: AtomicU8 = AtomicU8::new(OPEN);
const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const FAILED: u8 = 2;

/// Writes one line to standard output.
pub fn line(text: &str) -> Result<(), Exit> {
    write_stdout(terminated(text).as_bytes())
}

/// Writes `bytes` as they are to standard output and flushes it: a closed pipe stops output without an error, any
/// other failure is exit 5, said once (later writes fail at once, silently). The caller has escaped whatever came
/// from the network.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Exit> {
    match STDOUT.load(Ordering::Relaxed) {
        CLOSED => return Ok(()),
        FAILED => return Err(Exit::LocalIo),
        _ => {}
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => {
            STDOUT.store(CLOSED, Ordering::Relaxed);
            Ok(())
        }
        Err(err) => {
            if STDOUT.swap(FAILED, Ordering::Relaxed) != FAILED {
                note(&format!("error: cannot write to standard output: {err}"));
            }
            Err(Exit::LocalIo)
        }
    }
}

/// Writes one line to standard error; a failure to do so has nowhere to be reported, so it is ignored.
pub fn note(text: &str) {
    let _ = std::io::stderr().write_all(terminated(text).as_bytes());
}

/// Writes lines of text to standard error with one `write`, each escaped and ended by a newline.
pub fn notes(lines: &[String]) {
    let mut text = String::with_capacity(lines.iter().map(|line| line.len() + 1).sum());
    for line in lines {
        text.push_str(&escape(line));
        text.push('\n');
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Says why a command cannot go on (`error: ...` on standard error) and returns the exit code it ends with.
pub fn fail(message: &str, exit: Exit) -> Exit {
    note(&format!("error: {message}"));
    exit
}

/// Whether to colour what goes to `stream`: only on a terminal, and never when `NO_COLOR` is set to anything but
/// the empty string (<https://no-color.org>).
pub fn colour(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// `text` with its control characters escaped, and a newline.
fn terminated(text: &str) -> String {
    let mut out = escape(text).into_owned();
    out.push('\n');
    out
}

/// The one escaping rule for text from the network (controls, format characters such as bidi overrides and
/// zero-width spaces, line and paragraph separators, as `\uXXXX`): see [`etoro_escape`].
pub use etoro_escape::escape;

/// Prints a dry-run request: as a JSON object, or as a `curl` command to paste into a ticket.
pub fn print_prepared(request: &PreparedRequest, as_json: bool) -> Result<(), Exit> {
    if as_json {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
        let shown =
            json!({ "dryRun": true, "method": request.method, "url": request.url, "headers": headers, "body": body });
        return line(&shown.to_string());
    }
    request.to_string().lines().try_for_each(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_line_is_escaped_whole_and_ends_once() {
        assert_eq!(terminated("x\ty"), "x\\u0009y\n");
        assert_eq!(terminated("a\u{202e}b\u{2028}c"), "a\\u202eb\\u2028c\n");
        let json = serde_json::json!({"m": "\u{9b}\u{7f}\u{1b}\u{200b}"}).to_string();
        let escaped: serde_json::Value = serde_json::from_str(&escape(&json)).unwrap();
        assert_eq!(
            escaped["m"], "\u{9b}\u{7f}\u{1b}\u{200b}",
            "a JSON line stays JSON with the same text"
        );
    }
}
