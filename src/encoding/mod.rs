//! The rich output of a Hugging Face tokenizer: ids with tokens, offsets, masks, word and
//! sequence ids, and the overflowing parts cut by truncation; and what is done to it (merging
//! the two sequences of a pair, truncating, padding).
//!
//! Every operation follows `tokenizers`' `Encoding` exactly, quirks included (truncation forgets
//! the sequence ranges; merging pairs every overflowing part of one side with the other side and
//! its parts; padding pads the overflowing parts too), because the Python users of this type
//! compare it field by field with what they had. The ids-only paths never build one.
//!
//! [`params`] holds the truncation and padding settings; [`pipeline`] runs a [`Tokenizer`]
//! (crate::Tokenizer) with offsets and produces these.

pub mod params;
pub mod pipeline;

use std::ops::Range;

pub use self::params::{
    PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

/// Character (or byte) offsets of a token in its input: `(start, end)`.
pub type Offsets = (usize, usize);

/// One encoded sequence or pair, with everything `tokenizers` reports about each token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Segment ids (0 for the first sequence, 1 for the second, by the post-processor).
    pub type_ids: Vec<u32>,
    /// Token strings, as the model spells them.
    pub tokens: Vec<String>,
    /// The index of the pre-tokenized word each token comes from (`None` for added ones).
    pub words: Vec<Option<u32>>,
    /// Offsets in the input text.
    pub offsets: Vec<Offsets>,
    /// 1 for tokens added by the post-processor or padding.
    pub special_tokens_mask: Vec<u32>,
    /// 0 for padding.
    pub attention_mask: Vec<u32>,
    /// The parts cut off by truncation, each an encoding of its own.
    pub overflowing: Vec<Encoding>,
    /// Which tokens belong to which input sequence: `(sequence, token range)`.
    pub sequence_ranges: Vec<(usize, Range<usize>)>,
}

impl Encoding {
    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// An empty encoding with room for `tokens` tokens.
    pub fn with_capacity(tokens: usize) -> Self {
        Encoding {
            ids: Vec::with_capacity(tokens),
            type_ids: Vec::with_capacity(tokens),
            tokens: Vec::with_capacity(tokens),
            words: Vec::with_capacity(tokens),
            offsets: Vec::with_capacity(tokens),
            special_tokens_mask: Vec::with_capacity(tokens),
            attention_mask: Vec::with_capacity(tokens),
            overflowing: Vec::new(),
            sequence_ranges: Vec::new(),
        }
    }

    /// Appends one token.
    pub(crate) fn push(&mut self, id: u32, token: String, offsets: Offsets, word: Option<u32>) {
        self.ids.push(id);
        self.type_ids.push(0);
        self.tokens.push(token);
        self.words.push(word);
        self.offsets.push(offsets);
        self.special_tokens_mask.push(0);
        self.attention_mask.push(1);
    }

    /// Special tokens added by a post-processor: no word, empty offsets, masked as special.
    pub(crate) fn special(ids: &[u32], tokens: &[String], type_id: u32) -> Self {
        let n = ids.len();
        Encoding {
            ids: ids.to_vec(),
            type_ids: vec![type_id; n],
            tokens: tokens.to_vec(),
            words: vec![None; n],
            offsets: vec![(0, 0); n],
            special_tokens_mask: vec![1; n],
            attention_mask: vec![1; n],
            overflowing: Vec::new(),
            sequence_ranges: Vec::new(),
        }
    }

    /// Marks every token as part of sequence `sequence` (replacing an earlier range for it).
    pub fn set_sequence_id(&mut self, sequence: usize) {
        self.set_sequence_range(sequence, 0..self.len());
    }

    /// Sets the token range of `sequence` (replacing an earlier one).
    fn set_sequence_range(&mut self, sequence: usize, range: Range<usize>) {
        match self
            .sequence_ranges
            .iter_mut()
            .find(|(s, _)| *s == sequence)
        {
            Some(entry) => entry.1 = range,
            None => self.sequence_ranges.push((sequence, range)),
        }
    }

