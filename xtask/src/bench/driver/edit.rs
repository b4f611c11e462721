//! `etoro-token edit --all --add-ip` over one agent-portfolio of N tokens, a tenth of which already allow the
//! address: it should send 1 list + one PATCH per token that lacks it + 1 list (the read-back), and take no
//! more than 1.10 times the least possible time for those requests under the mock's quota ([`QUOTA`], no other
//! traffic).

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
/// One token in this many already allows the address.
const HAVING_ONE_IN: usize = 10;
const ADDED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);
const PRESENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// The measurement, as table rows.
pub fn edit(servers: &Servers, cli: &Path, tokens: usize, report: &mut Report) -> Result<(), String> {
    let io = |err: std::io::Error| err.to_string();
    let quota: Quota = QUOTA.parse().map_err(|err| format!("{QUOTA}: {err}"))?;
    let per_second = f64::from(quota.limit) / quota.window.as_secs_f64();
    let mut portfolio = Portfolio::new(Uuid::new_v4(), "bench-edit");
    let mut lacking = 0;
    for i in 0..tokens {
        let ips = if i % HAVING_ONE_IN == 0 {
            vec![PRESENT, ADDED]
        } else {
            lacking += 1;
            vec![PRESENT]
        };
        portfolio = portfolio.token(
            Token::new(Uuid::new_v4(), format!("bot-{i}"))
                .scope_names(["etoro-public:trade.real:read"])
                .ips_whitelist(ips),
        );
    }
    let id = portfolio.id;
    let target = servers
        .mock_with(MockConfig {
            world: World::Closed,
            portfolios: vec![portfolio],
            quota: Some(quota),
            ..MockConfig::default()
        })
        .map_err(io)?;
    let mut process = silent(cli);
    process
        .args([
            "edit",
            "--all",
            "--add-ip",
            &ADDED.to_string(),
            "--portfolio",
            &id.to_string(),
        ])
        .args(["--base-url", target.base_url()]);
    let measured = procs::measure(child_env(&mut process));
    let mock = target.mock().ok_or("the edit target is a mock")?;
    let requests = mock.requests();
    let count = |method: &str| requests.iter().filter(|request| request.method == method).count();
    let (lists, patches) = (count("GET"), count("PATCH"));
    let all_edited = mock
        .portfolios()
        .iter()
        .flat_map(|portfolio| &portfolio.tokens)
        .all(|token| {
            token
                .ips_whitelist
                .as_ref()
                .is_some_and(|ips| ips.len() == 2 && ips.contains(&ADDED) && ips.contains(&PRESENT))
        });
    servers.stop(target);
    let measured = measured?;
    let seconds = measured.elapsed.as_secs_f64();
    let least_requests = 2 + lacking;
    let least = least_requests as f64 / per_second;
    report.figures.insert(
        "edit".to_owned(),
        json!({ "tokens": tokens, "lacking": lacking, "quota": QUOTA, "seconds": round(seconds, 3),
                "list_requests": lists, "patch_requests": patches, "exit_code": measured.code,
                "all_edited": all_edited, "least_seconds": round(least, 3) }),
    );
    let what = format!("9. edit --all --add-ip: {tokens} tokens, {lacking} lacking the address, mock quota {QUOTA}");
    report.row(
        "edit_requests_over_least",
        Row::new(
            format!("{what}: requests sent vs 1 list + 1 PATCH per token lacking it + 1 list"),
            format!(
                "{lists} list + {patches} PATCH, exit {:?}{}",
                measured.code,
                if all_edited { "" } else { " (NOT all edited)" }
            ),
            format!("2 list + {lacking} PATCH"),
            (lists + patches) as f64 / least_requests as f64,
            Goal::AtMost(1.0),
        ),
    );
    report.row(
        "edit_elapsed_over_least",
        Row::new(
            format!("{what}: elapsed vs the least possible for its requests"),
            format!("{seconds:.1} s"),
            format!("{least:.1} s ({least_requests} requests at {per_second:.0}/s)"),
            seconds / least,
            Goal::AtMost(1.10),
        ),
    );
    Ok(())
}
