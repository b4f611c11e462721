//! Credentials come from the environment only: flags would put secrets in shell history and `ps` output.

use etoro_client::Credentials;

use crate::args::AuthKind;

/// The variables read, by name.
pub const API_KEY: &str = "ETORO_API_KEY";
/// See [`API_KEY`].
pub const USER_KEY: &str = "ETORO_USER_KEY";
/// See [`API_KEY`].
pub const ACCESS_TOKEN: &str = "ETORO_ACCESS_TOKEN";

/// Reads one variable of the environment: `Ok(None)` when unset or empty, an error naming it when its value is not
/// UTF-8 (never treated as unset: that would blame the wrong variable).
pub fn read_env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{name} is not valid UTF-8: credentials are visible ASCII characters"
        )),
    }
}

/// Picks the credentials from `var` (the environment, in production), or explains what is missing.
/// The message names variables, never their values.
pub fn from_env(
    auth: Option<AuthKind>,
    var: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<Credentials, String> {
    let var = |name: &str| Ok::<_, String>(var(name)?.filter(|value| !value.is_empty()));
    let (api_key, user_key, token) = (var(API_KEY)?, var(USER_KEY)?, var(ACCESS_TOKEN)?);
    let keys = || match (&api_key, &user_key) {
        (Some(api_key), Some(user_key)) => Ok(Credentials::api_keys(api_key.clone(), user_key.clone())),
        (Some(_), None) => Err(format!(
            "{API_KEY} is set but {USER_KEY} is not: the key pair needs both"
        )),
        (None, Some(_)) => Err(format!(
            "{USER_KEY} is set but {API_KEY} is not: the key pair needs both"
        )),
        (None, None) => Err(format!("--auth keys needs {API_KEY} and {USER_KEY}")),
    };
    let bearer = || {
        token
            .clone()
            .map(Credentials::bearer)
            .ok_or_else(|| format!("--auth bearer needs {ACCESS_TOKEN}"))
    };
    match auth {
        Some(AuthKind::Keys) => keys(),
        Some(AuthKind::Bearer) => bearer(),
        None => match (api_key.is_some() || user_key.is_some(), token.is_some()) {
            (true, true) => Err(format!(
                "both {API_KEY}/{USER_KEY} and {ACCESS_TOKEN} are set: pick one with --auth keys|bearer \
                 (eToro refuses a request that carries both)"
            )),
            (true, false) => keys(),
            (false, true) => bearer(),
            (false, false) => Err(format!(
                "no credentials: set {API_KEY} and {USER_KEY}, or {ACCESS_TOKEN} (or use --mock)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<Option<String>, String> + 'a {
        move |name| Ok(pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn picks_the_kind_that_is_set() {
        let keys = from_env(None, env(&[(API_KEY, "a"), (USER_KEY, "u")])).unwrap();
        assert_eq!(keys.kind(), "api-keys");
        let bearer = from_env(None, env(&[(ACCESS_TOKEN, "t")])).unwrap();
        assert_eq!(bearer.kind(), "bearer");
    }

    #[test]
    fn both_kinds_need_a_choice() {
        let both = [(API_KEY, "a"), (USER_KEY, "u"), (ACCESS_TOKEN, "t")];
        assert!(from_env(None, env(&both)).unwrap_err().contains("--auth"));
        assert_eq!(from_env(Some(AuthKind::Bearer), env(&both)).unwrap().kind(), "bearer");
        assert_eq!(from_env(Some(AuthKind::Keys), env(&both)).unwrap().kind(), "api-keys");
    }

    #[test]
    fn missing_or_half_credentials_are_explained_without_values() {
        assert!(from_env(None, env(&[])).unwrap_err().contains("no credentials"));
        let half = from_env(None, env(&[(API_KEY, "secret-value")])).unwrap_err();
        assert!(half.contains(USER_KEY) && !half.contains("secret-value"));
        assert!(
            from_env(None, env(&[(API_KEY, ""), (USER_KEY, "")])).is_err(),
            "empty means unset"
        );
        assert!(from_env(Some(AuthKind::Bearer), env(&[(API_KEY, "a"), (USER_KEY, "u")])).is_err());
    }
}
