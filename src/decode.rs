//! Decoders: turn token strings back into text.
//!
//! HF decodes by looking every id up as a token string and handing the list to the decoder. A
//! decoder that works token by token (ByteLevel) can be precomputed per id, which the tokenizer
//! does: its decode path is then one table look-up and a copy per id.

use serde_json::Value;

use crate::byte_alphabet;
use crate::error::{Error, Result};
use crate::load::json::type_of;

/// A decoder, as a tokenizer.json names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoder {
    /// Undo GPT-2's byte alphabet (tokens with characters outside it are kept as their UTF-8).
    ByteLevel,
}

impl Decoder {
    /// Builds a decoder from its tokenizer.json object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        match type_of(value, path)? {
            "ByteLevel" => Ok(Decoder::ByteLevel),
            other => Err(Error::unsupported(format!(
                "{path}: decoder type {other:?} is not supported"
            ))),
        }
    }

    /// Whether the decoder treats each token on its own, so its output can be precomputed per id.
    pub fn is_per_token(&self) -> bool {
        matches!(self, Decoder::ByteLevel)
    }

    /// The bytes one token decodes to, for per-token decoders.
    pub fn decode_token(&self, token: &str) -> Vec<u8> {
        match self {
            Decoder::ByteLevel => {
                byte_alphabet::decode_token(token).unwrap_or_else(|| token.as_bytes().to_vec())
            }
        }
    }
}

/// What HF does without a decoder: the token strings joined by spaces.
pub fn join_with_spaces<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, token) in tokens.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(token.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_tokens() {
        let d = Decoder::ByteLevel;
        assert_eq!(d.decode_token("Ġhello"), b" hello");
        assert_eq!(d.decode_token("Ċ"), b"\n");
        // A character outside the alphabet keeps the whole token as UTF-8, as HF does.
        assert_eq!(d.decode_token("Ġ中"), "Ġ中".as_bytes());
    }
}
