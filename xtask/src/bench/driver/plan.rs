//! The workload sizes of a run (`--quick` or full).

use serde_json::{json, Value};

/// The workload sizes.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub warmup: usize,
    pub seq_n: usize,
    /// Sequential requests per turn of one client.
    pub seq_block: usize,
    pub seq_runs: usize,
    pub conc_n: usize,
    /// Concurrent requests per turn of one client.
    pub conc_block: usize,
    pub concurrency: usize,
    pub conc_runs: usize,
    pub bulk_n: usize,
    pub bulk_runs: usize,
    /// Runs of the slow baselines (the curl loop, Python).
    pub side_runs: usize,
    pub curl_sample: usize,
    pub python_sample: usize,
    pub oneshot_runs: usize,
    pub regen_runs: usize,
    /// Lines of the quota measurement (at 40 per 5 s: 8 a second).
    pub quota_lines: usize,
    /// Tokens of the apply measurement, and the lines of its naive baseline's sample.
    pub apply_tokens: usize,
    pub apply_naive_sample: usize,
}

impl Plan {
    /// The workloads of a real run.
    pub const FULL: Plan = Plan {
        warmup: 200,
        seq_n: 2_000,
        seq_block: 100,
        seq_runs: 7,
        conc_n: 20_000,
        conc_block: 2_000,
        concurrency: 64,
        conc_runs: 5,
        // The issue's own measurement's size: at 10,000 lines a run lasted 0.3 s and a round's ratio swung from
        // 0.6 to 1.1; at 20,000 the rounds of one run agree within about 0.15.
        bulk_n: 20_000,
        bulk_runs: 7,
        side_runs: 3,
        curl_sample: 500,
        python_sample: 2_000,
        oneshot_runs: 15,
        regen_runs: 3,
        quota_lines: 500,
        apply_tokens: 10_000,
        apply_naive_sample: 2_000,
    };
    /// `--quick`: small workloads, to smoke-test the bench itself.
    pub const QUICK: Plan = Plan {
        warmup: 20,
        seq_n: 200,
        seq_block: 50,
        seq_runs: 3,
        conc_n: 2_000,
        conc_block: 500,
        concurrency: 64,
        conc_runs: 1,
        bulk_n: 1_000,
        bulk_runs: 1,
        side_runs: 1,
        curl_sample: 50,
        python_sample: 200,
        oneshot_runs: 3,
        regen_runs: 1,
        quota_lines: 80,
        apply_tokens: 1_000,
        apply_naive_sample: 200,
    };

    /// The sizes, for `results.json`.
    pub fn to_json(self) -> Value {
        json!({
            "sequential_requests": self.seq_n, "sequential_turn": self.seq_block, "sequential_runs": self.seq_runs,
            "concurrent_requests": self.conc_n, "concurrent_turn": self.conc_block, "concurrency": self.concurrency, "concurrent_runs": self.conc_runs,
            "bulk_lines": self.bulk_n, "bulk_runs": self.bulk_runs, "baseline_runs": self.side_runs,
            "curl_sample": self.curl_sample,
            "python_sample": self.python_sample, "oneshot_runs": self.oneshot_runs, "regen_runs": self.regen_runs,
            "warmup_requests": self.warmup, "quota_lines": self.quota_lines,
            "apply_tokens": self.apply_tokens, "apply_naive_sample": self.apply_naive_sample,
        })
    }
}
