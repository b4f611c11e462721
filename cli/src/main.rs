//! `etoro-token`: manage eToro agent-portfolio user tokens from a terminal or a script: update one or many (from a
//! JSONL file, paced to eToro's quota, journaled, resumable), list the allowed scopes, run a local mock.

mod args;
mod bulk;
mod cmd;
mod connect;
mod credentials;
mod exit;
mod file_roles;
#[cfg(feature = "mock")]
mod mock;
mod options;
mod output;
mod report;
mod safe_json;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tracing_subscriber::field::MakeExt as _;

use args::{Cli, Command};
use exit::Exit;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2, the documented code for "invalid input or usage".
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match runtime_for(&cli.command) {
        Ok(runtime) => runtime,
        Err(err) => {
            output::note(&format!("error: cannot start the async runtime: {err}"));
            return Exit::LocalIo.into();
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Update(args) => cmd::update::run(args).await.into(),
            Command::Apply(args) => cmd::apply::run(args).await.into(),
            Command::Edit(args) => cmd::edit::run(args).await.into(),
            Command::Scopes(args) => cmd::scopes::run(args).await.into(),
            Command::List(args) => cmd::list::run(args).await.into(),
            Command::Create(args) => cmd::create::run(args).await.into(),
            Command::Revoke(args) => cmd::revoke::run(args).await.into(),
            Command::Rotate(args) => cmd::rotate::run(args).await.into(),
            Command::Completions(args) => cmd::completions::run(&args, Cli::command()).into(),
            #[cfg(feature = "mock")]
            Command::Mock(args) => mock::run(args).await,
        }
    })
}

/// The runtime a command runs on.
///
/// Most commands run on one thread: a bulk run's engine, its requests and their connections then share it, with
/// no hand-over between threads for each request (the file's reader has a thread of its own either way). Measured
/// on 2 cores against a multi-threaded runtime whose workers ran the connections (`xtask-bench --only bulk
/// --bulk-lines 20000`, interleaved): 0.83-0.87x raw reqwest with the journal against 0.80-0.87x, 0.92-0.99x
/// without it against 0.85-0.90x, and 0.80x against 0.68x in front of the stateful mock, which needs the CPU too.
///
/// `revoke` and `rotate` get a multi-threaded runtime, since their prompt blocks a worker (`block_in_place`), and
/// so does `mock`, which serves many clients at once.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Command::Revoke(_) | Command::Rotate(_) => tokio::runtime::Builder::new_multi_thread(),
        #[cfg(feature = "mock")]
        Command::Mock(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build()
}

/// `-v` shows the client's retries and waits (`etoro_client=debug`), `-vv` everything at debug; `RUST_LOG` wins
/// (and, without `-v`, turns logging on by itself). Logs go to stderr; the client never puts a secret in an event.
fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => match tracing_subscriber::EnvFilter::try_from_default_env() {
            Ok(filter) => filter,
            Err(_) => return,
        },
        1 => env_filter_or("etoro_client=debug,etoro_token=debug"),
        _ => env_filter_or("debug"),
    };
    // Every field's value (an error from the server included) goes through the one escaping rule; the colours,
    // ours, only on a terminal and never with NO_COLOR.
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = output::escape(&text);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(fields)
        .with_ansi(output::colour(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn env_filter_or(default: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
}
