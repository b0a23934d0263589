//! The `ByteLevel` pre-tokenizer of GPT-2 style tokenizers, without the byte-to-unicode mapping.
//!
//! In `tokenizers`, `ByteLevel` does three things to each piece: prepend a space when
//! `add_prefix_space` is on and the piece does not start with `' '` (U+0020 only; an empty piece
//! is left alone), split it with the GPT-2 pattern (`Isolated`) when `use_regex` is on, and map
//! every byte to a printable character (`Ġ` for a space, ...). ferrotok does the first two here and
//! skips the mapping: a byte-level BPE model in ferrotok works on the raw bytes of each piece,
//! which is the same thing without building a mapped string per piece.
//!
//! The GPT-2 pattern runs on Oniguruma like in `tokenizers`; a hand-written scanner is meant to
//! take its place on the hot path.

use std::sync::LazyLock;

use super::regex::Regex;
use super::split::{apply_behavior, MatchList, SplitBehavior};
use super::Pieces;

/// The GPT-2 split pattern `ByteLevel` uses when `use_regex` is on.
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

static GPT2_REGEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::onig(GPT2_PATTERN).expect("the GPT-2 pattern compiles"));

/// The `ByteLevel` pre-tokenizer (see the module notes for what it does and does not do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteLevel {
    /// Prepend `' '` to every piece that does not start with one.
    pub add_prefix_space: bool,
    /// Only stored: used by the `ByteLevel` post-processor to trim whitespace from offsets.
    pub trim_offsets: bool,
    /// Split each piece with the GPT-2 pattern.
    pub use_regex: bool,
}

impl ByteLevel {
    /// What this step does to a text's pieces, for
    /// [`PreTokenizer::tiling_scanner`](super::PreTokenizer::tiling_scanner).
    pub(crate) fn tiling(&self) -> super::Tiling {
        match (self.add_prefix_space, self.use_regex) {
            (true, _) => super::Tiling::Other,
            (false, true) => GPT2_REGEX
                .known()
                .map_or(super::Tiling::Other, super::Tiling::By),
            (false, false) => super::Tiling::Identity,
        }
    }

