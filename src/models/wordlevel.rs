//! WordLevel, as Hugging Face `tokenizers` defines it: each pre-tokenized piece is one token,
//! its vocabulary id or the unknown token's.
//!
//! One hash look-up per piece, keyed by the piece's bytes as they are (no copy, no allocation).

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// A WordLevel model.
#[derive(Debug, Clone)]
pub struct WordLevel {
    vocab: FxHashMap<Box<[u8]>, u32>,
    unk_id: u32,
}

impl WordLevel {
    /// Builds the model from its vocabulary (token → id) and unknown token.
    ///
    /// The unknown token must be in the vocabulary: `tokenizers` loads such a file but fails on
    /// the first piece it does not know, so ferrotok refuses it up front.
    pub fn new(vocab: &FxHashMap<String, u32>, unk_token: &str) -> Result<Self> {
        let unk_id = *vocab.get(unk_token).ok_or_else(|| {
            Error::invalid(format!(
                "model.unk_token: {unk_token:?} is not in the vocabulary"
            ))
        })?;
        Ok(WordLevel {
            vocab: vocab
                .iter()
                .map(|(t, &id)| (t.as_bytes().into(), id))
                .collect(),
            unk_id,
        })
    }

    /// Encodes one pre-tokenized piece, appending its id to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        out.push(self.vocab.get(piece).copied().unwrap_or(self.unk_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_pieces() {
        let vocab: FxHashMap<String, u32> = [("<unk>", 0), ("hello", 1), ("wörld", 2)]
            .iter()
            .map(|(t, i)| (t.to_string(), *i))
            .collect();
        let model = WordLevel::new(&vocab, "<unk>").unwrap();
        let cases: &[(&str, u32)] = &[("hello", 1), ("wörld", 2), ("Hello", 0), ("<unk>", 0)];
        for (piece, want) in cases {
            let mut out = Vec::new();
            model.encode_piece(piece.as_bytes(), &mut out);
            assert_eq!(out, [*want], "{piece}");
        }
        assert!(WordLevel::new(&vocab, "[UNK]").is_err());
    }
}
