//! The two values of a user token that the generated types carry through hand-written types: its name, checked
//! by plain character tests, and its secret, which never reaches `Debug`, `Display` or a log.
//!
//! `cargo xtask regen` tells progenitor to use these in place of the spec's `UserTokenName` and `UserTokenSecret`
//! (see `xtask/src/codegen.rs`), so even the generated `CreateUserTokenResponse` cannot print a secret.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::checked_text::checked_text;

/// A user token's name: 1 to 100 characters, no control characters, no whitespace at either end (the spec's
/// `UserTokenName`). eToro keeps names unique within an agent-portfolio (409 `UserKeyNameAlreadyExists`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TokenName(String);

/// Why a string is not a [`TokenName`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTokenName {
    /// The name is empty.
    #[error("must not be empty")]
    Empty,
    /// The name is longer than [`TokenName::MAX_CHARS`] characters.
    #[error("must be at most 100 characters (got {0})")]
    TooLong(usize),
    /// The name holds a control character.
    #[error("must not contain control characters")]
    Control,
    /// The name starts or ends with whitespace.
    #[error("must not start or end with whitespace")]
    Padded,
}

checked_text!(
    TokenName,
    InvalidTokenName,
    what: "user token name",
    schema: "UserTokenName",
    schemars::schema::StringValidation {
        min_length: Some(1),
        max_length: Some(TokenName::MAX_CHARS as u32),
        pattern: Some(r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$".to_owned()),
    }
);

impl TokenName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Checks `name` without keeping it.
    pub fn check(name: &str) -> Result<(), InvalidTokenName> {
        if name.is_empty() {
            return Err(InvalidTokenName::Empty);
        }
        let chars = name.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(InvalidTokenName::TooLong(chars));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidTokenName::Control);
        }
        if name.trim() != name {
            return Err(InvalidTokenName::Padded);
        }
        Ok(())
    }
}

/// A user token's secret (`userToken`), as the create call returns it, once.
///
/// It lives in a [`SecretString`](crate::secrecy::SecretString): `Debug` prints `[REDACTED]`, there is no
/// `Display`, and the only way to the text is
/// [`ExposeSecret::expose_secret`](crate::secrecy::ExposeSecret::expose_secret), which makes every use visible in
/// review. `Serialize` writes the
/// secret itself, because that is the wire format of the answer; nothing in this crate serializes it.
#[derive(Clone)]
pub struct TokenSecret(SecretString);

impl TokenSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        TokenSecret(SecretString::from(secret.into()))
    }

    /// Why this secret cannot be stored and used as it is: empty, or holding a control character (a secret
    /// travels in an HTTP header, where neither works, and printing one could drive the terminal). `None` when it
    /// is usable. The reason never quotes the secret.
    pub fn unusable(&self) -> Option<&'static str> {
        let secret = self.expose_secret();
        if secret.is_empty() {
            Some("eToro returned an empty secret")
        } else if secret.chars().any(char::is_control) {
            Some("eToro returned a secret holding control characters, which no header can carry")
        } else {
            None
        }
    }
}

impl ExposeSecret<str> for TokenSecret {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<TokenSecret> for SecretString {
    fn from(secret: TokenSecret) -> Self {
        secret.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Compares the secrets (the generated types derive `PartialEq`; tests compare answers as values).
impl PartialEq for TokenSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl serde::Serialize for TokenSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose_secret())
    }
}

impl<'de> serde::Deserialize<'de> for TokenSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TokenSecret::new)
    }
}

/// The same schema as the spec's `UserTokenSecret`.
impl schemars::JsonSchema for TokenSecret {
    fn schema_name() -> String {
        "UserTokenSecret".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            format: Some("password".to_owned()),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert_eq!(TokenName::new("trading bot 1").unwrap().as_str(), "trading bot 1");
        assert_eq!(TokenName::new(""), Err(InvalidTokenName::Empty));
        assert_eq!(TokenName::new(" a"), Err(InvalidTokenName::Padded));
        assert_eq!(TokenName::new("a\u{a0}"), Err(InvalidTokenName::Padded));
        assert_eq!(TokenName::new("a\nb"), Err(InvalidTokenName::Control));
        assert_eq!(TokenName::new("a\u{85}b"), Err(InvalidTokenName::Control));
        assert_eq!(TokenName::new("é".repeat(100)).unwrap().as_str().chars().count(), 100);
        assert_eq!(TokenName::new("é".repeat(101)), Err(InvalidTokenName::TooLong(101)));
        assert!(serde_json::from_str::<TokenName>("\" x\"").is_err());
    }

    #[test]
    fn a_secret_never_prints() {
        let secret: TokenSecret = serde_json::from_str("\"sk-live-123\"").unwrap();
        assert_eq!(format!("{secret:?}"), "[REDACTED]");
        assert_eq!(secret.expose_secret(), "sk-live-123");
        assert_eq!(secret.unusable(), None);
        assert!(TokenSecret::new("").unusable().is_some());
        assert!(TokenSecret::new("ab\u{1b}[2J").unusable().is_some());
        assert!(TokenSecret::new("ab\ncd").unusable().is_some());
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"sk-live-123\"");
    }
}
