//! Splitting a byte stream into lines of bounded size, for the bulk input and the journal.
//!
//! A line is read as bytes (never as a `String`, so one line that is not UTF-8 spoils only itself) and at most
//! `max` bytes of it are kept: a 10 GiB line without a newline costs `max` bytes of memory, not 10 GiB.

use std::io::{self, BufRead};

/// One line, without its newline.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// Its number, from 1.
    pub number: u64,
    /// Its first bytes: all of it unless `overflow`.
    pub bytes: Vec<u8>,
    /// True when the line was longer than the bound; `bytes` then holds only its beginning.
    pub overflow: bool,
    /// False for a last line that did not end with a newline (a record cut short by a crash, say).
    pub terminated: bool,
}

/// The lines of `reader`, each cut at `max` bytes.
pub struct BoundedLines<R> {
    reader: R,
    max: usize,
    number: u64,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    /// Reads `reader` line by line, keeping at most `max` bytes of each.
    pub fn new(reader: R, max: usize) -> Self {
        BoundedLines {
            reader,
            max,
            number: 0,
            done: false,
        }
    }

    /// The reader underneath (to see what it holds buffered, say).
    pub fn reader(&self) -> &R {
        &self.reader
    }

    fn read_one(&mut self) -> io::Result<Option<Line>> {
        let mut bytes = Vec::new();
        let mut overflow = false;
        let mut seen_any = false;
        loop {
            let buffer = match self.reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if buffer.is_empty() {
                self.done = true;
                if !seen_any {
                    return Ok(None);
                }
                return Ok(Some(self.line(bytes, overflow, false)));
            }
            seen_any = true;
            let (chunk, newline) = match buffer.iter().position(|&byte| byte == b'\n') {
                Some(at) => (&buffer[..at], Some(at)),
                None => (buffer, None),
            };
            let room = self.max.saturating_sub(bytes.len());
            if chunk.len() > room {
                overflow = true;
            }
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = newline.map_or(buffer.len(), |at| at + 1);
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(self.line(bytes, overflow, true)));
            }
        }
    }

    fn line(&mut self, bytes: Vec<u8>, overflow: bool, terminated: bool) -> Line {
        self.number += 1;
        Line {
            number: self.number,
            bytes,
            overflow,
            terminated,
        }
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let line = self.read_one();
        if line.is_err() {
            self.done = true;
        }
        line.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize, buffer: usize) -> Vec<Line> {
        let reader = io::BufReader::with_capacity(buffer, input);
        BoundedLines::new(reader, max).collect::<io::Result<_>>().unwrap()
    }

    #[test]
    fn splits_on_newlines_and_marks_a_cut_last_line() {
        for buffer in [1, 3, 64] {
            let got = lines(b"ab\n\ncd", 10, buffer);
            assert_eq!(got.len(), 3, "buffer {buffer}");
            assert_eq!(
                (got[0].number, got[0].bytes.as_slice(), got[0].terminated),
                (1, &b"ab"[..], true)
            );
            assert_eq!((got[1].number, got[1].bytes.as_slice()), (2, &b""[..]));
            assert_eq!(
                (got[2].number, got[2].bytes.as_slice(), got[2].terminated),
                (3, &b"cd"[..], false)
            );
        }
        assert!(lines(b"", 10, 8).is_empty());
        assert_eq!(lines(b"x\n", 10, 8).len(), 1, "a final newline starts no empty line");
    }

    #[test]
    fn a_long_line_keeps_only_its_beginning_and_the_next_line_is_whole() {
        for buffer in [1, 4, 1024] {
            let mut input = vec![b'a'; 100];
            input.extend_from_slice(b"\nnext\n");
            let got = lines(&input, 8, buffer);
            assert_eq!(got[0].bytes, b"aaaaaaaa");
            assert!(got[0].overflow);
            assert_eq!(got[1].bytes, b"next");
            assert!(!got[1].overflow);
            assert_eq!(got[1].number, 2);
        }
        let exact = lines(b"12345678\n", 8, 3);
        assert!(!exact[0].overflow, "exactly the bound is not over it");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_kept_as_they_are() {
        let got = lines(b"\xff\xfe{}\n{}\n", 64, 2);
        assert_eq!(got[0].bytes, b"\xff\xfe{}");
        assert_eq!(got[1].bytes, b"{}");
    }
}
