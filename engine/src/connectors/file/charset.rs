//! Text files in legacy character sets, with encoding_rs (the WHATWG encodings:
//! Shift_JIS, EUC-JP, windows-1252, ...): `parser.charset` decoded to UTF-8 as files are
//! read, `formatter.charset` encoded from UTF-8 as they are written. As with Java's coders
//! (Embulk), invalid bytes read become U+FFFD and characters the charset lacks are written
//! as `?`.

use anyhow::{Result, bail};
use encoding_rs::{CoderResult, Decoder, Encoder, EncoderResult, Encoding, UTF_8};
use std::io::Read;

/// The encoding named by `charset` (WHATWG labels, plus Java's names for Windows-31J);
/// `None` for UTF-8, which needs no decoding.
pub fn encoding(charset: Option<&str>) -> Result<Option<&'static Encoding>> {
    named("parser.charset", charset)
}

/// The encoding a formatter writes for `charset`; `None` for UTF-8, which needs no
/// encoding. UTF-16 is refused: encoding_rs (like browsers) only decodes it.
pub fn output_encoding(charset: Option<&str>) -> Result<Option<&'static Encoding>> {
    let encoding = named("formatter.charset", charset)?;
    if let Some(e) = encoding
        && e.output_encoding() != e
    {
        bail!(
            "formatter.charset: {} can be read but not written; expected a charset such as UTF-8, Shift_JIS, EUC-JP or windows-1252",
            e.name()
        );
    }
    Ok(encoding)
}

fn named(field: &str, charset: Option<&str>) -> Result<Option<&'static Encoding>> {
    let Some(label) = charset else {
        return Ok(None);
    };
    let label = match label.to_ascii_lowercase().as_str() {
        "ms932" | "cp932" | "windows-31j" => "shift_jis",
        "cp1252" => "windows-1252",
        _ => label,
    };
    match Encoding::for_label(label.as_bytes()) {
        Some(e) if e == UTF_8 => Ok(None),
        Some(e) => Ok(Some(e)),
        None => bail!(
            "{field}: unknown charset {label:?}; expected a name such as UTF-8, Shift_JIS, EUC-JP, windows-1252 or ISO-8859-1"
        ),
    }
}

/// Reads `inner` in `encoding` and yields UTF-8.
pub struct Transcode<R> {
    inner: R,
    decoder: Decoder,
    raw: Box<[u8]>,
    raw_pos: usize,
    raw_len: usize,
    out: Box<[u8]>,
    out_pos: usize,
    out_len: usize,
    input_done: bool,
    done: bool,
}

impl<R: Read> Transcode<R> {
    /// Decodes `inner` from `encoding` (a byte-order mark, if any, wins).
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        Transcode {
            inner,
            decoder: encoding.new_decoder(),
            raw: vec![0; 64 << 10].into_boxed_slice(),
            raw_pos: 0,
            raw_len: 0,
            out: vec![0; 64 << 10].into_boxed_slice(),
            out_pos: 0,
            out_len: 0,
            input_done: false,
            done: false,
        }
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.out_pos < self.out_len {
                let n = buf.len().min(self.out_len - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if self.raw_pos == self.raw_len && !self.input_done {
                self.raw_len = self.inner.read(&mut self.raw)?;
                self.raw_pos = 0;
                self.input_done = self.raw_len == 0;
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.raw[self.raw_pos..self.raw_len],
                &mut self.out,
                self.input_done,
            );
            self.raw_pos += read;
            self.out_pos = 0;
            self.out_len = written;
            if self.input_done && result == CoderResult::InputEmpty {
                self.done = true;
            }
        }
    }
}

/// Appends `text` to `out` in the encoder's charset, a `?` for each character the
/// charset lacks (Java's encoders replace them so; encoding_rs alone would write an HTML
/// character reference). `last` ends the output (a stateful charset such as ISO-2022-JP
/// returns to ASCII).
pub fn encode_into(encoder: &mut Encoder, mut text: &str, out: &mut Vec<u8>, last: bool) {
    loop {
        let room = encoder
            .max_buffer_length_from_utf8_without_replacement(text.len())
            .unwrap_or(text.len() * 4 + 16);
        out.reserve(room);
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(text, out, last);
        text = &text[read..];
        match result {
            EncoderResult::InputEmpty => return,
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], charset: &str) -> String {
        let enc = encoding(Some(charset)).unwrap().unwrap();
        let mut s = String::new();
        // A one-byte inner reader splits every multi-byte character across reads.
        Transcode::new(std::io::BufReader::with_capacity(1, bytes), enc)
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn decodes_shift_jis_and_windows_1252_across_read_boundaries() {
        let text = "id,名前\n1,寿司・ｶﾀｶﾅ\n";
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert_eq!(decode(&sjis, "MS932"), text);
        assert_eq!(
            decode(b"caf\xe9 \x80 \x93x\x94", "windows-1252"),
            "café € “x”"
        );
        assert_eq!(decode(b"\x82", "Shift_JIS"), "\u{fffd}");
        assert!(encoding(Some("UTF-8")).unwrap().is_none());
        let e = encoding(Some("klingon")).unwrap_err().to_string();
        assert!(
            e.contains("parser.charset: unknown charset \"klingon\""),
            "{e}"
        );
    }

    #[test]
    fn encodes_shift_jis_with_a_question_mark_for_what_it_lacks() {
        let sjis = output_encoding(Some("Windows-31J")).unwrap().unwrap();
        let mut encoder = sjis.new_encoder();
        let mut out = Vec::new();
        encode_into(&mut encoder, "1,寿司🍣,café\n", &mut out, false);
        encode_into(&mut encoder, "", &mut out, true);
        let (expected, _, _) = encoding_rs::SHIFT_JIS.encode("1,寿司?,caf?\n");
        assert_eq!(out, expected.as_ref());
        assert!(output_encoding(Some("utf8")).unwrap().is_none());
        let e = output_encoding(Some("UTF-16LE")).unwrap_err().to_string();
        assert!(
            e.contains("formatter.charset: UTF-16LE can be read but not written"),
            "{e}"
        );
        let e = output_encoding(Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("formatter.charset: unknown charset \"nope\""),
            "{e}"
        );
    }
}
