//! Credentials, and the ready-to-send header values the generated client carries as its inner value.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// How the client authenticates: eToro's key pair or an OAuth2 bearer token, never both.
///
/// eToro refuses a request that carries both kinds with 401, so a client holds exactly one. The secrets live in
/// [`SecretString`](crate::secrecy::SecretString)s and never appear in `Debug` output, error messages or logs.
/// [`Credentials::from_env`] reads them from the environment, as the command line does.
#[derive(Clone)]
pub struct Credentials(Kind);

#[derive(Clone)]
enum Kind {
    Keys {
        api_key: SecretString,
        user_key: SecretString,
    },
    Bearer(SecretString),
}

impl Credentials {
    /// The `x-api-key` + `x-user-key` pair.
    pub fn api_keys(api_key: impl Into<String>, user_key: impl Into<String>) -> Self {
        Credentials(Kind::Keys {
            api_key: SecretString::from(api_key.into()),
            user_key: SecretString::from(user_key.into()),
        })
    }

    /// An OAuth2 access token, sent as `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials(Kind::Bearer(SecretString::from(token.into())))
    }

    /// `"api-keys"` or `"bearer"`: which kind this is, safe to print.
    pub fn kind(&self) -> &'static str {
        match self.0 {
            Kind::Keys { .. } => "api-keys",
            Kind::Bearer(_) => "bearer",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Kind::Keys { .. } => f
                .debug_struct("Credentials::ApiKeys")
                .field("api_key", &"[REDACTED]")
                .field("user_key", &"[REDACTED]")
                .finish(),
            Kind::Bearer(_) => f.debug_tuple("Credentials::Bearer").field(&"[REDACTED]").finish(),
        }
    }
}

/// The headers the `pre` hook puts on every request of one client: the credentials, validated once and marked
/// sensitive, and the user agent.
///
/// This is the generated client's inner value: the `pre` hook (`hooks.rs`) adds these headers to every request,
/// so no call site ever handles a secret.
#[derive(Clone)]
pub struct Auth {
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl Auth {
    /// Turns credentials into header values, refusing secrets that are empty or hold anything but visible ASCII
    /// (no space, tab, CR, LF, control character or byte over 0x7E), so a bad secret is an error at build time
    /// rather than a panic, a header-injection hole or a silently mangled key at send time. The error names the
    /// header, never the value.
    pub fn new(credentials: &Credentials) -> Result<Self, Error> {
        Self::with_user_agent(credentials, None)
    }

    /// [`Auth::new`], plus a `User-Agent` header on every request (set here rather than as a default of the
    /// `reqwest::Client`, so that a dry run shows it and a caller's own `reqwest::Client` sends it too).
    pub(crate) fn with_user_agent(credentials: &Credentials, user_agent: Option<HeaderValue>) -> Result<Self, Error> {
        let mut headers: Vec<(HeaderName, HeaderValue)> = match &credentials.0 {
            Kind::Keys { api_key, user_key } => vec![
                (
                    HeaderName::from_static("x-api-key"),
                    secret_header("x-api-key", api_key.expose_secret())?,
                ),
                (
                    HeaderName::from_static("x-user-key"),
                    secret_header("x-user-key", user_key.expose_secret())?,
                ),
            ],
            Kind::Bearer(token) => {
                // Checked on its own, so that "Bearer  token" (a token with a leading space) is refused too.
                check_secret("bearer token", token.expose_secret())?;
                let value = format!("Bearer {}", token.expose_secret());
                vec![(AUTHORIZATION, secret_header("bearer token", &value)?)]
            }
        };
        headers.extend(user_agent.map(|value| (USER_AGENT, value)));
        Ok(Auth {
            headers: headers.into(),
        })
    }

    /// The header names this client authenticates with (never their values).
    pub fn header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers
            .iter()
            .filter(|(_, value)| value.is_sensitive())
            .map(|(name, _)| name)
    }

    pub(crate) fn apply(&self, headers: &mut reqwest::header::HeaderMap) {
        // Room for these and for the defaults reqwest merges in after: the map then grows once, not twice.
        headers.reserve(self.headers.len() + 2);
        for (name, value) in self.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.header_names().map(|name| (name.as_str(), "[REDACTED]")))
            .finish()
    }
}

/// The rule every secret follows: not empty, visible ASCII only (0x21 to 0x7E). A key with a tab, a space, a
/// non-ASCII character or a line break is a copy-and-paste accident, never a real key.
fn check_secret(name: &'static str, secret: &str) -> Result<(), Error> {
    if secret.is_empty() {
        return Err(invalid(name, "must not be empty"));
    }
    if let Some(position) = secret.bytes().position(|byte| !byte.is_ascii_graphic()) {
        let what = match secret.as_bytes()[position] {
            b' ' | b'\t' => "whitespace",
            b'\r' | b'\n' => "a line break",
            byte if byte.is_ascii_control() => "a control character",
            _ => "a non-ASCII character",
        };
        return Err(invalid(
            name,
            &format!(
                "may only contain visible ASCII characters, without spaces; it holds {what} at byte {}",
                position + 1
            ),
        ));
    }
    Ok(())
}

fn secret_header(name: &'static str, value: &str) -> Result<HeaderValue, Error> {
    if !value.starts_with("Bearer ") {
        check_secret(name, value)?;
    }
    let mut value =
        HeaderValue::from_str(value).map_err(|_| invalid(name, "may only contain visible ASCII characters"))?;
    // Keeps the value out of `Debug` output and tells HTTP/2's HPACK never to index it.
    value.set_sensitive(true);
    Ok(value)
}

fn invalid(setting: &'static str, rule: &str) -> Error {
    Error::InvalidConfig {
        setting,
        rule: rule.to_owned(),
    }
}
