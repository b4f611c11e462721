//! `etoro_client::rotation` against the mock (closed world, as eToro): a crash at every point where the state is
//! saved, then a rerun, ends with exactly one new token whose secret is in the file and the old token revoked,
//! or stops naming the token it will not touch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use etoro_client::rotation::{
    BoxError, Claim, FileSecretSink, FileStateStore, Reservation, Rotated, Rotation, RotationError, RotationState,
    SecretSink, StateStore, Step,
};
use etoro_client::secrecy::ExposeSecret;
use etoro_client::{Client, CreatedToken, Uuid};
use etoro_mock::{MockConfig, MockServer, Portfolio, Token};
use tempfile::TempDir;
use tokio::sync::Notify;

use crate::support::{start_mock, PORTFOLIO, TOKEN};

const NEW_NAME: &str = "readme-token-rotated-9b2d3c4e";

struct World1 {
    server: MockServer,
    client: Client,
    dir: TempDir,
    /// Every secret handed to a sink, by token.
    secrets: Arc<Mutex<HashMap<Uuid, String>>>,
}

async fn world(portfolios: Vec<Portfolio>) -> World1 {
    let config = MockConfig {
        portfolios,
        ..MockConfig::example()
    };
    let server = start_mock(config).await;
    let client = Client::builder()
        .base_url(server.base_url())
        .api_keys("k", "u")
        .build()
        .unwrap();
    World1 {
        server,
        client,
        dir: tempfile::tempdir().unwrap(),
        secrets: Arc::default(),
    }
}

fn ids() -> (Uuid, Uuid) {
    (PORTFOLIO.parse().unwrap(), TOKEN.parse().unwrap())
}

impl World1 {
    fn secret_path(&self) -> PathBuf {
        self.dir.path().join("bot.secret")
    }

    fn stores(&self) -> (FileStateStore, Recording<FileSecretSink>) {
        let (portfolio, token) = ids();
        let store = FileStateStore::in_dir(&self.dir.path().join("state"), portfolio, token).unwrap();
        let sink = Recording {
            inner: FileSecretSink::new(&self.secret_path()).unwrap(),
            secrets: self.secrets.clone(),
        };
        (store, sink)
    }

    async fn rotate(&self, rotation: Rotation<'_>) -> Result<Rotated, RotationError> {
        let (mut store, mut sink) = self.stores();
        rotation.rotate(&mut store, &mut sink).await
    }

    /// Runs a whole rotation of the README's token with its state at `path`; returns the store, still held.
    async fn rotated_with_state_at(&self, path: &Path) -> FileStateStore {
        let (portfolio, token) = ids();
        let mut store = FileStateStore::at(path).unwrap();
        let mut sink = FileSecretSink::new(&self.secret_path()).unwrap();
        Rotation::new(&self.client, portfolio, token)
            .rotate(&mut store, &mut sink)
            .await
            .unwrap();
        store
    }

    /// Why planning a rotation of the README's portfolio's `token` with `store` fails.
    async fn plan_err(&self, token: Uuid, store: &mut FileStateStore) -> RotationError {
        let (portfolio, _) = ids();
        Rotation::new(&self.client, portfolio, token)
            .plan(store)
            .await
            .expect_err("planning fails")
    }

    fn tokens(&self) -> Vec<Token> {
        let (portfolio, _) = ids();
        self.server
            .portfolios()
            .into_iter()
            .find(|p| p.id == portfolio)
            .map(|p| p.tokens)
            .unwrap_or_default()
    }

    fn creates(&self) -> usize {
        self.server.requests().iter().filter(|r| r.method == "POST").count()
    }

    /// Exactly one token is left: the new one, whose secret is in the file; the old token is gone.
    fn assert_rotated(&self, rotated: &Rotated) {
        let tokens = self.tokens();
        assert_eq!(tokens.len(), 1, "{tokens:?}");
        assert_eq!((tokens[0].id, tokens[0].name.as_str()), (rotated.new_token, NEW_NAME));
        let stored = std::fs::read_to_string(self.secret_path()).unwrap();
        assert_eq!(self.secrets.lock().unwrap().get(&rotated.new_token), Some(&stored));
        let lock = self
            .dir
            .path()
            .join("state")
            .join(format!("{}.lock", FileStateStore::file_name(ids().0, ids().1)));
        assert!(!lock.exists(), "no lock file is left");
    }
}