    /// Applies the prefix space and the GPT-2 split to every piece.
    pub(crate) fn pre_tokenize(&self, pieces: &mut Pieces) {
        if self.add_prefix_space {
            pieces.insert_prefix_spaces();
        }
        if self.use_regex {
            let regex: &Regex = &GPT2_REGEX;
            pieces.resplit(|text, piece, marks, out| {
                marks.clear();
                let offset = piece.start;
                let inside = &text[piece];
                let mut list = MatchList::new(marks, offset, inside.len(), false);
                regex.for_each_match(inside, |s, e| list.add_match(s, e));
                list.finish();
                apply_behavior(marks, SplitBehavior::Isolated, out);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::PreTokenizer;

    fn run(byte_level: ByteLevel, text: &str) -> Pieces {
        let mut pieces = Pieces::new();
        pieces.reset(text);
        PreTokenizer::ByteLevel(byte_level).pre_tokenize(&mut pieces);
        pieces
    }

    /// `(add_prefix_space, use_regex, text, expected pieces)`. The expectations came from
    /// tokenizers 0.23.3: `ByteLevel(...).pre_tokenize_str(text)`, with each piece mapped back
    /// from the GPT-2 byte alphabet to raw text.
    #[rustfmt::skip]
    const BYTE_LEVEL_CASES: &[(bool, bool, &str, &[&str])] = &[
        (false, false, "", &[]),
        (false, false, "Hello world", &["Hello world"]),
        (false, false, " Hello", &[" Hello"]),
        (false, false, "  two  spaces  ", &["  two  spaces  "]),
        (false, false, "it's 42!\n\nok", &["it's 42!\n\nok"]),
        (false, false, "\n", &["\n"]),
        (false, false, "é😀 x", &["é😀 x"]),
        (false, false, "a\u{3000}b", &["a\u{3000}b"]),
        (false, false, "'s", &["'s"]),
        (false, true, "", &[]),
        (false, true, "Hello world", &["Hello", " world"]),
        (false, true, " Hello", &[" Hello"]),
        (false, true, "  two  spaces  ", &[" ", " two", " ", " spaces", "  "]),
        (false, true, "it's 42!\n\nok", &["it", "'s", " 42", "!", "\n", "\n", "ok"]),
        (false, true, "\n", &["\n"]),
        (false, true, "é😀 x", &["é", "😀", " x"]),
        (false, true, "a\u{3000}b", &["a", "\u{3000}", "b"]),
        (false, true, "'s", &["'s"]),
        (true, false, "", &[]),
        (true, false, "Hello world", &[" Hello world"]),
        (true, false, " Hello", &[" Hello"]),
        (true, false, "  two  spaces  ", &["  two  spaces  "]),
        (true, false, "it's 42!\n\nok", &[" it's 42!\n\nok"]),
        (true, false, "\n", &[" \n"]),
        (true, false, "é😀 x", &[" é😀 x"]),
        (true, false, "a\u{3000}b", &[" a\u{3000}b"]),
        (true, false, "'s", &[" 's"]),
        (true, true, "", &[]),
        (true, true, "Hello world", &[" Hello", " world"]),
        (true, true, " Hello", &[" Hello"]),
        (true, true, "  two  spaces  ", &[" ", " two", " ", " spaces", "  "]),
        (true, true, "it's 42!\n\nok", &[" it", "'s", " 42", "!", "\n", "\n", "ok"]),
        (true, true, "\n", &[" \n"]),
        (true, true, "é😀 x", &[" é", "😀", " x"]),
        (true, true, "a\u{3000}b", &[" a", "\u{3000}", "b"]),
        (true, true, "'s", &[" '", "s"]),
    ];

    #[test]
    fn byte_level_matches_tokenizers() {
        for (add_prefix_space, use_regex, text, expected) in BYTE_LEVEL_CASES {
            let byte_level = ByteLevel {
                add_prefix_space: *add_prefix_space,
                trim_offsets: true,
                use_regex: *use_regex,
            };
            let pieces = run(byte_level, text);
            let got: Vec<&str> = pieces.iter().collect();
            assert_eq!(got, *expected, "{byte_level:?} on {text:?}");
        }
    }

    #[test]
    fn inserted_spaces_are_recorded() {
        let byte_level = ByteLevel {
            add_prefix_space: true,
            trim_offsets: true,
            use_regex: false,
        };
        let split = PreTokenizer::Split(
            super::super::Split::new(
                super::super::SplitPattern::String("-".into()),
                super::super::SplitBehavior::Removed,
                false,
            )
            .unwrap(),
        );
        let mut pieces = Pieces::new();
        pieces.reset("ab- cd-ef");
        split.pre_tokenize(&mut pieces);
        PreTokenizer::ByteLevel(byte_level).pre_tokenize(&mut pieces);
        // The text between pieces ("-") is kept; only "ab" and "ef" get a space.
        assert_eq!(pieces.text, " ab- cd- ef");
        assert_eq!(pieces.inserted, vec![0, 8]);
        assert_eq!(pieces.iter().collect::<Vec<_>>(), [" ab", " cd", " ef"]);
        // A second pass finds every piece starting with a space: nothing changes.
        PreTokenizer::ByteLevel(byte_level).pre_tokenize(&mut pieces);
        assert_eq!(pieces.text, " ab- cd- ef");
        assert_eq!(pieces.inserted, vec![0, 8]);
    }

    #[test]
    fn inserted_positions_shift_with_later_insertions() {
        let mut pieces = Pieces::new();
        pieces.reset("a b");
        pieces.insert_prefix_spaces();
        assert_eq!(
            (pieces.text.as_str(), &pieces.inserted[..]),
            (" a b", &[0][..])
        );
        // Cut into " a", "b" by hand; inserting again shifts nothing before the new space.
        pieces.ranges = vec![0..2, 3..4];
        pieces.insert_prefix_spaces();
        assert_eq!(pieces.text, " a  b");
        assert_eq!(pieces.inserted, vec![0, 3]);
        assert_eq!(pieces.iter().collect::<Vec<_>>(), [" a", " b"]);
    }
}
