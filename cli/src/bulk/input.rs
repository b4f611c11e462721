//! The bulk input: one JSON object a line, with `portfolio`, `token` and the API's own body fields (`scopeNames`,
//! `scopeIds`, `ipsWhitelist`, `expiresAt`) or `expiresIn` (the rules of `--expires-in`), plus whatever extra fields the command reading it takes (`apply`:
//! `validFor`).
//!
//! Each line stands alone: a line that is not UTF-8, not JSON, longer than [`MAX_LINE_BYTES`], or that repeats a
//! key or names an unknown field is one invalid line, and the others are still read. Only a short prefix of an
//! invalid line ([`ECHO_CHARS`] characters) is ever echoed.

use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use etoro_client::{types, ApiVersion, TokenUpdate};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::lines::{BoundedLines, Line};
use crate::options::parse_duration;

/// The longest line read; a longer one is invalid (and read no further).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How much of an invalid line is echoed, in characters.
pub const ECHO_CHARS: usize = 80;

/// How much of an invalid value is echoed, in characters.
pub const ECHO_VALUE_CHARS: usize = 40;

/// A valid line: the ids, the body in the API's own type, the extra fields asked for, and the line as given.
#[derive(Debug)]
pub struct InputLine {
    /// The line's number in the file, from 1.
    pub number: u64,
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The user token.
    pub token: Uuid,
    /// The body fields, read by the generated type (which refuses unknown fields).
    pub body: types::UpdateUserTokenRequest,
    /// `expiresIn` ("30d"): the token expires this long after the line is read (the rules of `--expires-in`; not
    /// with `expiresAt`).
    pub expires_in: Option<Duration>,
    /// The extra fields the caller asked for, when present. (`update` asks for none; `apply` reads `validFor`.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub extra: Map<String, Value>,
    /// The line as given, verbatim.
    pub input: Box<RawValue>,
}

/// A line that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// The line's number in the file, from 1.
    pub number: u64,
    /// What is wrong, naming the field or the rule.
    pub message: String,
    /// The first [`ECHO_CHARS`] characters of the line (decoded lossily), for a line whose form is wrong (not
    /// UTF-8, not JSON, too long); `None` when the message names the field at fault.
    pub prefix: Option<String>,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: invalid: {}", self.number, self.message)?;
        if let Some(prefix) = &self.prefix {
            write!(f, " (the line starts with {prefix:?})")?;
        }
        Ok(())
    }
}

/// The input, buffered: what is buffered tells the reader whether the next line is at hand
/// ([`io::BufReader::buffer`]).
pub type Input = io::BufReader<Box<dyn io::Read + Send>>;

/// Opens the input: a file, or standard input for `-` (either may be read on another thread).
pub fn open(path: &Path) -> io::Result<Input> {
    let source: Box<dyn io::Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    Ok(io::BufReader::with_capacity(64 * 1024, source))
}

/// Reads every line of `reader`: blank lines are skipped, each other line is valid or invalid on its own.
/// `extra` names the fields besides the ids and the body that the caller takes. Fails only when reading fails.
pub fn read(reader: impl BufRead, extra: &[&str]) -> io::Result<Vec<Result<InputLine, InvalidLine>>> {
    let mut parsed = Vec::new();
    for line in BoundedLines::new(reader, MAX_LINE_BYTES) {
        let line = line?;
        if is_blank(&line) {
            continue;
        }
        parsed.push(parse(&line, extra));
    }
    Ok(parsed)
}

/// A blank line (spaces only) is no line: skipped, keeping the numbering.
pub fn is_blank(line: &Line) -> bool {
    !line.overflow && line.bytes.iter().all(u8::is_ascii_whitespace)
}

