//! `etoro-token rotate`: interrupted at each crash point (kill -9 while a request is held) and run again, from the
//! same directory or another, it ends with exactly one new token whose secret was stored, and the old token
//! revoked, or stops (exit 3) naming the token it will not touch; the secret appears nowhere but where it was
//! sent. The library's own tests (`tests/tests/it/rotation.rs`) crash it at every save of its state.

mod recovery;
mod rules;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use crate::support::tokens::*;
use chrono::{Duration, Utc};
use etoro_mock::{MockServer, Portfolio, Token};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

/// The README token's default new name.
const NEW_NAME: &str = "readme-token-rotated-9b2d3c4e";

const SECRET_FILE: &str = "bot.secret";

struct Setup {
    dir: TempDir,
    log: PathBuf,
    server: MockServer,
    proxy: Proxy,
    /// Every run's output, to search for secrets at the end.
    outputs: Vec<Output>,
}

async fn setup(portfolios: Vec<Portfolio>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mock.log");
    let server = mock(portfolios, Some(log.clone())).await;
    let proxy = Proxy::start(server.addr()).await;
    Setup {
        dir,
        log,
        server,
        proxy,
        outputs: Vec::new(),
    }
}

impl Setup {
    /// The binary, run in `dir`, with this test's state directory (`XDG_STATE_HOME`).
    fn command(&self, dir: &std::path::Path) -> tokio::process::Command {
        let mut cmd = etoro_token(dir);
        cmd.env("XDG_STATE_HOME", self.path("xdg"));
        cmd
    }

    /// Where the rotation's state is by default.
    fn state_path(&self) -> PathBuf {
        self.path("xdg")
            .join("etoro-token/rotations")
            .join(format!("rotation-{PORTFOLIO}-{TOKEN}.json"))
    }

    /// `rotate --yes` of the README token through the proxy, plus `extra`.
    fn rotate(&self, extra: &[&str]) -> tokio::process::Command {
        self.rotate_in(self.dir.path(), extra)
    }

    /// The same, run in `dir`.
    fn rotate_in(&self, dir: &std::path::Path, extra: &[&str]) -> tokio::process::Command {
        self.rotate_token_in(dir, TOKEN, extra)
    }

    /// `rotate --yes` of another token of the README agent-portfolio, run in `dir`, plus `extra`.
    fn rotate_token_in(&self, dir: &std::path::Path, token: &str, extra: &[&str]) -> tokio::process::Command {
        let mut cmd = self.command(dir);
        cmd.args(["rotate", "--base-url", &self.proxy.base_url(), "--portfolio", PORTFOLIO])
            .args(["--token", token, "--yes"])
            .args(extra);
        cmd
    }

    /// Runs `rotate` to the end and keeps its output.
    async fn run(&mut self, extra: &[&str]) -> Output {
        let output = run(&mut self.rotate(extra)).await;
        self.outputs.push(output.clone());
        output
    }

    /// Starts `rotate`, waits until the proxy holds `held` requests, and kills it there.
    async fn kill_when_held(&mut self, extra: &[&str], held: usize) -> Output {
        let mut child = self.rotate(extra).spawn().unwrap();
        self.proxy.until_held(held).await;
        child.start_kill().unwrap();
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.status.code(), None, "killed by a signal: {}", stderr(&output));
        self.outputs.push(output.clone());
        output
    }

    /// Holds the first request matching `method` and `path` with `action`, kills the run there (writing the
    /// secret to the secret file), and returns the step its state recorded.
    async fn killed_at(&mut self, method: &'static str, path: &'static str, action: Action) -> String {
        self.proxy.on(method, path, action, 1);
        self.kill_when_held(&["--secret-file", SECRET_FILE], 1).await;
        self.state()["step"]["name"].as_str().unwrap_or_default().to_owned()
    }

    /// Runs rotate with the secret file and `extra`, and checks it exits 0.
    async fn run_to_file(&mut self, extra: &[&str]) -> Output {
        let args: Vec<&str> = ["--secret-file", SECRET_FILE].iter().chain(extra).copied().collect();
        let output = self.run(&args).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        output
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The rotation's state, as recorded by default.
    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }

    /// Nothing but the state file is left in the state directory (no lock file, no temporary file).
    fn assert_only_the_state_is_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.state_path().parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, [self.state_path().file_name().unwrap()], "{left:?}");
    }

    /// The end every rotation must reach: the old token gone, exactly one token of the new name holding the old
    /// one's scopes, `stored` its secret, and every other token this rotation created revoked.
    fn assert_rotated(&self, stored: &str) -> Uuid {
        let tokens = tokens(&self.server);
        assert!(
            !tokens.iter().any(|t| t.id == token_id()),
            "the old token is revoked: {tokens:?}"
        );
        assert_eq!(tokens.len(), 1, "exactly one token is left: {tokens:?}");
        let new = &tokens[0];
        assert_eq!(new.name, NEW_NAME);
        assert_eq!(
            new.scope_names.as_deref(),
            Portfolio::example().tokens[0].scope_names.as_deref()
        );
        assert_eq!(
            self.proxy.secret_of(new.id).as_deref(),
            Some(stored),
            "what was stored is the secret of the token that is left"
        );
        new.id
    }

    /// No secret in any output or file, but the one stored in `secret_file` (or printed, for `stdout_holds`).
    fn assert_no_leak(&self, secret_file: Option<&str>, stdout_holds: Option<&str>) {
        let secrets = self.proxy.secrets();
        assert!(!secrets.is_empty());
        for output in &self.outputs {
            assert_absent(&secrets, &stderr(output), "stderr");
            let out = stdout(output);
            match stdout_holds {
                Some(secret) if out.contains(secret) => {
                    assert_eq!(out, format!("{secret}\n"), "the secret is alone on stdout");
                }
                _ => assert_absent(&secrets, &out, "stdout"),
            }
        }
        let except: Vec<PathBuf> = secret_file.map(|name| self.path(name)).into_iter().collect();
        assert_absent_from_files(&secrets, self.dir.path(), &except);
        assert!(std::fs::read_to_string(&self.log).unwrap().contains("user-tokens"));
    }
}

fn secret_in(setup: &Setup) -> String {
    std::fs::read_to_string(setup.path(SECRET_FILE)).unwrap()
}

impl Setup {
    fn path_exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }
}
