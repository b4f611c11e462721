//! `cargo xtask <task>`: the workspace's maintenance commands.

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  regen           regenerate client/src/generated.rs from openapi/etoro-user-tokens.json
  regen --check   write nothing; fail if the generated client differs from what the spec produces
  upstream import <FILE|URL>
                  keep a facts-only snapshot of eToro's agent-portfolio operations in openapi/upstream/
  upstream diff <FILE|URL> [--json]
                  say whether a newer eToro document breaks this client (exit 1) or not (exit 0)
  semver [--baseline REV]
                  fail if etoro-client's public API changed in a way its version does not allow, against REV
                  (default: the last etoro-client-v* tag, else the previous commit); cargo-semver-checks, pinned
  bench           build in release and measure the wrapper, the CLI and regen against loopback servers;
                  writes target/bench/results.{json,md} and prints the table
  bench --quick   the same with small workloads, to smoke-test the bench itself (figures not comparable)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // `upstream` has its own exit statuses (0 fine, 1 breaking, 2 invalid input).
    if let ["upstream", rest @ ..] = args.as_slice() {
        return ExitCode::from(xtask::upstream::run(xtask::try_workspace_root(), rest));
    }
    match try_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn try_main(args: &[&str]) -> Result<(), String> {
    match args {
        ["regen"] => {
            xtask::codegen::regen(&xtask::try_workspace_root()?, false).map_err(|err| err.to_string())?;
            eprintln!("wrote {}", xtask::codegen::GENERATED_PATH);
            Ok(())
        }
        ["regen", "--check"] => {
            xtask::codegen::regen(&xtask::try_workspace_root()?, true).map_err(|err| err.to_string())?;
            eprintln!("{} is up to date", xtask::codegen::GENERATED_PATH);
            Ok(())
        }
        ["semver", rest @ ..] => xtask::semver::run(&xtask::try_workspace_root()?, rest),
        ["bench", rest @ ..] => xtask::bench::run(&xtask::try_workspace_root()?, rest),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task {args:?}\n{USAGE}")),
    }
}
