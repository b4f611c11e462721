//! What the hand-written text types the generated code uses ([`crate::ScopeName`], [`crate::TokenName`]) share,
//! written once: a string that was checked on the way in, in every way one can be made (`new`, `parse`,
//! `try_from`, deserializing), and read back as text. Each type keeps its own rule (`check`), its own error and its
//! own schema; [`checked_text!`] writes the rest.

/// Writes, for `$name(String)` with a hand-written `fn check(&str) -> Result<(), $error>`: `new` and `as_str`;
/// `Display`, `FromStr`, `TryFrom<&str>`, `TryFrom<String>`, `AsRef<str>` and `From<$name> for String`;
/// a `Deserialize` that checks the rule (the error says `invalid $what: ..`), and a `JsonSchema` named `$schema`
/// with `$validation` as its string rules (the spec's own schema of that name).
macro_rules! checked_text {
    ($name:ident, $error:ty, what: $what:literal, schema: $schema:literal, $validation:expr) => {
        impl $name {
            /// Checks `name` and wraps it.
            pub fn new(name: impl Into<String>) -> Result<Self, $error> {
                let name = name.into();
                Self::check(&name)?;
                Ok($name(name))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $error;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                $name::new(name)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $error;

            fn try_from(name: &str) -> Result<Self, Self::Error> {
                $name::new(name)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(name: String) -> Result<Self, Self::Error> {
                $name::new(name)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Deserializing checks the rule too: a body read from a file or the wire cannot hold a malformed name.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = String::deserialize(deserializer)?;
                $name::new(name).map_err(|err| serde::de::Error::custom(format!("invalid {}: {err}", $what)))
            }
        }

        #[doc = concat!("The same schema as the spec's `", $schema, "`.")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                $schema.to_owned()
            }

            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                schemars::schema::SchemaObject {
                    instance_type: Some(schemars::schema::InstanceType::String.into()),
                    string: Some(Box::new($validation)),
                    ..Default::default()
                }
                .into()
            }
        }
    };
}

pub(crate) use checked_text;

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;

    use crate::{ScopeName, TokenName};

    #[test]
    fn every_way_in_checks_the_rule_and_every_way_out_gives_the_text() {
        assert_eq!("a:read".parse::<ScopeName>().unwrap().as_str(), "a:read");
        assert!("a b".parse::<ScopeName>().is_err());
        assert!(ScopeName::try_from("").is_err());
        assert!(TokenName::try_from(" bot".to_owned()).is_err());
        let name = TokenName::try_from("bot").unwrap();
        assert_eq!((name.to_string().as_str(), name.as_ref()), ("bot", "bot"));
        assert_eq!(String::from(name), "bot");

        let err = serde_json::from_str::<TokenName>("\"\"").unwrap_err().to_string();
        assert!(err.starts_with("invalid user token name: must not be empty"), "{err}");
        let err = serde_json::from_str::<ScopeName>("\"a b\"").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid scope name: must not contain whitespace"),
            "{err}"
        );

        assert_eq!(
            (ScopeName::schema_name(), TokenName::schema_name()),
            ("ScopeName".to_owned(), "UserTokenName".to_owned())
        );
        let schema = serde_json::to_value(schemars::schema_for!(TokenName)).unwrap();
        assert_eq!(
            (
                schema["type"].as_str(),
                schema["minLength"].as_u64(),
                schema["maxLength"].as_u64()
            ),
            (Some("string"), Some(1), Some(100))
        );
        let schema = serde_json::to_value(schemars::schema_for!(ScopeName)).unwrap();
        assert_eq!(schema["pattern"], r"^[^\s\x00-\x1f\x7f]+$");
    }
}
