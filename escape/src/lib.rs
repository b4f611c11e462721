//! The one escaping rule for every character that came from the network (a token's or a portfolio's name, an
//! `errorMessage`, a document's property name) before it is printed: on standard output or standard error, in text
//! or in JSON, in a journal, on a progress line.
//!
//! Escaped, in JSON's own `\uXXXX` form (a character past U+FFFF as its UTF-16 surrogate pair, as JSON writes it):
//! - the controls, general category Cc: C0 (U+0000-U+001F, line breaks and tabs included), DEL (U+007F) and C1
//!   (U+0080-U+009F, CSI U+009B and NEL U+0085 among them), which move the cursor, recolour the terminal or start a
//!   new line;
//! - the format characters, Cf: the bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C),
//!   zero-width characters (U+200B-U+200D, U+2060, U+FEFF), the soft hyphen, tags: they reorder or hide text;
//! - the line and paragraph separators, Zl (U+2028) and Zp (U+2029), which some terminals and editors take as a
//!   line break.
//!
//! One call therefore prints at most one visible line, in the order its characters come; and since the form is
//! JSON's, a JSON line escaped as a whole is still valid JSON with the same value (serde escapes C0 in strings,
//! but leaves DEL, C1 and the rest raw).

#![deny(missing_docs)]

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_general_category::{get_general_category, GeneralCategory};

/// Whether `c` is escaped by [`escape`]: a control (Cc), a format character (Cf), a line or paragraph separator
/// (Zl, Zp).
pub fn is_escaped(c: char) -> bool {
    // The common case first: printable ASCII needs no table lookup.
    if matches!(c, ' '..='~') {
        return false;
    }
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `text` with every character [`is_escaped`] says written as `\uXXXX` (borrowed when there is none).
#[inline]
pub fn escape(text: &str) -> Cow<'_, str> {
    // Printable ASCII throughout (nearly every line a bulk run writes, and the short fragments of its JSON records)
    // is checked a byte at a time, inline at the caller, which the compiler vectorizes; only other text is decoded
    // and looked up.
    if text.bytes().all(|byte| matches!(byte, b' '..=b'~')) {
        return Cow::Borrowed(text);
    }
    escape_other(text)
}

/// [`escape`] of text that is not printable ASCII throughout.
fn escape_other(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 12);
    for c in text.chars() {
        if is_escaped(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Unicode scalar value.
    fn every_char() -> impl Iterator<Item = char> {
        (0..=0x10_FFFF_u32).filter_map(char::from_u32)
    }

    #[test]
    fn every_code_point_is_kept_or_escaped_to_ascii_that_json_reads_back() {
        let mut escaped = 0;
        for c in every_char() {
            let text = c.to_string();
            let shown = escape(&text);
            if !is_escaped(c) {
                assert!(matches!(shown, Cow::Borrowed(_)), "U+{:04X} is kept as it is", c as u32);
                continue;
            }
            escaped += 1;
            assert!(
                shown.bytes().all(|b| (b' '..=b'~').contains(&b)),
                "U+{:04X} becomes printable ASCII: {shown}",
                c as u32
            );
            assert!(
                shown.starts_with("\\u") && (shown.len() == 6 || shown.len() == 12),
                "{shown}"
            );
            let read: String = serde_json::from_str(&format!("\"{shown}\"")).unwrap();
            assert_eq!(read, text, "U+{:04X}: JSON reads the escape back", c as u32);
            assert!(shown.chars().all(|c| !is_escaped(c)), "escaping is done once for all");
        }
        // Unicode 15-16: 65 controls and some 170 format and separator characters; a table that lost its data
        // (or a rule that escaped whole planes) would be far off.
        assert!((200..400).contains(&escaped), "{escaped} code points escaped");
    }

    #[test]
    fn the_characters_that_drive_a_terminal_or_reorder_a_line_are_all_escaped() {
        let named = [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{80}', '\u{85}', '\u{9b}', '\u{9f}', '\u{ad}',
        ];
        let bidi = ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200e}', '\u{200f}', '\u{61c}']);
        let invisible = ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{e0001}'];
        let separators = ['\u{2028}', '\u{2029}'];
        for c in named.into_iter().chain(bidi).chain(invisible).chain(separators) {
            assert!(is_escaped(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', '~', 'é', '€', '名', '\u{1f600}', '\u{a0}', '\u{e000}'] {
            assert!(!is_escaped(c), "U+{:04X} is text", c as u32);
        }
    }

    #[test]
    fn a_line_is_escaped_in_place_and_a_json_line_stays_the_same_json() {
        assert!(matches!(escape("plain text: ok, é"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}[31mred\r\nerror: fake\u{7}\u{9b}\u{202e}txt.exe\u{e0001}"),
            "a\\u001b[31mred\\u000d\\u000aerror: fake\\u0007\\u009b\\u202etxt.exe\\udb40\\udc01"
        );
        let value = serde_json::json!({"name": "\u{9b}\u{7f}\u{202e}\u{2028}\u{200b}\u{85}", "n": 1});
        let line = value.to_string();
        let escaped = escape(&line);
        assert!(escaped.is_ascii());
        let read: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(read, value);
    }
}
