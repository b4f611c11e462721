//! Making text from a downloaded document safe to print on a terminal.

/// `text` with control characters (C0, DEL, C1) and bidirectional overrides written as `\u{..}` escapes: a
/// document's path or property name must not be able to move the cursor, recolour the log or reorder a line.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi_overrides() {
        assert_eq!(
            sanitize("/a\u{1b}[2J\u{7}b\u{9b}\u{202e}c\n"),
            "/a\\u{1b}[2J\\u{7}b\\u{9b}\\u{202e}c\\u{a}"
        );
        assert_eq!(sanitize("plain/{id} é"), "plain/{id} é");
    }
}
