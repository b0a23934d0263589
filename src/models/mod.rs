//! Tokenization models: what turns a pre-tokenized piece into ids.
//!
//! Components are enums, not trait objects: the compiler sees every variant and dispatch is a match.

pub mod bpe;
mod huge_pages;
mod pair_table;
mod radix_heap;
pub mod ranks;
pub mod trie;
pub mod unigram;
pub mod vocab;
mod word_cache;
pub mod wordlevel;
pub mod wordpiece;

pub use bpe::{Bpe, BpeOptions, Units};
pub use unigram::Unigram;
pub use vocab::Vocab;
pub(crate) use word_cache::begin_call;
pub use wordlevel::WordLevel;
pub use wordpiece::WordPiece;

use crate::pretokenize::scanners::KnownPattern;

/// The length of the UTF-8 sequence that starts with `first`.
#[inline]
pub(crate) fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// A tokenization model.
// One model per tokenizer, never moved on a hot path: the variants' tables stay inline (boxing
// would add an indirection to every piece encoded).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Model {
    /// Byte-pair encoding (HF `BPE`, and every `.tiktoken` encoding).
    Bpe(Bpe),
    /// Greedy longest-match-first subwords (BERT).
    WordPiece(WordPiece),
    /// SentencePiece's unigram language model: the best-scoring segmentation.
    Unigram(Unigram),
    /// One token per piece.
    WordLevel(WordLevel),
}

impl Model {
    /// Encodes one pre-tokenized piece, appending ids to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        match self {
            Model::Bpe(bpe) => bpe.encode_piece(piece, out),
            Model::WordPiece(model) => model.encode_piece(piece, out),
            Model::Unigram(model) => model.encode_piece(piece, out),
            Model::WordLevel(model) => model.encode_piece(piece, out),
        }
    }

    /// Whether a long piece may be cut into parts encoded on their own, giving the ids of the
    /// whole, at the places [`Model::part_cuts`] gives (BPE models whose vocabulary allows it,
    /// see [`Bpe::cuts_long_pieces`]).
    pub fn cuts_long_pieces(&self) -> bool {
        match self {
            Model::Bpe(bpe) => bpe.cuts_long_pieces(),
            _ => false,
        }
    }

    /// Appends to `cuts` places about `step` bytes apart where `piece` may be cut (see
    /// [`Model::cuts_long_pieces`]).
    pub fn part_cuts(&self, piece: &[u8], step: usize, cuts: &mut Vec<usize>) {
        if let Model::Bpe(bpe) = self {
            bpe.part_cuts(piece, step, cuts);
        }
    }

    /// Encodes pre-tokenized pieces in order, appending ids to `out`: one dispatch for all of
    /// them, and BPE borrows its per-thread cache once.
    #[inline]
    pub fn encode_pieces<'p>(&self, pieces: impl Iterator<Item = &'p [u8]>, out: &mut Vec<u32>) {
        match self {
            Model::Bpe(bpe) => bpe.encode_pieces(pieces, out),
            Model::WordPiece(model) => pieces.for_each(|piece| model.encode_piece(piece, out)),
            Model::Unigram(model) => model.encode_pieces(pieces, out),
            Model::WordLevel(model) => pieces.for_each(|piece| model.encode_piece(piece, out)),
        }
    }

    /// Encodes the pieces `scanner` finds in `text` (see [`Bpe::encode_scanned`]).
    pub fn encode_scanned(&self, text: &str, scanner: KnownPattern, out: &mut Vec<u32>) {
        match self {
            Model::Bpe(bpe) => bpe.encode_scanned(text, scanner, out),
            _ => scanner.for_each_match(text, |start, end| {
                self.encode_piece(&text.as_bytes()[start..end], out)
            }),
        }
    }
}

/// The ids of one piece and the byte range of each.
type IdsAndSpans = (Vec<u32>, Vec<(usize, usize)>);

thread_local! {
    /// The ids and spans of one piece for [`Model::encode_piece_tokens`], reused.
    static PIECE_SCRATCH: std::cell::RefCell<IdsAndSpans> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A token of one piece, with the byte range of the piece it covers (what offsets are made of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceToken {
    /// The token id.
    pub id: u32,
    /// Start of its byte range in the piece.
    pub start: usize,
    /// End of its byte range in the piece.
    pub end: usize,
    /// Its text in an Encoding when that is not its vocabulary entry (Unigram's unknown runs).
    pub text: Option<String>,
}

impl PieceToken {
    /// A token shown as its vocabulary entry.
    pub fn new(id: u32, start: usize, end: usize) -> Self {
        PieceToken {
            id,
            start,
            end,
            text: None,
        }
    }
}

impl Model {
    /// Encodes one piece with each token's byte range in it: the slow path behind offsets. The
    /// ids are those of [`Model::encode_piece`]. `tokens` is the id → token string table.
    pub fn encode_piece_tokens(
        &self,
        piece: &[u8],
        tokens: &[Option<String>],
        out: &mut Vec<PieceToken>,
    ) {
        PIECE_SCRATCH.with(|scratch| {
            let (ids, spans) = &mut *scratch.borrow_mut();
            ids.clear();
            spans.clear();
            match self {
                Model::Unigram(model) => return model.encode_piece_tokens(piece, out),
                Model::Bpe(model) => {
                    model.encode_piece(piece, ids);
                    model.piece_spans(piece, ids, spans);
                }
                Model::WordPiece(model) => {
                    model.encode_piece(piece, ids);
                    model.piece_spans(piece, ids, tokens, spans);
                }
                Model::WordLevel(model) => {
                    model.encode_piece(piece, ids);
                    spans.push((0, piece.len()));
                }
            }
            out.extend(
                ids.iter()
                    .zip(spans.iter())
                    .map(|(&id, &(start, end))| PieceToken::new(id, start, end)),
            );
        })
    }
}
