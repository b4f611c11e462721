//! `etoro-token mock`: the embedded eToro stand-in (`etoro-mock`), served on a socket until interrupted.
//!
//! It runs the closed world, as eToro does: only the README's portfolio and token exist, plus what `--seed` and
//! `--seed-file` add; create, update and revoke change that state. The first line on stdout is always
//! `eToro mock listening on http://ADDR:PORT`, for scripts to read the port of `--port 0` from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use etoro_mock::{Faults, MockConfig, MockServer, Portfolio, Quota, World};
use uuid::Uuid;

use crate::exit::Exit;

/// `etoro-token mock`.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,

    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Also hold N generated agent-portfolios with 1-3 tokens each (the same N gives the same ones).
    #[arg(long = "seed", value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub seed: u32,

    /// Also hold the agent-portfolios of this JSON file, in the list answer's shape:
    /// {"agentPortfolios": [{"agentPortfolioId", "userTokens": [{"userTokenId", "userTokenName", ...}]}]}.
    #[arg(long, value_name = "FILE")]
    pub seed_file: Option<PathBuf>,

    /// The most tokens one agent-portfolio may hold (a create beyond answers 429 MaxUserTokensExceeded).
    #[arg(long, value_name = "N", default_value_t = etoro_mock::DEFAULT_MAX_TOKENS_PER_PORTFOLIO)]
    pub max_tokens_per_portfolio: usize,

    /// Keep eToro's quota: N requests per DURATION per credential (eToro: 60/60s), with RateLimit-* headers.
    #[arg(long, value_name = "N/DURATION")]
    pub quota: Option<Quota>,

    /// Other traffic of the same credential drawing from the quota at a steady pace, e.g. 20/60s.
    #[arg(long, value_name = "N/DURATION", requires = "quota")]
    pub quota_background: Option<Quota>,

    /// Append one JSON line per request to FILE (mode 0600; credentials redacted).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

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

    /// The mock's configuration; `read` reads the seed file.
    /// A seed file that cannot be read is a local I/O failure (5); one that is not a listing is invalid input (2).
    fn config(&self, read: impl Fn(&std::path::Path) -> std::io::Result<String>) -> Result<MockConfig, (String, Exit)> {
        let mut portfolios = vec![Portfolio::example()];
        portfolios.extend(Portfolio::generate(self.seed as usize));
        if let Some(path) = &self.seed_file {
            let text = read(path).map_err(|err| {
                (
                    format!("cannot read --seed-file {}: {err}", path.display()),
                    Exit::LocalIo,
                )
            })?;
            let seeded = Portfolio::list_from_json(&text)
                .map_err(|err| (format!("--seed-file {}: {err}", path.display()), Exit::Invalid))?;
            portfolios.extend(seeded);
        }
        Ok(MockConfig {
            world: World::Closed,
            portfolios,
            max_tokens_per_portfolio: self.max_tokens_per_portfolio,
            quota: self.quota,
            quota_background: self.quota_background,
            log: self.log.clone(),
            missing: self.missing.iter().copied().collect(),
            faults: Faults {
                rate_limit_every: self.rate_limit_every,
                retry_after: Duration::from_secs(self.retry_after),
                error_rate: self.error_rate,
                latency: Duration::from_millis(self.latency_ms),
                reset_every: self.reset_every,
            },
            ..MockConfig::default()
        })
    }
}

