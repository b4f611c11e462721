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

/// The runtime of every command: multi-threaded, so that the bulk engine drives its requests from this thread
/// while the connections' tasks run on the workers, prompts can block a worker (`block_in_place`) and `mock`
/// serves many clients at once.
///
/// The workers get the cores the engine leaves: one fewer than the machine has (at least one). A worker per core
/// besides the busy main thread only adds threads that look for work (on 2 cores, `xtask-bench --only bulk`
/// interleaved: 0.85-0.87x raw reqwest with the journal against 0.72-0.78x, and 13% less CPU). `mock` drives
/// nothing from this thread, so it keeps a worker per core; `TOKIO_WORKER_THREADS` overrides both.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(feature = "mock")]
    let serves_only = matches!(command, Command::Mock(_));
    #[cfg(not(feature = "mock"))]
    let serves_only = false;
    if !serves_only && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        builder.worker_threads(workers_beside_the_engine(cores));
    }
    builder.build()
}

/// The cores the main thread leaves, at least one.
fn workers_beside_the_engine(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_get_the_cores_the_engine_leaves() {
        assert_eq!(workers_beside_the_engine(1), 1, "one core still gets a worker");
        assert_eq!(workers_beside_the_engine(2), 1);
        assert_eq!(workers_beside_the_engine(16), 15);
    }
}
