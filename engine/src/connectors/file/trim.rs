//! Embulk's CSV `trim_if_not_quoted`: spaces around a value are dropped unless they are
//! inside its quotes. The csv crate can only trim every field after unquoting (which
//! would also trim `" padded "`), so the spaces are removed from the byte stream before
//! the csv crate reads it, by a small scanner that knows where quotes open and close.

use std::io::Read;

/// Removes spaces at the start and end of unquoted parts of each field.
pub struct TrimUnquoted<R> {
    inner: R,
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
    raw: Vec<u8>,
    out: Vec<u8>,
    served: usize,
}

impl<R: Read> TrimUnquoted<R> {
    /// Wraps `inner`, a CSV stream with these quoting rules.
    pub fn new(inner: R, quote: Option<u8>, escape: Option<u8>, delimiter: u8) -> Self {
        TrimUnquoted {
            inner,
            quote,
            escape,
            delimiter,
            in_quote: false,
            escaped: false,
            just_closed: false,
            field_start: true,
            pending_spaces: 0,
            raw: vec![0; 64 * 1024],
            out: Vec::with_capacity(64 * 1024),
            served: 0,
        }
    }

    fn scan(&mut self, n: usize) {
        for i in 0..n {
            let b = self.raw[i];
            if self.in_quote {
                if self.escaped {
                    self.escaped = false;
                } else if Some(b) == self.escape {
                    self.escaped = true;
                } else if Some(b) == self.quote {
                    self.in_quote = false;
                    self.just_closed = self.escape.is_none();
                }
                self.out.push(b);
                continue;
            }
            if std::mem::take(&mut self.just_closed) && Some(b) == self.quote {
                self.in_quote = true;
                self.out.push(b);
                continue;
            }
            match b {
                b' ' if self.field_start => {}
                b' ' => self.pending_spaces += 1,
                b'\n' | b'\r' => {
                    self.pending_spaces = 0;
                    self.field_start = true;
                    self.out.push(b);
                }
                _ if b == self.delimiter => {
                    self.pending_spaces = 0;
                    self.field_start = true;
                    self.out.push(b);
                }
                _ => {
                    let spaces = std::mem::take(&mut self.pending_spaces);
                    self.out.extend(std::iter::repeat_n(b' ', spaces));
                    // A quote opens a quoted value only at its start, as in the csv crate.
                    if self.field_start && Some(b) == self.quote {
                        self.in_quote = true;
                    }
                    self.field_start = false;
                    self.out.push(b);
                }
            }
        }
    }
}

impl<R: Read> Read for TrimUnquoted<R> {
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

    fn trimmed(input: &str, quote: Option<u8>, escape: Option<u8>, delimiter: u8) -> String {
        // One byte per read, so state carried across reads is exercised too.
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
        let mut out = String::new();
        TrimUnquoted::new(Trickle(input.as_bytes()), quote, escape, delimiter)
            .read_to_string(&mut out)
            .unwrap();
        out
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
}