/// Reads one line.
pub fn parse(line: &Line, extra: &[&str]) -> Result<InputLine, InvalidLine> {
    let invalid = |message: String, prefix: Option<String>| InvalidLine {
        number: line.number,
        message,
        prefix,
    };
    let prefix = || Some(prefix(&line.bytes));
    if line.overflow {
        return Err(invalid(format!("longer than {} KiB", MAX_LINE_BYTES / 1024), prefix()));
    }
    let Ok(text) = std::str::from_utf8(&line.bytes) else {
        return Err(invalid("not UTF-8 text".to_owned(), prefix()));
    };
    // A byte-order mark, which some editors put at the start of a file, is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
    let input: Box<RawValue> = RawValue::from_string(text.to_owned())
        .map_err(|err| invalid(format!("not JSON: {}", without_position(&err)), prefix()))?;
    let UniqueObject(mut fields) = serde_json::from_str(text).map_err(|err| {
        let shown = without_position(&err);
        // A duplicate key is about the content; any other error here is about the form.
        let prefix = if shown.starts_with("duplicate key") {
            None
        } else {
            prefix()
        };
        invalid(shown, prefix)
    })?;
    let mut id = |field: &str| -> Result<Uuid, InvalidLine> {
        match fields.remove(field) {
            Some(Value::String(text)) => text
                .parse()
                .map_err(|_| invalid(format!("{field}: {} is not a UUID", shown(&Value::String(text))), None)),
            Some(other) => Err(invalid(
                format!("{field}: must be a UUID string (given {})", shown(&other)),
                None,
            )),
            None => Err(invalid(format!("{field}: missing"), None)),
        }
    };
    let (portfolio, token) = (id("portfolio")?, id("token")?);
    let expires_in = match fields.remove("expiresIn") {
        None => None,
        Some(_) if fields.contains_key("expiresAt") => {
            return Err(invalid(
                "expiresAt, expiresIn: give one of them, not both".to_owned(),
                None,
            ));
        }
        Some(value) => Some(duration_field("expiresIn", &value).map_err(|message| invalid(message, None))?),
    };
    let extra: Map<String, Value> = extra
        .iter()
        .filter_map(|name| fields.remove(*name).map(|value| ((*name).to_owned(), value)))
        .collect();
    // The generated type refuses unknown fields (a misspelled name would otherwise be dropped silently), bad
    // IPv4s, bad dates and malformed scope names. (`#[serde(flatten)]` would skip that refusal, hence the map.)
    let body = read_body(fields).map_err(|message| invalid(message, None))?;
    Ok(InputLine {
        number: line.number,
        portfolio,
        token,
        body,
        expires_in,
        extra,
        input,
    })
}

/// A duration field (`expiresIn`, `validFor`): a string with `--expires-in`'s rules ("30d", "12h", "90m", a plain
/// number of seconds; longer than zero). The error names the field and echoes the value.
pub fn duration_field(name: &str, value: &Value) -> Result<Duration, String> {
    match value {
        Value::String(text) => parse_duration(text).map_err(|err| format!("{name}: {err} (given {})", shown(value))),
        other => Err(format!(
            "{name}: must be a duration string such as \"30d\" (given {})",
            shown(other)
        )),
    }
}

