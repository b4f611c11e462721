//! The operations, one file each. Every file adds its methods to [`crate::Client`] and defines what they take and
//! return; all of them run through `call::run` (pacing, attempts, retries, errors).

mod create;
mod list;
mod pending;
mod revoke;
mod scopes;
mod update;

pub use create::{CreateCall, CreatedToken, NewToken};
pub use list::{AgentPortfolio, UserToken};
pub use revoke::{RevokeCall, Revoked};
pub use update::{UpdateCall, Updated};

pub(crate) use update::check_id;
