//! Shared helpers: a copied checkout, the built binary, documents derived from the committed snapshot, and a tiny
//! HTTP server on 127.0.0.1.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;

use serde_json::{json, Value};
use xtask::upstream::snapshot::SNAPSHOT_PATH;

pub const V1_PATH: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
pub const V2_PATH: &str = "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
pub const V1_CREATE_PATH: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens";
pub const LIST_PATH: &str = "/api/v1/agent-portfolios";

/// A temporary checkout with copies of the client's spec and the snapshot, and an `xtask/` directory for
/// `CARGO_MANIFEST_DIR` to name.
pub fn tree() -> tempfile::TempDir {
    let root = xtask::workspace_root();
    let dir = tempfile::tempdir().unwrap();
    for file in [xtask::codegen::SPEC_PATH, SNAPSHOT_PATH] {
        let target = dir.path().join(file);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(root.join(file), target).unwrap();
    }
    fs::create_dir_all(dir.path().join("xtask")).unwrap();
    dir
}

/// The committed snapshot.
pub fn snapshot() -> Value {
    serde_json::from_slice(&fs::read(xtask::workspace_root().join(SNAPSHOT_PATH)).unwrap()).unwrap()
}

/// Writes `document` as JSON into `dir` and returns its path.
pub fn write(dir: &Path, name: &str, document: &Value) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_vec_pretty(document).unwrap()).unwrap();
    path
}

