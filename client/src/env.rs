//! Settings from the environment, with the same variables and checks as the `etoro-token` command line:
//! `ETORO_API_KEY` + `ETORO_USER_KEY`, or `ETORO_ACCESS_TOKEN`, and `ETORO_BASE_URL`.
//!
//! Credentials belong in the environment (or a secret store), never in flags or code: flags end up in shell
//! history and `ps` output.

use crate::auth::Credentials;
use crate::client::{Client, ClientBuilder};
use crate::error::Error;

/// The variable holding the `x-api-key`.
pub const API_KEY_VAR: &str = "ETORO_API_KEY";
/// The variable holding the `x-user-key`.
pub const USER_KEY_VAR: &str = "ETORO_USER_KEY";
/// The variable holding an OAuth2 access token (`Authorization: Bearer`).
pub const ACCESS_TOKEN_VAR: &str = "ETORO_ACCESS_TOKEN";
/// The variable holding the base URL (optional; [`crate::DEFAULT_BASE_URL`] without it).
pub const BASE_URL_VAR: &str = "ETORO_BASE_URL";

/// Which kind of credentials to take when the environment holds both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `ETORO_API_KEY` + `ETORO_USER_KEY`.
    Keys,
    /// `ETORO_ACCESS_TOKEN`.
    Bearer,
}

impl Credentials {
    /// Reads the credentials from the environment: the key pair (`ETORO_API_KEY` and `ETORO_USER_KEY`) or a
    /// bearer token (`ETORO_ACCESS_TOKEN`). An empty variable counts as unset. With both kinds set, `kind` must
    /// pick one (eToro refuses a request that carries both); `None` then is an error. The error
    /// ([`Error::InvalidConfig`] with the setting `environment`) names variables, never their values; a value that
    /// is not UTF-8 is an error naming its variable, never read as unset.
    pub fn from_env(kind: Option<CredentialKind>) -> Result<Credentials, Error> {
        credentials_from(kind, read_var)
    }
}

impl ClientBuilder {
    /// A builder with the credentials of [`Credentials::from_env`] (`None`: the one kind that is set) and, when
    /// `ETORO_BASE_URL` is set and not empty, that base URL. Every other setting can still be changed; `build()`
    /// checks them all.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), etoro_client::Error> {
    /// let client = etoro_client::ClientBuilder::from_env()?.build()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<ClientBuilder, Error> {
        builder_from(read_var)
    }
}

fn builder_from(var: impl Fn(&'static str) -> Result<Option<String>, Error>) -> Result<ClientBuilder, Error> {
    let credentials = credentials_from(None, &var)?;
    let mut builder = Client::builder().credentials(credentials);
    if let Some(base_url) = var(BASE_URL_VAR)? {
        builder = builder.base_url(base_url);
    }
    Ok(builder)
}

/// One variable: `None` when unset or empty.
fn read_var(name: &'static str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(invalid(format!(
            "{name} is not valid UTF-8: credentials and URLs are visible ASCII characters"
        ))),
    }
}

fn invalid(rule: String) -> Error {
    Error::InvalidConfig {
        setting: "environment",
        rule,
    }
}

