//! What the csv crate cannot do itself, done on the byte stream before it reads it by a
//! small scanner that knows where quotes open and close:
//!
//! - Embulk's `trim_if_not_quoted`: spaces around a value are dropped unless they are
//!   inside its quotes (the csv crate can only trim every field after unquoting, which
//!   would also trim `" padded "`).
//! - `newline: CR`: line ends outside quotes become LF, so the csv crate, which counts
//!   lines by LF, reports the right line of an invalid row. CRs inside quotes stay.
//! - Embulk's `max_quoted_size_limit`: a quoted value longer than the limit makes its
//!   record invalid. The scanner notes the line the record starts on (the line the csv
//!   crate reports for it) and passes on only the value's line ends past the limit, so an
//!   unclosed quote cannot make the csv crate hold the rest of the file in memory, and
//!   later records keep their line numbers.
//!
//! - Embulk's quoted empty value: `""` is an empty string where an unquoted empty field
//!   is NULL. The scanner notes (line, field) of each quoted value that closes right
//!   after it opens, so the reader can tell the two apart for the few empty fields it
//!   meets (the csv crate gives both as "").
//!
//! It follows `comment_line_marker` as the csv crate does, so a quote in a comment line
//! opens nothing.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Lines (as the csv crate counts them, from 1) where records with a quoted value over
/// `max_quoted_size_limit` start, in file order.
pub type Oversized = Arc<Mutex<VecDeque<u64>>>;

/// `(line, field)` of each quoted value that closed right after it opened (`""`), in
/// file order: the line the record starts on (as the csv crate counts lines, from 1) and
/// the field's index in the record, from 0. A field noted here whose value is empty was
/// written `""`.
pub type QuotedEmpties = Arc<Mutex<VecDeque<(u64, u32)>>>;

/// Trims unquoted spaces and/or turns CR line ends into LF.
pub struct CsvPrescan<R> {
    inner: R,
    /// Drop spaces at the start and end of the unquoted parts of each field.
    trim: bool,
    /// Write a CR outside quotes as LF.
    cr_as_lf: bool,
    /// The quote byte; `None` when quoting is off.
    quote: Option<u8>,
    /// The escape byte inside quotes (backslash style); `None` when quotes are doubled.
    escape: Option<u8>,
    delimiter: u8,
    in_quote: bool,
    /// The next byte of a quoted value is taken as is (it followed the escape byte).
    escaped: bool,
    /// A quote just closed a quoted part; another quote right after is a doubled quote.
    just_closed: bool,
    /// No byte of the current field was kept yet, so a space is leading.
    field_start: bool,
    /// Spaces after kept bytes: written only if more of the field follows.
    pending_spaces: usize,
    /// Largest quoted value in bytes; `usize::MAX` for no limit.
    limit: usize,
    /// Bytes of the current quoted value so far.
    quoted_len: usize,
    /// The last byte kept was the escape byte, so the next one must be kept too.
    escape_kept: bool,
    /// Line feeds written so far: the current line is this plus one.
    line_feeds: u64,
    /// The next byte outside quotes that is not a line end starts a record.
    at_record_start: bool,
    /// The line the current record starts on.
    record_line: u64,
    /// The current record was already noted as oversized.
    noted: bool,
    /// A record starting with this byte is a comment line, quotes in it included.
    comment: Option<u8>,
    in_comment: bool,
    oversized: Oversized,
    /// The index of the current field in its record.
    field: u32,
    /// The current field started with its quote, which has not closed yet.
    opened_at_start: bool,
    quoted_empties: Option<QuotedEmpties>,
    /// Quoted empties of the chunk being scanned, handed over at its end (one lock per
    /// chunk, not per value).
    new_empties: Vec<(u64, u32)>,
    raw: Vec<u8>,
    out: Vec<u8>,
    served: usize,
}

/// The quoting rules of a CSV stream.
#[derive(Debug, Clone, Copy)]
pub struct Quoting {
    /// The quote byte; `None` when quoting is off.
    pub quote: Option<u8>,
    /// The escape byte inside quotes (backslash style); `None` when quotes are doubled.
    pub escape: Option<u8>,
    /// The field separator.
    pub delimiter: u8,
}

