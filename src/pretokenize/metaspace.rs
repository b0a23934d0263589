//! The `Metaspace` pre-tokenizer (SentencePiece's `▁`), as `tokenizers` runs it on each piece:
//! every `' '` becomes the replacement character; the replacement is put in front of a piece that
//! does not start with it (`prepend_scheme` `always`; `first`: only the piece at the very start of
//! the input; `never`); then, with `split`, the piece is cut before every replacement character
//! (`MergedWithNext`: `"▁▁a"` gives `["▁", "▁a"]`).
//!
//! The pieces are rewritten into the buffer's scratch text in one pass (the replacement is usually
//! three bytes for one), and the cuts are found in the same pass: nothing is allocated once the
//! buffers have grown.

use serde_json::Value;

use super::Pieces;
use crate::error::{Error, Result};
use crate::load::json::kind;

/// When the replacement character is put in front of a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrependScheme {
    /// Every piece.
    Always,
    /// Only the piece that starts the input (original offset 0).
    First,
    /// Never.
    Never,
}

/// The `Metaspace` pre-tokenizer (also the options of the `Metaspace` decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metaspace {
    /// The character that stands for a space (`▁`).
    pub replacement: char,
    /// When to put the replacement in front of a piece.
    pub prepend_scheme: PrependScheme,
    /// Cut before every replacement character.
    pub split: bool,
}