fn credentials_from(
    kind: Option<CredentialKind>,
    var: impl Fn(&'static str) -> Result<Option<String>, Error>,
) -> Result<Credentials, Error> {
    let (api_key, user_key, token) = (var(API_KEY_VAR)?, var(USER_KEY_VAR)?, var(ACCESS_TOKEN_VAR)?);
    let keys = || match (&api_key, &user_key) {
        (Some(api_key), Some(user_key)) => Ok(Credentials::api_keys(api_key.clone(), user_key.clone())),
        (Some(_), None) => Err(invalid(format!(
            "{API_KEY_VAR} is set but {USER_KEY_VAR} is not: the key pair needs both"
        ))),
        (None, Some(_)) => Err(invalid(format!(
            "{USER_KEY_VAR} is set but {API_KEY_VAR} is not: the key pair needs both"
        ))),
        (None, None) => Err(invalid(format!("the key pair needs {API_KEY_VAR} and {USER_KEY_VAR}"))),
    };
    let bearer = || {
        token
            .clone()
            .map(Credentials::bearer)
            .ok_or_else(|| invalid(format!("a bearer token needs {ACCESS_TOKEN_VAR}")))
    };
    match kind {
        Some(CredentialKind::Keys) => keys(),
        Some(CredentialKind::Bearer) => bearer(),
        None => match (api_key.is_some() || user_key.is_some(), token.is_some()) {
            (true, true) => Err(invalid(format!(
                "both {API_KEY_VAR}/{USER_KEY_VAR} and {ACCESS_TOKEN_VAR} are set: pick one kind (eToro refuses a \
                 request that carries both)"
            ))),
            (true, false) => keys(),
            (false, true) => bearer(),
            (false, false) => Err(invalid(format!(
                "no credentials: set {API_KEY_VAR} and {USER_KEY_VAR}, or {ACCESS_TOKEN_VAR}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&'static str) -> Result<Option<String>, Error> + 'a {
        move |name| {
            Ok(pairs
                .iter()
                .find(|(k, v)| *k == name && !v.is_empty())
                .map(|(_, v)| v.to_string()))
        }
    }

    fn rule(err: Error) -> String {
        match err {
            Error::InvalidConfig { setting, rule } => {
                assert_eq!(setting, "environment");
                rule
            }
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn picks_the_kind_that_is_set() {
        let keys = credentials_from(None, env(&[(API_KEY_VAR, "a"), (USER_KEY_VAR, "u")])).unwrap();
        assert_eq!(keys.kind(), "api-keys");
        let bearer = credentials_from(None, env(&[(ACCESS_TOKEN_VAR, "t")])).unwrap();
        assert_eq!(bearer.kind(), "bearer");
    }

    #[test]
    fn both_kinds_need_a_choice() {
        let both = [(API_KEY_VAR, "a"), (USER_KEY_VAR, "u"), (ACCESS_TOKEN_VAR, "t")];
        assert!(rule(credentials_from(None, env(&both)).unwrap_err()).contains("pick one"));
        let bearer = credentials_from(Some(CredentialKind::Bearer), env(&both)).unwrap();
        assert_eq!(bearer.kind(), "bearer");
        let keys = credentials_from(Some(CredentialKind::Keys), env(&both)).unwrap();
        assert_eq!(keys.kind(), "api-keys");
    }

    #[test]
    fn missing_or_half_credentials_are_explained_without_values() {
        assert!(rule(credentials_from(None, env(&[])).unwrap_err()).contains("no credentials"));
        let half = rule(credentials_from(None, env(&[(API_KEY_VAR, "secret-value")])).unwrap_err());
        assert!(half.contains(USER_KEY_VAR) && !half.contains("secret-value"), "{half}");
        let empty = credentials_from(None, env(&[(API_KEY_VAR, ""), (USER_KEY_VAR, "")])).unwrap_err();
        assert!(rule(empty).contains("no credentials"), "empty means unset");
        let keys_only = [(API_KEY_VAR, "a"), (USER_KEY_VAR, "u")];
        assert!(credentials_from(Some(CredentialKind::Bearer), env(&keys_only)).is_err());
    }

    #[test]
    fn the_base_url_comes_along_and_is_checked_at_build() {
        let client = builder_from(env(&[(ACCESS_TOKEN_VAR, "t"), (BASE_URL_VAR, "http://127.0.0.1:9")]))
            .unwrap()
            .build()
            .unwrap();
        assert!(client.targets_loopback());
        let default = builder_from(env(&[(ACCESS_TOKEN_VAR, "t")])).unwrap().build().unwrap();
        assert!(!default.targets_loopback());
        let plain = builder_from(env(&[(ACCESS_TOKEN_VAR, "t"), (BASE_URL_VAR, "http://example.com")]))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(plain.to_string().contains("base_url"), "{plain}");
        // A bad key is refused at build, naming the header, not the value.
        let bad = builder_from(env(&[(API_KEY_VAR, "a b"), (USER_KEY_VAR, "u")]))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            bad.to_string().contains("x-api-key") && !bad.to_string().contains("a b"),
            "{bad}"
        );
    }
}