/// A sink that remembers every secret it was given (to check which token's secret the file holds).
struct Recording<S> {
    inner: S,
    secrets: Arc<Mutex<HashMap<Uuid, String>>>,
}

impl<S: SecretSink> SecretSink for Recording<S> {
    async fn reserve(&mut self, claim: Claim<'_>) -> Result<Reservation, BoxError> {
        self.inner.reserve(claim).await
    }
    async fn store(&mut self, token: &CreatedToken) -> Result<(), BoxError> {
        let secret = token.secret.expose_secret().to_owned();
        self.secrets.lock().unwrap().insert(token.id, secret);
        self.inner.store(token).await
    }
    async fn may_hold_secret(&mut self) -> Result<bool, BoxError> {
        self.inner.may_hold_secret().await
    }
    async fn clear(&mut self) -> Result<(), BoxError> {
        self.inner.clear().await
    }
    async fn release(&mut self) -> Result<(), BoxError> {
        self.inner.release().await
    }
}

/// A store whose `save` number `at` (from 1) never returns, before or after it is written: the process dies
/// there. The test then drops the rotation's future, as `kill -9` would end it.
struct Crashing {
    inner: FileStateStore,
    saves: usize,
    at: usize,
    after_write: bool,
    crashed: Arc<Notify>,
}

