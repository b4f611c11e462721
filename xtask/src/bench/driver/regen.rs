//! Step 5: `cargo xtask regen --check`, already built, through cargo and as the bare binary.

use serde_json::{json, Value};
use xtask::bench::{Goal, Row};

use crate::context::Context;
use crate::procs::{self, silent};
use crate::report::{round, Report};
use crate::runs::Runs;

/// The measurement, as table rows (a failure to measure is a note, not an error).
pub fn regen(context: &Context, report: &mut Report) -> Result<(), String> {
    let (settings, plan) = (context.settings, context.plan);
    let cargo = || {
        let mut command = silent(&settings.cargo);
        command.current_dir(&settings.root).args(["xtask", "regen", "--check"]);
        command
    };
    let xtask = xtask::bench::target_dir(&settings.root).join("debug").join("xtask");
    let mut through_cargo = Runs::default();
    let mut binary = Runs::default();
    let mut failed = false;
    let measured = (|| -> Result<(), String> {
        // Once untimed, so that the figure is "once built".
        failed |= procs::measure(&mut cargo())?.code != Some(0);
        for _ in 0..plan.regen_runs {
            let measured = procs::measure(&mut cargo())?;
            failed |= measured.code != Some(0);
            through_cargo.push(&measured);
            let mut direct = silent(&xtask);
            direct.current_dir(&settings.root).args(["regen", "--check"]);
            let measured = procs::measure(&mut direct)?;
            failed |= measured.code != Some(0);
            binary.push(&measured);
        }
        Ok(())
    })();
    let measurement = format!(
        "5. `cargo xtask regen --check`, already built (median of {})",
        plan.regen_runs
    );
    if let Err(err) = measured {
        // Not worth losing the other figures over.
        report.notes.push(format!("Regen not measured: {err}."));
        report.ratios.insert("regen_check_seconds".to_owned(), Value::Null);
        report.context(Row::new(
            measurement,
            "not measured (see notes)".to_owned(),
            "",
            f64::NAN,
            Goal::None,
        ));
        return Ok(());
    }
    let (seconds, binary_seconds) = (through_cargo.median_seconds(), binary.median_seconds());
    report.figures.insert(
        "regen_check".to_owned(),
        json!({ "cargo_xtask": through_cargo.to_json(), "binary": binary.to_json(), "failed": failed }),
    );
    report
        .ratios
        .insert("regen_check_seconds".to_owned(), json!(round(seconds, 3)));
    report.context(Row::new(
        if failed {
            format!("{measurement} — the check FAILED (generated.rs differs from the spec's output)")
        } else {
            measurement
        },
        format!("{seconds:.2} s"),
        format!("the xtask binary alone: {binary_seconds:.2} s"),
        f64::NAN,
        Goal::None,
    ));
    Ok(())
}
