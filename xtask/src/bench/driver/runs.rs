//! The statistics of a child process measured several times: wall time and peak memory per run.

use serde_json::{json, Value};
use xtask::bench::median;

use crate::procs::Measured;
use crate::report::round;

/// Peak RSS and wall time, per run.
#[derive(Default)]
pub struct Runs {
    /// Wall time of each run.
    pub seconds: Vec<f64>,
    /// Peak RSS of each run.
    pub rss_mib: Vec<f64>,
}

impl Runs {
    /// Adds one run.
    pub fn push(&mut self, measured: &Measured) {
        self.seconds.push(measured.elapsed.as_secs_f64());
        self.rss_mib.push(measured.max_rss_mib());
    }

    /// The median wall time.
    pub fn median_seconds(&self) -> f64 {
        median(&self.seconds)
    }

    /// The largest peak of all runs: the conservative figure for a memory goal.
    pub fn peak_rss(&self) -> f64 {
        self.rss_mib.iter().copied().fold(f64::NAN, f64::max)
    }

    /// The runs, for `results.json`.
    pub fn to_json(&self) -> Value {
        json!({
            "median_seconds": round(self.median_seconds(), 4),
            "peak_rss_mib": round(self.peak_rss(), 2),
            "seconds": self.seconds.iter().map(|s| round(*s, 4)).collect::<Vec<_>>(),
            "rss_mib": self.rss_mib.iter().map(|s| round(*s, 2)).collect::<Vec<_>>(),
        })
    }
}
