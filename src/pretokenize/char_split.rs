//! The pre-tokenizers that cut by character class: `Whitespace`, `WhitespaceSplit`,
//! `BertPreTokenizer`, `Punctuation`, `CharDelimiterSplit` and `UnicodeScripts`.
//!
//! `tokenizers` runs most of them as a character predicate (each matching character is a
//! one-character match, then a split behavior); `Whitespace` runs the regex `\w+|[^\w\s]+` and
//! keeps the matches. Both are a single scan over the characters here, with the classes from
//! [`crate::normalize::char_classes`] (asked of the reference for every code point), so no regex
//! engine runs and nothing is allocated: the match list lives in the pass's scratch.

use std::ops::Range;

use super::script_classes::script_class;
use super::split::{split_by_char, Marked, SplitBehavior};
use crate::normalize::char_classes::{
    ascii_classes, classes, PUNCTUATION, REGEX_SPACE, WHITESPACE, WORD,
};

/// A pre-tokenizer that cuts at characters of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharSplit {
    /// `Whitespace`: runs of `\w` and runs of `[^\w\s]`; `\s` dropped.
    Whitespace,
    /// `WhitespaceSplit`: whitespace dropped.
    WhitespaceSplit,
    /// `BertPreTokenizer`: whitespace dropped, then every punctuation character on its own.
    Bert,
    /// `Punctuation`: each punctuation character is a match, handled with `behavior`.
    Punctuation(SplitBehavior),
    /// `CharDelimiterSplit`: the delimiter dropped.
    Delimiter(char),
    /// `UnicodeScripts`: cut where the script changes.
    UnicodeScripts,
}

impl CharSplit {
    /// Whether it drops all whitespace, so that any whitespace ends every piece (`Whitespace`,
    /// `WhitespaceSplit`, `BertPreTokenizer`).
    pub(crate) fn drops_whitespace(&self) -> bool {
        matches!(
            self,
            CharSplit::Whitespace | CharSplit::WhitespaceSplit | CharSplit::Bert
        )
    }

    /// Cuts the piece `text[piece]`, appending the resulting ranges to `out`.
    pub(crate) fn split_piece(
        &self,
        text: &str,
        piece: Range<usize>,
        scratch: &mut Vec<Marked>,
        out: &mut Vec<Range<usize>>,
    ) {
        match *self {
            CharSplit::Whitespace => whitespace_runs(text, piece, out),
            CharSplit::WhitespaceSplit => {
                split_by_char(text, piece, scratch, out, SplitBehavior::Removed, |c| {
                    classes(c) & WHITESPACE != 0
                })
            }
            CharSplit::Bert => bert_pieces(text, piece, out),
            CharSplit::UnicodeScripts => script_pieces(text, piece, out),
            CharSplit::Punctuation(behavior) => {
                split_by_char(text, piece, scratch, out, behavior, |c| {
                    classes(c) & PUNCTUATION != 0
                })
            }
            CharSplit::Delimiter(delimiter) => {
                split_by_char(text, piece, scratch, out, SplitBehavior::Removed, |c| {
                    c == delimiter
                })
            }
        }
    }
}

/// `UnicodeScripts`: a cut before every character whose script differs from the last script
/// seen (characters without a script, class 0, neither cut nor count). As in the reference, the
/// first cut is before the first character with a script, and what precedes it is dropped (a
/// piece of only script-less characters gives nothing).
fn script_pieces(text: &str, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
    let offset = piece.start;
    let mut last = 0u8;
    let mut start: Option<usize> = None;
    for (i, c) in text[piece.clone()].char_indices() {
        let class = script_class(c);
        if class != 0 && class != last {
            if let Some(s) = start {
                out.push(offset + s..offset + i);
            }
            start = Some(i);
        }
        if class != 0 {
            last = class;
        }
    }
    if let Some(s) = start {
        out.push(offset + s..piece.end);
    }
}

