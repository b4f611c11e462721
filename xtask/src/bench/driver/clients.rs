//! The three ways the bench sends an update: the wrapper, a bare `reqwest::Client` written by hand, and hyper's
//! own pooled client. The raw two send the same PATCH as the wrapper: same headers (checked against the
//! wrapper's dry run), same JSON body.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use etoro_client::{Client, RetryPolicy, TokenUpdate, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The `x-api-key` every client sends (the mock accepts any non-empty key).
pub const API_KEY: &str = "bench-api-key";
/// The `x-user-key` every client sends.
pub const USER_KEY: &str = "bench-user-key";
/// The scope every update sets.
pub const SCOPE: &str = "etoro-public:trade.real:read";
/// The address every update allows.
pub const IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

/// One update to send.
#[derive(Clone, Debug)]
pub struct Job {
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The user token.
    pub token: Uuid,
    /// `scopeNames`.
    pub scope_names: Vec<String>,
    /// `ipsWhitelist`.
    pub ips: Vec<Ipv4Addr>,
}

/// `n` updates with fresh ids and the same body.
pub fn jobs(n: usize) -> Vec<Job> {
    (0..n)
        .map(|_| Job {
            portfolio: Uuid::new_v4(),
            token: Uuid::new_v4(),
            scope_names: vec![SCOPE.to_owned()],
            ips: vec![IP],
        })
        .collect()
}

/// The body, as a hand-written client would declare it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    scope_names: &'a [String],
    ips_whitelist: &'a [Ipv4Addr],
}

/// Where the dry run that teaches [`Wire`] points (nothing is sent there).
const DRY_RUN_BASE: &str = "http://127.0.0.1:9";

/// What the raw clients must send besides credentials and request id, learned from the wrapper's dry run, so
/// that they keep sending the wrapper's request when the wrapper changes (another API version, say).
#[derive(Clone, Debug)]
pub struct Wire {
    /// The `api-version` header.
    pub api_version: String,
    /// The path with `{portfolio}` and `{token}` where the ids go, e.g.
    /// `/api/v1/agent-portfolios/{portfolio}/user-tokens/{token}`.
    pub path: String,
    /// `path` cut around the two ids.
    parts: [String; 3],
    /// The header names of the wrapper's request (before reqwest adds `user-agent` on sending).
    header_names: BTreeSet<String>,
    /// The dry run's method, URL path and body for `probe`.
    method: String,
    probe: Option<(Job, String, Value)>,
}

impl Wire {
    /// Asks the wrapper, through a dry run, what it sends.
    pub async fn discover() -> Result<Wire, String> {
        let client = wrapper_client(DRY_RUN_BASE)?;
        let job = jobs(1).remove(0);
        let prepared = client
            .update_user_token(job.portfolio, job.token, update(&job))
            .dry_run()
            .await
            .map_err(|err| format!("dry run: {err}"))?;
        let api_version = prepared
            .headers
            .iter()
            .find(|(name, _)| name == "api-version")
            .map(|(_, value)| value.clone())
            .ok_or("the wrapper sends no api-version header")?;
        let dry_path = prepared
            .url
            .strip_prefix(DRY_RUN_BASE)
            .ok_or_else(|| format!("the dry run went to {}", prepared.url))?
            .to_owned();
        let path = dry_path
            .replacen(&job.portfolio.to_string(), "{portfolio}", 1)
            .replacen(&job.token.to_string(), "{token}", 1);
        let body: Value = serde_json::from_str(&prepared.body).map_err(|err| format!("dry-run body: {err}"))?;
        let mut wire = Wire::new(&api_version, &path)?;
        wire.header_names = prepared.headers.iter().map(|(name, _)| name.clone()).collect();
        wire.method = prepared.method;
        wire.probe = Some((job, dry_path, body));
        Ok(wire)
    }

    /// A wire from its two variable parts (the bulk baseline's child process gets them as arguments).
    pub fn new(api_version: &str, path: &str) -> Result<Wire, String> {
        let bad = || format!("{path:?} should hold {{portfolio}} then {{token}}");
        let (before, rest) = path.split_once("{portfolio}").ok_or_else(bad)?;
        let (between, after) = rest.split_once("{token}").ok_or_else(bad)?;
        Ok(Wire {
            api_version: api_version.to_owned(),
            path: path.to_owned(),
            parts: [before.to_owned(), between.to_owned(), after.to_owned()],
            header_names: BTreeSet::new(),
            method: "PATCH".to_owned(),
            probe: None,
        })
    }

