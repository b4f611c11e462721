//! Rotating a user token, safely across runs, directories and crashes: create a new token like the old one,
//! store its secret, and only then revoke the old token.
//!
//! eToro has no "rotate": the secret is returned by the create call only, once, and a token's state is readable
//! only through the list. [`Rotation`] is a resumable state machine driven through two small traits: a
//! [`StateStore`] (where it records how far it got) and a [`SecretSink`] (where the secret goes). The library's
//! [`FileStateStore`] and [`FileSecretSink`] keep the command line's guarantees; implement the traits for a
//! database or a vault.
//!
//! ```no_run
//! # async fn run(client: etoro_client::Client, portfolio: etoro_client::Uuid, token: etoro_client::Uuid)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use etoro_client::rotation::{FileSecretSink, FileStateStore, Rotation};
//! use std::path::Path;
//!
//! let mut store = FileStateStore::in_dir(Path::new("/var/lib/my-service/rotations"), portfolio, token)?;
//! let mut sink = FileSecretSink::new(Path::new("/run/secrets/etoro-token"))?;
//! let rotated = Rotation::new(&client, portfolio, token).rotate(&mut store, &mut sink).await?;
//! println!("user token {} replaced by {}", rotated.old_token, rotated.new_token);
//! # Ok(()) }
//! ```
//!
//! # The state machine
//!
//! Each step is recorded in the store before the action that could leave something behind. What a run that finds
//! each one does:
//!
//! | step | a run that finds it |
//! |---|---|
//! | (no state) | lists the tokens, copies the old one's settings ([`crate::NewToken::like`]), fixes the new name, records `planned`, has the sink claim the secret's place, records that |
//! | `planned` | lists; a token of the new name is an orphan (see below); creates |
//! | `createSent` (its request id recorded before sending) | lists; a token of the new name was made by this create, whose answer was lost: nobody holds its secret, so it is revoked; creates again |
//! | `created` | the run stopped before the secret was known to be stored: if the sink says it cannot hold it (an empty file), revokes the new token and creates another; else stops ([`RotationError::SecretMayBeHeld`]) |
//! | `discarding` | storing the secret failed: revokes the new token, then creates another |
//! | `secretStored` | revokes the old token; a 404 (already gone) finishes the rotation too |
//! | `done` | nothing: reports the finished rotation, sends nothing |
//!
//! So a rerun after a stop anywhere (a crash, `kill -9`, a lost answer, a full disk) ends with exactly one new
//! token whose secret is stored and the old token revoked, or stops naming the token it will not touch. It never
//! revokes a token whose secret may be held: a token of the new name found with no state of this rotation (an
//! orphan: its state was lost, or another rotation made it) is reported ([`RotationError::Orphan`]) and revoked
//! only when the caller says so ([`Rotation::discard_orphan`]). The old token is revoked only after the new
//! secret is stored.
//!
//! Dropping the future of [`Rotation::rotate`] or [`Rotation::run`] (a timeout, a cancelled task, a shutdown) is
//! like a crash at that point: the store holds the last step recorded, and the next run resumes from it.
//!
//! A create that eToro refuses for good leaves nothing behind: the state is removed and the sink releases its
//! place (a file sink removes its empty file), so the corrected call starts afresh. The state is keyed by the
//! agent-portfolio and the old token, not by a directory: [`FileStateStore::in_dir`] names its file by the two
//! ids, so a run from any working directory finds it.

mod driver;
mod sink;
mod state;
mod store;

use std::fmt;

use uuid::Uuid;

use crate::error::{Error, InvalidInput};

pub use crate::files::{absolute, same_file, FileError};
pub use driver::{derived_name, Expiry, Plan, PlanStatus, Rotation};
pub use sink::{Claim, FileSecretSink, SecretSink};
pub use state::{Reservation, RotationState, Step, STATE_VERSION};
pub use store::{FileStateStore, StateStore};

/// The error a [`StateStore`] or a [`SecretSink`] returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The end of a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotated {
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The token replaced, now revoked.
    pub old_token: Uuid,
    /// Its replacement, whose secret is stored.
    pub new_token: Uuid,
    /// The replacement's name.
    pub new_name: String,
    /// Where its secret is.
    pub secret: Option<Reservation>,
    /// The `x-request-id` of the revoke that finished it, when this run sent one that succeeded.
    pub revoke_request_id: Option<Uuid>,
    /// True when the old token was found gone (an earlier revoke whose answer was lost, or someone else).
    pub old_already_gone: bool,
    /// True when the state said the rotation was finished already: nothing was sent.
    pub already_done: bool,
}

/// What a rotation does as it goes, for logs and progress lines ([`Rotation::on_event`]). Each is also a
/// `tracing` event at `INFO` under the target `etoro_client`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A token of the new name, made by a create of this rotation whose answer was lost, is revoked.
    LeftoverRevoked {
        /// The token.
        token: Uuid,
    },
    /// An orphan the caller named with [`Rotation::discard_orphan`] is revoked.
    OrphanRevoked {
        /// The token.
        token: Uuid,
    },
    /// A create is being sent.
    Creating {
        /// Its `x-request-id`, recorded before sending.
        request_id: Uuid,
    },
    /// The create's outcome is unknown (its answer was lost, or eToro says the name exists): the next list finds
    /// the token by its name.
    CreateUnanswered {
        /// Its `x-request-id`.
        request_id: Uuid,
        /// Why, as the client's error says it.
        why: String,
    },
    /// The new token exists.
    Created {
        /// The new token.
        token: Uuid,
        /// The create's `x-request-id`.
        request_id: Uuid,
    },
    /// Its secret is stored.
    SecretStored {
        /// The new token.
        token: Uuid,
    },
    /// A new token whose secret was not stored is revoked.
    Discarded {
        /// The new token.
        token: Uuid,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::LeftoverRevoked { token } => write!(
                f,
                "found user token {token}, made by this rotation's create whose answer was lost (nobody holds its \
                 secret): revoked it"
            ),
            Event::OrphanRevoked { token } => write!(f, "revoked user token {token}, as asked (discard orphan)"),
            Event::Creating { request_id } => write!(f, "creating the new token (request id {request_id})"),
            Event::CreateUnanswered { request_id, why } => write!(
                f,
                "the create (request id {request_id}) may have made the token: {why}; looking for it by name"
            ),
            Event::Created { token, request_id } => {
                write!(f, "created user token {token} (request id {request_id})")
            }
            Event::SecretStored { token } => write!(f, "stored the secret of user token {token}"),
            Event::Discarded { token } => write!(
                f,
                "revoked user token {token}, created by an earlier attempt whose secret was never stored"
            ),
        }
    }
}