/// Serves the mock until Ctrl-C.
pub async fn run(args: MockArgs) -> ExitCode {
    let roles = [
        ("--seed-file", args.seed_file.as_deref()),
        ("--log", args.log.as_deref()),
    ];
    if let Err(message) = crate::file_roles::one_file_one_role(&roles) {
        return crate::output::fail(&message, Exit::Invalid).into();
    }
    let config = match args.config(|path| std::fs::read_to_string(path)) {
        Ok(config) => config,
        Err((message, exit)) => return crate::output::fail(&message, exit).into(),
    };
    let held = config.portfolios.len();
    let quota = config.quota;
    let server = match MockServer::start(args.addr(), config).await {
        Ok(server) => server,
        // A port that cannot be bound is a local failure (exit 5), as the exit table says.
        Err(err) => {
            // The library's message names what failed: the address, or the request log.
            let message = format!("cannot start the mock: {err}");
            return crate::output::fail(&message, Exit::LocalIo).into();
        }
    };
    // One write, flushed at once: a script waiting for the first line must not wait for a buffer to fill. A full
    // standard output stops the mock (exit 5); a closed one does not.
    if let Err(exit) = crate::output::write_stdout(banner(&server.base_url(), held, quota).as_bytes()) {
        server.shutdown().await;
        return exit.into();
    }
    if let Err(err) = tokio::signal::ctrl_c().await {
        crate::output::note(&format!("error: cannot wait for Ctrl-C: {err}"));
    }
    crate::output::note(&format!("served {} request(s)", server.request_count()));
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// What the mock prints on start: the URL on the first line, then how to point `etoro-token` at it.
fn banner(base_url: &str, held: usize, quota: Option<Quota>) -> String {
    let example = Portfolio::example();
    let quota = match quota {
        Some(quota) => format!("a quota of {quota} per credential"),
        None => "no quota".to_owned(),
    };
    format!(
        "eToro mock listening on {base_url}\n\
         \n\
         Point etoro-token at it (any credentials are accepted; none is checked, printed or logged):\n\
         \x20 export ETORO_BASE_URL={base_url}\n\
         \x20 export ETORO_API_KEY=mock ETORO_USER_KEY=mock\n\
         \x20 etoro-token update --portfolio {portfolio} --token {token} --scope etoro-public:trade.real:read\n\
         \n\
         It holds {held} agent-portfolio(s), and nothing else exists (GET {base_url}/api/v1/agent-portfolios \
         lists them); {quota}. Ctrl-C stops it.\n",
        portfolio = example.id,
        token = example.tokens[0].id,
    )
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err("must be between 0 and 1".to_owned());
    }
    Ok(share)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        mock: MockArgs,
    }

    fn parse(args: &[&str]) -> Result<MockArgs, String> {
        Cli::try_parse_from(std::iter::once("mock").chain(args.iter().copied()))
            .map(|cli| cli.mock)
            .map_err(|err| err.to_string())
    }

    fn no_file(_: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    #[test]
    fn the_closed_world_holds_the_readme_ids_and_the_seeds() {
        let config = parse(&["--seed", "3"]).unwrap().config(no_file).unwrap();
        assert_eq!(config.world, World::Closed);
        assert_eq!(config.portfolios.len(), 4);
        assert_eq!(config.portfolios[0], Portfolio::example());
        assert_eq!(&config.portfolios[1..], &Portfolio::generate(3)[..]);

        let file = r#"{"agentPortfolios": [{"agentPortfolioId": "7e9a201e-089e-44b8-a998-66a08d2d2ecc"}]}"#;
        let config = parse(&["--seed-file", "seed.json"])
            .unwrap()
            .config(|_| Ok(file.to_owned()))
            .unwrap();
        assert_eq!(config.portfolios.len(), 2);
        assert_eq!(
            config.portfolios[1].id.to_string(),
            "7e9a201e-089e-44b8-a998-66a08d2d2ecc"
        );
    }

    #[test]
    fn a_bad_seed_file_is_named() {
        let (err, exit) = parse(&["--seed-file", "seed.json"])
            .unwrap()
            .config(no_file)
            .unwrap_err();
        assert!(err.starts_with("cannot read --seed-file seed.json: "), "{err}");
        assert_eq!(exit, Exit::LocalIo, "a file that cannot be read is local I/O");
        let (err, exit) = parse(&["--seed-file", "seed.json"])
            .unwrap()
            .config(|_| Ok("{}".to_owned()))
            .unwrap_err();
        assert!(err.contains("seed.json") && err.contains("agentPortfolios"), "{err}");
        assert_eq!(exit, Exit::Invalid, "a file that is not a listing is invalid input");
    }

    #[test]
    fn quotas_parse_as_n_per_duration() {
        let args = parse(&["--quota", "60/60s", "--quota-background", "20/1m"]).unwrap();
        let config = args.config(no_file).unwrap();
        assert_eq!(config.quota, Some(Quota::ETORO));
        assert_eq!(
            config.quota_background.map(|q| (q.limit, q.window)),
            Some((20, Duration::from_secs(60)))
        );
        assert_eq!(parse(&[]).unwrap().config(no_file).unwrap().quota, None);

        let err = parse(&["--quota", "60"]).unwrap_err();
        assert!(
            err.contains("--quota <N/DURATION>") && err.contains("expected N/DURATION"),
            "{err}"
        );
        let err = parse(&["--quota", "60/60s", "--quota-background", "many"]).unwrap_err();
        assert!(err.contains("--quota-background <N/DURATION>"), "{err}");
        let err = parse(&["--quota-background", "20/60s"]).unwrap_err();
        assert!(err.contains("--quota"), "the background needs a quota: {err}");
    }

    #[test]
    fn the_banner_starts_with_the_url_and_says_how_to_use_it() {
        let text = banner("http://127.0.0.1:8080", 1, Some(Quota::ETORO));
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("eToro mock listening on http://127.0.0.1:8080"));
        assert!(
            text.contains("\n  export ETORO_BASE_URL=http://127.0.0.1:8080\n"),
            "{text}"
        );
        assert!(text.contains("any credentials are accepted"), "{text}");
        assert!(text
            .contains("--portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"));
        assert!(text.contains("60/1m per credential"), "{text}");
    }
}