    /// Sets every type id.
    pub fn set_type_ids(&mut self, type_id: u32) {
        self.type_ids = vec![type_id; self.len()];
    }

    /// The sequence of each token: from the ranges, or 0 for all when there are none.
    pub fn sequence_ids(&self) -> Vec<Option<usize>> {
        let mut ids = vec![None; self.len()];
        if self.sequence_ranges.is_empty() {
            ids.iter_mut().for_each(|id| *id = Some(0));
            return ids;
        }
        let count = self.sequence_ranges.len();
        for sequence in 0..count {
            let range = self
                .sequence_ranges
                .iter()
                .find(|(s, _)| *s == sequence)
                .map_or(0..self.len(), |(_, r)| r.clone());
            for id in &mut ids[range.start.min(self.len())..range.end.min(self.len())] {
                *id = Some(sequence);
            }
        }
        ids
    }

    /// The encodings concatenated, as the reference's `Encoding::merge`.
    pub fn merge(encodings: impl IntoIterator<Item = Encoding>, growing_offsets: bool) -> Self {
        let encodings: Vec<Encoding> = encodings.into_iter().collect();
        let mut merged = Encoding::with_capacity(encodings.iter().map(Encoding::len).sum());
        for encoding in encodings {
            merged.merge_with(encoding, growing_offsets);
        }
        merged
    }

    /// Appends `other`. The overflowing parts combine: each of ours with `other` and with each of
    /// its parts, then ourselves with each of its parts.
    pub fn merge_with(&mut self, other: Encoding, growing_offsets: bool) {
        let mut overflowing = Vec::new();
        for mine in &self.overflowing {
            let mut combined = mine.clone();
            combined.merge_with(other.clone(), growing_offsets);
            overflowing.push(combined);
            for theirs in &other.overflowing {
                let mut combined = mine.clone();
                combined.merge_with(theirs.clone(), growing_offsets);
                overflowing.push(combined);
            }
        }
        for theirs in &other.overflowing {
            let mut combined = self.clone();
            combined.merge_with(theirs.clone(), growing_offsets);
            overflowing.push(combined);
        }
        let shift = self.len();
        for (sequence, range) in other.sequence_ranges {
            self.set_sequence_range(sequence, range.start + shift..range.end + shift);
        }
        let start = if growing_offsets {
            self.offsets.last().map_or(0, |o| o.1)
        } else {
            0
        };
        self.ids.extend(other.ids);
        self.type_ids.extend(other.type_ids);
        self.tokens.extend(other.tokens);
        self.words.extend(other.words);
        self.offsets.extend(
            other
                .offsets
                .into_iter()
                .map(|(s, e)| (s + start, e + start)),
        );
        self.special_tokens_mask.extend(other.special_tokens_mask);
        self.attention_mask.extend(other.attention_mask);
        self.overflowing = overflowing;
    }

    /// The tokens `range`, without overflowing parts or sequence ranges.
    fn slice(&self, range: Range<usize>) -> Encoding {
        Encoding {
            ids: self.ids[range.clone()].to_vec(),
            type_ids: self.type_ids[range.clone()].to_vec(),
            tokens: self.tokens[range.clone()].to_vec(),
            words: self.words[range.clone()].to_vec(),
            offsets: self.offsets[range.clone()].to_vec(),
            special_tokens_mask: self.special_tokens_mask[range.clone()].to_vec(),
            attention_mask: self.attention_mask[range].to_vec(),
            overflowing: Vec::new(),
            sequence_ranges: Vec::new(),
        }
    }