/// Why a rotation stopped. Each says what is left and how to go on; where a token exists whose secret may be
/// held, it is named and left alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// A call failed; `left` says what is left (a rerun finishes it).
    #[error("{error}; {left}")]
    Call {
        /// The call's error.
        error: Error,
        /// What is left, in a sentence.
        left: String,
    },
    /// eToro refused the new token for good: nothing of this rotation exists, its state is removed.
    #[error("{0}; nothing of this rotation was left: fix the cause and start again")]
    CreateRefused(Error),
    /// The store failed; the state recorded before stands, and a rerun resumes from it.
    #[error("the rotation's state: {0}")]
    Store(BoxError),
    /// The sink could not claim the secret's place; nothing was sent.
    #[error("the secret's place: {0} (nothing was sent)")]
    Reserve(BoxError),
    /// The new token's secret could not be stored; the new token is revoked (the old one untouched).
    #[error(
        "user token {token} was created, but its secret could not be stored: {cause}; it is revoked, and the old \
         token is untouched"
    )]
    SecretNotStored {
        /// The new token, revoked.
        token: Uuid,
        /// Why.
        cause: String,
        /// True when eToro returned a secret that cannot be used (empty or holding control characters), rather
        /// than the sink failing.
        unusable: bool,
    },
    /// The new token's settings break a local rule; nothing was sent.
    #[error(transparent)]
    Invalid(InvalidInput),
    /// The listing has no such agent-portfolio.
    #[error("eToro lists no agent-portfolio {0} for these credentials")]
    PortfolioNotListed(Uuid),
    /// A new rotation's old token is not listed: nothing to rotate.
    #[error("eToro lists no user token {token} in agent-portfolio {portfolio} (nothing was changed)")]
    TokenNotListed {
        /// The agent-portfolio.
        portfolio: Uuid,
        /// The token.
        token: Uuid,
    },
    /// The old token disappeared before a new one was made: nothing to rotate; the state is removed.
    #[error(
        "user token {0} is no longer listed (revoked elsewhere?): there is nothing to rotate; no new token was \
         left behind, and the rotation's state is removed"
    )]
    OldTokenGone(Uuid),
    /// The name asked for belongs to another token.
    #[error(
        "the agent-portfolio already has a token named {name:?} ({token}); choose another name (nothing was changed)"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The token holding it.
        token: Uuid,
    },
    /// The new name is the old token's.
    #[error("the new token needs a name other than the old one's ({0:?}) (nothing was changed)")]
    SameName(String),
    /// A resumed rotation is asked for another name than the one it recorded.
    #[error("the rotation records the new name {0:?}; a rotation keeps its name across runs (nothing was sent)")]
    NameChanged(String),
    /// The store holds another rotation.
    #[error("the state records the rotation of user token {token} of agent-portfolio {portfolio}, not this one (nothing was sent)")]
    OtherRotation {
        /// Its agent-portfolio.
        portfolio: Uuid,
        /// Its old token.
        token: Uuid,
    },
    /// A token of the new name exists and no state of this rotation says it made it: someone may hold its
    /// secret. It is left alone until the caller names it ([`Rotation::discard_orphan`]).
    #[error(
        "user token {token} is named {name:?}, as this rotation's new token, but no state of this rotation says \
         it made it (its state was lost, or it ran elsewhere): its secret may be held, so it is left alone; revoke \
         it only if nobody uses it"
    )]
    Orphan {
        /// The token.
        token: Uuid,
        /// Its name.
        name: String,
    },
    /// A run stopped after creating `token` and before recording that its secret was stored, and the sink may
    /// hold it: the token is left alone until the caller names it ([`Rotation::discard_orphan`]).
    #[error(
        "user token {token} was created by an earlier run, which stopped before recording that its secret was \
         stored, and the secret may have reached {place}: it is left alone; revoke it only if nobody uses that \
         secret"
    )]
    SecretMayBeHeld {
        /// The token.
        token: Uuid,
        /// Where its secret may be.
        place: String,
    },
    /// Every create of this run ended without a usable answer (each token made was revoked).
    #[error("{0} creates in a row ended without a usable answer; each token they made was revoked: try again later")]
    TooManyCreates(u32),
}

impl RotationError {
    /// The token a caller must decide about (an orphan, or a token whose secret may be held): pass it to
    /// [`Rotation::discard_orphan`] to have it revoked, once nobody uses it.
    pub fn undecided_token(&self) -> Option<Uuid> {
        match self {
            RotationError::Orphan { token, .. } | RotationError::SecretMayBeHeld { token, .. } => Some(*token),
            _ => None,
        }
    }

    /// The client error behind it, if a call failed.
    pub fn call_error(&self) -> Option<&Error> {
        match self {
            RotationError::Call { error, .. } | RotationError::CreateRefused(error) => Some(error),
            _ => None,
        }
    }
}