impl Metaspace {
    /// Reads the fields of a `Metaspace` pre-tokenizer or decoder, as `tokenizers` does:
    /// `replacement` (one character) is required; `prepend_scheme` defaults to `always`; `split`
    /// to true; the legacy `add_prefix_space: false` means `never` and contradicts any other
    /// declared scheme.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let replacement = match value.get("replacement") {
            Some(Value::String(s)) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => {
                        return Err(Error::invalid(format!(
                            "{path}.replacement: expected one character, found {s:?}"
                        )))
                    }
                }
            }
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.replacement: expected a string, found {}",
                    kind(other)
                )))
            }
            None => return Err(Error::invalid(format!("{path}.replacement: missing field"))),
        };
        let mut prepend_scheme = match value.get("prepend_scheme") {
            None => PrependScheme::Always,
            Some(Value::String(s)) => match s.as_str() {
                "always" => PrependScheme::Always,
                "first" => PrependScheme::First,
                "never" => PrependScheme::Never,
                other => {
                    return Err(Error::invalid(format!(
                        "{path}.prepend_scheme: expected \"always\", \"first\" or \"never\", \
                         found {other:?}"
                    )))
                }
            },
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.prepend_scheme: expected a string, found {}",
                    kind(other)
                )))
            }
        };
        let split = crate::load::json::opt_bool(value, "split", path, true)?;
        let add_prefix_space = match value.get("add_prefix_space") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.add_prefix_space: expected true or false, found {}",
                    kind(other)
                )))
            }
        };
        if add_prefix_space == Some(false) {
            if prepend_scheme != PrependScheme::Never {
                return Err(Error::invalid(format!(
                    "{path}.add_prefix_space: false does not match the declared prepend_scheme"
                )));
            }
            prepend_scheme = PrependScheme::Never;
        }
        Ok(Metaspace {
            replacement,
            prepend_scheme,
            split,
        })
    }

    /// Rewrites and cuts every piece.
    pub(crate) fn pre_tokenize(&self, pieces: &mut Pieces) {
        let Pieces {
            text,
            ranges,
            inserted,
            next_ranges,
            next_text,
            at_origin,
            align,
            next_align,
            ..
        } = pieces;
        let tracked = !align.is_empty();
        next_align.clear();
        let origin = *at_origin && ranges.first().is_some_and(|r| r.start == 0);
        next_text.clear();
        next_ranges.clear();
        let mut utf8 = [0u8; 4];
        let replacement: &str = self.replacement.encode_utf8(&mut utf8);
        for range in ranges.iter() {
            let piece = &text[range.clone()];
            let start = next_text.len();
            let prepend = match self.prepend_scheme {
                PrependScheme::Always => true,
                // With alignments the reference's own test is exact: does the piece's first
                // byte come from offset 0 of the input?
                PrependScheme::First if tracked => align[range.start].0 == 0,
                PrependScheme::First => *at_origin && range.start == 0,
                PrependScheme::Never => false,
            };
            let starts_with_replacement =
                piece.starts_with(' ') || piece.starts_with(self.replacement);
            let prepended = prepend && !starts_with_replacement;
            if prepended {
                next_text.push_str(replacement);
            }
            // Copied between spaces, and when the piece has no replacement character of its
            // own, cut while copying: the cuts are then exactly before the replaced spaces.
            // (Character by character, then a second search for the cuts, this was 15% of
            // encoding with T5; callgrind, mixed corpus.)
            let cut_while_copying = self.split && !piece.contains(self.replacement);
            let mut cut = start;
            let mut copied = 0;
            for space in memchr::memchr_iter(b' ', piece.as_bytes()) {
                next_text.push_str(&piece[copied..space]);
                if cut_while_copying && next_text.len() > cut {
                    next_ranges.push(cut..next_text.len());
                    cut = next_text.len();
                }
                next_text.push_str(replacement);
                copied = space + 1;
            }
            next_text.push_str(&piece[copied..]);
            if tracked {
                // The prepended replacement stands for the piece's first character; a
                // replaced space keeps the space's range.
                if prepended {
                    next_align.extend(std::iter::repeat_n(align[range.start], replacement.len()));
                }
                for (i, c) in piece.char_indices() {
                    let span = align[range.start + i];
                    let len = if c == ' ' {
                        replacement.len()
                    } else {
                        c.len_utf8()
                    };
                    next_align.extend(std::iter::repeat_n(span, len));
                }
            }
            let end = next_text.len();
            if !self.split {
                next_ranges.push(start..end);
                continue;
            }
            if !cut_while_copying {
                for (i, _) in next_text[start..end].match_indices(self.replacement) {
                    if start + i > cut {
                        next_ranges.push(cut..start + i);
                        cut = start + i;
                    }
                }
            }
            if end > cut {
                next_ranges.push(cut..end);
            }
        }
        std::mem::swap(text, next_text);
        std::mem::swap(ranges, next_ranges);
        if tracked {
            std::mem::swap(align, next_align);
        }
        // The text was rewritten piece by piece: positions no longer follow the input's. The
        // first piece still starts the input when it did before.
        inserted.clear();
        *at_origin = origin;
    }

    /// The `Metaspace` decoder step: the replacement becomes `' '`, except in the first token
    /// where (unless the scheme is `never`) every replacement character is dropped.
    pub fn decode_token(&self, index: usize, token: &str) -> String {
        let drop = index == 0 && self.prepend_scheme != PrependScheme::Never;
        let mut out = String::with_capacity(token.len());
        for c in token.chars() {
            if c == self.replacement {
                if !drop {
                    out.push(' ');
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::PreTokenizer;

    /// `(json options, text, expected pieces)`; expectations from tokenizers 0.23.3's
    /// `Metaspace(...).pre_tokenize_str(text)`.
    #[rustfmt::skip]
    const CASES: &[(&str, &str, &[&str])] = &[
        (r#""prepend_scheme": "always", "split": true"#, "Hey friend!", &["\u{2581}Hey", "\u{2581}friend!"]),
        (r#""prepend_scheme": "always", "split": true"#, "  a  b ", &["\u{2581}", "\u{2581}a", "\u{2581}", "\u{2581}b", "\u{2581}"]),
        (r#""prepend_scheme": "always", "split": false"#, "Hey friend!", &["\u{2581}Hey\u{2581}friend!"]),
        (r#""prepend_scheme": "never", "split": true"#, "Hey friend!", &["Hey", "\u{2581}friend!"]),
        (r#""prepend_scheme": "first", "split": true"#, "Hey friend!", &["\u{2581}Hey", "\u{2581}friend!"]),
        (r#""add_prefix_space": true"#, "\u{2581}x y", &["\u{2581}x", "\u{2581}y"]),
        (r#""add_prefix_space": false, "prepend_scheme": "never""#, "x y", &["x", "\u{2581}y"]),
    ];

    #[test]
    fn pieces_match_tokenizers() {
        for (options, text, expected) in CASES {
            let json = format!(r#"{{"type": "Metaspace", "replacement": "\u2581", {options}}}"#);
            let value: Value = serde_json::from_str(&json).unwrap();
            let pre = PreTokenizer::from_json(&value, "pre_tokenizer").unwrap();
            let mut pieces = Pieces::new();
            pieces.reset(text);
            pre.pre_tokenize(&mut pieces);
            let got: Vec<&str> = pieces.iter().collect();
            assert_eq!(got, *expected, "{options} on {text:?}");
        }
    }

    #[test]
    fn legacy_flag_must_agree() {
        let value: Value = serde_json::from_str(
            r#"{"type": "Metaspace", "replacement": "_", "add_prefix_space": false}"#,
        )
        .unwrap();
        assert!(Metaspace::from_json(&value, "pre_tokenizer").is_err());
    }

    #[test]
    fn decoder_drops_the_first_replacements() {
        let m = Metaspace {
            replacement: '\u{2581}',
            prepend_scheme: PrependScheme::Always,
            split: true,
        };
        assert_eq!(m.decode_token(0, "\u{2581}a\u{2581}b"), "ab");
        assert_eq!(m.decode_token(1, "\u{2581}a"), " a");
    }
}
