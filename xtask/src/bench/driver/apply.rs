//! `etoro-token apply` against naive `update --from` on the same desired state: requests sent and elapsed time
//! under a scaled quota.
//!
//! N tokens (100 a portfolio) each allow one address; the desired state moves a fifth of them to another. `apply`
//! should send one list request plus one PATCH per differing token, and take no more than 1.10 times the least
//! possible time for that many requests under the mock's quota ([`QUOTA`], no other traffic). Naive bulk sends
//! every line; it is measured on a sample and scaled, so that the bench stays short.

use std::net::Ipv4Addr;
use std::path::Path;

use etoro_mock::{MockConfig, Portfolio, Quota, Token, World};
use serde_json::json;
use uuid::Uuid;
use xtask::bench::{Goal, Row};

use crate::procs::child_env;
use crate::procs::{self, silent};
use crate::report::{round, Report};
use crate::servers::Servers;

/// The mock's quota for this measurement: eToro's pool, scaled so that thousands of requests take seconds.
const QUOTA: &str = "1000/5s";
/// One token in this many differs from its desired state.
const DIFFERING_ONE_IN: usize = 5;
const TOKENS_PER_PORTFOLIO: usize = 100;

/// The seeded state and the desired state, as lines.
struct Fixture {
    portfolios: Vec<Portfolio>,
    lines: Vec<String>,
    differing: usize,
}

fn fixture(tokens: usize) -> Fixture {
    let current = Ipv4Addr::new(203, 0, 113, 1);
    let wanted = Ipv4Addr::new(198, 51, 100, 1);
    let mut portfolios = Vec::new();
    let mut lines = Vec::with_capacity(tokens);
    let mut differing = 0;
    for chunk in 0..tokens.div_ceil(TOKENS_PER_PORTFOLIO) {
        let mut portfolio = Portfolio::new(Uuid::new_v4(), format!("bench-{chunk}"));
        for i in 0..TOKENS_PER_PORTFOLIO.min(tokens - chunk * TOKENS_PER_PORTFOLIO) {
            let token = Uuid::new_v4();
            portfolio = portfolio.token(
                Token::new(token, format!("bot-{i}"))
                    .scope_names(["etoro-public:trade.real:read"])
                    .ips_whitelist([current]),
            );
            let index = lines.len();
            let ip = if index % DIFFERING_ONE_IN == 0 {
                differing += 1;
                wanted
            } else {
                current
            };
            lines.push(
                json!({"portfolio": portfolio.id, "token": token, "scopeNames": ["etoro-public:trade.real:read"],
                       "ipsWhitelist": [ip.to_string()]})
                .to_string(),
            );
        }
        portfolios.push(portfolio);
    }
    Fixture {
        portfolios,
        lines,
        differing,
    }
}

/// One run: elapsed seconds, requests by method, exit code.
struct Measured {
    seconds: f64,
    lists: usize,
    patches: usize,
    code: Option<i32>,
    all_as_desired: bool,
}

fn run(
    servers: &Servers,
    cli: &Path,
    out: &Path,
    fixture: &Fixture,
    lines: &[String],
    command: &str,
) -> Result<Measured, String> {
    let io = |err: std::io::Error| err.to_string();
    let input = out.join(format!("apply-{command}.jsonl"));
    std::fs::write(&input, lines.join("\n") + "\n").map_err(io)?;
    let quota: Quota = QUOTA.parse().map_err(|err| format!("{QUOTA}: {err}"))?;
    let target = servers
        .mock_with(MockConfig {
            world: World::Closed,
            portfolios: fixture.portfolios.clone(),
            quota: Some(quota),
            ..MockConfig::default()
        })
        .map_err(io)?;
    let mut process = silent(cli);
    match command {
        "apply" => process.args(["apply", "--from"]),
        _ => process.args(["update", "--from"]),
    };
    process.arg(&input).args(["--base-url", target.base_url()]);
    let measured = procs::measure(child_env(&mut process));
    let mock = target.mock().ok_or("the apply target is a mock")?;
    let requests = mock.requests();
    let count = |method: &str| requests.iter().filter(|request| request.method == method).count();
    let wanted = Ipv4Addr::new(198, 51, 100, 1);
    let all_as_desired = (0..lines.len()).all(|index| {
        let (portfolio, token) = nth_token(fixture, index);
        let want_changed = index % DIFFERING_ONE_IN == 0;
        mock.token(portfolio, token)
            .and_then(|token| token.ips_whitelist)
            .is_some_and(|ips| (ips == [wanted]) == want_changed)
    });
    let (lists, patches) = (count("GET"), count("PATCH"));
    servers.stop(target);
    let measured = measured?;
    Ok(Measured {
        seconds: measured.elapsed.as_secs_f64(),
        lists,
        patches,
        code: measured.code,
        all_as_desired,
    })
}

