//! Step 2: updates per second at a fixed concurrency, the wrapper against raw reqwest and raw hyper, on the mock
//! and on a bare server.

use std::collections::BTreeMap;

use serde_json::json;
use xtask::bench::{median, Goal};

use crate::clients::Which;
use crate::context::Context;
use crate::interleave::{compared_row, interleaved, Pace, CLIENTS};
use crate::report::Report;
use crate::servers::Kind;

/// The measurement, as table rows.
pub fn concurrent(context: &Context, report: &mut Report) -> Result<(), String> {
    let (servers, client_rt, wire, plan) = (context.servers, context.client_rt, context.wire, context.plan);
    let blocks = plan.conc_n / plan.conc_block;
    let n = blocks * plan.conc_block;
    let concurrency = plan.concurrency;
    for kind in [Kind::Mock, Kind::Bare] {
        let sizes = (plan.conc_runs, blocks, plan.conc_block, concurrency * 4);
        let seconds = interleaved(servers, client_rt, kind, wire, sizes, Pace::Concurrent(concurrency))?;
        let rates: BTreeMap<&str, Vec<f64>> = seconds
            .iter()
            .map(|(key, runs)| (*key, runs.iter().map(|s| (n as f64 / s).round()).collect()))
            .collect();
        let [wrapper, reqwest, hyper] = CLIENTS.map(|which| median(&rates[which.key()]));
        report.figure(
            "concurrent_requests_per_second",
            kind.key(),
            json!({ "wrapper": wrapper.round(), "reqwest": reqwest.round(), "hyper": hyper.round(), "runs": rates }),
        );
        let how = format!(
            "{n} updates each at c={concurrency}, in turns of {}, median of {} runs",
            plan.conc_block, plan.conc_runs
        );
        let per_second = |rate: f64| format!("{rate:.0} req/s");
        for (pair, goal, note) in [
            (
                (Which::Wrapper, Which::Reqwest),
                Goal::AtLeast(0.9),
                format!(" ({how})"),
            ),
            ((Which::Wrapper, Which::Hyper), Goal::None, String::new()),
        ] {
            let (ours, baseline) = pair;
            let key = format!("throughput_{}_over_{}_{}", ours.key(), baseline.key(), kind.key());
            let what = format!("{} vs {}{note}", ours.label(), baseline.label());
            let measurement = format!("2. throughput, {}: {what}", kind.label());
            report.row(&key, compared_row(&rates, pair, measurement, per_second, goal));
        }
    }
    Ok(())
}
