//! Tokenization models: what turns a pre-tokenized piece into ids.
//!
//! Components are enums, not trait objects: the compiler sees every variant and dispatch is a match.

pub mod bpe;

pub use bpe::{Bpe, BpeOptions, Units};

/// A tokenization model.
#[derive(Debug, Clone)]
pub enum Model {
    /// Byte-pair encoding (HF `BPE`, and every `.tiktoken` encoding).
    Bpe(Bpe),
}

impl Model {
    /// Encodes one pre-tokenized piece, appending ids to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        match self {
            Model::Bpe(bpe) => bpe.encode_piece(piece, out),
        }
    }
}
