//! `etoro-token mock`: the embedded eToro stand-in (`etoro-mock`), served on a socket until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use etoro_mock::{Faults, MockConfig, MockServer};
use uuid::Uuid;

use crate::outcome::Exit;

/// `etoro-token mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,

    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Answer 404 for this agent-portfolio or token id (repeatable).
    #[arg(long = "missing", value_name = "UUID")]
    pub missing: Vec<Uuid>,

    /// Answer every N-th request with 429 and Retry-After.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_every: Option<u32>,

    /// The Retry-After of injected 429s, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u64,

    /// Answer this share of requests (0 to 1) with 500.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0, value_parser = parse_share)]
    pub error_rate: f64,

    /// Drop the connection without answering every N-th request.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reset_every: Option<u32>,

    /// Wait this many milliseconds before answering.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
}

impl MockArgs {
    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// Serves the mock until Ctrl-C.
pub async fn run(args: MockArgs) -> ExitCode {
    let config = MockConfig {
        missing: args.missing.iter().copied().collect(),
        faults: Faults {
            rate_limit_every: args.rate_limit_every,
            retry_after: std::time::Duration::from_secs(args.retry_after),
            error_rate: args.error_rate,
            latency: std::time::Duration::from_millis(args.latency_ms),
            reset_every: args.reset_every,
        },
        ..MockConfig::default()
    };
    let server = match MockServer::start(args.addr(), config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: cannot listen on {}: {err}", args.addr());
            return Exit::Failed.into();
        }
    };
    println!("eToro mock listening on {} (Ctrl-C stops it)", server.base_url());
    if let Err(err) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {err}");
    }
    eprintln!("served {} request(s)", server.request_count());
    server.shutdown().await;
    ExitCode::SUCCESS
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err("must be between 0 and 1".to_owned());
    }
    Ok(share)
}
