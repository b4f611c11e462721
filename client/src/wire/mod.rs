//! What the wrapper asks of the wire and learns from it, one concern a module. The generated client's
//! `ClientHooks` (`crate::hooks`) only dispatches to them.
//!
//! # Why task-locals carry a call's context
//!
//! progenitor's hooks get `&self` (the generated client, shared by every concurrent call of a [`crate::Client`])
//! and an `OperationInfo` holding the operation id: no per-call value. The request itself is built inside the
//! generated builder's `send`, so the wrapper cannot put anything on it either. The only other channel, the
//! generated client's inner value ([`crate::Auth`]), is fixed at construction and public API. So the wrapper puts
//! what one attempt needs in a `tokio` task-local around the generated future, and the hook reads it there: each
//! task-local lives in the module that owns its concern ([`attempt`], [`dry_run`]), which alone sets it, through
//! one named function, and alone reads it.

pub(crate) mod attempt;
pub(crate) mod dry_run;

pub use attempt::{DEFAULT_MAX_RESPONSE_BYTES, MAX_ERROR_BODY};
pub use dry_run::PreparedRequest;
