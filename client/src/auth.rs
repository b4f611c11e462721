//! Credentials, and the ready-to-send header values the generated client carries as its inner value.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// How the client authenticates: eToro's key pair or an OAuth2 bearer token, never both.
///
/// eToro refuses a request that carries both kinds with 401, so a client holds exactly one. The secrets live in
/// [`SecretString`]s and never appear in `Debug` output, error messages or logs.
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

/// The authentication headers of one client, validated once and marked sensitive.
///
/// This is the generated client's inner value: the `pre` hook in [`crate::hooks`] adds these headers to every
/// request, so no call site ever handles a secret.
#[derive(Clone)]
pub struct Auth {
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl Auth {
    /// Turns credentials into header values, refusing secrets that are empty or cannot travel in a header
    /// (CR, LF and other control characters), so a bad secret is an error at build time rather than a panic or
    /// a header-injection hole at send time. The error names the header, never the value.
    pub fn new(credentials: &Credentials) -> Result<Self, Error> {
        let headers: Vec<(HeaderName, HeaderValue)> = match &credentials.0 {
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
                if token.expose_secret().trim().is_empty() {
                    return Err(invalid("bearer token", "must not be empty"));
                }
                let value = format!("Bearer {}", token.expose_secret());
                vec![(AUTHORIZATION, secret_header("Authorization", &value)?)]
            }
        };
        Ok(Auth {
            headers: headers.into(),
        })
    }

    /// The header names this client authenticates with (never their values).
    pub fn header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers.iter().map(|(name, _)| name)
    }

    pub(crate) fn apply(&self, headers: &mut reqwest::header::HeaderMap) {
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

fn secret_header(name: &'static str, secret: &str) -> Result<HeaderValue, Error> {
    if secret.trim().is_empty() {
        return Err(invalid(name, "must not be empty"));
    }
    if secret.trim() != secret {
        return Err(invalid(name, "must not start or end with whitespace"));
    }
    let mut value = HeaderValue::from_str(secret).map_err(|_| {
        invalid(
            name,
            "may only contain visible ASCII characters (no CR, LF or other control characters)",
        )
    })?;
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