/// `BertPreTokenizer`: whitespace removed, then each punctuation character isolated. One scan
/// gives the same pieces as the reference's two passes, since no character is both. ASCII bytes
/// are classed without decoding a `char` (callgrind, bert-base-uncased on the mixed corpus: this
/// function's instructions fell from 173 to 120 million).
fn bert_pieces(text: &str, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut start = None;
    let mut i = piece.start;
    while i < piece.end {
        let (bits, len) = match bytes[i] {
            b @ 0..=0x7F => (ascii_classes(b), 1),
            _ => {
                let c = text[i..].chars().next().expect("a character boundary");
                (classes(c), c.len_utf8())
            }
        };
        if bits & (WHITESPACE | PUNCTUATION) == 0 {
            start.get_or_insert(i);
        } else {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
            if bits & WHITESPACE == 0 {
                out.push(i..i + len);
            }
        }
        i += len;
    }
    if let Some(s) = start {
        out.push(s..piece.end);
    }
}

/// The matches of `\w+|[^\w\s]+` (the only pieces `Whitespace` keeps).
fn whitespace_runs(text: &str, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Word,
        Space,
        Other,
    }
    let kind = |c: char| {
        let bits = classes(c);
        if bits & WORD != 0 {
            Kind::Word
        } else if bits & REGEX_SPACE != 0 {
            Kind::Space
        } else {
            Kind::Other
        }
    };
    let offset = piece.start;
    let mut run: Option<(usize, Kind)> = None;
    for (i, c) in text[piece.clone()].char_indices() {
        let k = kind(c);
        match run {
            Some((_, current)) if current == k => {}
            _ => {
                if let Some((start, current)) = run.take() {
                    if current != Kind::Space {
                        out.push(offset + start..offset + i);
                    }
                }
                run = Some((i, k));
            }
        }
    }
    if let Some((start, current)) = run {
        if current != Kind::Space {
            out.push(offset + start..piece.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::{Pieces, PreTokenizer};

    /// `(pre-tokenizer, text, expected pieces)`; expectations from tokenizers 0.23.3's
    /// `pre_tokenize_str` on the same pre-tokenizer.
    #[rustfmt::skip]
    const CASES: &[(&str, &str, &[&str])] = &[
        ("whitespace", "Hey man!! How's it going?", &["Hey", "man", "!!", "How", "'", "s", "it", "going", "?"]),
        ("whitespace", "  a_b-1\u{3000}\u{e9}t\u{e9}\t", &["a_b", "-", "1", "\u{e9}t\u{e9}"]),
        ("whitespace", "", &[]),
        ("whitespace_split", " Hey  man!!\n\u{a0}x ", &["Hey", "man!!", "x"]),
        ("bert", "Hey friend!     How are you?!?", &["Hey", "friend", "!", "How", "are", "you", "?", "!", "?"]),
        ("bert", "a$b\u{ff01}c", &["a", "$", "b", "\u{ff01}", "c"]),
        ("punctuation_isolated", "Hey friend!  How?!", &["Hey friend", "!", "  How", "?", "!"]),
        ("punctuation_contiguous", "a?!b", &["a", "?!", "b"]),
        ("delimiter", "a-b--c", &["a", "b", "c"]),
        ("scripts", "Hello 世界のカ ﾟ abc", &["Hello ", "世界のカ ", "ﾟ ", "abc"]),
        ("scripts", " \u{30fc}x", &["\u{30fc}", "x"]),
        ("scripts", "  ", &[]),
    ];

    fn build(name: &str) -> PreTokenizer {
        PreTokenizer::Chars(match name {
            "whitespace" => CharSplit::Whitespace,
            "whitespace_split" => CharSplit::WhitespaceSplit,
            "bert" => CharSplit::Bert,
            "punctuation_isolated" => CharSplit::Punctuation(SplitBehavior::Isolated),
            "punctuation_contiguous" => CharSplit::Punctuation(SplitBehavior::Contiguous),
            "delimiter" => CharSplit::Delimiter('-'),
            "scripts" => CharSplit::UnicodeScripts,
            other => panic!("{other}"),
        })
    }

    #[test]
    fn splits_match_tokenizers() {
        for (name, text, expected) in CASES {
            let mut pieces = Pieces::new();
            pieces.reset(text);
            build(name).pre_tokenize(&mut pieces);
            let got: Vec<&str> = pieces.iter().collect();
            assert_eq!(got, *expected, "{name} on {text:?}");
        }
    }
}