    /// Keeps `max_len` tokens; the rest goes to `overflowing` in windows of `max_len` that
    /// overlap by `stride` tokens. `max_len == 0` moves everything to one overflowing part.
    /// `stride` must be below `max_len` (checked by the caller: the reference panics).
    pub fn truncate(&mut self, max_len: usize, stride: usize, direction: TruncationDirection) {
        let len = self.len();
        if max_len >= len {
            return;
        }
        if max_len == 0 {
            let whole = std::mem::take(self);
            self.overflowing.push(whole);
            return;
        }
        let step = max_len - stride.min(max_len - 1);
        let mut parts = Vec::new();
        match direction {
            TruncationDirection::Right => {
                let mut start = 0;
                loop {
                    let stop = (start + max_len).min(len);
                    parts.push(start..stop);
                    if stop == len {
                        break;
                    }
                    start += step;
                }
            }
            TruncationDirection::Left => {
                // Windows ending at len, len - step, ...; stop at the one that reaches 0.
                let mut stop = len;
                loop {
                    let start = stop.saturating_sub(max_len);
                    parts.push(start..stop);
                    if start == 0 || stop <= step {
                        break;
                    }
                    stop -= step;
                }
            }
        }
        let mut first = self.slice(parts[0].clone());
        first.overflowing = parts[1..].iter().map(|r| self.slice(r.clone())).collect();
        *self = first;
    }

    /// Pads to `length` tokens (and every overflowing part too).
    pub fn pad(&mut self, length: usize, params: &PaddingParams) {
        for part in &mut self.overflowing {
            part.pad(length, params);
        }
        if self.len() >= length {
            return;
        }
        let n = length - self.len();
        fn fill<T: Clone>(values: &mut Vec<T>, value: T, n: usize, left: bool) {
            if left {
                values.splice(0..0, std::iter::repeat_n(value, n));
            } else {
                values.extend(std::iter::repeat_n(value, n));
            }
        }
        let left = params.direction == PaddingDirection::Left;
        fill(&mut self.ids, params.pad_id, n, left);
        fill(&mut self.type_ids, params.pad_type_id, n, left);
        fill(&mut self.tokens, params.pad_token.clone(), n, left);
        fill(&mut self.words, None, n, left);
        fill(&mut self.attention_mask, 0, n, left);
        fill(&mut self.special_tokens_mask, 1, n, left);
        fill(&mut self.offsets, (0, 0), n, left);
        if left {
            for (_, range) in &mut self.sequence_ranges {
                *range = range.start + n..range.end + n;
            }
        }
    }

    /// The token index of the character `position` of sequence `sequence` (HF's
    /// `char_to_token`).
    pub fn char_to_token(&self, position: usize, sequence: usize) -> Option<usize> {
        let range = self.sequence_range(sequence);
        self.offsets[range.clone()]
            .iter()
            .position(|&(start, end)| start <= position && position < end)
            .map(|i| i + range.start)
    }

    /// The tokens of `sequence`: its range, or everything when there are no ranges.
    pub fn sequence_range(&self, sequence: usize) -> Range<usize> {
        self.sequence_ranges
            .iter()
            .find(|(s, _)| *s == sequence)
            .map_or(0..self.len(), |(_, r)| r.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Encoding {
        let mut encoding = Encoding::default();
        for i in 0..n {
            encoding.push(i as u32, format!("t{i}"), (i, i + 1), Some(i as u32));
        }
        encoding
    }

    #[test]
    fn truncation_windows_overlap_by_the_stride() {
        let mut right = numbered(10);
        right.truncate(4, 1, TruncationDirection::Right);
        assert_eq!(right.ids, [0, 1, 2, 3]);
        let parts: Vec<_> = right.overflowing.iter().map(|e| e.ids.clone()).collect();
        assert_eq!(parts, [vec![3, 4, 5, 6], vec![6, 7, 8, 9]]);

        let mut left = numbered(10);
        left.truncate(4, 1, TruncationDirection::Left);
        assert_eq!(left.ids, [6, 7, 8, 9]);
        let parts: Vec<_> = left.overflowing.iter().map(|e| e.ids.clone()).collect();
        assert_eq!(parts, [vec![3, 4, 5, 6], vec![0, 1, 2, 3]]);
    }

    #[test]
    fn padding_left_shifts_the_sequence_range() {
        let mut encoding = numbered(2);
        encoding.set_sequence_id(0);
        let params = PaddingParams {
            direction: PaddingDirection::Left,
            ..PaddingParams::default()
        };
        encoding.pad(4, &params);
        assert_eq!(encoding.attention_mask, [0, 0, 1, 1]);
        assert_eq!(encoding.sequence_ids(), [None, None, Some(0), Some(0)]);
    }
}