/// Runs the built `cargo xtask upstream <args>` on `tree`.
pub fn upstream(tree: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("upstream")
        .args(args)
        .env("CARGO_MANIFEST_DIR", tree.join("xtask"))
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `upstream diff --json` on `document`: the exit status and the parsed report.
pub fn diff_json(tree: &Path, document: &Value) -> (i32, Value) {
    let path = write(tree, "newer.json", document);
    let output = upstream(tree, &["diff", path.to_str().unwrap(), "--json"]);
    let code = output.status.code().unwrap();
    let report = serde_json::from_str(stdout(&output).trim())
        .unwrap_or_else(|err| panic!("{err}: stdout {:?}, stderr {:?}", stdout(&output), stderr(&output)));
    (code, report)
}

/// The report's changes of `severity`, as (operation, kind) pairs.
pub fn changes_of(report: &Value, severity: &str) -> Vec<(String, String)> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["severity"] == severity)
        .map(|change| {
            (
                change["operation"].as_str().unwrap().to_owned(),
                change["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The messages of every change on `operation`.
pub fn messages_on(report: &Value, operation: &str) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["operation"] == operation)
        .map(|change| {
            format!(
                "{}: {}",
                change["severity"].as_str().unwrap(),
                change["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// Renames a component schema everywhere (its definition and every reference to it).
pub fn rename_schema(document: &Value, from: &str, to: &str) -> Value {
    let text = document.to_string().replace(
        &format!("\"#/components/schemas/{from}\""),
        &format!("\"#/components/schemas/{to}\""),
    );
    let mut renamed: Value = serde_json::from_str(&text).unwrap();
    let schemas = renamed["components"]["schemas"].as_object_mut().unwrap();
    let definition = schemas.remove(from).unwrap();
    schemas.insert(to.to_owned(), definition);
    renamed
}

/// Every (path, method, operation) of `document`, mutably.
pub fn for_each_operation(document: &mut Value, mut f: impl FnMut(&str, &str, &mut Value)) {
    for (path, item) in document["paths"].as_object_mut().unwrap() {
        for (method, operation) in item.as_object_mut().unwrap() {
            f(path, method, operation);
        }
    }
}

/// The snapshot with what eToro's v1.279.0 changed (`upstream-changes.md`): per-operation OAuth2 security on the
/// v2 PATCH and the v1 create-token operation, `RateLimit-*` headers on every success and 429 (with
/// `Retry-After`), a 429 on every operation, the error schema renamed with the same shape, and new error codes
/// (which live in examples, i.e. prose).
pub fn v1_279(snapshot: &Value) -> Value {
    let mut document = rename_schema(snapshot, "ErrorResponse", "AgentPortfolioApi_ErrorResponse");
    document["info"]["version"] = json!("v1.279.0");
    document["components"]["securitySchemes"] = json!({"OAuth2": {"type": "oauth2", "flows": {"authorizationCode": {
        "authorizationUrl": "/oauth2/authorize", "tokenUrl": "/oauth2/token",
        "scopes": {"etoro-public:real:write": "Test text.", "etoro-public:agent-portfolio:write": "Test text."}}}}});
    document["paths"][V2_PATH]["patch"]["security"] = json!([{"OAuth2": ["etoro-public:agent-portfolio:write"]}]);
    document["paths"][V1_CREATE_PATH]["post"]["security"] =
        json!([{"OAuth2": ["etoro-public:real:write"]}, {"OAuth2": ["etoro-public:agent-portfolio:write"]}]);
    let rate_limit = json!({
        "RateLimit-Limit": {"schema": {"type": "integer"}},
        "RateLimit-Remaining": {"schema": {"type": "integer"}},
        "RateLimit-Reset": {"schema": {"type": "integer"}},
        "RateLimit-Policy": {"schema": {"type": "string"}},
    });
    for_each_operation(&mut document, |_, _, operation| {
        let responses = operation["responses"].as_object_mut().unwrap();
        responses.entry("429").or_insert_with(|| {
            json!({"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentPortfolioApi_ErrorResponse"}}}})
        });
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2') || status == "429" {
                let mut headers = rate_limit.clone();
                if status == "429" {
                    headers["Retry-After"] = json!({"schema": {"type": "integer"}});
                }
                response["headers"] = headers;
            }
        }
    });
    for (status, code) in [
        ("400", "IpsWhitelistInvalidIp"),
        ("409", "UserKeyNameAlreadyExists"),
        ("429", "MaxUserTokensExceeded"),
    ] {
        document["paths"][V1_CREATE_PATH]["post"]["responses"][status]["content"]["application/json"]["examples"] =
            json!({ code: {"value": {"errorCode": code, "errorMessage": "test"}} });
    }
    document
}

/// The snapshot with what eToro's v1.355.0 no longer lists: the v1 create operations and the v1 PATCH, and their
/// request schemas.
pub fn v1_355_removals(snapshot: &Value) -> Value {
    let mut document = snapshot.clone();
    document["info"]["version"] = json!("v1.355.0");
    let paths = document["paths"].as_object_mut().unwrap();
    paths[LIST_PATH].as_object_mut().unwrap().remove("post");
    paths.remove(V1_CREATE_PATH);
    paths[V1_PATH].as_object_mut().unwrap().remove("patch");
    let schemas = document["components"]["schemas"].as_object_mut().unwrap();
    for gone in [
        "CreateAgentPortfolioRequest",
        "CreateUserTokenRequest",
        "UpdateUserTokenRequest",
    ] {
        schemas.remove(gone).unwrap();
    }
    document
}

/// A one-operation page: `method path` of `document`, with the components it needs.
pub fn page(document: &Value, path: &str, method: &str) -> Value {
    let mut page = document.clone();
    page["paths"] = json!({ path: { method: document["paths"][path][method].clone() } });
    page
}

/// Serves each of `responses` (raw HTTP) to one connection in turn on 127.0.0.1; returns the base URL.
pub fn serve(responses: Vec<Vec<u8>>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream.write_all(&response);
        }
    });
    (url, handle)
}

/// A raw `200 OK` response carrying `body`.
pub fn ok_response(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

/// An operation as the report names it: `METHOD /path`.
pub fn op(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

/// Asserts that the command exited with `code` and said `says` on stderr.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32, says: &str) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{message}");
    assert!(message.contains(says), "{message}");
}
