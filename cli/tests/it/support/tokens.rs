//! What the `tokens_*` tests share: the binary with test credentials, a closed-world mock, and a raw HTTP proxy on
//! 127.0.0.1 in front of it that sees every answer (so a test knows every secret eToro handed out) and can lose
//! an answer, hold a request forever (so the test can kill the process at a precise step) or drop a connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etoro_mock::{MockConfig, MockServer, Portfolio, Token, World};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use uuid::Uuid;

pub use super::{stderr, stdout, API_KEY, PORTFOLIO, TOKEN, USER_KEY};

pub fn portfolio_id() -> Uuid {
    PORTFOLIO.parse().unwrap()
}

pub fn token_id() -> Uuid {
    TOKEN.parse().unwrap()
}

/// A closed-world mock holding `portfolios`, logging every request to `log`.
pub async fn mock(portfolios: Vec<Portfolio>, log: Option<PathBuf>) -> MockServer {
    let config = MockConfig {
        world: World::Closed,
        portfolios,
        log,
        ..MockConfig::default()
    };
    MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

/// The README's portfolio and token.
pub fn example() -> Vec<Portfolio> {
    vec![Portfolio::example()]
}

/// The tokens of the test portfolio in the mock's store.
pub fn tokens(server: &MockServer) -> Vec<Token> {
    server
        .portfolios()
        .into_iter()
        .find(|portfolio| portfolio.id == portfolio_id())
        .map(|portfolio| portfolio.tokens)
        .unwrap_or_default()
}

/// The binary with a clean environment holding test credentials, run in `dir`.
pub fn etoro_token(dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_etoro-token"));
    cmd.env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs it to the end (at most a minute). Spawned rather than `output()`, which would replace the standard
/// output a test chose with a pipe.
pub async fn run(cmd: &mut tokio::process::Command) -> Output {
    let child = cmd.spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("etoro-token ran for more than a minute")
        .unwrap()
}

/// Fails when any of `secrets` (or a credential) appears in `text`.
pub fn assert_absent(secrets: &[String], text: &str, what: &str) {
    for secret in secrets.iter().map(String::as_str).chain([API_KEY, USER_KEY]) {
        assert!(!text.contains(secret), "a secret appears in {what}: {text}");
    }
}

/// Fails when any of `secrets` appears in a file under `dir` (recursively) other than those in `except`.
pub fn assert_absent_from_files(secrets: &[String], dir: &Path, except: &[PathBuf]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if except.contains(&path) {
            continue;
        }
        if path.is_dir() {
            assert_absent_from_files(secrets, &path, except);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert_absent(secrets, &String::from_utf8_lossy(&bytes), &path.display().to_string());
        }
    }
}

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Passes it on and passes the answer back.
    Forward,
    /// Passes it on, reads the answer, and closes the client's connection without it: the change is made, the
    /// answer is lost.
    LoseAnswer,
    /// Never passes it on and never answers (until the client goes away).
    Hold,
    /// Passes it on, reads the answer, and never passes it back (until the client goes away).
    ForwardAndHold,
    /// Closes the connection at once: nothing reaches the server.
    Reset,
}

struct Rule {
    method: &'static str,
    path_contains: String,
    action: Action,
    times: usize,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    created: Mutex<Vec<(Uuid, String)>>,
    seen: Mutex<Vec<(String, String)>>,
    held: AtomicUsize,
    notify: Notify,
}