impl<R: Read> CsvPrescan<R> {
    /// Wraps `inner`, a CSV stream with these quoting rules.
    pub fn new(inner: R, rules: Quoting, trim: bool, cr_as_lf: bool) -> Self {
        let Quoting {
            quote,
            escape,
            delimiter,
        } = rules;
        CsvPrescan {
            inner,
            trim,
            cr_as_lf,
            quote,
            escape,
            delimiter,
            in_quote: false,
            escaped: false,
            just_closed: false,
            field_start: true,
            pending_spaces: 0,
            limit: usize::MAX,
            quoted_len: 0,
            escape_kept: false,
            line_feeds: 0,
            at_record_start: true,
            record_line: 1,
            noted: false,
            comment: None,
            in_comment: false,
            oversized: Oversized::default(),
            field: 0,
            opened_at_start: false,
            quoted_empties: None,
            new_empties: Vec::new(),
            raw: vec![0; 64 * 1024],
            out: Vec::with_capacity(64 * 1024),
            served: 0,
        }
    }

    /// Notes records whose quoted values are longer than `limit` bytes in `oversized`
    /// (see the module documentation).
    pub fn with_quoted_size_limit(mut self, limit: usize, oversized: Oversized) -> Self {
        self.limit = limit;
        self.oversized = oversized;
        self
    }

    /// Notes each quoted empty value (`""`) in `empties` (see [`QuotedEmpties`]).
    pub fn with_quoted_empties(mut self, empties: QuotedEmpties) -> Self {
        self.quoted_empties = Some(empties);
        self
    }

    /// Lines starting with `marker` are comments (`comment_line_marker`), as the csv crate
    /// reads them: a quote in one opens nothing.
    pub fn with_comment_marker(mut self, marker: Option<u8>) -> Self {
        self.comment = marker;
        self
    }

    fn push(&mut self, b: u8) {
        if b == b'\n' {
            self.line_feeds += 1;
        }
        self.out.push(b);
    }

    fn scan(&mut self, n: usize) {
        let mut i = 0;
        while i < n {
            let run = self.ordinary_run(i, n);
            if run > 0 {
                i += run;
                continue;
            }
            let b = self.raw[i];
            i += 1;
            if self.in_quote {
                let mut closes = false;
                if self.escaped {
                    self.escaped = false;
                } else if Some(b) == self.escape {
                    self.escaped = true;
                } else if Some(b) == self.quote {
                    self.in_quote = false;
                    self.just_closed = self.escape.is_none();
                    closes = true;
                    if std::mem::take(&mut self.opened_at_start)
                        && self.quoted_len == 0
                        && self.quoted_empties.is_some()
                    {
                        self.new_empties.push((self.record_line, self.field));
                    }
                }
                if !closes {
                    self.quoted_len += 1;
                }
                if self.quoted_len > self.limit && !closes {
                    if !std::mem::replace(&mut self.noted, true) {
                        self.oversized
                            .lock()
                            .expect("not poisoned")
                            .push_back(self.record_line);
                    }
                    // The byte after a kept escape byte is kept, so the csv crate sees
                    // the same quotes as this scanner.
                    if !self.escape_kept {
                        if b == b'\n' {
                            self.push(b);
                        }
                        continue;
                    }
                }
                self.escape_kept = self.escaped;
                self.push(b);
                continue;
            }
            if std::mem::take(&mut self.just_closed) && Some(b) == self.quote {
                // A doubled quote: one quote of the value.
                self.in_quote = true;
                self.quoted_len += 1;
                self.push(b);
                continue;
            }
            if self.in_comment {
                if b == b'\n' || b == b'\r' {
                    self.in_comment = false;
                    self.at_record_start = true;
                    self.field_start = true;
                    self.push(if self.cr_as_lf { b'\n' } else { b });
                } else {
                    self.push(b);
                }
                continue;
            }
            if self.at_record_start && self.comment == Some(b) {
                self.in_comment = true;
                self.push(b);
                continue;
            }
            if self.at_record_start && b != b'\n' && b != b'\r' {
                self.at_record_start = false;
                self.record_line = self.line_feeds + 1;
                self.noted = false;
                self.field = 0;
            }
            match b {
                b' ' if self.trim && self.field_start => {}
                b' ' if self.trim => self.pending_spaces += 1,
                b'\n' | b'\r' => {
                    self.pending_spaces = 0;
                    self.field_start = true;
                    self.at_record_start = true;
                    self.push(if self.cr_as_lf { b'\n' } else { b });
                }
                _ if b == self.delimiter => {
                    self.pending_spaces = 0;
                    self.field_start = true;
                    self.field += 1;
                    self.push(b);
                }
                _ => {
                    let spaces = std::mem::take(&mut self.pending_spaces);
                    self.out.extend(std::iter::repeat_n(b' ', spaces));
                    // A quote opens a quoted value only at its start, as in the csv crate.
                    if self.field_start && Some(b) == self.quote {
                        self.in_quote = true;
                        self.quoted_len = 0;
                        self.escape_kept = false;
                        self.opened_at_start = true;
                    }
                    self.field_start = false;
                    self.push(b);
                }
            }
        }
    }

