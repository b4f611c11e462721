//! Making text from a downloaded document safe to print on a terminal.

/// `text` with controls (C0, DEL, C1), format characters (bidi overrides, zero-width characters) and line
/// separators written as `\uXXXX`: a document's path or property name must not be able to move the cursor,
/// recolour the log or reorder a line. The rule is `etoro-token`'s own ([`etoro_escape`]).
pub fn sanitize(text: &str) -> String {
    etoro_escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi_overrides() {
        assert_eq!(
            sanitize("/a\u{1b}[2J\u{7}b\u{9b}\u{202e}c\n"),
            "/a\\u001b[2J\\u0007b\\u009b\\u202ec\\u000a"
        );
        assert_eq!(sanitize("plain/{id} é"), "plain/{id} é");
    }
}
