//! `xtask-bench`: the measuring half of `cargo xtask bench` (see `xtask::bench`, which builds and runs it).
//!
//! Every server binds 127.0.0.1; every workload is a fixed number of requests. Each figure is the median of
//! several runs, the clients' runs interleaved so that drift (thermal, other load) spreads over all of them.
//!
//! `xtask-bench raw-bulk ...` is the raw-reqwest bulk baseline, run as a child process as the CLI is;
//! `xtask-bench measure ...` runs one child and reports its time and peak memory;
//! `xtask-bench probe wrapper|reqwest|hyper mock|bare N CONCURRENCY` runs one workload alone, to profile it
//! (`perf record -g target/release/xtask-bench probe ...`);
//! `xtask-bench quota LINES --cli PATH --out DIR` runs the quota measurement alone, and
//! `xtask-bench hostile --cli PATH --out DIR` the hostile-quota one (a minute), and `xtask-bench edit TOKENS
//! --cli PATH` the edit one; with the options `cargo xtask
//! bench` passes, `--only STEP` runs one step (`bulk`, `apply`, `hostile`, ...) and `--bulk-lines N` sizes the bulk
//! file.

mod apply;
mod clients;
mod edit;
mod hostile;
mod procs;
mod quota;
mod servers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::runtime::Runtime;
use xtask::bench::{median, paired_ratio, render_markdown, Goal, Machine, Row, RESULTS_SCHEMA};

use clients::{Job, Sender, Which, Wire};
use procs::{measure_ok, silent, Measured};
use servers::{Kind, Servers};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("raw-bulk") => procs::raw_bulk(&args[1..]),
        Some("measure") => procs::measure_main(&args[1..]),
        Some("probe") => probe(&args[1..]),
        Some("quota") => quota::quota_main(&args[1..]),
        Some("hostile") => hostile::hostile_main(&args[1..]),
        Some("edit") => edit::edit_main(&args[1..]),
        _ => Options::parse(&args).and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What `cargo xtask bench` hands over.
