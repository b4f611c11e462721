//! The scope names eToro documents today.
//!
//! They are a convenience, not a whitelist: any well-formed name is accepted and the server decides what is
//! allowed (eToro's own text uses both the `trade.real` and the older `real` forms).

/// Read the real-money trading account.
pub const TRADE_REAL_READ: &str = "etoro-public:trade.real:read";
/// Trade on the real-money account.
pub const TRADE_REAL_WRITE: &str = "etoro-public:trade.real:write";
/// Read the demo trading account.
pub const TRADE_DEMO_READ: &str = "etoro-public:trade.demo:read";
/// Trade on the demo account.
pub const TRADE_DEMO_WRITE: &str = "etoro-public:trade.demo:write";

/// Older form of [`TRADE_REAL_READ`] that still appears in eToro's descriptions (scope id 200).
pub const REAL_READ: &str = "etoro-public:real:read";
/// Older form of [`TRADE_DEMO_READ`] (scope id 201).
pub const DEMO_READ: &str = "etoro-public:demo:read";
/// Older form of [`TRADE_REAL_WRITE`] (scope id 202).
pub const REAL_WRITE: &str = "etoro-public:real:write";
/// Older form of [`TRADE_DEMO_WRITE`] (scope id 203).
pub const DEMO_WRITE: &str = "etoro-public:demo:write";

use crate::checked_text::checked_text;

/// A well-formed scope name: not empty, no whitespace (Unicode's, and U+FEFF), no control characters (the spec's
/// `ScopeName`, read strictly).
///
/// The generated types use this type in place of the one typify would generate from the spec's pattern
/// (`cargo xtask regen` is told to), so the rule is checked in one place, by plain character tests, with an error
/// that names it. Whether a well-formed name is *allowed* is the server's call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ScopeName(String);

/// Why a string is not a [`ScopeName`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScopeName {
    /// The name is empty.
    #[error("must not be empty")]
    Empty,
    /// The name holds whitespace or a control character.
    #[error("must not contain whitespace or control characters (got {0:?})")]
    Whitespace(String),
}

checked_text!(
    ScopeName,
    InvalidScopeName,
    what: "scope name",
    schema: "ScopeName",
    schemars::schema::StringValidation {
        min_length: Some(1),
        pattern: Some(r"^[^\s\x00-\x1f\x7f]+$".to_owned()),
        ..Default::default()
    }
);

impl ScopeName {
    /// Checks `name` without keeping it.
    pub fn check(name: &str) -> Result<(), InvalidScopeName> {
        if name.is_empty() {
            return Err(InvalidScopeName::Empty);
        }
        // Unicode whitespace (what Rust's regex engines read `\s` as), U+FEFF (which JavaScript's `\s`, and so
        // Prism, adds), and every control character: the spec's pattern under either reading, and C1 controls.
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}')
        {
            return Err(InvalidScopeName::Whitespace(name.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_names_only() {
        assert_eq!(ScopeName::new(TRADE_REAL_READ).unwrap().as_str(), TRADE_REAL_READ);
        assert_eq!(ScopeName::new(""), Err(InvalidScopeName::Empty));
        for bad in [
            "a b",
            "a\tb",
            "a\nb",
            "\u{0}",
            "a\u{7f}",
            "a\u{85}b",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{feff}b",
        ] {
            assert!(ScopeName::new(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<ScopeName>("\"a b\"").is_err());
        assert_eq!(
            serde_json::to_string(&ScopeName::new("x:y").unwrap()).unwrap(),
            "\"x:y\""
        );
    }
}
