//! The subcommands that talk to eToro, one file each. `update --from` and `apply` run their updates through
//! `crate::bulk`; `mock` is in `crate::mock`. The helpers the token commands share sit beside them: `confirm` (asking on a terminal),
//! `flags` (input errors named by flag), `raw` (standard output without escaping, for the secret and completion
//! scripts) and `rotation` (what `rotate` adds to the library's
//! rotation: standard output as a sink, the default state directory, exit codes).

pub mod apply;
pub mod completions;
pub mod create;
pub mod edit;
pub mod list;
pub mod revoke;
pub mod rotate;
pub mod scopes;
pub mod update;

mod confirm;
mod flags;
mod raw;
mod rotation;
