//! The tokenizer run with offsets: text (or a pair) → [`Encoding`], as `tokenizers`'
//! `encode_char_offsets` produces it.
//!
//! The steps are those of the ids-only path in [`crate::tokenizer`] (added-token split,
//! normalizer, normalized added tokens, pre-tokenizer, model), each also tracking where every
//! byte came from: the normalizers through [`Aligned`], the pre-tokenizers through
//! [`Pieces::align`], the models by reporting each token's bytes in its piece
//! ([`Model::encode_piece_tokens`](crate::models::Model::encode_piece_tokens)). A token's offsets
//! are the original range from its first byte's start to its last byte's end, converted to
//! character offsets. Word ids count the pieces (each added token is one), as the reference's
//! split indices. Then truncation, the post-processor and padding, in the reference's order.
//!
//! This path allocates per call and is several times slower than the ids-only one; it runs only
//! when the caller asks for more than ids.

use crate::added::Segment;
use crate::encoding::{Encoding, PaddingParams, TruncationParams, TruncationStrategy};
use crate::error::{Error, Result};
use crate::models::PieceToken;
use crate::normalize::aligned::{Aligned, Span};
use crate::pretokenize::Pieces;
use crate::tokenizer::{SpecialTokens, Tokenizer};

/// Byte offsets in a text → character offsets, as the reference converts them.
struct CharOffsets {
    /// For each byte: the index of the character it belongs to; empty for ASCII text.
    index: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let mut index = Vec::new();
        if !text.is_ascii() {
            index.reserve(text.len());
            for (i, c) in text.chars().enumerate() {
                index.extend(std::iter::repeat_n(i, c.len_utf8()));
            }
        }
        CharOffsets {
            index,
            len: text.len(),
        }
    }

    fn convert(&self, (start, end): Span) -> Span {
        if self.index.is_empty() || start >= self.len {
            return (start, end);
        }
        if end < self.len {
            (self.index[start], self.index[end])
        } else {
            let last = if end > 0 { self.index[end - 1] } else { start };
            (self.index[start], last + 1)
        }
    }
}

/// The state of one sequence being encoded.
struct Builder<'t, 's> {
    tokenizer: &'t Tokenizer,
    chars: CharOffsets,
    encoding: Encoding,
    word: u32,
    /// Reused buffers (see [`SCRATCH`]).
    pieces: &'s mut Pieces,
    piece_tokens: &'s mut Vec<PieceToken>,
}

thread_local! {
    /// The pieces and piece tokens of the rich path, reused across calls on a thread: building
    /// them anew each call made most of its time memory allocation (callgrind).
    static SCRATCH: std::cell::RefCell<(Pieces, Vec<PieceToken>)> =
        std::cell::RefCell::new((Pieces::new(), Vec::new()));
}

impl Builder<'_, '_> {
    /// An added token: one word, its original range.
    fn added(&mut self, id: u32, token: &str, range: Span) {
        let offsets = self.chars.convert(range);
        self.encoding
            .push(id, token.to_owned(), offsets, Some(self.word));
        self.word += 1;
    }

    /// Normalized text (with its alignments) that is not an added token: pre-tokenized and
    /// encoded piece by piece.
    fn plain(&mut self, text: &str, align: &[Span]) {
        if text.is_empty() {
            return;
        }
        let tokenizer = self.tokenizer;
        self.pieces.reset_aligned(text, align);
        if let Some(pre_tokenizer) = &tokenizer.pre_tokenizer {
            pre_tokenizer.pre_tokenize(self.pieces);
        }
        for p in 0..self.pieces.ranges.len() {
            let range = self.pieces.ranges[p].clone();
            let piece = &self.pieces.text[range.clone()];
            self.piece_tokens.clear();
            tokenizer.model.encode_piece_tokens(
                piece.as_bytes(),
                tokenizer.tokens(),
                self.piece_tokens,
            );
            for token in self.piece_tokens.drain(..) {
                // A token always covers at least one byte of its piece.
                let start = token.start.min(range.len() - 1);
                let end = range.start + token.end.clamp(start + 1, range.len());
                let start = range.start + start;
                let original = (self.pieces.align[start].0, self.pieces.align[end - 1].1);
                let text = token.text.unwrap_or_else(|| {
                    tokenizer
                        .id_to_token(token.id)
                        .unwrap_or_default()
                        .to_owned()
                });
                let offsets = self.chars.convert(original);
                self.encoding.push(token.id, text, offsets, Some(self.word));
            }
            self.word += 1;
        }
    }
}

