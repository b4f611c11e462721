//! The documented exit codes, and the one an error deserves.

use std::process::ExitCode;

use etoro_client::Error;

/// The exit codes, from best to worst: a run that meets several outcomes exits with the highest code among them
/// (a bulk file with an invalid line and a refused one exits 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: done (updated, listed, created, revoked).
    Success = 0,
    /// 2: invalid input or usage: nothing was sent for it.
    Invalid = 2,
    /// 3: the API refused (4xx other than a rate limit).
    Refused = 3,
    /// 4: failure after retries (rate limit, 5xx, network, timeout, redirect, an answer outside the spec).
    Failed = 4,
    /// 5: a local I/O failure: a file or the journal cannot be read or written, standard output is full, the mock
    /// cannot listen.
    LocalIo = 5,
    /// 6: `apply --plan` or `edit --plan` found changes to make (nothing was changed).
    Changes = 6,
    /// 7: `edit`: a token read back after the run differs from what was sent: someone else wrote it between our
    /// listing and our check (eToro has no `If-Match`). It was not written again.
    Conflict = 7,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// The exit code an error deserves.
pub fn exit_for(err: &Error) -> Exit {
    if err.is_invalid_input() || err.is_invalid_config() {
        return Exit::Invalid;
    }
    if err.is_cancelled() {
        // Stopped before its next attempt: the call did not complete.
        return Exit::Failed;
    }
    match err.status() {
        Some(status) if status.is_client_error() && !err.is_rate_limited() => Exit::Refused,
        _ => Exit::Failed,
    }
}

/// The help text's table, kept next to the codes it describes.
pub const TABLE: &str = "\
Exit codes (a run with several outcomes exits with the highest):
  0  done
  2  invalid input or usage: nothing was sent for it
  3  the API refused the request (4xx other than a rate limit)
  4  failure after retries (rate limit, 5xx, network, timeout, redirect,
     an answer outside the spec)
  5  local I/O failure (a file, the journal, standard output, the mock's port)
  6  apply --plan, edit --plan: changes would be made
  7  edit: a token reads back unlike what was sent (someone else wrote it)";
