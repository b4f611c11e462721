//! `xtask-bench`: the measuring half of `cargo xtask bench` (see `xtask::bench`, which builds and runs it).
//!
//! Every server binds 127.0.0.1; every workload is a fixed number of requests. Each figure is the median of
//! several runs, the clients' runs interleaved so that drift (thermal, other load) spreads over all of them.
//!
//! Without a mode it runs every step ([`Step::ALL`]) with the options `cargo xtask bench` passes (`--only STEP`
//! runs one, `--bulk-lines N` sizes the bulk file); `xtask-bench --help` lists the modes that run one piece alone
//! (`raw-bulk` and `measure`, the bench's own child processes; `probe`, `quota`, `hostile`, `edit`).

mod apply;
mod args;
mod bulk;
mod clients;
mod concurrent;
mod context;
mod edit;
mod hostile;
mod interleave;
mod oneshot;
mod plan;
mod probe;
mod procs;
mod quota;
mod regen;
mod report;
mod runs;
mod sequential;
mod servers;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use xtask::bench::{render_markdown, Machine, RESULTS_SCHEMA};

use args::{Cli, Mode, Settings, Step};
use clients::Wire;
use context::Context;
use plan::Plan;
use report::{round, Report};
use servers::Servers;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.mode {
        Some(mode) => run_mode(mode),
        None => cli.options.settings().and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one piece alone; a measurement prints its rows on stdout.
fn run_mode(mode: Mode) -> Result<(), String> {
    let alone = |measure: &dyn Fn(&Servers, &mut Report) -> Result<(), String>| {
        let servers = Servers::start().map_err(|err| err.to_string())?;
        let mut report = Report::default();
        measure(&servers, &mut report)?;
        report.print_rows();
        Ok(())
    };
    let create = |out: &Path| std::fs::create_dir_all(out).map_err(|err| format!("{}: {err}", out.display()));
    match mode {
        Mode::RawBulk {
            from,
            concurrency,
            base_url,
            api_version,
            path,
        } => procs::raw_bulk(&from, concurrency, &base_url, &api_version, &path),
        Mode::Measure { report, command } => procs::measure_main(&report, &command),
        Mode::Probe {
            which,
            kind,
            n,
            concurrency,
        } => probe::probe(which, kind, n, concurrency),
        Mode::Quota { lines, cli, out } => {
            create(&out)?;
            alone(&|servers, report| quota::quota(servers, &cli, &out, lines, report))
        }
        Mode::Hostile { cli, out } => {
            create(&out)?;
            alone(&|servers, report| hostile::hostile(servers, &cli, &out, report))
        }
        Mode::Edit { tokens, cli } => alone(&|servers, report| edit::edit(servers, &cli, tokens, report)),
    }
}

/// Every step (or the one `--only` names), then `results.json` and `results.md`, and the table on stdout.
fn run(settings: Settings) -> Result<(), String> {
    let started = Instant::now();
    let mut plan = if settings.quick { Plan::QUICK } else { Plan::FULL };
    if let Some(lines) = settings.bulk_lines {
        plan.bulk_n = lines;
    }
    std::fs::create_dir_all(&settings.out).map_err(|err| format!("{}: {err}", settings.out.display()))?;
    let machine = Machine::detect();
    let servers = Servers::start().map_err(|err| format!("cannot start the servers: {err}"))?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let wire = client_rt.block_on(Wire::discover())?;
    let mut report = Report::default();

    for (number, step) in (1..).zip(Step::ALL) {
        if settings.only.is_some_and(|only| only != step) {
            continue;
        }
        eprintln!(
            "bench: {number}/{} {} ({:.0} s so far)",
            Step::ALL.len(),
            step.label(),
            started.elapsed().as_secs_f64()
        );
        let (cli, out) = (&settings.cli, &settings.out);
        let context = Context {
            servers: &servers,
            client_rt: &client_rt,
            wire: &wire,
            plan,
            settings: &settings,
        };
        match step {
            Step::Sequential => sequential::sequential(&context, &mut report),
            Step::Concurrent => concurrent::concurrent(&context, &mut report),
            Step::Bulk => bulk::bulk(&context, &mut report),
            Step::Oneshot => oneshot::oneshot(&context, &mut report),
            Step::Regen => regen::regen(&context, &mut report),
            Step::Quota => quota::quota(&servers, cli, out, plan.quota_lines, &mut report),
            Step::Apply => apply::apply(
                &servers,
                cli,
                out,
                plan.apply_tokens,
                plan.apply_naive_sample,
                &mut report,
            ),
            Step::Hostile => hostile::hostile(&servers, cli, out, &mut report),
            Step::Edit => edit::edit(&servers, cli, plan.apply_tokens, &mut report),
        }?;
    }
    drop(client_rt);
    drop(servers);

    let bench_seconds = started.elapsed().as_secs_f64();
    report.notes.push(format!(
        "Servers and clients share the machine's {} CPUs (servers on their own 2-worker runtime). The mock runs \
         with every check on and is started fresh for each run. Bench time {bench_seconds:.0} s after {:.0} s of \
         building{}.",
        machine.nproc,
        settings.build_seconds,
        if settings.quick {
            "; --quick: small workloads, figures not comparable"
        } else {
            ""
        }
    ));
    let markdown = render_markdown(&machine, &report.rows, &report.notes);
    let results = json!({
        "schema": RESULTS_SCHEMA,
        "quick": settings.quick,
        "machine": machine.to_json(),
        "plan": plan.to_json(),
        "build_seconds": round(settings.build_seconds, 1),
        "bench_seconds": round(bench_seconds, 1),
        "ratios": report.ratios,
        "ratio_ranges": report.ranges,
        "goals": report.goals,
        "figures": report.figures,
        "notes": report.notes,
    });
    let json_path = settings.out.join("results.json");
    let md_path = settings.out.join("results.md");
    let pretty = serde_json::to_string_pretty(&results).map_err(|err| err.to_string())?;
    std::fs::write(&json_path, pretty + "\n").map_err(|err| format!("{}: {err}", json_path.display()))?;
    std::fs::write(&md_path, &markdown).map_err(|err| format!("{}: {err}", md_path.display()))?;
    println!("{markdown}");
    eprintln!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}
