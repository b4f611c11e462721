//! What the CLI's tests share. Here: the test token, the test credentials, the binary with a clean environment
//! holding them, reading its output, and starting a mock. Beside it: `bulk` (input files, journals, a scripted
//! HTTP server) and `tokens` (a closed-world mock and a recording proxy in front of it, for the token commands).

pub mod bulk;
pub mod tokens;

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use etoro_mock::{MockConfig, MockServer};
use uuid::Uuid;

/// The README's agent-portfolio and token.
pub const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
pub const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
/// The credentials every test run gets; no output may ever show them.
pub const API_KEY: &str = "cli-test-api-key-71c2";
pub const USER_KEY: &str = "cli-test-user-key-0be9";

/// The binary with a clean environment holding the test credentials, killed after a minute.
pub fn etoro_token() -> Command {
    let mut cmd = Command::cargo_bin("etoro-token").unwrap();
    cmd.env_clear()
        .env("ETORO_API_KEY", API_KEY)
        .env("ETORO_USER_KEY", USER_KEY)
        .timeout(Duration::from_secs(60));
    cmd
}

/// `COMMAND --base-url URL --portfolio P --token T`: a command on the test token.
pub fn test_token_args<'a>(command: &'a str, base_url: &'a str) -> [&'a str; 7] {
    [
        command,
        "--base-url",
        base_url,
        "--portfolio",
        PORTFOLIO,
        "--token",
        TOKEN,
    ]
}

/// `etoro-token COMMAND --base-url URL --portfolio P --token T` plus `extra`, for the test token.
pub fn on_test_token(command: &str, base_url: &str, extra: &[&str]) -> Command {
    let mut cmd = etoro_token();
    cmd.args(test_token_args(command, base_url)).args(extra);
    cmd
}

/// A mock eToro on 127.0.0.1 with `config`.
pub async fn mock(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails when a credential appears on stdout or stderr.
pub fn assert_no_secret(output: &Output) {
    for text in [stdout(output), stderr(output)] {
        assert!(
            !text.contains(API_KEY) && !text.contains(USER_KEY),
            "secret in output: {text}"
        );
    }
}

/// The methods `server` received, in order.
pub fn methods(server: &MockServer) -> Vec<String> {
    server.requests().iter().map(|request| request.method.clone()).collect()
}

/// The tokens `server` received a PATCH for, in order.
pub fn patched_tokens(server: &MockServer) -> Vec<Uuid> {
    server
        .requests()
        .iter()
        .filter(|request| request.method == "PATCH")
        .map(|request| request.path.rsplit('/').next().unwrap().parse().unwrap())
        .collect()
}
