//! Reading an eToro document from a file or a URL: within the size cap, JSON or YAML, and checked to be an
//! OpenAPI 3.0 document before anything else looks at it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::fetch::{self, Limits};
use super::text::sanitize;

/// A document that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file or URL, as it may be shown (a URL without its query string).
    pub source: String,
    /// Why it could not be used.
    pub reason: String,
}

impl InputError {
    pub(crate) fn new(source: &str, reason: impl Into<String>) -> Self {
        InputError {
            source: display_source(source),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", sanitize(&self.source), sanitize(&self.reason))
    }
}

impl std::error::Error for InputError {}

/// `source` as it may be shown in messages.
pub fn display_source(source: &str) -> String {
    if fetch::is_url(source) {
        fetch::display_url(source)
    } else {
        source.to_owned()
    }
}

/// Reads the document at `source` (a path, or a URL with `://`) and checks it is an OpenAPI 3.0 document.
pub fn load(source: &str, limits: &Limits) -> Result<Value, InputError> {
    let bytes = if fetch::is_url(source) {
        fetch::fetch(source, limits).map_err(|reason| InputError::new(source, reason))?
    } else {
        read_file(Path::new(source), limits).map_err(|reason| InputError::new(source, reason))?
    };
    parse(&bytes).map_err(|reason| InputError::new(source, reason))
}

fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|err| format!("cannot read the file: {err}"))?;
    let metadata = file.metadata().map_err(|err| format!("cannot read the file: {err}"))?;
    if metadata.is_dir() {
        return Err("is a directory, not a document".to_owned());
    }
    let mut bytes = Vec::new();
    // `take` keeps a growing file (or a device) from being read without end.
    file.take(limits.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read the file: {err}"))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(format!(
            "the document is larger than the {} MiB limit",
            limits.max_bytes / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// Parses `bytes` as JSON (when it starts with `{`) or YAML, then checks the OpenAPI basics.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|err| format!("not UTF-8 text (invalid byte at offset {})", err.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("the document is empty".to_owned());
    }
    let document: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|err| format!("not valid JSON: {err}"))?
    } else {
        if flow_depth_exceeds(text, MAX_YAML_NESTING) {
            return Err(format!("not valid YAML: nested deeper than {MAX_YAML_NESTING} levels"));
        }
        serde_norway::from_str(text).map_err(|err| format!("not valid YAML (or JSON): {err}"))?
    };
    check_openapi(&document)?;
    Ok(document)
}

/// serde_norway's own recursion limit. Its scanner (libyaml's) does work proportional to the nesting depth for
/// every token, so a document of 100,000 nested `[` takes minutes to be refused; counting first refuses it at once.
const MAX_YAML_NESTING: usize = 128;

