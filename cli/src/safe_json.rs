//! JSON text under the one escaping rule ([`etoro_escape`]), written straight from a value: what the bulk engine
//! puts in its journal and prints with `--json`, one record a line, without building the text twice.
//!
//! serde_json already escapes C0 controls, `"` and `\` inside strings; [`SafeJson`] also escapes, inside every
//! string (keys included), what it leaves raw: DEL, C1, format characters such as bidi overrides and zero-width
//! spaces, line and paragraph separators. A raw value (a bulk line as given, [`serde_json::value::RawValue`]) is
//! JSON text that serde_json copies as it is: inside its strings the same rule applies; between its tokens the
//! only characters the rule could touch are whitespace (tab, carriage return), which become spaces, since
//! `\u0009` is JSON only inside a string. (Escaping a whole line of JSON afterwards, as this replaced, turned a tab
//! between two fields of an input line into `\u0009` there, and the record no longer parsed.)
//!
//! So the text holds no character [`etoro_escape::is_escaped`] names, and reads back as the same value.

use std::borrow::Cow;
use std::io::{self, Write};

use etoro_escape::{escape, is_escaped};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

/// serde_json's compact output, with the escaping rule applied inside strings and raw values.
pub struct SafeJson;

impl Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        writer.write_all(escape(fragment).as_bytes())
    }

    fn write_raw_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        if let Cow::Borrowed(plain) = escape(fragment) {
            return CompactFormatter.write_raw_fragment(writer, plain);
        }
        let mut out = String::with_capacity(fragment.len() + 16);
        let (mut in_string, mut after_backslash) = (false, false);
        for c in fragment.chars() {
            if !in_string {
                in_string = c == '"';
                // Outside strings, valid JSON has only structure, literals and whitespace.
                out.push(if c.is_ascii_whitespace() { ' ' } else { c });
                continue;
            }
            if after_backslash {
                after_backslash = false;
            } else if c == '\\' {
                after_backslash = true;
            } else if c == '"' {
                in_string = false;
            }
            if is_escaped(c) {
                out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
            } else {
                out.push(c);
            }
        }
        writer.write_all(out.as_bytes())
    }
}

/// Appends `value` as one line of JSON (ended by a newline) under the escaping rule.
pub fn write_line(out: &mut Vec<u8>, value: &impl Serialize) {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, SafeJson);
    // Writing to a `Vec` cannot fail, and the values written here (records, with string keys) always serialize.
    value.serialize(&mut serializer).expect("a record serializes to JSON");
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::value::RawValue;
    use serde_json::{json, Value};

    use super::*;

    fn line_of(value: &impl Serialize) -> String {
        let mut out = Vec::new();
        write_line(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    struct WithRaw<'a> {
        text: &'a str,
        raw: &'a RawValue,
    }

    #[test]
    fn whitespace_between_the_fields_of_a_raw_value_stays_json() {
        let raw = RawValue::from_string("{\"a\":\t\"x\u{202e}y\\\"\u{7f}\",\r\"b\" : [1,\t2]}".to_owned()).unwrap();
        let line = line_of(&WithRaw { text: "t", raw: &raw });
        assert_eq!(
            line,
            "{\"text\":\"t\",\"raw\":{\"a\": \"x\\u202ey\\\"\\u007f\", \"b\" : [1, 2]}}\n"
        );
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["raw"], json!({"a": "x\u{202e}y\"\u{7f}", "b": [1, 2]}));
    }

    proptest! {
        /// Any text, as a string and inside a raw value with whitespace around it: the line holds nothing the
        /// rule escapes, is one line, and reads back as the same value.
        #[test]
        fn any_text_reads_back_the_same_and_holds_nothing_escaped(
            text in any::<String>(),
            key in any::<String>(),
            space in "[ \t\r]{0,3}",
        ) {
            let raw_text = format!("{space}{{{space}{}{space}:{space}{}{space}}}{space}",
                serde_json::to_string(&key).unwrap(), serde_json::to_string(&text).unwrap());
            let raw = RawValue::from_string(raw_text).unwrap();
            let line = line_of(&WithRaw { text: &text, raw: &raw });
            prop_assert!(!line.trim_end_matches('\n').chars().any(is_escaped), "{line:?}");
            let back: Value = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(&back["text"], &json!(text));
            prop_assert_eq!(&back["raw"][&key], &json!(text));
        }
    }
}
