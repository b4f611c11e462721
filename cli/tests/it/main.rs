//! The `etoro-token` binary, run as a user would, against servers on 127.0.0.1: one test binary (each links the
//! whole CLI once), a module per concern, the helpers they share in `support`.

mod support;

mod apply;
mod bulk;
mod bulk_journal;
mod bulk_output;
mod bulk_pacing;
mod bulk_signals;
mod cli;
mod completions;
mod edit;
mod exit_codes;
mod file_roles;
mod hostile_quota;
mod hygiene;
mod readme;
mod tokens_cli;
mod tokens_create;
mod tokens_list;
mod tokens_revoke;
mod tokens_rotate;
