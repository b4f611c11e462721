//! Standard output for the few things `crate::output` must not touch: a token's secret (written exactly as eToro
//! returned it, and a closed pipe is a failure, not the end of the reader's interest), a completion script (many
//! lines, tabs included) and the coloured lines of `list` (their cells already escaped).

use std::io::{self, Write};

use crate::exit::Exit;
use crate::output;

/// Writes `text` and a newline to standard output and flushes it. Any failure is an error, a closed pipe
/// included: the secret counts as stored only when this returns `Ok`. The caller has checked that `text` holds no
/// control character.
pub fn secret_line(text: &str) -> io::Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let mut stdout = io::stdout().lock();
    stdout.write_all(line.as_bytes())?;
    stdout.flush()
}

/// Writes `bytes` as they are, as `output::line` writes a line: a closed pipe stops output without an error, any
/// other failure is exit 5. The caller has escaped whatever came from the network.
pub fn bytes(bytes: &[u8]) -> Result<(), Exit> {
    output::write_stdout(bytes)
}