/// An invalid value as JSON text, cut at [`ECHO_VALUE_CHARS`] characters (its control characters are escaped when
/// printed).
pub fn shown(value: &Value) -> String {
    let text = value.to_string();
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(ECHO_VALUE_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

impl InputLine {
    /// The update the line asks for, checked by the same rules as the flags (and, for v2, without scope ids).
    pub fn update(&self, version: ApiVersion) -> Result<TokenUpdate, String> {
        // "FIELD: RULE": the line's own report adds "(not sent)".
        let named = |err: etoro_client::InvalidInput| format!("{}: {}", err.field, err.rule);
        let mut update = TokenUpdate::try_from(self.body.clone()).map_err(named)?;
        if let Some(after) = self.expires_in {
            update = update.expires_in(after);
        }
        match version {
            ApiVersion::V2 => update.to_request_v2(Utc::now()).map(drop),
            _ => update.validate(Utc::now()),
        }
        .map_err(named)?;
        Ok(update)
    }

    /// The body in one canonical form (the generated type serialized: fields in a fixed order, no whitespace,
    /// dates in UTC), so that two lines asking for the same change have the same key whatever their layout.
    /// With `expiresIn`, the key holds it (in seconds) rather than the instant it comes to, which differs on every
    /// run: the same line is the same line in the journal.
    pub fn canonical_body(&self) -> Box<RawValue> {
        let Some(after) = self.expires_in else {
            return serde_json::value::to_raw_value(&self.body).expect("the generated body always serializes");
        };
        let mut body = serde_json::to_value(&self.body).expect("the generated body always serializes");
        if let Value::Object(fields) = &mut body {
            fields.insert("expiresIn".to_owned(), Value::from(after.as_secs()));
        }
        serde_json::value::to_raw_value(&body).expect("a JSON value always serializes")
    }
}

/// The body fields as the generated type, or what is wrong, naming the field.
fn read_body(fields: Map<String, Value>) -> Result<types::UpdateUserTokenRequest, String> {
    serde_json::from_value(Value::Object(fields.clone())).map_err(|err| {
        // serde_json does not say which field a value error is about ("invalid IPv4 address syntax"): find the
        // first field that fails on its own, and name it.
        fields
            .into_iter()
            .find_map(|(name, value)| {
                let fails = |value: &Value| {
                    let alone = Map::from_iter([(name.clone(), value.clone())]);
                    serde_json::from_value::<types::UpdateUserTokenRequest>(Value::Object(alone)).err()
                };
                let err = fails(&value).filter(|_| !err.to_string().contains(&format!("`{name}`")))?;
                // Of a list, the first item that fails on its own is the one to show.
                let culprit = match &value {
                    Value::Array(items) => items
                        .iter()
                        .find(|item| fails(&Value::Array(vec![(*item).clone()])).is_some()),
                    _ => None,
                };
                Some(format!("{name}: {err} (given {})", shown(culprit.unwrap_or(&value))))
            })
            .unwrap_or_else(|| err.to_string())
    })
}

/// The first [`ECHO_CHARS`] characters of `bytes`, decoded lossily.
fn prefix(bytes: &[u8]) -> String {
    // Four bytes a character at most: no need to decode more.
    let head = &bytes[..bytes.len().min(ECHO_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut chars = text.chars();
    let mut shown: String = chars.by_ref().take(ECHO_CHARS).collect();
    if chars.next().is_some() || head.len() < bytes.len() {
        shown.push('…');
    }
    shown
}

/// serde_json's message without "at line 1 column N" (every line is line 1 to it; the file's line number is
/// given separately), keeping the column.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) if err.column() > 0 => format!("{message} (column {})", err.column()),
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// A JSON object whose keys must be unique (serde_json would keep the last of two, silently).
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                let mut fields = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if fields.contains_key(&key) {
                        return Err(A::Error::custom(format_args!("duplicate key {key:?}")));
                    }
                    let value = map.next_value()?;
                    fields.insert(key, value);
                }
                Ok(UniqueObject(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    const T: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";

    fn read_all(text: &[u8]) -> Vec<Result<InputLine, InvalidLine>> {
        read(text, &[]).unwrap()
    }

    fn invalid(text: &[u8]) -> InvalidLine {
        read_all(text).pop().unwrap().unwrap_err()
    }

    #[test]
    fn a_valid_line_gives_ids_body_and_the_input_verbatim() {
        let text = format!(r#"  {{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["203.0.113.7"]}}  "#);
        let line = read_all(text.as_bytes()).pop().unwrap().unwrap();
        assert_eq!(
            (line.portfolio.to_string(), line.token.to_string()),
            (P.to_owned(), T.to_owned())
        );
        assert_eq!(line.input.get(), text.trim());
        assert_eq!(line.canonical_body().get(), r#"{"ipsWhitelist":["203.0.113.7"]}"#);
        assert!(line.update(ApiVersion::V1).is_ok());
    }

    #[test]
    fn key_order_whitespace_and_time_zones_do_not_change_the_canonical_body() {
        let a = format!(
            r#"{{"portfolio":"{P}","token":"{T}","scopeNames":["a:b"],"expiresAt":"2099-01-01T02:00:00+02:00"}}"#
        );
        let b = format!(
            r#"{{ "expiresAt" : "2099-01-01T00:00:00Z", "token": "{T}", "scopeNames": [ "a:b" ], "portfolio": "{P}" }}"#
        );
        let bodies: Vec<String> = read_all(format!("{a}\n{b}\n").as_bytes())
            .into_iter()
            .map(|line| line.unwrap().canonical_body().get().to_owned())
            .collect();
        assert_eq!(bodies[0], bodies[1]);
    }

    #[test]
    fn a_duplicate_key_is_invalid_and_named() {
        let text = format!(
            r#"{{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["1.2.3.4"], "ipsWhitelist": ["5.6.7.8"]}}"#
        );
        let err = invalid(format!("\n{text}").as_bytes());
        assert_eq!(err.number, 2);
        assert!(err.message.contains("duplicate key \"ipsWhitelist\""), "{err}");
        assert!(err.to_string().starts_with("line 2: invalid: duplicate key"), "{err}");
        let ids = invalid(format!(r#"{{"portfolio": "{P}", "portfolio": "{P}", "token": "{T}"}}"#).as_bytes());
        assert!(ids.message.contains("duplicate key \"portfolio\""), "{ids}");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_invalid_line_and_the_next_is_read() {
        let good = format!(r#"{{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["1.2.3.4"]}}"#);
        let mut text = b"{\"portfolio\": \"\xff\xfe\"}\n".to_vec();
        text.extend_from_slice(good.as_bytes());
        let lines = read_all(&text);
        assert_eq!(lines.len(), 2);
        let err = lines[0].as_ref().unwrap_err();
        assert_eq!(err.message, "not UTF-8 text");
        assert!(err.prefix.as_deref().unwrap().contains('\u{fffd}'));
        assert!(lines[1].is_ok());
    }

    #[test]
    fn a_line_over_64_kib_is_invalid_and_only_its_prefix_is_kept() {
        let mut text = b"{\"portfolio\": \"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        text.extend_from_slice(b"\"}\n");
        let err = invalid(&text);
        assert!(err.message.contains("longer than 64 KiB"), "{err}");
        let prefix = err.prefix.unwrap();
        assert_eq!(prefix.chars().count(), ECHO_CHARS + 1, "80 characters and an ellipsis");
        assert!(prefix.starts_with("{\"portfolio\": \"xxx") && prefix.ends_with('…'));
    }

    #[test]
    fn form_errors_echo_a_prefix_and_field_errors_name_the_field() {
        let broken = invalid(b"{ broken json");
        assert!(
            broken.message.starts_with("not JSON") && !broken.message.contains("line 1"),
            "{broken}"
        );
        assert_eq!(broken.prefix.as_deref(), Some("{ broken json"));
        let array = invalid(b"[1, 2]");
        assert!(array.message.contains("a JSON object"), "{array}");
        for (text, says) in [
            (
                format!(r#"{{"token": "{T}", "ipsWhitelist": ["1.2.3.4"]}}"#),
                "portfolio: missing",
            ),
            (
                format!(r#"{{"portfolio": 7, "token": "{T}"}}"#),
                "portfolio: must be a UUID string",
            ),
            (
                format!(r#"{{"portfolio": "{P}", "token": "nope"}}"#),
                "token: \"nope\" is not a UUID",
            ),
            (
                format!(r#"{{"portfolio": "{P}", "token": "{T}", "scopeNamez": ["a:b"]}}"#),
                "scopeNamez",
            ),
            (
                format!(r#"{{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["1.2.3.300"]}}"#),
                "ipsWhitelist: invalid IPv4",
            ),
            (
                format!(r#"{{"portfolio": "{P}", "token": "{T}", "expiresAt": "soon"}}"#),
                "expiresAt: ",
            ),
            (
                format!(r#"{{"portfolio": "{P}", "token": "{T}", "scopeNames": ["has space"]}}"#),
                "scopeNames: ",
            ),
        ] {
            let err = invalid(text.as_bytes());
            assert!(err.message.contains(says), "{text}: {err}");
            assert_eq!(err.prefix, None, "{text}");
        }
    }

    #[test]
    fn rules_of_the_flags_apply_and_v2_refuses_scope_ids() {
        let both = format!(r#"{{"portfolio": "{P}", "token": "{T}", "scopeIds": [200], "scopeNames": ["a:b"]}}"#);
        let line = read_all(both.as_bytes()).pop().unwrap().unwrap();
        assert!(line.update(ApiVersion::V1).unwrap_err().contains("not both"));
        let ids = format!(r#"{{"portfolio": "{P}", "token": "{T}", "scopeIds": [200]}}"#);
        let line = read_all(ids.as_bytes()).pop().unwrap().unwrap();
        assert!(line.update(ApiVersion::V1).is_ok());
        assert!(line.update(ApiVersion::V2).unwrap_err().contains("scopeIds"));
        let empty = format!(r#"{{"portfolio": "{P}", "token": "{T}"}}"#);
        let line = read_all(empty.as_bytes()).pop().unwrap().unwrap();
        assert!(line.update(ApiVersion::V1).unwrap_err().contains("at least one"));
    }

    #[test]
    fn extra_fields_are_taken_only_when_asked_for() {
        let text = format!(r#"{{"portfolio": "{P}", "token": "{T}", "validFor": "30d", "ipsWhitelist": ["1.2.3.4"]}}"#);
        let err = invalid(text.as_bytes());
        assert!(
            err.message.contains("validFor"),
            "an unknown field without the extra: {err}"
        );
        let line = read(text.as_bytes(), &["validFor"]).unwrap().pop().unwrap().unwrap();
        assert_eq!(line.extra.get("validFor"), Some(&Value::String("30d".into())));
    }

    #[test]
    fn expires_in_follows_the_expires_in_rules_and_keeps_one_key() {
        let text = format!(r#"{{"portfolio": "{P}", "token": "{T}", "expiresIn": "30d"}}"#);
        let line = read_all(text.as_bytes()).pop().unwrap().unwrap();
        assert_eq!(line.expires_in, Some(Duration::from_secs(30 * 86_400)));
        let update = line.update(ApiVersion::V1).unwrap();
        let at = update.expiry().unwrap();
        let expected = Utc::now() + chrono::Duration::days(30);
        assert!((expected - at).num_seconds().abs() < 60, "{at}");
        assert_eq!(
            line.canonical_body().get(),
            r#"{"expiresIn":2592000}"#,
            "the key does not move with time"
        );
        let plain = format!(r#"{{"portfolio": "{P}", "token": "{T}", "expiresIn": "3600"}}"#);
        let line = read_all(plain.as_bytes()).pop().unwrap().unwrap();
        assert_eq!(
            line.expires_in,
            Some(Duration::from_secs(3600)),
            "a plain number is seconds"
        );

        for (fields, says) in [
            (
                r#""expiresIn": "30d", "expiresAt": "2099-01-01T00:00:00Z""#,
                "expiresAt, expiresIn: give one of them, not both",
            ),
            (r#""expiresIn": "soon""#, r#"expiresIn: "#),
            (r#""expiresIn": "0s""#, "must be longer than zero (given \"0s\")"),
            (
                r#""expiresIn": 30"#,
                "expiresIn: must be a duration string such as \"30d\" (given 30)",
            ),
        ] {
            let text = format!(r#"{{"portfolio": "{P}", "token": "{T}", {fields}}}"#);
            let err = invalid(text.as_bytes());
            assert!(err.message.contains(says), "{fields}: {err}");
        }
        let soon = invalid(format!(r#"{{"portfolio": "{P}", "token": "{T}", "expiresIn": "soon"}}"#).as_bytes());
        assert!(soon.message.ends_with("(given \"soon\")"), "{soon}");
    }

    #[test]
    fn an_invalid_value_is_echoed_shortened() {
        let text = format!(r#"{{"portfolio": "{P}", "token": "{T}", "ipsWhitelist": ["1.2.3.4", "1.2.3.300"]}}"#);
        let err = invalid(text.as_bytes());
        assert!(err.message.starts_with("ipsWhitelist: invalid IPv4"), "{err}");
        assert!(
            err.message.ends_with("(given \"1.2.3.300\")"),
            "the item at fault: {err}"
        );
        let long = "x".repeat(500);
        let text = format!(r#"{{"portfolio": "{P}", "token": "{long}"}}"#);
        let err = invalid(text.as_bytes());
        assert!(
            err.message.len() < 120 && err.message.contains("xxx…"),
            "shortened: {err}"
        );
        let text = format!(r#"{{"portfolio": "{P}", "token": "{T}", "expiresAt": "\u001b[2J soon"}}"#);
        let err = invalid(text.as_bytes());
        assert!(err.message.contains(r#"(given "\u001b[2J soon")"#), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_line() {
        let text = format!("\u{feff}{{\"portfolio\": \"{P}\", \"token\": \"{T}\", \"ipsWhitelist\": [\"1.2.3.4\"]}}\n");
        let line = read_all(text.as_bytes()).pop().unwrap().unwrap();
        assert!(line.input.get().starts_with('{'));
    }

    #[test]
    fn blank_lines_are_skipped_but_keep_the_numbering() {
        let text =
            format!("\n   \r\n{{\"portfolio\": \"{P}\", \"token\": \"{T}\", \"ipsWhitelist\": [\"1.2.3.4\"]}}\r\n");
        let lines = read_all(text.as_bytes());
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].as_ref().unwrap().number, 3);
    }
}