struct Options {
    root: PathBuf,
    out: PathBuf,
    cli: PathBuf,
    /// `etoro-token` built without the embedded mock.
    cli_lean: Option<PathBuf>,
    cargo: PathBuf,
    python: Result<PathBuf, String>,
    quick: bool,
    build_seconds: f64,
    /// `--only STEP`: run one step (sequential, concurrent, bulk, oneshot, regen, quota, apply, hostile, edit),
    /// for a change that touches only what it measures.
    only: Option<String>,
    /// `--bulk-lines N`: the bulk step's file size instead of the plan's (peak RSS at another size).
    bulk_lines: Option<usize>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let value = |name: &str| -> Option<String> {
            args.iter()
                .position(|arg| arg == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let path = |name: &str| value(name).map(PathBuf::from).ok_or(format!("missing {name}"));
        let python = match (value("--python"), value("--python-skip")) {
            (Some(python), _) => Ok(PathBuf::from(python)),
            (None, Some(reason)) => Err(reason),
            (None, None) => Err("no --python given".to_owned()),
        };
        Ok(Options {
            root: path("--root")?,
            out: path("--out")?,
            cli: path("--cli")?,
            cli_lean: value("--cli-lean").map(PathBuf::from),
            cargo: value("--cargo").map_or_else(|| PathBuf::from("cargo"), PathBuf::from),
            python,
            quick: args.iter().any(|arg| arg == "--quick"),
            build_seconds: value("--build-seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN),
            only: value("--only"),
            bulk_lines: value("--bulk-lines").and_then(|n| n.parse().ok()),
        })
    }
}

/// The workload sizes.
#[derive(Clone, Copy, Debug)]
struct Plan {
    warmup: usize,
    seq_n: usize,
    /// Sequential requests per turn of one client.
    seq_block: usize,
    seq_runs: usize,
    conc_n: usize,
    /// Concurrent requests per turn of one client.
    conc_block: usize,
    concurrency: usize,
    conc_runs: usize,
    bulk_n: usize,
    bulk_runs: usize,
    /// Runs of the slow baselines (the curl loop, Python).
    side_runs: usize,
    curl_sample: usize,
    python_sample: usize,
    oneshot_runs: usize,
    regen_runs: usize,
    /// Lines of the quota measurement (at 40 per 5 s: 8 a second).
    quota_lines: usize,
    /// Tokens of the apply measurement, and the lines of its naive baseline's sample.
    apply_tokens: usize,
    apply_naive_sample: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        warmup: 200,
        seq_n: 2_000,
        seq_block: 100,
        seq_runs: 7,
        conc_n: 20_000,
        conc_block: 2_000,
        concurrency: 64,
        conc_runs: 5,
        bulk_n: 10_000,
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
    const QUICK: Plan = Plan {
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

    fn to_json(self) -> Value {
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

/// The table rows, the notes under it, and the JSON sections.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    figures: Map<String, Value>,
    ratios: Map<String, Value>,
    ranges: Map<String, Value>,
    goals: Map<String, Value>,
}

impl Report {
    /// Prints the rows, one a line, for the subcommands that run one measurement alone.
    fn print_rows(&self) {
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

    /// Adds a row; with a key, its value goes under `ratios.<key>` and its goal under `goals.<key>`.
    fn row(&mut self, key: Option<String>, row: Row) {
        if let Some(key) = key {
            let value = if row.value.is_nan() {
                Value::Null
            } else {
                json!(round(row.value, 4))
            };
            self.ratios.insert(key.clone(), value.clone());
            if let Some((low, high)) = row.range {
                self.ranges.insert(key.clone(), json!([round(low, 4), round(high, 4)]));
            }
            if row.goal != Goal::None {
                self.goals.insert(
                    key,
                    json!({ "goal": row.goal.to_string(), "value": value, "met": row.goal.met(row.value) }),
                );
            }
        }
        self.rows.push(row);
    }

    fn figure(&mut self, section: &str, key: &str, value: Value) {
        let section = self.figures.entry(section).or_insert_with(|| Value::Object(Map::new()));
        section[key] = value;
    }
}

/// The value after `--name` in `args`, or `usage` as the error.
fn flag_value<'a>(args: &'a [String], name: &str, usage: &'static str) -> Result<&'a str, String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .ok_or_else(|| usage.to_owned())
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn run(options: Options) -> Result<(), String> {
    let started = Instant::now();
    let mut plan = if options.quick { Plan::QUICK } else { Plan::FULL };
    if let Some(lines) = options.bulk_lines {
        plan.bulk_n = lines;
    }
    let wanted = |name: &str| options.only.as_deref().is_none_or(|only| only == name);
    std::fs::create_dir_all(&options.out).map_err(|err| format!("{}: {err}", options.out.display()))?;
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

    let step = |name: &str| eprintln!("bench: {name} ({:.0} s so far)", started.elapsed().as_secs_f64());
    if wanted("sequential") {
        step("1/9 sequential per-request overhead");
        sequential(&servers, &client_rt, &wire, plan, &mut report)?;
    }
    if wanted("concurrent") {
        step("2/9 concurrent throughput");
        concurrent(&servers, &client_rt, &wire, plan, &mut report)?;
    }
    if wanted("bulk") {
        step("3/9 bulk from a file");
        bulk(&servers, &options, &wire, plan, &mut report)?;
    }
    if wanted("oneshot") {
        step("4/9 one-shot latency");
        oneshot(&servers, &options, &wire, plan, &mut report)?;
    }
    if wanted("regen") {
        step("5/9 regen");
        regen(&options, plan, &mut report)?;
    }
    if wanted("quota") {
        step("6/9 quota efficiency");
        quota::quota(&servers, &options.cli, &options.out, plan.quota_lines, &mut report)?;
    }
    if wanted("apply") {
        step("7/9 apply against naive bulk");
        apply::apply(
            &servers,
            &options.cli,
            &options.out,
            plan.apply_tokens,
            plan.apply_naive_sample,
            &mut report,
        )?;
    }
    if wanted("hostile") {
        step("8/9 hostile quota (a minute)");
        hostile::hostile(&servers, &options.cli, &options.out, &mut report)?;
    }
    if wanted("edit") {
        step("9/9 edit: add an address to every token");
        edit::edit(&servers, &options.cli, plan.apply_tokens, &mut report)?;
    }
    drop(client_rt);
    drop(servers);

    let bench_seconds = started.elapsed().as_secs_f64();
    report.notes.push(format!(
        "Servers and clients share the machine's {} CPUs (servers on their own 2-worker runtime). The mock runs \
         with every check on and is started fresh for each run. Bench time {bench_seconds:.0} s after {:.0} s of \
         building{}.",
        machine.nproc,
        options.build_seconds,
        if options.quick {
            "; --quick: small workloads, figures not comparable"
        } else {
            ""
        }
    ));
    let markdown = render_markdown(&machine, &report.rows, &report.notes);
    let results = json!({
        "schema": RESULTS_SCHEMA,
        "quick": options.quick,
        "machine": machine.to_json(),
        "plan": plan.to_json(),
        "build_seconds": round(options.build_seconds, 1),
        "bench_seconds": round(bench_seconds, 1),
        "ratios": report.ratios,
        "ratio_ranges": report.ranges,
        "goals": report.goals,
        "figures": report.figures,
        "notes": report.notes,
    });
    let json_path = options.out.join("results.json");
    let md_path = options.out.join("results.md");
    let pretty = serde_json::to_string_pretty(&results).map_err(|err| err.to_string())?;
    std::fs::write(&json_path, pretty + "\n").map_err(|err| format!("{}: {err}", json_path.display()))?;
    std::fs::write(&md_path, &markdown).map_err(|err| format!("{}: {err}", md_path.display()))?;
    println!("{markdown}");
    eprintln!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

/// `probe CLIENT TARGET N CONCURRENCY`: one workload with its warm-up, in this process, then its rate on stdout.
fn probe(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: xtask-bench probe wrapper|reqwest|hyper mock|bare N CONCURRENCY";
    let [which, kind, n, concurrency] = args else {
        return Err(USAGE.to_owned());
    };
    let which = match which.as_str() {
        "wrapper" => Which::Wrapper,
        "reqwest" => Which::Reqwest,
        "hyper" => Which::Hyper,
        _ => return Err(USAGE.to_owned()),
    };
    let kind = match kind.as_str() {
        "mock" => Kind::Mock,
        "bare" => Kind::Bare,
        _ => return Err(USAGE.to_owned()),
    };
    let n: usize = n.parse().map_err(|_| USAGE)?;
    let concurrency: usize = concurrency.parse().map_err(|_| USAGE)?;
    let servers = Servers::start().map_err(|err| err.to_string())?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let wire = client_rt.block_on(Wire::discover())?;
    let (warmup, jobs) = (Arc::new(clients::jobs(concurrency * 4)), Arc::new(clients::jobs(n)));
    let expected = warmup.len() + n;
    let elapsed = with_client(
        &servers,
        &client_rt,
        kind,
        which,
        &wire,
        expected,
        async move |sender| {
            clients::concurrent(sender.clone(), warmup, concurrency).await?;
            clients::concurrent(sender, jobs, concurrency).await
        },
    )?;
    println!(
        "{} -> {}: {n} updates, c={concurrency}: {:.3} s, {:.0} req/s",
        which.key(),
        kind.key(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// `order` rotated by `round`, so no client always runs first.
fn rotated<T: Copy>(order: &[T], round: usize) -> Vec<T> {
    let mut items = order.to_vec();
    let len = items.len();
    items.rotate_left(round % len);
    items
}

/// Runs `work` with a fresh target of `kind` and a fresh client; checks the mock saw `expected` requests.
fn with_client<T>(
    servers: &Servers,
    client_rt: &Runtime,
    kind: Kind,
    which: Which,
    wire: &Wire,
    expected: usize,
    work: impl AsyncFnOnce(Arc<Sender>) -> Result<T, String>,
) -> Result<T, String> {
    let target = servers.target(kind).map_err(|err| err.to_string())?;
    let sender = Arc::new(Sender::new(which, target.base_url(), wire)?);
    sender.check_against_wrapper()?;
    let result = client_rt.block_on(work(sender));
    let seen = target.requests_seen();
    servers.stop(target);
    let value = result?;
    if let Some(seen) = seen {
        if seen != expected {
            return Err(format!("the mock saw {seen} requests, expected {expected}"));
        }
    }
    Ok(value)
}

const CLIENTS: [Which; 3] = [Which::Wrapper, Which::Reqwest, Which::Hyper];

/// How one interleaved measurement sends its requests.
#[derive(Clone, Copy)]
enum Pace {
    /// One request after another.
    Sequential,
    /// From this many tasks at once.
    Concurrent(usize),
}

/// Seconds each client spent on `blocks` blocks of `block` requests, per run.
///
/// A run starts a fresh target and one client of each kind, warms each up, then sends block after block,
/// taking turns (in a rotating order) every block: a block lasts tens of milliseconds, so a change of the
/// machine's load hits every client alike instead of whichever happened to run then.
fn interleaved(
    servers: &Servers,
    client_rt: &Runtime,
    kind: Kind,
    wire: &Wire,
    (runs, blocks, block, warmup): (usize, usize, usize, usize),
    pace: Pace,
) -> Result<BTreeMap<&'static str, Vec<f64>>, String> {
    let jobs = Arc::new(clients::jobs(block));
    let warmup = Arc::new(clients::jobs(warmup));
    let mut seconds: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let target = servers.target(kind).map_err(|err| err.to_string())?;
        let senders = CLIENTS
            .iter()
            .map(|&which| {
                let sender = Sender::new(which, target.base_url(), wire)?;
                sender.check_against_wrapper()?;
                Ok(Arc::new(sender))
            })
            .collect::<Result<Vec<_>, String>>();
        let totals = senders.and_then(|senders| {
            client_rt.block_on(async {
                let send = async |sender: &Arc<Sender>, jobs: &Arc<Vec<Job>>| match pace {
                    Pace::Sequential => clients::sequential(sender, jobs).await,
                    Pace::Concurrent(concurrency) => {
                        clients::concurrent(sender.clone(), jobs.clone(), concurrency).await
                    }
                };
                for sender in &senders {
                    send(sender, &warmup).await?;
                }
                let mut totals = [Duration::ZERO; CLIENTS.len()];
                for round in 0..blocks {
                    for index in rotated(&[0, 1, 2], round) {
                        totals[index] += send(&senders[index], &jobs).await?;
                    }
                }
                Ok::<_, String>(totals)
            })
        });
        let seen = target.requests_seen();
        servers.stop(target);
        let totals = totals?;
        let expected = CLIENTS.len() * (warmup.len() + blocks * block);
        if seen.is_some_and(|seen| seen != expected) {
            return Err(format!("the mock saw {seen:?} requests, expected {expected}"));
        }
        for (which, total) in CLIENTS.iter().zip(totals) {
            seconds.entry(which.key()).or_default().push(total.as_secs_f64());
        }
    }
    Ok(seconds)
}

/// The per-round differences `ours[i] - baseline[i]`, as a median.
fn paired_difference(ours: &[f64], baseline: &[f64]) -> f64 {
    median(
        &ours
            .iter()
            .zip(baseline)
            .map(|(ours, base)| ours - base)
            .collect::<Vec<_>>(),
    )
}

fn sequential(
    servers: &Servers,
    client_rt: &Runtime,
    wire: &Wire,
    plan: Plan,
    report: &mut Report,
) -> Result<(), String> {
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
            Some(format!("sequential_wrapper_over_reqwest_{}", kind.key())),
            Row {
                measurement: format!(
                    "1. per request, sequential, {}: wrapper vs raw reqwest ({how})",
                    kind.label()
                ),
                ours: format!("{wrapper:.1} µs/req ({added:+.1} µs)"),
                baseline: format!("{reqwest:.1} µs/req"),
                value: over_reqwest,
                range: Some((low, high)),
                goal: Goal::AtMost(1.05),
            },
        );
        report.row(
            Some(format!("sequential_reqwest_over_hyper_{}", kind.key())),
            Row {
                measurement: format!(
                    "1. per request, sequential, {}: raw reqwest vs raw hyper (context)",
                    kind.label()
                ),
                ours: format!("{reqwest:.1} µs/req"),
                baseline: format!("{hyper:.1} µs/req"),
                value: reqwest_over_hyper,
                range: Some((low_h, high_h)),
                goal: Goal::None,
            },
        );
    }
    Ok(())
}

fn concurrent(
    servers: &Servers,
    client_rt: &Runtime,
    wire: &Wire,
    plan: Plan,
    report: &mut Report,
) -> Result<(), String> {
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
            Some(format!("throughput_wrapper_over_reqwest_{}", kind.key())),
            Row {
                measurement: format!("2. throughput, {}: wrapper vs raw reqwest ({how})", kind.label()),
                ours: format!("{wrapper:.0} req/s"),
                baseline: format!("{reqwest:.0} req/s"),
                value: over_reqwest,
                range: Some((low, high)),
                goal: Goal::AtLeast(0.9),
            },
        );
        report.row(
            Some(format!("throughput_wrapper_over_hyper_{}", kind.key())),
            Row {
                measurement: format!("2. throughput, {}: wrapper vs raw hyper", kind.label()),
                ours: format!("{wrapper:.0} req/s"),
                baseline: format!("{hyper:.0} req/s"),
                value: over_hyper,
                range: Some((low_h, high_h)),
                goal: Goal::None,
            },
        );
    }
    Ok(())
}

/// The environment every child gets: the bench's keys, nothing that could redirect or re-authenticate it.
fn child_env(command: &mut Command) -> &mut Command {
    command
        .env("ETORO_API_KEY", clients::API_KEY)
        .env("ETORO_USER_KEY", clients::USER_KEY)
        .env_remove("ETORO_ACCESS_TOKEN")
        .env_remove("ETORO_BASE_URL")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BulkVariant {
    CliJournal,
    CliNoJournal,
    RawReqwest,
}

impl BulkVariant {
    fn key(self) -> &'static str {
        match self {
            BulkVariant::CliJournal => "cli_journal",
            BulkVariant::CliNoJournal => "cli_no_journal",
            BulkVariant::RawReqwest => "raw_reqwest",
        }
    }
}

/// Peak RSS and wall time, per run.
#[derive(Default)]
struct Runs {
    seconds: Vec<f64>,
    rss_mib: Vec<f64>,
}

impl Runs {
    fn push(&mut self, measured: &Measured) {
        self.seconds.push(measured.elapsed.as_secs_f64());
        self.rss_mib.push(measured.max_rss_mib());
    }

    fn median_seconds(&self) -> f64 {
        median(&self.seconds)
    }

    /// The largest peak of all runs: the conservative figure for a memory goal.
    fn peak_rss(&self) -> f64 {
        self.rss_mib.iter().copied().fold(f64::NAN, f64::max)
    }

    fn to_json(&self) -> Value {
        json!({
            "median_seconds": round(self.median_seconds(), 4),
            "peak_rss_mib": round(self.peak_rss(), 2),
            "seconds": self.seconds.iter().map(|s| round(*s, 4)).collect::<Vec<_>>(),
            "rss_mib": self.rss_mib.iter().map(|s| round(*s, 2)).collect::<Vec<_>>(),
        })
    }
}

/// The `updated` records of a bulk journal (each line also has a `started` record before it is sent).
fn updated_records(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| {
        text.lines()
            .filter(|line| serde_json::from_str::<Value>(line).is_ok_and(|record| record["outcome"] == "updated"))
            .count()
    })
}

fn bulk(servers: &Servers, options: &Options, wire: &Wire, plan: Plan, report: &mut Report) -> Result<(), String> {
    let jobs: Vec<Job> = clients::jobs(plan.bulk_n);
    let input = options.out.join("bulk.jsonl");
    let tsv = options.out.join("curl-sample.tsv");
    let journal = options.out.join("journal.jsonl");
    let io = |err: std::io::Error| err.to_string();
    procs::write_jsonl(&input, &jobs).map_err(io)?;
    procs::write_tsv(&tsv, &jobs[..plan.curl_sample.min(jobs.len())]).map_err(io)?;
    let concurrency = plan.concurrency.to_string();
    let self_exe = std::env::current_exe().map_err(io)?;

    let mut runs: BTreeMap<&str, Runs> = BTreeMap::new();
    let variants = [
        BulkVariant::CliJournal,
        BulkVariant::CliNoJournal,
        BulkVariant::RawReqwest,
    ];
    for round in 0..plan.bulk_runs {
        for variant in rotated(&variants, round) {
            let target = servers.target(Kind::Mock).map_err(io)?;
            let mut command = match variant {
                BulkVariant::CliJournal | BulkVariant::CliNoJournal => {
                    let mut command = silent(&options.cli);
                    command.args(["update", "--from"]).arg(&input).args([
                        "--concurrency",
                        &concurrency,
                        "--base-url",
                        target.base_url(),
                    ]);
                    if variant == BulkVariant::CliJournal {
                        let _ = std::fs::remove_file(&journal);
                        command.arg("--journal").arg(&journal);
                    }
                    command
                }
                BulkVariant::RawReqwest => {
                    let mut command = silent(&self_exe);
                    command.arg("raw-bulk").arg("--from").arg(&input).args([
                        "--concurrency",
                        &concurrency,
                        "--base-url",
                        target.base_url(),
                        "--api-version",
                        &wire.api_version,
                        "--path",
                        &wire.path,
                    ]);
                    command
                }
            };
            let measured = measure_ok(child_env(&mut command));
            let seen = target.requests_seen();
            servers.stop(target);
            let measured = measured.map_err(|err| format!("bulk {}: {err}", variant.key()))?;
            if seen != Some(plan.bulk_n) {
                return Err(format!("bulk {}: the mock saw {seen:?} requests", variant.key()));
            }
            if variant == BulkVariant::CliJournal && updated_records(&journal) != plan.bulk_n {
                return Err(format!(
                    "bulk: the journal has {} `updated` records",
                    updated_records(&journal)
                ));
            }
            runs.entry(variant.key()).or_default().push(&measured);
        }
    }

    // curl: one process per line, on a sample; the per-request cost is scaled to the whole file.
    let mut curl = Runs::default();
    let sample = plan.curl_sample.min(plan.bulk_n);
    let codes = options.out.join("curl-codes.txt");
    for _ in 0..plan.side_runs {
        let target = servers.target(Kind::Mock).map_err(io)?;
        let out = std::fs::File::create(&codes).map_err(io)?;
        let mut command = silent("bash");
        command
            .arg(options.root.join("bench").join("curl_loop.sh"))
            .arg(format!("{}{}", target.base_url(), wire.path))
            .arg(&wire.api_version)
            .arg(&tsv)
            .stdout(out);
        let measured = measure_ok(child_env(&mut command));
        servers.stop(target);
        let measured = measured.map_err(|err| format!("curl loop: {err}"))?;
        let ok = std::fs::read_to_string(&codes)
            .map_err(io)?
            .lines()
            .filter(|l| *l == "204")
            .count();
        if ok != sample {
            return Err(format!("curl loop: {ok} of {sample} answers were 204"));
        }
        curl.push(&measured);
    }
    let curl_projected = curl.median_seconds() / sample as f64 * plan.bulk_n as f64;

    // Python: the loop's own time is scaled from the sample; start-up and imports are counted once.
    let mut python_projected = Vec::new();
    let mut python_runs = Runs::default();
    let python_sample = plan.python_sample.min(plan.bulk_n);
    let python_note = match &options.python {
        Ok(python) => {
            let stdout = options.out.join("python-out.json");
            for _ in 0..plan.side_runs {
                let target = servers.target(Kind::Mock).map_err(io)?;
                let out = std::fs::File::create(&stdout).map_err(io)?;
                let mut command = silent(python);
                command
                    .arg(options.root.join("bench").join("bulk.py"))
                    .arg(format!("{}{}", target.base_url(), wire.path))
                    .arg(&wire.api_version)
                    .arg(&input)
                    .arg(&concurrency)
                    .arg(python_sample.to_string())
                    .stdout(out);
                let measured = measure_ok(child_env(&mut command));
                servers.stop(target);
                let measured = measured.map_err(|err| format!("python: {err}"))?;
                let said: Value = serde_json::from_str(&std::fs::read_to_string(&stdout).map_err(io)?)
                    .map_err(|err| format!("python output: {err}"))?;
                if said["sent"] != json!(python_sample) || said["failed"] != json!(0) {
                    return Err(format!("python: {said}"));
                }
                let loop_seconds = said["loop_seconds"].as_f64().unwrap_or(f64::NAN);
                let wall = measured.elapsed.as_secs_f64();
                python_projected.push(wall - loop_seconds + loop_seconds * plan.bulk_n as f64 / python_sample as f64);
                python_runs.push(&measured);
            }
            None
        }
        Err(reason) => Some(format!("Python baseline skipped: {reason}.")),
    };
    let python_seconds = median(&python_projected);

    let cli = runs[BulkVariant::CliJournal.key()].median_seconds();
    let cli_no_journal = runs[BulkVariant::CliNoJournal.key()].median_seconds();
    let raw = runs[BulkVariant::RawReqwest.key()].median_seconds();
    let rate = |seconds: f64| plan.bulk_n as f64 / seconds;
    // Throughput ratios: the baseline's time over ours, paired by round.
    let seconds = |variant: BulkVariant| runs[variant.key()].seconds.as_slice();
    let journal_ratio = paired_ratio(seconds(BulkVariant::RawReqwest), seconds(BulkVariant::CliJournal));
    let no_journal_ratio = paired_ratio(seconds(BulkVariant::RawReqwest), seconds(BulkVariant::CliNoJournal));
    let bulk_figures = json!({
        "lines": plan.bulk_n,
        "concurrency": plan.concurrency,
        "cli_journal": runs[BulkVariant::CliJournal.key()].to_json(),
        "cli_no_journal": runs[BulkVariant::CliNoJournal.key()].to_json(),
        "raw_reqwest": runs[BulkVariant::RawReqwest.key()].to_json(),
        "curl_loop": { "sample": sample, "sample_runs": curl.to_json(), "projected_seconds": round(curl_projected, 3) },
        "python": match &options.python {
            Ok(_) => json!({ "sample": python_sample, "concurrency": plan.concurrency, "runs": python_runs.to_json(),
                             "projected_seconds": round(python_seconds, 3) }),
            Err(reason) => json!({ "skipped": reason }),
        },
    });
    report.figures.insert("bulk".to_owned(), bulk_figures);

    let lines = plan.bulk_n;
    let c = plan.concurrency;
    report.row(
        Some("bulk_cli_journal_over_reqwest".to_owned()),
        Row {
            measurement: format!(
                "3. bulk {lines} lines, c={c}: etoro-token --from --journal vs raw reqwest loop (median of {})",
                plan.bulk_runs
            ),
            ours: format!("{cli:.2} s, {:.0} req/s", rate(cli)),
            baseline: format!("{raw:.2} s, {:.0} req/s", rate(raw)),
            value: journal_ratio.0,
            goal: Goal::AtLeast(0.8),
            range: Some((journal_ratio.1, journal_ratio.2)),
        },
    );
    report.row(
        Some("bulk_cli_no_journal_over_reqwest".to_owned()),
        Row {
            measurement: format!("3. bulk {lines} lines, c={c}: etoro-token --from, no journal, vs raw reqwest loop"),
            ours: format!("{cli_no_journal:.2} s, {:.0} req/s", rate(cli_no_journal)),
            baseline: format!("{raw:.2} s, {:.0} req/s", rate(raw)),
            value: no_journal_ratio.0,
            goal: Goal::None,
            range: Some((no_journal_ratio.1, no_journal_ratio.2)),
        },
    );
    report.row(
        Some("bulk_cli_over_curl".to_owned()),
        Row {
            measurement: format!(
                "3. bulk {lines} lines: etoro-token --journal vs a bash loop of curl (sequential; {sample}-line \
                 sample, scaled; median of {})",
                plan.side_runs
            ),
            ours: format!("{cli:.2} s"),
            baseline: format!(
                "{curl_projected:.1} s ({:.2} ms/req)",
                curl_projected * 1e3 / lines as f64
            ),
            value: curl_projected / cli,
            goal: Goal::AtLeast(30.0),
            range: None,
        },
    );
    let python_how = if python_sample == lines {
        String::new()
    } else {
        format!("; {python_sample}-line sample, loop time scaled")
    };
    let side_runs = plan.side_runs;
    report.row(
        Some("bulk_cli_over_python".to_owned()),
        Row {
            measurement: format!(
                "3. bulk {lines} lines: etoro-token --journal vs pooled Python requests.Session ({c} threads{python_how}; \
                 median of {side_runs})"
            ),
            ours: format!("{cli:.2} s"),
            baseline: match &python_note {
                None => format!("{python_seconds:.2} s, {:.0} req/s", rate(python_seconds)),
                Some(_) => "skipped (see notes)".to_owned(),
            },
            value: python_seconds / cli,
            goal: Goal::AtLeast(5.0),
            range: None,
        },
    );
    let cli_rss = runs[BulkVariant::CliJournal.key()].peak_rss();
    // What the measuring helper hands down to any child: the floor of every RSS figure.
    let floor = measure_ok(&mut silent("true")).map_or(f64::NAN, |measured| measured.max_rss_mib());
    report.figure("bulk", "rss_floor_mib", json!(round(floor, 2)));
    report.row(
        Some("bulk_cli_peak_rss_mib".to_owned()),
        Row {
            measurement: format!("3. bulk {lines} lines: peak RSS of etoro-token --journal (largest of the runs)"),
            ours: format!("{cli_rss:.1} MiB"),
            baseline: format!(
                "raw reqwest {:.1} MiB{}",
                runs[BulkVariant::RawReqwest.key()].peak_rss(),
                if python_note.is_none() {
                    format!(", Python {:.1} MiB", python_runs.peak_rss())
                } else {
                    String::new()
                }
            ),
            value: cli_rss,
            goal: Goal::Below(32.0),
            range: None,
        },
    );
    report.notes.push(format!(
        "Ratios with a range are the median of per-round ratios (lowest–highest in brackets): each round runs \
         every client back to back, so the machine's slower drifts cancel. Bulk: the raw reqwest loop is this bench's own `xtask-bench raw-bulk` process (reads and parses the same \
         file, {c} tasks, same client settings); bulk ratios are throughput ratios (baseline time / our time). \
         The curl loop pre-generates request ids. Peak RSS is `ru_maxrss` from `wait4` on each child, spawned \
         from a small helper process (so it is at least the helper's own {floor:.1} MiB: `true` measures that)."
    ));
    if let Some(note) = python_note {
        report.notes.push(note);
    }
    Ok(())
}

fn oneshot(servers: &Servers, options: &Options, wire: &Wire, plan: Plan, report: &mut Report) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Shot {
        Cli,
        Curl,
        CliVersion,
        CliDryRun,
        LeanVersion,
    }
    let target = servers.target(Kind::Mock).map_err(|err| err.to_string())?;
    let base_url = target.base_url().to_owned();
    let mut runs: BTreeMap<&str, Runs> = BTreeMap::new();
    let shots: Vec<Shot> = [Shot::Cli, Shot::Curl, Shot::CliVersion, Shot::CliDryRun]
        .into_iter()
        .chain(options.cli_lean.as_ref().map(|_| Shot::LeanVersion))
        .collect();
    let result = (|| -> Result<(), String> {
        for round in 0..plan.oneshot_runs {
            for shot in rotated(&shots, round) {
                let job = &clients::jobs(1)[0];
                let (portfolio, token) = (job.portfolio.to_string(), job.token.to_string());
                let mut command = match shot {
                    Shot::Cli | Shot::CliDryRun => {
                        let mut command = silent(&options.cli);
                        command.args([
                            "update",
                            "--base-url",
                            &base_url,
                            "--portfolio",
                            &portfolio,
                            "--token",
                            &token,
                            "--scope",
                            clients::SCOPE,
                            "--ip",
                            &clients::IP.to_string(),
                        ]);
                        if shot == Shot::CliDryRun {
                            command.arg("--dry-run");
                        }
                        command
                    }
                    Shot::CliVersion => {
                        let mut command = silent(&options.cli);
                        command.arg("--version");
                        command
                    }
                    Shot::LeanVersion => {
                        let mut command = silent(options.cli_lean.as_ref().expect("only planned with a lean binary"));
                        command.arg("--version");
                        command
                    }
                    Shot::Curl => {
                        let mut command = silent("curl");
                        command
                            .args(["-s", "-f", "-o", "/dev/null", "-X", "PATCH"])
                            .args(["-H", &format!("x-api-key: {}", clients::API_KEY)])
                            .args(["-H", &format!("x-user-key: {}", clients::USER_KEY)])
                            .args(["-H", &format!("x-request-id: {}", uuid::Uuid::new_v4())])
                            .args(["-H", "content-type: application/json", "-H", "accept: application/json"])
                            .args(["-H", &format!("api-version: {}", wire.api_version)])
                            .args([
                                "--data-binary",
                                &json!({ "scopeNames": [clients::SCOPE], "ipsWhitelist": [clients::IP] }).to_string(),
                            ])
                            .arg(wire.url(&base_url, job.portfolio, job.token));
                        command
                    }
                };
                let key = match shot {
                    Shot::Cli => "cli",
                    Shot::Curl => "curl",
                    Shot::CliVersion => "cli_version",
                    Shot::CliDryRun => "cli_dry_run",
                    Shot::LeanVersion => "lean_version",
                };
                let measured = measure_ok(child_env(&mut command)).map_err(|err| format!("one-shot {key}: {err}"))?;
                runs.entry(key).or_default().push(&measured);
            }
        }
        Ok(())
    })();
    let seen = target.requests_seen();
    servers.stop(target);
    result?;
    if seen != Some(2 * plan.oneshot_runs) {
        return Err(format!("one-shot: the mock saw {seen:?} requests"));
    }
    let ms = |key: &str| runs[key].median_seconds() * 1e3;
    let (cli, curl) = (ms("cli"), ms("curl"));
    report.figures.insert(
        "oneshot".to_owned(),
        Value::Object(
            runs.iter()
                .map(|(key, runs)| ((*key).to_owned(), runs.to_json()))
                .collect(),
        ),
    );
    report.row(
        Some("oneshot_cli_over_curl".to_owned()),
        Row {
            measurement: format!(
                "4. one-shot: one `etoro-token update` process vs one `curl` (cold start, one request, median of {})",
                plan.oneshot_runs
            ),
            ours: format!("{cli:.2} ms"),
            baseline: format!("{curl:.2} ms"),
            value: cli / curl,
            goal: Goal::AtMost(1.5),
            range: None,
        },
    );
    report.row(
        None,
        Row {
            measurement: "4. one-shot breakdown: `etoro-token --version` / `update --dry-run` (no request)".to_owned(),
            ours: format!("{:.2} ms / {:.2} ms", ms("cli_version"), ms("cli_dry_run")),
            baseline: String::new(),
            value: f64::NAN,
            goal: Goal::None,
            range: None,
        },
    );
    if let Some(lean) = &options.cli_lean {
        let size = |path: &PathBuf| std::fs::metadata(path).map(|meta| meta.len() as f64 / (1024.0 * 1024.0));
        let (full_size, lean_size) = (
            size(&options.cli).map_err(|err| err.to_string())?,
            size(lean).map_err(|err| err.to_string())?,
        );
        report.figure("binary", "full_mib", json!(round(full_size, 2)));
        report.figure("binary", "lean_mib", json!(round(lean_size, 2)));
        report.row(
            Some("cli_lean_size_over_full".to_owned()),
            Row {
                measurement:
                    "4. binary: `etoro-token` without the embedded mock (`--no-default-features --features rustls`) vs the default"
                        .to_owned(),
                ours: format!("{lean_size:.1} MiB"),
                baseline: format!("{full_size:.1} MiB"),
                value: lean_size / full_size,
                goal: Goal::None,
                range: None,
            },
        );
        report.row(
            Some("cli_lean_startup_over_full".to_owned()),
            Row {
                measurement: format!(
                    "4. start-up: `etoro-token --version`, lean vs default (median of {})",
                    plan.oneshot_runs
                ),
                ours: format!("{:.2} ms", ms("lean_version")),
                baseline: format!("{:.2} ms", ms("cli_version")),
                value: ms("lean_version") / ms("cli_version"),
                goal: Goal::None,
                range: None,
            },
        );
    }
    Ok(())
}

fn regen(options: &Options, plan: Plan, report: &mut Report) -> Result<(), String> {
    let cargo = || {
        let mut command = silent(&options.cargo);
        command.current_dir(&options.root).args(["xtask", "regen", "--check"]);
        command
    };
    let xtask = xtask::bench::target_dir(&options.root).join("debug").join("xtask");
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
            direct.current_dir(&options.root).args(["regen", "--check"]);
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
        report.row(
            None,
            Row {
                measurement,
                ours: "not measured (see notes)".to_owned(),
                baseline: String::new(),
                value: f64::NAN,
                goal: Goal::None,
                range: None,
            },
        );
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
    report.row(
        None,
        Row {
            measurement: if failed {
                format!("{measurement} — the check FAILED (generated.rs differs from the spec's output)")
            } else {
                measurement
            },
            ours: format!("{seconds:.2} s"),
            baseline: format!("the xtask binary alone: {binary_seconds:.2} s"),
            value: f64::NAN,
            goal: Goal::None,
            range: None,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_starts_each_round_with_another_client() {
        assert_eq!(rotated(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(rotated(&[1, 2, 3], 1), [2, 3, 1]);
        assert_eq!(rotated(&[1, 2, 3], 4), [2, 3, 1]);
    }

    #[test]
    fn the_journal_check_counts_results_not_started_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let text = "{\"outcome\":\"started\"}\n{\"outcome\":\"updated\"}\n{\"outcome\":\"updated\"\n";
        std::fs::write(&path, text).unwrap();
        assert_eq!(updated_records(&path), 1, "a cut record does not count");
    }

    #[test]
    fn options_need_the_paths() {
        let args: Vec<String> = ["--root", "/r", "--out", "/o", "--cli", "/c", "--python-skip", "no pip"]
            .map(String::from)
            .to_vec();
        let options = Options::parse(&args).unwrap();
        assert_eq!(options.python, Err("no pip".to_owned()));
        assert!(!options.quick);
        assert!(Options::parse(&args[2..]).is_err());
    }
}