    /// Copies the bytes from `i` that need no decision (text inside quotes up to the limit,
    /// and without `trim`, text outside quotes) in one go, and returns how many; 0 when
    /// `raw[i]` must go through the byte-by-byte rules. Most bytes of a file are such text,
    /// so this keeps the scanner's cost near a copy.
    fn ordinary_run(&mut self, i: usize, n: usize) -> usize {
        if self.escaped || self.just_closed || self.escape_kept || self.in_comment {
            return 0;
        }
        let (quote, escape) = (self.quote, self.escape);
        let bytes = &self.raw[i..n];
        if self.in_quote {
            let room = self.limit.saturating_sub(self.quoted_len);
            let end = bytes.len().min(room);
            let run = bytes[..end]
                .iter()
                .position(|&b| Some(b) == quote || Some(b) == escape || b == b'\n')
                .unwrap_or(end);
            self.quoted_len += run;
            self.out.extend_from_slice(&bytes[..run]);
            return run;
        }
        if self.trim || (self.at_record_start && self.comment == Some(self.raw[i])) {
            return 0;
        }
        let delimiter = self.delimiter;
        let run = bytes
            .iter()
            .position(|&b| Some(b) == quote || b == b'\n' || b == b'\r' || b == delimiter)
            .unwrap_or(bytes.len());
        if run > 0 {
            if self.at_record_start {
                self.at_record_start = false;
                self.record_line = self.line_feeds + 1;
                self.noted = false;
                self.field = 0;
            }
            self.field_start = false;
            self.out.extend_from_slice(&bytes[..run]);
        }
        run
    }
}