impl StateStore for Crashing {
    async fn load(&mut self) -> Result<Option<RotationState>, BoxError> {
        self.inner.load().await
    }
    async fn save(&mut self, state: &RotationState) -> Result<(), BoxError> {
        self.saves += 1;
        if self.saves == self.at {
            if self.after_write {
                self.inner.save(state).await?;
            }
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.save(state).await
    }
    async fn remove(&mut self) -> Result<(), BoxError> {
        self.inner.remove().await
    }
}

#[tokio::test]
async fn a_rotation_replaces_the_token_and_a_rerun_sends_nothing() {
    let w = world(vec![Portfolio::example()]).await;
    let (portfolio, token) = ids();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let rotation = Rotation::new(&w.client, portfolio, token).on_event(move |e| seen.lock().unwrap().push(e.clone()));
    let rotated = w.rotate(rotation).await.unwrap();
    w.assert_rotated(&rotated);
    assert!(!rotated.already_done && !rotated.old_already_gone && rotated.revoke_request_id.is_some());
    assert_eq!(events.lock().unwrap().len(), 3, "creating, created, stored: {events:?}");

    let sent = w.server.request_count();
    let again = w.rotate(Rotation::new(&w.client, portfolio, token)).await.unwrap();
    assert!(again.already_done);
    assert_eq!(again.new_token, rotated.new_token);
    assert_eq!(w.server.request_count(), sent, "a finished rotation sends nothing");
}

#[tokio::test]
async fn a_crash_at_every_save_then_a_rerun_ends_rotated_or_names_the_token_it_leaves() {
    // The saves of an undisturbed rotation: planned, planned with the secret file, createSent, created,
    // secretStored, done.
    for at in 1..=6 {
        for after_write in [false, true] {
            let w = world(vec![Portfolio::example()]).await;
            let (portfolio, token) = ids();
            let crashed = Arc::new(Notify::new());
            {
                let (inner, mut sink) = w.stores();
                let mut store = Crashing {
                    inner,
                    saves: 0,
                    at,
                    after_write,
                    crashed: crashed.clone(),
                };
                let rotation = Rotation::new(&w.client, portfolio, token);
                tokio::select! {
                    result = rotation.rotate(&mut store, &mut sink) => panic!("save {at} did not crash: {result:?}"),
                    () = crashed.notified() => {}
                }
            }
            let case = format!("crash at save {at}, after writing it: {after_write}");
            let rerun = w.rotate(Rotation::new(&w.client, portfolio, token)).await;
            // Killed after the secret was written but before that was recorded: the file holds a secret someone
            // may have read, so the new token is left alone until named.
            if at == 5 && !after_write {
                let err = rerun.unwrap_err();
                let held = err.undecided_token().unwrap_or_else(|| panic!("{case}: {err}"));
                assert!(matches!(err, RotationError::SecretMayBeHeld { .. }), "{case}: {err}");
                assert_eq!(w.tokens().len(), 2, "{case}: nothing revoked");
                let rotated = w
                    .rotate(Rotation::new(&w.client, portfolio, token).discard_orphan(held))
                    .await
                    .unwrap();
                w.assert_rotated(&rotated);
                assert_ne!(rotated.new_token, held);
                continue;
            }
            let rotated = rerun.unwrap_or_else(|err| panic!("{case}: {err}"));
            w.assert_rotated(&rotated);
            let expected_creates = match (at, after_write) {
                // Stopped before the create was sent: one create in all.
                (1..=3, _) => 1,
                // The create was made, its secret never stored (or the token never recorded): revoked, one more.
                (4, _) => 2,
                _ => 1,
            };
            assert_eq!(w.creates(), expected_creates, "{case}");
            if at == 6 {
                assert_eq!(rotated.already_done, after_write, "{case}");
            }
        }
    }
}

#[tokio::test]
async fn a_leftover_without_state_is_an_orphan_left_alone_until_named() {
    let orphan = Uuid::new_v4();
    let portfolio =
        Portfolio::example().token(Token::new(orphan, NEW_NAME).scope_names(["etoro-public:trade.real:read"]));
    let w = world(vec![portfolio]).await;
    let (portfolio, token) = ids();
    let err = w.rotate(Rotation::new(&w.client, portfolio, token)).await.unwrap_err();
    assert_eq!(err.undecided_token(), Some(orphan), "{err}");
    assert!(matches!(err, RotationError::Orphan { .. }));
    assert_eq!(w.tokens().len(), 2, "nothing revoked");
    assert!(!w.secret_path().exists(), "nothing reserved");
    assert!(w.server.requests().iter().all(|r| r.method == "GET"));

    let rotated = w
        .rotate(Rotation::new(&w.client, portfolio, token).discard_orphan(orphan))
        .await
        .unwrap();
    w.assert_rotated(&rotated);
}

#[tokio::test]
async fn an_old_token_already_gone_finishes_the_rotation() {
    let w = world(vec![Portfolio::example()]).await;
    let (portfolio, token) = ids();
    // Killed after the old token's revoke was sent, before "done" was recorded (the answer lost, say).
    {
        let (inner, mut sink) = w.stores();
        let crashed = Arc::new(Notify::new());
        let mut store = Crashing {
            inner,
            saves: 0,
            at: 6,
            after_write: false,
            crashed: crashed.clone(),
        };
        let rotation = Rotation::new(&w.client, portfolio, token);
        tokio::select! {
            _ = rotation.rotate(&mut store, &mut sink) => panic!("no crash"),
            () = crashed.notified() => {}
        }
    }
    // The state says "secret stored"; the revoke happened: the rerun meets 404, and that finishes it.
    let rotated = w.rotate(Rotation::new(&w.client, portfolio, token)).await.unwrap();
    assert!(rotated.old_already_gone && rotated.revoke_request_id.is_none());
    w.assert_rotated(&rotated);
}

#[tokio::test]
async fn a_404_on_the_old_tokens_revoke_is_a_finished_rotation_not_a_loop() {
    let (portfolio, token) = ids();
    let config = MockConfig {
        missing: [token].into_iter().collect(),
        ..MockConfig::example()
    };
    let server = start_mock(config).await;
    let mut w = world(vec![]).await;
    w.client = Client::builder()
        .base_url(server.base_url())
        .api_keys("k", "u")
        .build()
        .unwrap();
    let rotated = w.rotate(Rotation::new(&w.client, portfolio, token)).await.unwrap();
    assert!(rotated.old_already_gone, "{rotated:?}");
    let sent = server.request_count();
    let again = w.rotate(Rotation::new(&w.client, portfolio, token)).await.unwrap();
    assert!(again.already_done);
    assert_eq!(server.request_count(), sent, "done: the rerun sends nothing");
}

#[tokio::test]
async fn the_state_of_another_rotation_and_hostile_state_files_are_refused() {
    let w = world(vec![Portfolio::example()]).await;
    let (_, token) = ids();
    let path = w.dir.path().join("state.json");
    {
        let _held = w.rotated_with_state_at(&path).await;
        // While one run holds it, another is refused at once.
        assert!(FileStateStore::at(&path).unwrap_err().to_string().contains("in use"));
    }
    let mut store = FileStateStore::at(&path).unwrap();
    let other = Uuid::new_v4();
    let err = w.plan_err(other, &mut store).await;
    assert!(matches!(err, RotationError::OtherRotation { .. }), "{err}");
    drop(store);

    #[cfg(unix)]
    {
        let link = w.dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let mut store = FileStateStore::at(&link).unwrap();
        let err = w.plan_err(token, &mut store).await;
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let big = w.dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 100_000]).unwrap();
        let mut store = FileStateStore::at(&big).unwrap();
        let err = w.plan_err(token, &mut store).await;
        assert!(err.to_string().contains("larger"), "{err}");
    }
}

