//! Step 2: updates per second at a fixed concurrency, the wrapper against raw reqwest and raw hyper, on the mock
//! and on a bare server.

use std::collections::BTreeMap;

use serde_json::json;
use xtask::bench::{median, paired_ratio, Goal, Row};

use crate::context::Context;
use crate::interleave::{interleaved, Pace, CLIENTS};
use crate::report::Report;
use crate::servers::Kind;

/// The measurement, as table rows.
pub fn concurrent(context: &Context, report: &mut Report) -> Result<(), String> {
    let Context {
        servers,
        client_rt,
        wire,
        plan,
        ..
    } = *context;
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
        let (over_reqwest, low, high) = paired_ratio(&rates["wrapper"], &rates["reqwest"]);
        let (over_hyper, low_h, high_h) = paired_ratio(&rates["wrapper"], &rates["hyper"]);
        report.row(
            &format!("throughput_wrapper_over_reqwest_{}", kind.key()),
            Row::new(
                format!("2. throughput, {}: wrapper vs raw reqwest ({how})", kind.label()),
                format!("{wrapper:.0} req/s"),
                format!("{reqwest:.0} req/s"),
                over_reqwest,
                Goal::AtLeast(0.9),
            )
            .with_range((low, high)),
        );
        report.row(
            &format!("throughput_wrapper_over_hyper_{}", kind.key()),
            Row::new(
                format!("2. throughput, {}: wrapper vs raw hyper", kind.label()),
                format!("{wrapper:.0} req/s"),
                format!("{hyper:.0} req/s"),
                over_hyper,
                Goal::None,
            )
            .with_range((low_h, high_h)),
        );
    }
    Ok(())
}
