//! Child processes: running one and measuring its wall time and peak memory (through this binary's `measure`
//! mode), the bulk input files, and the raw-reqwest bulk baseline (this binary's `raw-bulk` mode, run as a child
//! like the CLI it is compared with).

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use crate::clients::{self, Job};

/// What one child process took.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// From spawn to reaped.
    pub elapsed: Duration,
    /// Its exit code (None when a signal ended it).
    pub code: Option<i32>,
    /// Its peak resident set size (and that of the children it waited for), in KiB.
    pub max_rss_kib: u64,
}

impl Measured {
    /// The peak RSS in MiB.
    pub fn max_rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
}

/// Where the `measure` helper leaves its report for this driver process.
fn report_path() -> PathBuf {
    std::env::temp_dir().join(format!("xtask-bench-{}.measure", std::process::id()))
}

/// A command that runs `program` through this binary's `measure` helper, with no input and its output thrown
/// away (the CLI prints a line per result to a non-terminal). Add the program's arguments, environment and
/// redirections to it as usual, then run it with [`measure`].
///
/// Why a helper: Linux carries a process's peak RSS across `exec`, and a child spawned straight from this
/// driver starts with the driver's own memory map (tens of MiB with the servers), so its `ru_maxrss` would
/// report the driver's peak, not its own. Spawned from the small helper, it inherits a floor of a few MiB.
pub fn silent(program: impl AsRef<OsStr>) -> Command {
    let helper = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("xtask-bench"));
    let mut command = Command::new(helper);
    command.arg("measure").arg(report_path()).arg("--").arg(program);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    command
}

/// Runs a command made by [`silent`] and reads what the helper measured.
pub fn measure(command: &mut Command) -> Result<Measured, String> {
    let report = report_path();
    let _ = std::fs::remove_file(&report);
    let status = command
        .status()
        .map_err(|err| format!("cannot run the measure helper: {err}"))?;
    let text = std::fs::read_to_string(&report).map_err(|err| format!("measure helper ({status}): {err}"))?;
    let _ = std::fs::remove_file(&report);
    let fields: Vec<i64> = text.split_whitespace().filter_map(|field| field.parse().ok()).collect();
    let [nanos, rss, code] = fields[..] else {
        return Err(format!("measure helper: bad report {text:?}"));
    };
    Ok(Measured {
        elapsed: Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)),
        code: (code >= 0).then(|| i32::try_from(code).unwrap_or(i32::MAX)),
        max_rss_kib: u64::try_from(rss).unwrap_or(0),
    })
}

/// Runs a command made by [`silent`] and requires exit code 0.
pub fn measure_ok(command: &mut Command) -> Result<Measured, String> {
    let measured = measure(command)?;
    if measured.code != Some(0) {
        // The helper's own arguments are `measure REPORT -- PROGRAM ...`.
        let program: Vec<_> = command.get_args().skip(3).take(2).collect();
        return Err(format!("{program:?} exited with {:?}", measured.code));
    }
    Ok(measured)
}

/// `xtask-bench measure REPORT -- PROGRAM ARGS...`: runs the program with this process's stdio and environment,
/// reaps it with `wait4` (the resource use of that one child, unlike `getrusage(RUSAGE_CHILDREN)`) and writes
/// `nanoseconds max-rss-KiB exit-code` (-1 when a signal ended it) to REPORT.
pub fn measure_main(report: &Path, command: &[OsString]) -> Result<(), String> {
    let [program, rest @ ..] = command else {
        return Err("measure: no program given".to_owned());
    };
    let started = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", program.to_string_lossy()))?;
    let pid = libc::pid_t::try_from(child.id()).map_err(|err| err.to_string())?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; both pointers are to live, writable locals.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(format!("wait4: {err}"));
        }
    }
    let elapsed = started.elapsed();
    // The child is reaped; dropping the handle only closes our ends of its pipes.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::fs::write(report, format!("{} {} {code}\n", elapsed.as_nanos(), usage.ru_maxrss))
        .map_err(|err| format!("{}: {err}", report.display()))
}

/// Writes the bulk input: one `{"portfolio","token","scopeNames","ipsWhitelist"}` object per line.
pub fn write_jsonl(path: &Path, jobs: &[Job]) -> io::Result<()> {
    let mut text = String::new();
    for job in jobs {
        let line = serde_json::json!({
            "portfolio": job.portfolio,
            "token": job.token,
            "scopeNames": job.scope_names,
            "ipsWhitelist": job.ips,
        });
        let _ = writeln!(text, "{line}");
    }
    std::fs::write(path, text)
}

/// Writes the curl loop's input: `portfolio<TAB>token<TAB>request-id<TAB>body` per line, the request ids made
/// in advance so that the shell loop spends nothing on them.
pub fn write_tsv(path: &Path, jobs: &[Job]) -> io::Result<()> {
    let mut text = String::new();
    for job in jobs {
        let body = serde_json::json!({ "scopeNames": job.scope_names, "ipsWhitelist": job.ips });
        let _ = writeln!(text, "{}\t{}\t{}\t{body}", job.portfolio, job.token, Uuid::new_v4());
    }
    std::fs::write(path, text)
}

/// `xtask-bench raw-bulk --from FILE --concurrency N --base-url URL --api-version V --path P`: the hand-written
/// baseline for `etoro-token update --from`. Reads the file, takes `portfolio` and `token` out of each line, sends
/// the rest as the body from N tasks on a default tokio runtime (as the CLI's), and fails unless every answer is
/// 204. `P` is the path with `{portfolio}` and `{token}` placeholders.
pub fn raw_bulk(from: &Path, concurrency: usize, base_url: &str, api_version: &str, path: &str) -> Result<(), String> {
    let wire = clients::Wire::new(api_version, path)?;
    let text = std::fs::read_to_string(from).map_err(|err| format!("{}: {err}", from.display()))?;
    let mut lines = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let Ok(Value::Object(mut body)) = serde_json::from_str::<Value>(line) else {
            return Err(format!("not a JSON object: {line}"));
        };
        let mut id = |field: &str| -> Result<Uuid, String> {
            body.remove(field)
                .and_then(|value| value.as_str().and_then(|text| text.parse().ok()))
                .ok_or_else(|| format!("no {field} in {line}"))
        };
        let (portfolio, token) = (id("portfolio")?, id("token")?);
        lines.push((portfolio, token, Value::Object(body)));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let http = clients::raw_reqwest()?;
    let (lines, base_url, wire) = (Arc::new(lines), Arc::<str>::from(base_url), Arc::new(wire));
    runtime.block_on(async move {
        let next = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (http, lines, next) = (http.clone(), lines.clone(), next.clone());
                let (base_url, wire) = (base_url.clone(), wire.clone());
                tokio::spawn(async move {
                    while let Some((portfolio, token, body)) = lines.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let response = clients::reqwest_request(&http, &base_url, &wire, *portfolio, *token, body)
                            .send()
                            .await
                            .map_err(|err| err.to_string())?;
                        if response.status().as_u16() != 204 {
                            return Err(format!("status {}", response.status()));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.await.map_err(|err| err.to_string())??;
        }
        Ok(())
    })
}

/// The environment every child gets: the bench's keys, nothing that could redirect or re-authenticate it.
pub fn child_env(command: &mut Command) -> &mut Command {
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