impl Tokenizer {
    /// Encodes one sequence with offsets, before truncation and post-processing (the reference's
    /// `encode_single_sequence`). `type_id` is given to every token.
    pub fn encode_sequence(
        &self,
        text: &str,
        type_id: u32,
        specials: SpecialTokens<'_>,
    ) -> Encoding {
        let mut segments = Vec::new();
        match specials {
            SpecialTokens::Added if !self.added.is_empty() => {
                self.added.split_raw(text, &mut segments)
            }
            SpecialTokens::NonSpecial if !self.added.is_empty() => {
                self.added.split_raw_except_special(text, &mut segments)
            }
            _ if !text.is_empty() => segments.push(Segment::Text(0..text.len())),
            _ => {}
        }
        SCRATCH.with(|scratch| {
            let (pieces, piece_tokens) = &mut *scratch.borrow_mut();
            self.encode_sequence_with(text, type_id, specials, &segments, pieces, piece_tokens)
        })
    }

    fn encode_sequence_with(
        &self,
        text: &str,
        type_id: u32,
        specials: SpecialTokens<'_>,
        segments: &[Segment],
        pieces: &mut Pieces,
        piece_tokens: &mut Vec<PieceToken>,
    ) -> Encoding {
        let match_normalized = self.has_normalized_added
            && matches!(specials, SpecialTokens::Added | SpecialTokens::NonSpecial);
        let mut builder = Builder {
            tokenizer: self,
            chars: CharOffsets::new(text),
            encoding: Encoding::with_capacity(text.len() / 3 + 2),
            word: 0,
            pieces,
            piece_tokens,
        };
        let mut inner = Vec::new();
        for segment in segments {
            match segment {
                Segment::Token { id, range } => {
                    builder.added(*id, &text[range.clone()], (range.start, range.end))
                }
                Segment::Text(range) => {
                    let mut normalized = Aligned::new(&text[range.clone()]);
                    for span in &mut normalized.align {
                        *span = (span.0 + range.start, span.1 + range.start);
                    }
                    if let Some(normalizer) = &self.normalizer {
                        normalizer.normalize_aligned(&mut normalized);
                    }
                    if !match_normalized {
                        builder.plain(&normalized.text, &normalized.align);
                        continue;
                    }
                    inner.clear();
                    if matches!(specials, SpecialTokens::NonSpecial) {
                        self.added
                            .split_normalized_except_special(&normalized.text, &mut inner);
                    } else {
                        self.added.split_normalized(&normalized.text, &mut inner);
                    }
                    for part in &inner {
                        match part {
                            Segment::Token { id, range } => {
                                let original = normalized.original_range(range.start, range.end);
                                builder.added(*id, &normalized.text[range.clone()], original);
                            }
                            Segment::Text(r) => builder
                                .plain(&normalized.text[r.clone()], &normalized.align[r.clone()]),
                        }
                    }
                }
            }
        }
        let mut encoding = builder.encoding;
        encoding.set_type_ids(type_id);
        encoding
    }

    /// Encodes a sequence or a pair into one [`Encoding`]: each sequence, then truncation, the
    /// post-processor (with `add_special_tokens`) and padding, in the reference's order.
    pub fn encode_full(
        &self,
        first: &str,
        second: Option<&str>,
        add_special_tokens: bool,
        specials: SpecialTokens<'_>,
        truncation: Option<&TruncationParams>,
        padding: Option<&PaddingParams>,
    ) -> Result<Encoding> {
        let encoding = self.encode_sequence(first, 0, specials);
        let pair = second.map(|text| self.encode_sequence(text, 1, specials));
        let mut encoding = self.post_process(encoding, pair, add_special_tokens, truncation)?;
        if let Some(padding) = padding {
            let length = padding.target_length(encoding.len());
            encoding.pad(length, padding);
        }
        Ok(encoding)
    }

