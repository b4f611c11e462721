//! What a run reports: the table's rows and notes, and the sections of `results.json`.

use serde_json::{json, Map, Value};
use xtask::bench::{Goal, Row};

/// The table rows, the notes under it, and the JSON sections.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub figures: Map<String, Value>,
    pub ratios: Map<String, Value>,
    pub ranges: Map<String, Value>,
    pub goals: Map<String, Value>,
}

impl Report {
    /// Prints the rows, one a line, for the subcommands that run one measurement alone.
    pub fn print_rows(&self) {
        for row in &self.rows {
            println!(
                "{} | {} | {} | {:.3} | {} | {}",
                row.measurement,
                row.ours,
                row.baseline,
                row.value,
                row.goal,
                row.met_text()
            );
        }
    }

    /// Adds a row whose value goes under `ratios.<key>` (its range under `ratio_ranges.<key>`, its goal under
    /// `goals.<key>`).
    pub fn row(&mut self, key: &str, row: Row) {
        let value = if row.value.is_nan() {
            Value::Null
        } else {
            json!(round(row.value, 4))
        };
        self.ratios.insert(key.to_owned(), value.clone());
        if let Some((low, high)) = row.range {
            self.ranges
                .insert(key.to_owned(), json!([round(low, 4), round(high, 4)]));
        }
        if row.goal != Goal::None {
            self.goals.insert(
                key.to_owned(),
                json!({ "goal": row.goal.to_string(), "value": value, "met": row.goal.met(row.value) }),
            );
        }
        self.rows.push(row);
    }

    /// Adds a row for the table only (no key in `results.json`).
    pub fn context(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Sets `figures.<section>.<key>`.
    pub fn figure(&mut self, section: &str, key: &str, value: Value) {
        let section = self.figures.entry(section).or_insert_with(|| Value::Object(Map::new()));
        section[key] = value;
    }
}

/// `value` rounded to `digits` decimals, for `results.json`.
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