/// Whether YAML flow collections (`[`, `{`) nest deeper than `limit`, outside quoted scalars and comments. An
/// unbalanced bracket inside a plain scalar counts too, which only makes the check stricter than the parser.
fn flow_depth_exceeds(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    let mut previous = '\n';
    while let Some(c) = chars.next() {
        match c {
            '#' if previous.is_whitespace() => {
                // A comment runs to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                previous = '\n';
                continue;
            }
            '"' | '\'' if previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':') => {
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' if c == '"' => {
                            chars.next();
                        }
                        '\'' if c == '\'' && chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        inner if inner == c => break,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    false
}

/// The basics every later step relies on, each failure naming the field and the rule.
pub fn check_openapi(document: &Value) -> Result<(), String> {
    let root = document
        .as_object()
        .ok_or("the document is not an object (expected an OpenAPI document)")?;
    match root.get("openapi") {
        Some(Value::String(version)) if version.starts_with("3.0.") => {}
        Some(Value::String(version)) => {
            return Err(format!(
                "`openapi` is {version:?}: only OpenAPI 3.0.x documents are read"
            ));
        }
        Some(_) => return Err("`openapi` must be a string such as \"3.0.1\"".to_owned()),
        None => return Err("`openapi` is missing: not an OpenAPI 3.0 document".to_owned()),
    }
    match root.get("info").and_then(|info| info.get("version")) {
        Some(Value::String(version)) if !version.trim().is_empty() => {}
        _ => return Err("`info.version` must be a non-empty string (the release the document describes)".to_owned()),
    }
    let paths = root
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("`paths` must be an object")?;
    for (path, item) in paths {
        if !path.starts_with('/') {
            return Err(format!("`paths` key {path:?} must start with '/'"));
        }
        let item = item
            .as_object()
            .ok_or_else(|| format!("`paths.{path}` must be an object"))?;
        if item.contains_key("$ref") {
            return Err(format!(
                "`paths.{path}` is a $ref: path-item references are not supported"
            ));
        }
        for method in super::normalize::METHODS {
            if let Some(operation) = item.get(*method) {
                if !operation.is_object() {
                    return Err(format!("`paths.{path}.{method}` must be an object"));
                }
            }
        }
    }
    if let Some(components) = root.get("components") {
        if !components.is_object() {
            return Err("`components` must be an object".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_give_the_same_value() {
        let json = br#"{"openapi": "3.0.1", "info": {"version": "v1"}, "paths": {"/a": {"get": {"responses": {"200": {"description": ""}}}}}}"#;
        let yaml = b"openapi: 3.0.1\ninfo:\n  version: v1\npaths:\n  /a:\n    get:\n      responses:\n        200:\n          description: ''\n";
        assert_eq!(parse(json).unwrap(), parse(yaml).unwrap());
    }

    #[test]
    fn each_rule_is_named() {
        for (input, expected) in [
            (&b""[..], "empty"),
            (b"\xff\xfe", "UTF-8"),
            (b"{", "not valid JSON"),
            (b"[1]", "not an object"),
            (b"key: [unclosed", "not valid YAML"),
            (b"{}", "`openapi` is missing"),
            (br#"{"openapi": "3.1.0"}"#, "only OpenAPI 3.0.x"),
            (br#"{"openapi": 3}"#, "must be a string"),
            (br#"{"openapi": "3.0.1", "info": {}}"#, "`info.version`"),
            (
                br#"{"openapi": "3.0.1", "info": {"version": "v1"}}"#,
                "`paths` must be an object",
            ),
            (
                br#"{"openapi": "3.0.1", "info": {"version": "v1"}, "paths": {"a": {}}}"#,
                "must start with '/'",
            ),
            (
                br#"{"openapi": "3.0.1", "info": {"version": "v1"}, "paths": {"/a": {"get": 1}}}"#,
                "`paths./a.get` must be an object",
            ),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(expected), "{:?}: {err}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn yaml_alias_bombs_are_refused_quickly() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let prev = level - 1;
            bomb.push_str(&format!(
                "l{level}: &l{level} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                p = if prev == 0 { "a".to_owned() } else { format!("l{prev}") }
            ));
        }
        let started = std::time::Instant::now();
        assert!(parse(bomb.as_bytes()).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn deep_nesting_is_refused_at_once_not_after_minutes() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        let err = parse(format!("{{\"a\": {deep}}}").as_bytes()).unwrap_err();
        assert!(err.contains("recursion limit"), "{err}");
        let err = parse(format!("a: {deep}").as_bytes()).unwrap_err();
        assert!(err.contains("nested deeper than 128"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_nesting_count_skips_quotes_and_comments() {
        let brackets = "[".repeat(200);
        assert!(!flow_depth_exceeds(
            &format!("a: '{brackets}'\nb: \"{brackets}\\\"\"\nc: x # {brackets}\n"),
            128
        ));
        assert!(!flow_depth_exceeds(
            &format!("a: 'it''s {brackets}'\nd: eToro's [x]\n"),
            128
        ));
        assert!(flow_depth_exceeds(&format!("a: {brackets}"), 128));
    }
}
