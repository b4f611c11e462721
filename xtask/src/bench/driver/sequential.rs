//! Step 1: the time per sequential update, the wrapper against raw reqwest (and raw reqwest against raw hyper),
//! on the mock and on a bare server.

use std::collections::BTreeMap;

use serde_json::json;
use xtask::bench::{median, Goal};

use crate::clients::Which;
use crate::context::Context;
use crate::interleave::{compared_row, interleaved, paired_difference, Pace, CLIENTS};
use crate::report::{round, Report};
use crate::servers::Kind;

/// The measurement, as table rows.
pub fn sequential(context: &Context, report: &mut Report) -> Result<(), String> {
    let (servers, client_rt, wire, plan) = (context.servers, context.client_rt, context.wire, context.plan);
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
        let per_request = |micros: f64| format!("{micros:.1} µs/req");
        for (pair, goal, note) in [
            ((Which::Wrapper, Which::Reqwest), Goal::AtMost(1.05), format!("({how})")),
            ((Which::Reqwest, Which::Hyper), Goal::None, "(context)".to_owned()),
        ] {
            let (ours, baseline) = pair;
            let key = format!("sequential_{}_over_{}_{}", ours.key(), baseline.key(), kind.key());
            let what = format!("{} vs {} {note}", ours.label(), baseline.label());
            let measurement = format!("1. per request, sequential, {}: {what}", kind.label());
            let mut row = compared_row(&micros, pair, measurement, per_request, goal);
            if ours == Which::Wrapper {
                row.ours = format!("{} ({added:+.1} µs)", row.ours);
            }
            report.row(&key, row);
        }
    }
    Ok(())
}
