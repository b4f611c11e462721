//! Credentials come from the environment only: flags would put secrets in shell history and `ps` output. The
//! variables and their checks are the library's ([`Credentials::from_env`]); this adds the flags' terms.

use etoro_client::{CredentialKind, Credentials, Error};

use crate::options::AuthKind;

/// Picks the credentials from the environment (`--auth` chooses when both kinds are set), or explains what is
/// missing. The message names variables, never their values.
pub fn from_env(auth: Option<AuthKind>) -> Result<Credentials, String> {
    let kind = auth.map(|auth| match auth {
        AuthKind::Keys => CredentialKind::Keys,
        AuthKind::Bearer => CredentialKind::Bearer,
    });
    Credentials::from_env(kind).map_err(|err| match err {
        Error::InvalidConfig { rule, .. } => {
            format!(
                "{rule} (credentials come from the environment; --auth keys|bearer picks a kind; --mock needs none)"
            )
        }
        other => other.to_string(),
    })
}