fn nth_token(fixture: &Fixture, index: usize) -> (Uuid, Uuid) {
    let portfolio = &fixture.portfolios[index / TOKENS_PER_PORTFOLIO];
    (portfolio.id, portfolio.tokens[index % TOKENS_PER_PORTFOLIO].id)
}

/// Both commands, as table rows.
pub fn apply(
    servers: &Servers,
    cli: &Path,
    out: &Path,
    tokens: usize,
    naive_sample: usize,
    report: &mut Report,
) -> Result<(), String> {
    let fixture = fixture(tokens);
    let quota: Quota = QUOTA.parse().map_err(|err| format!("{QUOTA}: {err}"))?;
    let per_second = f64::from(quota.limit) / quota.window.as_secs_f64();
    let applied = run(servers, cli, out, &fixture, &fixture.lines, "apply")?;
    let sample = naive_sample.min(tokens);
    let naive = run(servers, cli, out, &fixture, &fixture.lines[..sample], "update")?;
    let naive_seconds = naive.seconds * tokens as f64 / sample as f64;
    let least = (1 + fixture.differing) as f64 / per_second;
    report.figures.insert(
        "apply".to_owned(),
        json!({ "tokens": tokens, "differing": fixture.differing, "quota": QUOTA,
                "apply": {"seconds": round(applied.seconds, 3), "list_requests": applied.lists,
                          "patch_requests": applied.patches, "exit_code": applied.code, "all_as_desired": applied.all_as_desired},
                "naive_sample": {"lines": sample, "seconds": round(naive.seconds, 3), "patch_requests": naive.patches,
                                 "exit_code": naive.code},
                "least_seconds": round(least, 3) }),
    );
    let what = format!(
        "7. apply: {tokens} tokens, {} differing, mock quota {QUOTA}",
        fixture.differing
    );
    report.row(
        "apply_requests_over_least",
        Row::new(
            format!("{what}: requests sent by apply vs 1 list + 1 PATCH per differing token"),
            format!(
                "{} list + {} PATCH{}",
                applied.lists,
                applied.patches,
                if applied.all_as_desired {
                    ""
                } else {
                    " (NOT all as desired)"
                }
            ),
            format!(
                "1 list + {} PATCH; naive update --from: {tokens} PATCH",
                fixture.differing
            ),
            (applied.lists + applied.patches) as f64 / (1 + fixture.differing) as f64,
            Goal::AtMost(1.0),
        ),
    );
    report.row(
        "apply_elapsed_over_least",
        Row::new(
            format!("{what}: elapsed vs the least possible for its requests"),
            format!("{:.1} s", applied.seconds),
            format!("{least:.1} s ({} requests at {per_second:.0}/s)", 1 + fixture.differing),
            applied.seconds / least,
            Goal::AtMost(1.10),
        ),
    );
    report.row(
        "apply_speedup_over_naive",
        Row::new(
            format!("{what}: naive update --from vs apply, elapsed ({sample}-line sample of naive, scaled)"),
            format!("apply {:.1} s", applied.seconds),
            format!("naive {naive_seconds:.1} s"),
            naive_seconds / applied.seconds,
            Goal::None,
        ),
    );
    report.notes.push(format!(
        "Apply: the mock is closed-world, seeded with {tokens} tokens ({TOKENS_PER_PORTFOLIO} a portfolio), with a \
         quota of {QUOTA} per credential and no other traffic; one token in {DIFFERING_ONE_IN} should move to \
         another address. Both commands run with their defaults (concurrency 4, paced by the mock's RateLimit-* \
         headers). The mock's store is checked after apply: every token as desired."
    ));
    Ok(())
}