#[tokio::test]
async fn a_secret_that_cannot_be_stored_revokes_the_new_token_and_leaves_the_old_one() {
    struct Failing;
    impl SecretSink for Failing {
        async fn reserve(&mut self, _: Claim<'_>) -> Result<Reservation, BoxError> {
            Ok(Reservation {
                place: "nowhere".to_owned(),
                identity: None,
            })
        }
        async fn store(&mut self, _: &CreatedToken) -> Result<(), BoxError> {
            Err("the vault is down".into())
        }
    }
    let w = world(vec![Portfolio::example()]).await;
    let (portfolio, token) = ids();
    let (mut store, _) = w.stores();
    let err = Rotation::new(&w.client, portfolio, token)
        .rotate(&mut store, &mut Failing)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RotationError::SecretNotStored { unusable: false, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("the vault is down"), "{err}");
    let left: Vec<Uuid> = w.tokens().iter().map(|t| t.id).collect();
    assert_eq!(left, [token], "the new token is revoked, the old one untouched");
    let state = store.read().unwrap().unwrap();
    assert_eq!(state.step, Step::Planned);
}

#[test]
fn a_rotation_future_can_be_spawned() {
    fn is_send<T: Send>(_: &T) {}
    let client = Client::builder().api_keys("k", "u").build().unwrap();
    let (portfolio, token) = ids();
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileStateStore::in_dir(dir.path(), portfolio, token).unwrap();
    let mut sink = FileSecretSink::new(&dir.path().join("s")).unwrap();
    let future = Rotation::new(&client, portfolio, token).rotate(&mut store, &mut sink);
    is_send(&future);
}

#[tokio::test]
async fn a_create_surely_not_sent_keeps_the_rotation_for_a_rerun() {
    use wiremock::matchers::method;
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    let listing = serde_json::json!({"agentPortfolios": [{"agentPortfolioId": PORTFOLIO, "userTokens": [
        {"userTokenId": TOKEN, "userTokenName": "bot", "scopeNames": ["etoro-public:trade.real:read"]}]}]});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing))
        .mount(&server)
        .await;
    // A rate limit far past the call's deadline: the create is never sent.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3600")
                .set_body_json(serde_json::json!({"errorCode": "TooManyRequests"})),
        )
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .api_keys("k", "u")
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (portfolio, token) = ids();
    let mut store = FileStateStore::in_dir(dir.path(), portfolio, token).unwrap();
    let mut sink = FileSecretSink::new(&dir.path().join("s")).unwrap();
    let err = Rotation::new(&client, portfolio, token)
        .rotate(&mut store, &mut sink)
        .await
        .unwrap_err();
    let RotationError::Call { error, .. } = &err else {
        panic!("{err}")
    };
    assert!(error.is_safe_to_retry() && !error.outcome_unknown(), "{err}");
    let state = store.read().unwrap().expect("the rotation is kept");
    assert!(matches!(state.step, Step::CreateSent { .. }), "{state:?}");
    assert!(dir.path().join("s").exists(), "the secret file stays reserved");
}

#[cfg(unix)]
#[tokio::test]
async fn a_state_others_may_write_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let w = world(vec![Portfolio::example()]).await;
    let (_, token) = ids();
    let path = w.dir.path().join("state.json");
    drop(w.rotated_with_state_at(&path).await);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut store = FileStateStore::at(&path).unwrap();
    let sent = w.server.request_count();
    let err = w.plan_err(token, &mut store).await;
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert_eq!(w.server.request_count(), sent, "nothing was sent");
}