    /// The URL of one update.
    pub fn url(&self, base_url: &str, portfolio: Uuid, token: Uuid) -> String {
        let [before, between, after] = &self.parts;
        format!("{base_url}{before}{portfolio}{between}{token}{after}")
    }
}

fn wrapper_client(base_url: &str) -> Result<Client, String> {
    Client::builder()
        .base_url(base_url)
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::none())
        .build()
        .map_err(|err| err.to_string())
}

fn update(job: &Job) -> TokenUpdate {
    TokenUpdate::new()
        .scope_names(job.scope_names.iter().cloned())
        .ips_whitelist(job.ips.iter().copied())
}

/// A client under test.
// One per run, behind an `Arc`: the size of the largest variant does not matter, and boxing it would add a
// pointer chase to the baseline alone.
#[allow(clippy::large_enum_variant)]
pub enum Sender {
    /// `etoro_client::Client`, retries off.
    Wrapper(Client),
    /// A `reqwest::Client` configured as the wrapper configures its own (user agent, timeouts, no redirects).
    Reqwest {
        /// The client.
        http: reqwest::Client,
        /// The server.
        base_url: String,
        /// The headers to send.
        wire: Wire,
    },
    /// hyper-util's pooled HTTP/1.1 client.
    Hyper {
        /// The client.
        http: HyperClient<HttpConnector, Full<Bytes>>,
        /// The server.
        base_url: String,
        /// The headers to send.
        wire: Wire,
    },
}

/// Which client, for keys and labels (and `xtask-bench probe`'s argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// [`Sender::Wrapper`].
    Wrapper,
    /// [`Sender::Reqwest`].
    Reqwest,
    /// [`Sender::Hyper`].
    Hyper,
}

impl Which {
    /// The key used in `results.json`.
    pub fn key(self) -> &'static str {
        match self {
            Which::Wrapper => "wrapper",
            Which::Reqwest => "reqwest",
            Which::Hyper => "hyper",
        }
    }

    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Which::Wrapper => "wrapper",
            Which::Reqwest => "raw reqwest",
            Which::Hyper => "raw hyper",
        }
    }
}

/// A bare reqwest client with the wrapper's own settings. (The user agent goes on each request, as the wrapper
/// puts it.)
pub fn raw_reqwest() -> Result<reqwest::Client, String> {
    // etoro-client's `rustls` feature (reqwest's `rustls-no-provider`) reaches this reqwest when the driver is built
    // with `etoro-token`: reqwest then needs a crypto provider installed. A second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
        .timeout(DEFAULT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| err.to_string())
}

/// The raw reqwest request for one update (shared with the bulk baseline).
pub fn reqwest_request(
    http: &reqwest::Client,
    base_url: &str,
    wire: &Wire,
    portfolio: Uuid,
    token: Uuid,
    body: &impl Serialize,
) -> reqwest::RequestBuilder {
    http.patch(wire.url(base_url, portfolio, token))
        .header("x-api-key", API_KEY)
        .header("x-user-key", USER_KEY)
        .header("x-request-id", Uuid::new_v4().to_string())
        .header("accept", "application/json")
        .header("api-version", &wire.api_version)
        .header("user-agent", DEFAULT_USER_AGENT)
        .json(body)
}

fn hyper_request(base_url: &str, wire: &Wire, job: &Job) -> Result<hyper::Request<Full<Bytes>>, String> {
    let body = serde_json::to_vec(&Body {
        scope_names: &job.scope_names,
        ips_whitelist: &job.ips,
    })
    .map_err(|err| err.to_string())?;
    hyper::Request::patch(wire.url(base_url, job.portfolio, job.token))
        .header("x-api-key", API_KEY)
        .header("x-user-key", USER_KEY)
        .header("x-request-id", Uuid::new_v4().to_string())
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header("api-version", &wire.api_version)
        .header("user-agent", DEFAULT_USER_AGENT)
        .body(Full::new(Bytes::from(body)))
        .map_err(|err| err.to_string())
}

impl Sender {
    /// A new client of this kind for `base_url`, with an empty connection pool.
    pub fn new(which: Which, base_url: &str, wire: &Wire) -> Result<Sender, String> {
        Ok(match which {
            Which::Wrapper => Sender::Wrapper(wrapper_client(base_url)?),
            Which::Reqwest => Sender::Reqwest {
                http: raw_reqwest()?,
                base_url: base_url.to_owned(),
                wire: wire.clone(),
            },
            Which::Hyper => Sender::Hyper {
                http: HyperClient::builder(TokioExecutor::new()).build_http(),
                base_url: base_url.to_owned(),
                wire: wire.clone(),
            },
        })
    }