    /// Truncation and the post-processor (the reference's `post_process` without padding).
    pub fn post_process(
        &self,
        first: Encoding,
        second: Option<Encoding>,
        add_special_tokens: bool,
        truncation: Option<&TruncationParams>,
    ) -> Result<Encoding> {
        let (first, second) = match truncation {
            Some(params) => {
                let added = if add_special_tokens {
                    self.num_special_tokens_to_add(second.is_some())
                } else {
                    0
                };
                let max_length = params.max_length.checked_sub(added).ok_or_else(|| {
                    Error::argument(format!(
                        "truncation max_length {} is smaller than the {added} special tokens \
                         the post-processor adds",
                        params.max_length
                    ))
                })?;
                let params = TruncationParams {
                    max_length,
                    ..params.clone()
                };
                truncate_encodings(first, second, &params)?
            }
            None => (first, second),
        };
        Ok(match &self.post_processor {
            Some(processor) => processor.process(first, second, add_special_tokens),
            None => match second {
                None => first,
                Some(second) => {
                    let mut parts = [first, second];
                    for (i, part) in parts.iter_mut().enumerate() {
                        part.set_sequence_id(i);
                    }
                    Encoding::merge(parts, false)
                }
            },
        })
    }

    /// The number of special tokens the post-processor adds to one sequence or a pair.
    pub fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.post_processor
            .as_ref()
            .map_or(0, |p| p.added_tokens(is_pair))
    }
}

/// Truncates one sequence or a pair to `params.max_length` tokens in all (the reference's
/// `truncate_encodings`).
pub fn truncate_encodings(
    mut first: Encoding,
    mut second: Option<Encoding>,
    params: &TruncationParams,
) -> Result<(Encoding, Option<Encoding>)> {
    let cut = |encoding: &mut Encoding, length: usize| -> Result<()> {
        if length > 0 && length < encoding.len() && params.stride >= length {
            return Err(Error::argument(format!(
                "truncation stride ({}) must be smaller than the length kept ({length}, after \
                 the special tokens are taken off max_length)",
                params.stride
            )));
        }
        encoding.truncate(length, params.stride, params.direction);
        Ok(())
    };
    if params.max_length == 0 {
        cut(&mut first, 0)?;
        if let Some(second) = second.as_mut() {
            cut(second, 0)?;
        }
        return Ok((first, second));
    }
    let total = first.len() + second.as_ref().map_or(0, Encoding::len);
    if total <= params.max_length {
        return Ok((first, second));
    }
    let to_remove = total - params.max_length;
    match params.strategy {
        TruncationStrategy::LongestFirst => match second.as_mut() {
            Some(other) => {
                let (mut n1, mut n2) = (first.len(), other.len());
                let swap = n1 > n2;
                if swap {
                    std::mem::swap(&mut n1, &mut n2);
                }
                n2 = if n1 > params.max_length {
                    n1
                } else {
                    n1.max(params.max_length - n1)
                };
                if n1 + n2 > params.max_length {
                    n1 = params.max_length / 2;
                    n2 = n1 + params.max_length % 2;
                }
                if swap {
                    std::mem::swap(&mut n1, &mut n2);
                }
                cut(&mut first, n1)?;
                cut(other, n2)?;
            }
            None => cut(&mut first, total - to_remove)?,
        },
        TruncationStrategy::OnlyFirst | TruncationStrategy::OnlySecond => {
            let target = if params.strategy == TruncationStrategy::OnlyFirst {
                &mut first
            } else {
                second.as_mut().ok_or_else(|| {
                    Error::argument(
                        "truncation strategy only_second needs a pair of sequences".to_owned(),
                    )
                })?
            };
            if target.len() <= to_remove {
                return Err(Error::argument(format!(
                    "truncation error: the sequence to truncate ({} tokens) is too short to \
                     remove {to_remove} tokens and respect max_length {}",
                    target.len(),
                    params.max_length
                )));
            }
            let length = target.len() - to_remove;
            cut(target, length)?;
        }
    }
    Ok((first, second))
}

/// Pads every encoding of a batch to the same length (the reference's `pad_encodings`).
pub fn pad_encodings(encodings: &mut [Encoding], params: &PaddingParams) {
    let longest = encodings.iter().map(Encoding::len).max().unwrap_or(0);
    let length = params.target_length(longest);
    for encoding in encodings {
        encoding.pad(length, params);
    }
}
