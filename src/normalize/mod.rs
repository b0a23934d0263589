//! Normalizers: rewrite the text before it is pre-tokenized.
//!
//! The Unicode normalization forms, `Lowercase`, `Replace`, `Prepend` and `Sequence` live here so far; each
//! normalizer works on a whole segment of text and writes the result into a caller's buffer, so
//! the hot path allocates nothing once the buffer has grown.

use serde_json::Value;
use unicode_normalization::{
    is_nfc_quick, is_nfd_quick, is_nfkc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization,
};

use crate::error::{Error, Result};
use crate::load::json::{field_str, type_of};
use crate::pretokenize::Regex;

/// A normalizer, as a tokenizer.json names it.
#[derive(Debug)]
pub enum Normalizer {
    /// Canonical composition.
    Nfc,
    /// Canonical decomposition.
    Nfd,
    /// Compatibility composition.
    Nfkc,
    /// Compatibility decomposition.
    Nfkd,
    /// Each character lowercased on its own (HF maps `char::to_lowercase`, so a final sigma
    /// becomes `σ`, not `ς` as `str::to_lowercase` would give).
    Lowercase,
    /// Every match of a pattern replaced by `content`.
    Replace {
        /// What to replace.
        pattern: ReplacePattern,
        /// What to put in its place.
        content: String,
    },
    /// A string put before non-empty text (SentencePiece's `▁` for the first word).
    Prepend(String),
    /// Each normalizer in turn.
    Sequence(Vec<Normalizer>),
}

/// The pattern of a `Replace` normalizer.
#[derive(Debug)]
pub enum ReplacePattern {
    /// A literal string (non-empty).
    String(String),
    /// A regex, run by Oniguruma as in HF.
    Regex(Regex),
}

impl Normalizer {
    /// Builds a normalizer from its tokenizer.json object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let kind = type_of(value, path)?;
        Ok(match kind {
            "NFC" => Normalizer::Nfc,
            "NFD" => Normalizer::Nfd,
            "NFKC" => Normalizer::Nfkc,
            "NFKD" => Normalizer::Nfkd,
            "Lowercase" => Normalizer::Lowercase,
            "Prepend" => Normalizer::Prepend(field_str(value, "prepend", path)?.to_owned()),
            "Replace" => Normalizer::Replace {
                pattern: ReplacePattern::from_json(value, path)?,
                content: field_str(value, "content", path)?.to_owned(),
            },
            "Sequence" => {
                let items = value
                    .get("normalizers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::invalid(format!("{path}.normalizers: missing or not a list"))
                    })?;
                let inner = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        Normalizer::from_json(item, &format!("{path}.normalizers[{i}]"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Normalizer::Sequence(inner)
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{path}: normalizer type {other:?} is not supported"
                )));
            }
        })
    }

    /// Writes the normalized form of `text` into `out` (cleared first).
    ///
    /// Every variant below writes the whole result; none reads `out` first.
    pub fn normalize(&self, text: &str, out: &mut String) {
        out.clear();
        match self {
            Normalizer::Sequence(steps) => {
                let mut current = text.to_owned();
                for step in steps {
                    step.normalize(&current, out);
                    std::mem::swap(&mut current, out);
                }
                std::mem::swap(&mut current, out);
            }
            // The quick checks answer "yes" for most text (all ASCII, for one), skipping the rewrite.
            Normalizer::Nfc if is_nfc_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Nfd if is_nfd_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Nfkc if is_nfkc_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Nfkd if is_nfkd_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Lowercase => out.extend(text.chars().flat_map(char::to_lowercase)),
            Normalizer::Prepend(prefix) => {
                if !text.is_empty() {
                    out.push_str(prefix);
                    out.push_str(text);
                }
            }
            Normalizer::Replace { pattern, content } => pattern.replace_all(text, content, out),
            Normalizer::Nfc => out.extend(text.nfc()),
            Normalizer::Nfd => out.extend(text.nfd()),
            Normalizer::Nfkc => out.extend(text.nfkc()),
            Normalizer::Nfkd => out.extend(text.nfkd()),
        }
    }
}

impl ReplacePattern {
    /// Reads `{"String": s}` or `{"Regex": r}` (the `pattern` of `Replace` normalizers and
    /// decoders).
    ///
    /// HF compiles both forms with Oniguruma (the string escaped); for a non-empty literal,
    /// leftmost non-overlapping matching is the same as plain substring search, which runs here.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let Some(Value::Object(pattern)) = value.get("pattern") else {
            return Err(Error::invalid(format!(
                "{path}.pattern: missing or not an object"
            )));
        };
        match (pattern.get("String"), pattern.get("Regex")) {
            (Some(Value::String(s)), None) if s.is_empty() => Err(Error::unsupported(format!(
                "{path}.pattern.String: an empty pattern is not supported"
            ))),
            (Some(Value::String(s)), None) => Ok(ReplacePattern::String(s.clone())),
            (None, Some(Value::String(r))) => Ok(ReplacePattern::Regex(
                Regex::onig(r).map_err(|e| e.context(format!("{path}.pattern.Regex")))?,
            )),
            _ => Err(Error::invalid(format!(
                "{path}.pattern: expected {{\"String\": ...}} or {{\"Regex\": ...}}"
            ))),
        }
    }

    /// Appends `text` to `out` with every match replaced by `content`.
    pub fn replace_all(&self, text: &str, content: &str, out: &mut String) {
        let mut last = 0;
        let mut replace = |start: usize, end: usize| {
            out.push_str(&text[last..start]);
            out.push_str(content);
            last = end;
        };
        match self {
            ReplacePattern::String(literal) => {
                for (start, found) in text.match_indices(literal.as_str()) {
                    replace(start, start + found.len());
                }
            }
            ReplacePattern::Regex(regex) => regex.for_each_match(text, replace),
        }
        out.push_str(&text[last..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let cases = [
            (Normalizer::Nfc, "e\u{301}", "\u{e9}"),
            (Normalizer::Nfd, "\u{e9}", "e\u{301}"),
            (Normalizer::Nfkc, "\u{fb01}", "fi"),
            (Normalizer::Nfkd, "\u{2460}", "1"),
            (
                Normalizer::Sequence(vec![Normalizer::Nfd, Normalizer::Nfc]),
                "e\u{301}x",
                "\u{e9}x",
            ),
        ];
        let mut out = String::new();
        for (normalizer, input, expected) in cases {
            normalizer.normalize(input, &mut out);
            assert_eq!(out, expected, "{normalizer:?} on {input:?}");
        }
    }
}
