//! Step 1: the time per sequential update, the wrapper against raw reqwest (and raw reqwest against raw hyper),
//! on the mock and on a bare server.

use std::collections::BTreeMap;

use serde_json::json;
use xtask::bench::{median, paired_ratio, Goal, Row};

use crate::context::Context;
use crate::interleave::{interleaved, paired_difference, Pace, CLIENTS};
use crate::report::{round, Report};
use crate::servers::Kind;

/// The measurement, as table rows.
pub fn sequential(context: &Context, report: &mut Report) -> Result<(), String> {
    let Context {
        servers,
        client_rt,
        wire,
        plan,
        ..
    } = *context;
    let blocks = plan.seq_n / plan.seq_block;
    let n = blocks * plan.seq_block;
    for kind in [Kind::Mock, Kind::Bare] {
        let sizes = (plan.seq_runs, blocks, plan.seq_block, plan.warmup);
        let seconds = interleaved(servers, client_rt, kind, wire, sizes, Pace::Sequential)?;
        let micros: BTreeMap<&str, Vec<f64>> = seconds
            .iter()
            .map(|(key, runs)| (*key, runs.iter().map(|s| s * 1e6 / n as f64).collect()))
            .collect();
        let [wrapper, reqwest, hyper] = CLIENTS.map(|which| median(&micros[which.key()]));
        let added = paired_difference(&micros["wrapper"], &micros["reqwest"]);
        let runs_json: BTreeMap<&str, Vec<f64>> = micros
            .iter()
            .map(|(key, runs)| (*key, runs.iter().map(|us| round(*us, 2)).collect()))
            .collect();
        report.figure(
            "sequential_us_per_request",
            kind.key(),
            json!({ "wrapper": round(wrapper, 2), "reqwest": round(reqwest, 2), "hyper": round(hyper, 2),
                    "wrapper_added_us": round(added, 2), "runs": runs_json }),
        );
        let how = format!(
            "{n} each, in turns of {}, median of {} runs",
            plan.seq_block, plan.seq_runs
        );
        let (over_reqwest, low, high) = paired_ratio(&micros["wrapper"], &micros["reqwest"]);
        let (reqwest_over_hyper, low_h, high_h) = paired_ratio(&micros["reqwest"], &micros["hyper"]);
        report.row(
            &format!("sequential_wrapper_over_reqwest_{}", kind.key()),
            Row::new(
                format!(
                    "1. per request, sequential, {}: wrapper vs raw reqwest ({how})",
                    kind.label()
                ),
                format!("{wrapper:.1} µs/req ({added:+.1} µs)"),
                format!("{reqwest:.1} µs/req"),
                over_reqwest,
                Goal::AtMost(1.05),
            )
            .with_range((low, high)),
        );
        report.row(
            &format!("sequential_reqwest_over_hyper_{}", kind.key()),
            Row::new(
                format!(
                    "1. per request, sequential, {}: raw reqwest vs raw hyper (context)",
                    kind.label()
                ),
                format!("{reqwest:.1} µs/req"),
                format!("{hyper:.1} µs/req"),
                reqwest_over_hyper,
                Goal::None,
            )
            .with_range((low_h, high_h)),
        );
    }
    Ok(())
}