/// A proxy on 127.0.0.1 in front of a server.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, upstream, serving.clone()));
            }
        });
        Proxy { addr, shared }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` requests of `method` whose path contains `path_contains` get `action`.
    pub fn on(&self, method: &'static str, path_contains: &str, action: Action, times: usize) {
        self.shared.rules.lock().unwrap().push(Rule {
            method,
            path_contains: path_contains.to_owned(),
            action,
            times,
        });
    }

    /// Every (token id, secret) eToro's stand-in handed out through this proxy, in order.
    pub fn created(&self) -> Vec<(Uuid, String)> {
        self.shared.created.lock().unwrap().clone()
    }

    /// Every secret handed out.
    pub fn secrets(&self) -> Vec<String> {
        self.created().into_iter().map(|(_, secret)| secret).collect()
    }

    /// The secret handed out for `token`.
    pub fn secret_of(&self, token: Uuid) -> Option<String> {
        self.created()
            .into_iter()
            .find(|(id, _)| *id == token)
            .map(|(_, secret)| secret)
    }

    /// Every request (method, path) the proxy received.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Waits until `count` requests are held (at most 30 s).
    pub async fn until_held(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let notified = self.shared.notify.notified();
                if self.shared.held.load(Ordering::SeqCst) >= count {
                    return;
                }
                notified.await;
            }
        })
        .await
        .expect("the request to hold never came");
    }
}

impl Shared {
    fn action(&self, method: &str, path: &str) -> Action {
        self.seen.lock().unwrap().push((method.to_owned(), path.to_owned()));
        let mut rules = self.rules.lock().unwrap();
        for rule in rules.iter_mut() {
            if rule.times > 0 && rule.method == method && path.contains(&rule.path_contains) {
                rule.times -= 1;
                return rule.action;
            }
        }
        Action::Forward
    }

    fn hold(&self) {
        self.held.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

/// One request per connection: read it, act, close.
async fn serve(mut client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut client).await else {
        return;
    };
    let head = String::from_utf8_lossy(&request[..request.len().min(512)]).into_owned();
    let mut parts = head.split(' ');
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let action = shared.action(&method, &path);
    match action {
        Action::Reset => {}
        Action::Hold => {
            shared.hold();
            wait_for_close(&mut client).await;
        }
        Action::Forward | Action::LoseAnswer | Action::ForwardAndHold => {
            let response = forward(upstream, &request).await;
            record_created(&shared, &method, &response);
            match action {
                Action::Forward => {
                    let _ = client.write_all(&response).await;
                    let _ = client.shutdown().await;
                }
                Action::ForwardAndHold => {
                    shared.hold();
                    wait_for_close(&mut client).await;
                }
                _ => {}
            }
        }
    }
}

async fn wait_for_close(client: &mut TcpStream) {
    let mut buf = [0u8; 64];
    while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// A request: its head and, by `Content-Length`, its body.
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = find(&data, b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    Some(data)
}

/// Sends the request upstream on a fresh connection that closes after the answer, and reads the whole answer.
async fn forward(upstream: SocketAddr, request: &[u8]) -> Vec<u8> {
    let head_end = find(request, b"\r\n\r\n").unwrap();
    let mut rewritten = request[..head_end + 2].to_vec();
    rewritten.extend_from_slice(b"connection: close\r\n\r\n");
    rewritten.extend_from_slice(&request[head_end + 4..]);
    let mut stream = TcpStream::connect(upstream).await.unwrap();
    stream.write_all(&rewritten).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    response
}

/// Notes the id and secret of a 201 to a create.
fn record_created(shared: &Shared, method: &str, response: &[u8]) {
    if method != "POST" || !response.starts_with(b"HTTP/1.1 201") {
        return;
    }
    let Some(at) = find(response, b"\r\n\r\n") else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response[at + 4..]) else {
        return;
    };
    if let (Some(id), Some(secret)) = (body["userTokenId"].as_str(), body["userToken"].as_str()) {
        shared
            .created
            .lock()
            .unwrap()
            .push((id.parse().unwrap(), secret.to_owned()));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// A server on 127.0.0.1 that answers every request with `status` and the JSON `body`, and counts them.
pub async fn fixed_answer(status: u16, body: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                if read_request(&mut stream).await.is_some() {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            });
        }
    });
    (addr, count)
}

/// A pseudo-terminal for the child's standard input, output and error: `revoke` and `rotate` then ask, and `list`
/// colours, as they do for a user.
#[cfg(unix)]
pub struct Terminal {
    master: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    child: tokio::process::Child,
}

#[cfg(unix)]
impl Terminal {
    /// Spawns `cmd` on a new pseudo-terminal.
    pub fn spawn(cmd: &mut tokio::process::Command) -> Terminal {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;

        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(name.to_str().unwrap())
            .unwrap();
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        let child = cmd.spawn().unwrap();
        // Only the child holds the terminal now, so the reader ends when the child does.
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let master = std::fs::File::from(master);
        let mut reading = master.try_clone().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let filling = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reading.read(&mut buf) {
                if n == 0 {
                    break;
                }
                filling.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            seen,
            reader: Some(reader),
            child,
        }
    }

    /// Everything the child wrote so far.
    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until the child wrote `text` (at most 30 s).
    pub async fn until(&self, text: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self.seen().contains(text) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{text:?} never came: {}",
                self.seen()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Waits for the child to end; its exit code and everything it wrote.
    pub async fn finish(mut self) -> (Option<i32>, String) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the child never ended")
            .unwrap();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status.code(), self.seen())
    }
}