impl<R: Read> Read for CsvPrescan<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.served == self.out.len() {
            self.out.clear();
            self.served = 0;
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                // Spaces pending at the end of the input trail the last field.
                return Ok(0);
            }
            self.scan(n);
            if let Some(empties) = &self.quoted_empties
                && !self.new_empties.is_empty()
            {
                empties
                    .lock()
                    .expect("not poisoned")
                    .extend(self.new_empties.drain(..));
            }
        }
        let n = buf.len().min(self.out.len() - self.served);
        buf[..n].copy_from_slice(&self.out[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One byte per read, so state carried across reads is exercised too.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    /// The scanner's output, read byte by byte and whole (the runs of ordinary bytes),
    /// which must agree, with the lines noted as oversized.
    fn scanned_with_limit(
        input: &str,
        rules: Quoting,
        trim: bool,
        cr_as_lf: bool,
        limit: usize,
    ) -> (String, Vec<u64>) {
        let mut results = Vec::new();
        for trickle in [true, false] {
            let reader: Box<dyn Read> = if trickle {
                Box::new(Trickle(input.as_bytes()))
            } else {
                Box::new(input.as_bytes())
            };
            let oversized = Oversized::default();
            let mut out = String::new();
            CsvPrescan::new(reader, rules, trim, cr_as_lf)
                .with_quoted_size_limit(limit, oversized.clone())
                .read_to_string(&mut out)
                .unwrap();
            let lines = Vec::from(oversized.lock().unwrap().clone());
            results.push((out, lines));
        }
        assert_eq!(results[0], results[1], "byte by byte vs whole: {input:?}");
        results.remove(0)
    }

    fn scanned(input: &str, rules: Quoting, trim: bool, cr_as_lf: bool) -> String {
        scanned_with_limit(input, rules, trim, cr_as_lf, usize::MAX).0
    }

    fn trimmed(input: &str, quote: Option<u8>, escape: Option<u8>, delimiter: u8) -> String {
        let rules = Quoting {
            quote,
            escape,
            delimiter,
        };
        scanned(input, rules, true, false)
    }

    #[test]
    fn spaces_go_outside_quotes_and_stay_inside() {
        assert_eq!(
            trimmed(
                "  a  , \" b \" ,\"c\"\"  d\" , e f ,\n \"x, y\" ,z  \r\n  ",
                Some(b'"'),
                None,
                b','
            ),
            "a,\" b \",\"c\"\"  d\",e f,\n\"x, y\",z\r\n"
        );
        // Backslash escapes: an escaped quote does not close the value.
        assert_eq!(
            trimmed(" \" a \\\" , \" , b ", Some(b'"'), Some(b'\\'), b','),
            "\" a \\\" , \",b"
        );
        // A quote inside an unquoted value is text and does not start a quoted part.
        assert_eq!(trimmed(" it\"s , x ", Some(b'"'), None, b','), "it\"s,x");
        // Quoting off: every space around a value goes.
        assert_eq!(trimmed(" \" a \" \t b ", None, None, b'\t'), "\" a \"\tb");
    }

    #[test]
    fn quoted_values_over_the_limit_are_noted_and_cut_to_their_line_ends() {
        let rules = Quoting {
            quote: Some(b'"'),
            escape: None,
            delimiter: b',',
        };
        let input = "a,\"1234\"\r\nb,\"12345\nx\"\"y\",c\n\nd,\"12\"\"3\"\ne,\"open\n1\n2\n";
        let (out, oversized) = scanned_with_limit(input, rules, false, false, 4);
        // Line 2's value is 9 bytes (a doubled quote counts as one): past the limit only
        // its line ends and quotes are kept. Line 5's is 4 and stays whole. The unclosed
        // quote of line 6 keeps only its line ends.
        assert_eq!(
            out,
            "a,\"1234\"\r\nb,\"1234\n\"\"\",c\n\nd,\"12\"\"3\"\ne,\"open\n\n\n"
        );
        assert_eq!(oversized, [2, 6]);
        // Backslash escapes: an escaped quote counts and does not close the value.
        let rules = Quoting {
            escape: Some(b'\\'),
            ..rules
        };
        let (out, oversized) =
            scanned_with_limit("\"ab\\\"\",1\n\"abc\\\"d\",2\n", rules, false, false, 4);
        assert_eq!(out, "\"ab\\\"\",1\n\"abc\\\"\",2\n");
        assert_eq!(oversized, [2]);
        // Over the limit by the escaped byte alone.
        let (_, oversized) = scanned_with_limit("\"abc\\\"\",1\n", rules, false, false, 4);
        assert_eq!(oversized, [1]);
    }

    #[test]
    fn a_quote_in_a_comment_line_opens_nothing() {
        let rules = Quoting {
            quote: Some(b'"'),
            escape: None,
            delimiter: b',',
        };
        let input = "# a,\"bcdef\n1,\"12345\"\n2,x\n";
        let mut results = Vec::new();
        for marker in [Some(b'#'), None] {
            let oversized = Oversized::default();
            let mut out = String::new();
            CsvPrescan::new(input.as_bytes(), rules, false, false)
                .with_quoted_size_limit(4, oversized.clone())
                .with_comment_marker(marker)
                .read_to_string(&mut out)
                .unwrap();
            results.push((out, Vec::from(oversized.lock().unwrap().clone())));
        }
        assert_eq!(
            results[0],
            ("# a,\"bcdef\n1,\"1234\"\n2,x\n".to_owned(), vec![2])
        );
        // Without the marker line 1 opens a quoted value, which runs past the limit.
        assert_eq!(results[1].1, [1]);
    }

    #[test]
    fn cr_line_ends_become_lf_outside_quotes() {
        let rules = Quoting {
            quote: Some(b'"'),
            escape: None,
            delimiter: b',',
        };
        assert_eq!(
            scanned(" a ,\"x\ry\"\r b\r", rules, false, true),
            " a ,\"x\ry\"\n b\n"
        );
        assert_eq!(
            scanned(" a ,\"x\ry\"\r b\r", rules, true, true),
            "a,\"x\ry\"\nb\n"
        );
    }

    #[test]
    fn quoted_empty_values_are_noted_by_line_and_field() {
        let rules = Quoting {
            quote: Some(b'"'),
            escape: None,
            delimiter: b',',
        };
        let input = "\"\",,x\n1,\"\"\n\"a\nb\",\"\"\"\",\"\"\n# \"\",\"\"\n\"\"";
        for trickle in [true, false] {
            let reader: Box<dyn Read> = if trickle {
                Box::new(Trickle(input.as_bytes()))
            } else {
                Box::new(input.as_bytes())
            };
            let empties = QuotedEmpties::default();
            let mut out = String::new();
            CsvPrescan::new(reader, rules, false, false)
                .with_quoted_empties(empties.clone())
                .with_comment_marker(Some(b'#'))
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, input, "passed through unchanged");
            // `""""` (one quote) is noted at its first close but is not empty: the
            // reader asks only about empty values. The comment line notes nothing.
            assert_eq!(
                Vec::from(empties.lock().unwrap().clone()),
                [(1, 0), (2, 1), (3, 1), (3, 2), (6, 0)],
                "trickle: {trickle}"
            );
        }
    }
}