    /// Checks that a raw client sends the wrapper's request: same method, path and JSON body, and every header
    /// the wrapper sends (their own `x-request-id`, credentials and user agent included).
    pub fn check_against_wrapper(&self) -> Result<(), String> {
        let (wire, base_url) = match self {
            Sender::Wrapper(_) => return Ok(()),
            Sender::Reqwest { wire, base_url, .. } | Sender::Hyper { wire, base_url, .. } => (wire, base_url),
        };
        let Some((job, dry_path, dry_body)) = &wire.probe else {
            return Err("the wire was not learned from a dry run".to_owned());
        };
        let (method, url, names, body): (String, String, BTreeSet<String>, Vec<u8>) = match self {
            Sender::Wrapper(_) => unreachable!("returned above"),
            Sender::Reqwest { http, .. } => {
                let body = Body {
                    scope_names: &job.scope_names,
                    ips_whitelist: &job.ips,
                };
                let request = reqwest_request(http, base_url, wire, job.portfolio, job.token, &body)
                    .build()
                    .map_err(|err| err.to_string())?;
                let bytes = request
                    .body()
                    .and_then(reqwest::Body::as_bytes)
                    .unwrap_or_default()
                    .to_vec();
                let names = request.headers().keys().map(|n| n.as_str().to_owned()).collect();
                (request.method().to_string(), request.url().to_string(), names, bytes)
            }
            Sender::Hyper { .. } => {
                let request = hyper_request(base_url, wire, job)?;
                let names = request.headers().keys().map(|n| n.as_str().to_owned()).collect();
                let (method, url) = (request.method().to_string(), request.uri().to_string());
                let body = serde_json::to_vec(&Body {
                    scope_names: &job.scope_names,
                    ips_whitelist: &job.ips,
                })
                .map_err(|err| err.to_string())?;
                (method, url, names, body)
            }
        };
        let missing: Vec<_> = wire.header_names.difference(&names).collect();
        if !missing.is_empty() {
            return Err(format!("the raw request lacks the wrapper's headers {missing:?}"));
        }
        if method != wire.method {
            return Err(format!(
                "the raw request is a {method}, the wrapper's a {}",
                wire.method
            ));
        }
        if url.strip_prefix(base_url.as_str()) != Some(dry_path.as_str()) {
            return Err(format!("the raw request goes to {url}, the wrapper's to {dry_path}"));
        }
        let body: Value = serde_json::from_slice(&body).map_err(|err| err.to_string())?;
        if &body != dry_body {
            return Err(format!("the raw body {body} differs from the wrapper's {dry_body}"));
        }
        Ok(())
    }

    /// Sends one update; an error unless the answer is 204.
    pub async fn send(&self, job: &Job) -> Result<(), String> {
        match self {
            Sender::Wrapper(client) => client
                .update_user_token(job.portfolio, job.token, update(job))
                .await
                .map(drop)
                .map_err(|err| err.to_string()),
            Sender::Reqwest { http, base_url, wire } => {
                let body = Body {
                    scope_names: &job.scope_names,
                    ips_whitelist: &job.ips,
                };
                let response = reqwest_request(http, base_url, wire, job.portfolio, job.token, &body)
                    .send()
                    .await
                    .map_err(|err| err.to_string())?;
                match response.status().as_u16() {
                    204 => Ok(()),
                    other => Err(format!("raw reqwest: status {other}")),
                }
            }
            Sender::Hyper { http, base_url, wire } => {
                let response = http
                    .request(hyper_request(base_url, wire, job)?)
                    .await
                    .map_err(|err| err.to_string())?;
                let status = response.status().as_u16();
                let _ = response.into_body().collect().await;
                match status {
                    204 => Ok(()),
                    other => Err(format!("raw hyper: status {other}")),
                }
            }
        }
    }
}

/// Sends `jobs` one after another; the time it took.
pub async fn sequential(sender: &Sender, jobs: &[Job]) -> Result<Duration, String> {
    let started = Instant::now();
    for job in jobs {
        sender.send(job).await?;
    }
    Ok(started.elapsed())
}

/// Sends `jobs` from `concurrency` tasks that each take the next job until none is left; the time it took.
pub async fn concurrent(sender: Arc<Sender>, jobs: Arc<Vec<Job>>, concurrency: usize) -> Result<Duration, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (sender, jobs, next) = (sender.clone(), jobs.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else {
                        return Ok::<(), String>(());
                    };
                    sender.send(job).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|err| err.to_string())??;
    }
    Ok(started.elapsed())
}
