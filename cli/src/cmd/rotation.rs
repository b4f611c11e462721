//! What `rotate` adds to the library's rotation (`etoro_client::rotation`): standard output as a secret sink, where
//! the state lives by default, and the exit code of each way a rotation stops.

use std::path::PathBuf;

use etoro_client::rotation::{BoxError, Claim, FileError, Reservation, RotationError, SecretSink};
use etoro_client::secrecy::ExposeSecret;
use etoro_client::CreatedToken;

use crate::cmd::raw;
use crate::exit::{exit_for, Exit};

/// What standard output is called in a state.
pub const STDOUT: &str = "standard output";

/// Standard output as the place of the new secret (alone on its line, flushed). Whoever reads it may hold the
/// secret, so a run that stopped after creating a token never revokes that token unless told to (the default
/// `may_hold_secret`).
pub struct StdoutSink;

impl SecretSink for StdoutSink {
    async fn reserve(&mut self, _: Claim<'_>) -> Result<Reservation, BoxError> {
        Ok(Reservation {
            place: STDOUT.to_owned(),
            identity: None,
        })
    }

    async fn store(&mut self, token: &CreatedToken) -> Result<(), BoxError> {
        raw::secret_line(token.secret.expose_secret())
            .map_err(|err| format!("cannot write it to standard output: {err}").into())
    }
}

/// The directory of rotation states: `$XDG_STATE_HOME/etoro-token/rotations`, else
/// `$HOME/.local/state/etoro-token/rotations`. The same for every working directory, so a rerun from anywhere
/// finds the rotation (its file is named by the agent-portfolio and the old token).
pub fn default_state_dir() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let base = absolute("XDG_STATE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".local").join("state")))?;
    Some(base.join("etoro-token").join("rotations"))
}

/// The exit code of a stopped rotation (its message is printed by the caller).
pub fn exit_of(err: &RotationError) -> Exit {
    let refused = |err: &BoxError| match err.downcast_ref::<FileError>() {
        Some(FileError::Refused(_)) => Exit::Invalid,
        _ => Exit::LocalIo,
    };
    match err {
        RotationError::Call { error, .. } | RotationError::CreateRefused(error) => exit_for(error),
        RotationError::Store(err) | RotationError::Reserve(err) => refused(err),
        RotationError::SecretNotStored { unusable: true, .. } | RotationError::TooManyCreates(_) => Exit::Failed,
        RotationError::SecretNotStored { .. } => Exit::LocalIo,
        RotationError::PortfolioNotListed(_)
        | RotationError::TokenNotListed { .. }
        | RotationError::OldTokenGone(_)
        | RotationError::Orphan { .. }
        | RotationError::SecretMayBeHeld { .. } => Exit::Refused,
        _ => Exit::Invalid,
    }
}
