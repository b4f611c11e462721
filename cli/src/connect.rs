//! The client a command talks through: against `--base-url` with credentials from the environment, or against an
//! embedded mock (`--mock`).

use etoro_client::{ApiVersion, Client, Credentials, Error, Pacer, RetryPolicy};

use crate::credentials;
use crate::exit::Exit;
use crate::options::Connection;

/// The embedded mock; without the `mock` feature, a type with no value.
#[cfg(feature = "mock")]
type Mock = etoro_mock::MockServer;
#[cfg(not(feature = "mock"))]
type Mock = std::convert::Infallible;

/// A connected client, and the embedded mock it talks to, kept alive as long as the client is used.
pub struct Connected {
    /// The client.
    pub client: Client,
    _mock: Option<Mock>,
}

/// Builds the client, or says why not (exit 2, or 5 when the embedded mock cannot listen). The same credential
/// checks apply to a dry run as to a real one: a dry run shows what would be sent, credentials redacted.
pub async fn connect(
    args: &Connection,
    version: ApiVersion,
    retry: RetryPolicy,
    pacer: Option<Pacer>,
) -> Result<Connected, (String, Exit)> {
    let invalid = |message: String| (message, Exit::Invalid);
    let (base_url, credentials, mock) = if args.mock {
        let (mock, credentials) = embedded_mock().await?;
        (mock_url(&mock), credentials, Some(mock))
    } else {
        let credentials = credentials::from_env(args.auth).map_err(invalid)?;
        (args.base_url.clone(), credentials, None)
    };
    let mut builder = Client::builder()
        .base_url(base_url)
        .credentials(credentials)
        .api_version(version)
        .retry(retry);
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(pacer) = pacer {
        builder = builder.pacer(pacer);
    }
    let client = builder.build().map_err(|err| invalid(config_error(&err)))?;
    Ok(Connected { client, _mock: mock })
}

/// The client of a command that makes one call at a time: the retry policy `--attempts` and `--deadline` ask for,
/// no pacer of its own. When it cannot be built, the reason is printed and the exit code returned.
pub async fn connect_for_one(args: &Connection, version: ApiVersion) -> Result<Connected, Exit> {
    let mut retry = RetryPolicy::default().max_attempts(args.attempts);
    if let Some(deadline) = args.deadline {
        retry = retry.deadline(deadline);
    }
    connect(args, version, retry, None)
        .await
        .map_err(|(message, exit)| crate::output::fail(&message, exit))
}

/// A build error in the user's terms: the environment variable rather than the header it feeds.
fn config_error(err: &Error) -> String {
    let Error::InvalidConfig { setting, rule } = err else {
        return err.to_string();
    };
    let source = match *setting {
        "x-api-key" => etoro_client::API_KEY_VAR,
        "x-user-key" => etoro_client::USER_KEY_VAR,
        "bearer token" => etoro_client::ACCESS_TOKEN_VAR,
        "base_url" => "--base-url (or ETORO_BASE_URL)",
        "timeout" => "--timeout",
        _ => return err.to_string(),
    };
    format!("{source}: {rule}")
}

#[cfg(feature = "mock")]
async fn embedded_mock() -> Result<(Mock, Credentials), (String, Exit)> {
    use etoro_mock::{MockConfig, MockServer};
    // Closed world, as eToro: only the README's portfolio and token exist.
    let mock = MockServer::start(([127, 0, 0, 1], 0).into(), MockConfig::example())
        .await
        .map_err(|err| (format!("cannot start the embedded mock: {err}"), Exit::LocalIo))?;
    // The mock accepts any credentials; real ones never need to leave the environment for it.
    Ok((mock, Credentials::api_keys("mock-api-key", "mock-user-key")))
}

#[cfg(not(feature = "mock"))]
async fn embedded_mock() -> Result<(Mock, Credentials), (String, Exit)> {
    Err((
        "--mock: this etoro-token was built without the embedded mock (cargo feature `mock`)".to_owned(),
        Exit::Invalid,
    ))
}

#[cfg(feature = "mock")]
fn mock_url(mock: &Mock) -> String {
    mock.base_url()
}

#[cfg(not(feature = "mock"))]
fn mock_url(mock: &Mock) -> String {
    match *mock {}
}
