//! The subcommands that talk to eToro, one file each. `update --from` runs in `crate::bulk`; `mock` in
//! `crate::mock`.

pub mod scopes;
pub mod update;
