//! How Embulk's `csv` formatter writes a value (its `setEscapeAndQuoteValue`), so files
//! Hakobu writes are byte for byte what Embulk wrote for the same options.
//!
//! - `MINIMAL` quotes a value holding the delimiter, the quote or a line break, and a
//!   value equal to `null_string` (so an empty string and NULL stay apart); `ALL` quotes
//!   every value; `NONE` never quotes and puts `escape` before a delimiter or line break.
//! - A quote inside a value is preceded by `escape` (default: the quote, i.e. doubled;
//!   with `NONE`, `\` and quotes are left as they are).
//! - A line break inside a value (CRLF, LF or CR) is written as `newline_in_field`.
//! - NULL is `null_string`, never quoted.

use hakobu_core::config::{CsvFormatter, Newline, QuotePolicy};

/// The formatter's options, resolved to characters.
#[derive(Debug, Clone)]
pub(super) struct CsvStyle {
    delimiter: char,
    quote: char,
    escape: char,
    policy: QuotePolicy,
    newline_in_field: &'static str,
    /// How NULL is written.
    pub(super) null: String,
    /// The record separator.
    newline: &'static str,
}

fn text(newline: Newline) -> &'static str {
    match newline {
        Newline::Crlf => "\r\n",
        Newline::Lf => "\n",
        Newline::Cr => "\r",
    }
}

fn first_char(s: &Option<String>, default: char) -> char {
    s.as_deref()
        .and_then(|s| s.chars().next())
        .unwrap_or(default)
}

impl CsvStyle {
    pub(super) fn of(f: &CsvFormatter) -> Self {
        let policy = f.quote_policy.unwrap_or(QuotePolicy::Minimal);
        let quote = first_char(&f.quote, '"');
        CsvStyle {
            delimiter: first_char(&f.delimiter, ','),
            quote,
            escape: first_char(
                &f.escape,
                if policy == QuotePolicy::None {
                    '\\'
                } else {
                    quote
                },
            ),
            policy,
            newline_in_field: text(f.newline_in_field.unwrap_or(Newline::Lf)),
            null: f.null_string.clone().unwrap_or_default(),
            newline: text(f.newline.unwrap_or(Newline::Crlf)),
        }
    }

    /// The record separator.
    pub(super) fn newline_text(&self) -> &'static str {
        self.newline
    }

    /// Appends `v`, escaped and quoted as Embulk does.
    pub(super) fn push_value(&self, v: &str, out: &mut String) {
        let none = self.policy == QuotePolicy::None;
        let quoted = !none
            && (self.policy == QuotePolicy::All
                || (self.policy == QuotePolicy::Minimal && v == self.null));
        let special = |c: char| c == self.quote || c == self.delimiter || c == '\r' || c == '\n';
        if !v.contains(special) {
            if quoted {
                out.push(self.quote);
                out.push_str(v);
                out.push(self.quote);
            } else {
                out.push_str(v);
            }
            return;
        }
        let mut body = String::with_capacity(v.len() + 8);
        let mut previous = ' ';
        for c in v.chars() {
            if c == self.quote && !none {
                body.push(self.escape);
                body.push(c);
            } else if c == '\r' || (c == '\n' && previous != '\r') {
                if none {
                    body.push(self.escape);
                }
                body.push_str(self.newline_in_field);
            } else if c == '\n' {
                // The LF of a CRLF: written once, above.
            } else if c == self.delimiter {
                if none {
                    body.push(self.escape);
                }
                body.push(c);
            } else {
                body.push(c);
            }
            previous = c;
        }
        if none {
            out.push_str(&body);
        } else {
            out.push(self.quote);
            out.push_str(&body);
            out.push(self.quote);
        }
    }

    /// Appends the delimiter before every value but the first of a record.
    pub(super) fn push_delimiter(&self, out: &mut String) {
        out.push(self.delimiter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(yaml: &str) -> CsvStyle {
        CsvStyle::of(&serde_norway::from_str(yaml).unwrap())
    }

    fn written(s: &CsvStyle, v: &str) -> String {
        let mut out = String::new();
        s.push_value(v, &mut out);
        out
    }

    #[test]
    fn minimal_quotes_what_needs_it_and_the_null_string() {
        let s = style("{}");
        assert_eq!(written(&s, "plain"), "plain");
        assert_eq!(written(&s, ""), "\"\"", "an empty string is not NULL");
        assert_eq!(written(&s, "a,b"), "\"a,b\"");
        assert_eq!(written(&s, "say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(written(&s, "l1\r\nl2\rl3\nl4"), "\"l1\nl2\nl3\nl4\"");
        let s = style("{null_string: 'NULL', newline_in_field: CRLF, escape: '\\'}");
        assert_eq!(written(&s, "NULL"), "\"NULL\"");
        assert_eq!(written(&s, ""), "");
        assert_eq!(written(&s, "a\nb\"c"), "\"a\r\nb\\\"c\"");
    }

    #[test]
    fn all_quotes_everything_and_none_escapes_instead() {
        let s = style("{quote_policy: ALL, quote: \"'\"}");
        assert_eq!(written(&s, "x"), "'x'");
        assert_eq!(written(&s, "it's"), "'it''s'");
        let s = style("{quote_policy: NONE, delimiter: \"\\t\"}");
        assert_eq!(written(&s, "a\tb"), "a\\\tb");
        assert_eq!(written(&s, "say \"hi\""), "say \"hi\"");
        assert_eq!(written(&s, "l1\nl2"), "l1\\\nl2");
        assert_eq!(written(&s, ""), "");
    }
}
