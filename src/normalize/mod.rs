//! Normalizers: rewrite the text before it is pre-tokenized.
//!
//! Only the Unicode normalization forms and `Sequence` live here so far; each normalizer works on
//! a whole segment of text and writes the result into a caller's buffer, so the hot path allocates
//! nothing once the buffer has grown.

use serde_json::Value;
use unicode_normalization::{
    is_nfc_quick, is_nfd_quick, is_nfkc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization,
};

use crate::error::{Error, Result};
use crate::load::json::type_of;

/// A normalizer, as a tokenizer.json names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalizer {
    /// Canonical composition.
    Nfc,
    /// Canonical decomposition.
    Nfd,
    /// Compatibility composition.
    Nfkc,
    /// Compatibility decomposition.
    Nfkd,
    /// Each normalizer in turn.
    Sequence(Vec<Normalizer>),
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
            Normalizer::Nfc => out.extend(text.nfc()),
            Normalizer::Nfd => out.extend(text.nfd()),
            Normalizer::Nfkc => out.extend(text.nfkc()),
            Normalizer::Nfkd => out.extend(text.nfkd()),
        }
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
