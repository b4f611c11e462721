//! `cargo xtask <task>`: the workspace's maintenance commands (`cargo xtask --help` lists them).

use std::process::ExitCode;

fn main() -> ExitCode {
    xtask::cli::main(std::env::args_os())
}
