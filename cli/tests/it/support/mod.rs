//! What the CLI's tests share: `bulk` (input files, journals, a scripted HTTP server) and `tokens` (a
//! closed-world mock and a recording proxy in front of it).

pub mod bulk;
pub mod tokens;
