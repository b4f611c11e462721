//! What the bulk tests share: input files, the binary with test credentials, reading journals, a scripted HTTP
//! server on 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use etoro_mock::MockServer;
use serde_json::{json, Value};
use uuid::Uuid;

pub use super::{mock, stderr, stdout, API_KEY, USER_KEY};

/// `count` lines for distinct tokens.
pub fn lines(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "portfolio": Uuid::new_v4(),
                "token": Uuid::new_v4(),
                "scopeNames": ["etoro-public:trade.real:read"],
                "ipsWhitelist": [format!("203.0.113.{}", i % 250 + 1)],
            })
        })
        .collect()
}

/// Writes `lines` (one per line) to `dir/name` and returns the path.
pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    path
}

pub fn to_strings(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

/// `etoro-token update --base-url URL --from FILE` with test credentials, plus `extra`.
pub fn bulk(base_url: &str, file: &Path, extra: &[&str]) -> Command {
    let mut cmd = super::etoro_token();
    cmd.args(["update", "--base-url", base_url, "--from"])
        .arg(file)
        .args(extra)
        .timeout(Duration::from_secs(120));
    cmd
}

/// The same, as a plain process to spawn (and signal).
pub fn bulk_process(base_url: &str, file: &Path, extra: &[&str]) -> Std {
    let mut cmd = Std::new(assert_cmd::cargo::cargo_bin("etoro-token"));
    cmd.env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .args(["update", "--base-url", base_url, "--from"])
        .arg(file)
        .args(extra);
    cmd
}

/// `update --from FILE --concurrency N --journal JOURNAL` plus `extra`, spawned, its standard output and error
/// piped (read them with `wait_with_output`).
pub fn spawn_journaled(
    base_url: &str,
    file: &Path,
    concurrency: u32,
    journal: &Path,
    extra: &[&str],
) -> std::process::Child {
    bulk_process(base_url, file, &["--concurrency", &concurrency.to_string()])
        .args(extra)
        .arg("--journal")
        .arg(journal)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 30 s) until the journal at `path` holds at least `count` records of `outcome`.
pub async fn journal_reaches(path: &Path, outcome: &str, count: usize) -> bool {
    wait_for(Duration::from_secs(30), || {
        records(&journal(path), outcome).len() >= count
    })
    .await
}

/// Every record of a journal that decodes.
pub fn journal(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The records of `outcome`.
pub fn records<'a>(records: &'a [Value], outcome: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["outcome"] == outcome).collect()
}

/// Waits until `ready` holds (or `within` has passed).
pub async fn wait_for(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ready()
}

/// The (token path, body) of a request, and its request id and status.
pub fn sent(server: &MockServer) -> Vec<(String, Value, String, u16)> {
    server
        .requests()
        .into_iter()
        .map(|r| {
            (
                r.path.clone(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                r.header("x-request-id").unwrap_or_default().to_owned(),
                r.status,
            )
        })
        .collect()
}

/// The requests grouped by (path, body).
pub fn by_input(server: &MockServer) -> HashMap<(String, String), Vec<(String, u16)>> {
    let mut grouped: HashMap<(String, String), Vec<(String, u16)>> = HashMap::new();
    for (path, body, id, status) in sent(server) {
        grouped.entry((path, body.to_string())).or_default().push((id, status));
    }
    grouped
}

/// The path a line's request goes to.
pub fn path_of(line: &Value) -> String {
    format!(
        "/api/v1/agent-portfolios/{}/user-tokens/{}",
        line["portfolio"].as_str().unwrap(),
        line["token"].as_str().unwrap()
    )
}

/// The body a line sends (its fields besides the ids).
pub fn body_of(line: &Value) -> Value {
    let mut body = line.clone();
    let map = body.as_object_mut().unwrap();
    map.remove("portfolio");
    map.remove("token");
    body
}

/// One request a [`Scripted`] server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub body: Value,
    pub request_id: String,
    pub status: u16,
    /// When its head and body had arrived.
    pub at: Instant,
}

/// A small HTTP/1.1 server on 127.0.0.1 that answers each request with what `answer` picks (from the request's
/// index, from 0, and the request): a status and headers (and an empty body), or a whole [`Reply`]; it records
/// what it saw.
pub struct Scripted {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A [`Scripted`] answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl From<(u16, Vec<(&'static str, String)>)> for Reply {
    fn from((status, headers): (u16, Vec<(&'static str, String)>)) -> Self {
        Reply {
            status,
            headers,
            body: String::new(),
        }
    }
}

type Answer = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

impl Scripted {
    pub fn start<R: Into<Reply>>(answer: impl Fn(usize, &Seen) -> R + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answer: Arc<Answer> = Arc::new(move |index, seen| answer(index, seen).into());
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, answer) = (shared.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &seen, &*answer));
            }
        });
        Scripted { base_url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: std::net::TcpStream, seen: &Mutex<Vec<Seen>>, answer: &Answer) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let (mut length, mut request_id) = (0, String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "x-request-id" => request_id = value.trim().to_owned(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut request = Seen {
            path,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            request_id,
            status: 0,
            at: Instant::now(),
        };
        let Reply { status, headers, body } = {
            let mut seen = seen.lock().unwrap();
            let answered = answer(seen.len(), &request);
            request.status = answered.status;
            seen.push(request);
            answered
        };
        let mut response = format!("HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\n", body.len());
        if status == 204 {
            response = format!("HTTP/1.1 {status} No Content\r\n");
        } else if !body.is_empty() {
            response.push_str("content-type: application/json\r\n");
        }
        for (name, value) in headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&body);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
