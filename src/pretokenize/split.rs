//! The `Split` pre-tokenizer, and the cutting rules every splitting pre-tokenizer shares.
//!
//! Hugging Face splits a piece in two steps, and this module follows them exactly:
//!
//! 1. `find_matches`: the matches of the pattern in the piece, plus the gaps between them, as a
//!    list that covers the piece: `(range, is_match)` in order. Empty matches stay in the list
//!    (as empty ranges); `invert` flips every flag.
//! 2. The behavior turns that list into pieces: `Removed` drops the matches, `Isolated` keeps
//!    everything, `MergedWithPrevious`/`MergedWithNext` glue a match onto the gap before/after it,
//!    `Contiguous` glues runs of equal flags. Empty pieces are then dropped.
//!
//! A `String` pattern is a literal: `tokenizers` escapes it and compiles it with Oniguruma, which
//! finds the same leftmost non-overlapping occurrences as `str::match_indices`, so the literal is
//! searched directly. The empty literal is the empty regex (an empty match at every character
//! boundary), so it goes through Oniguruma like a `Regex` pattern.

use std::ops::Range;

use super::regex::Regex;
use super::scanners::KnownPattern;
use crate::error::Result;

/// The pattern of a [`Split`]: `{"String": s}` (a literal) or `{"Regex": r}` in `tokenizer.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitPattern {
    /// A literal string.
    String(String),
    /// An Oniguruma regex.
    Regex(String),
}

/// What a [`Split`] does with the matches of its pattern (`SplitDelimiterBehavior` in `tokenizers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBehavior {
    /// Matches are dropped: `"a-b"` split on `-` gives `["a", "b"]`.
    Removed,
    /// Matches are pieces of their own: `["a", "-", "b"]`.
    Isolated,
    /// A match is glued to the piece before it: `["a-", "b"]`.
    MergedWithPrevious,
    /// A match is glued to the piece after it: `["a", "-b"]`.
    MergedWithNext,
    /// Adjacent matches form one piece: `"a--b"` gives `["a", "--", "b"]`.
    Contiguous,
}

impl SplitBehavior {
    /// Parses the `tokenizer.json` name of a behavior (`"Removed"`, `"Isolated"`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Removed" => SplitBehavior::Removed,
            "Isolated" => SplitBehavior::Isolated,
            "MergedWithPrevious" => SplitBehavior::MergedWithPrevious,
            "MergedWithNext" => SplitBehavior::MergedWithNext,
            "Contiguous" => SplitBehavior::Contiguous,
            _ => return None,
        })
    }
}

/// How a [`Split`] finds its matches.
#[derive(Debug)]
enum Matcher {
    /// A non-empty literal.
    Literal(String),
    /// A compiled regex (also the empty literal).
    Regex(Regex),
}

/// The `Split` pre-tokenizer: cuts each piece at the matches of a pattern.
#[derive(Debug)]
pub struct Split {
    pattern: SplitPattern,
    matcher: Matcher,
    behavior: SplitBehavior,
    invert: bool,
}

impl Split {
    /// Whether this split always cuts a text at a line start `x\nA` (see
    /// [`PreTokenizer::cuts_at_line_starts`](super::PreTokenizer::cuts_at_line_starts)): true
    /// when its pieces are a known pattern's matches.
    pub(crate) fn cuts_at_line_starts(&self) -> bool {
        self.tiling().is_some()
    }

    /// Whether this split always cuts a text before a space that follows a printable ASCII
    /// character (see [`PreTokenizer::cuts_before_spaces`](super::PreTokenizer::cuts_before_spaces)):
    /// CLIP's pattern, whose matches are kept and never hold whitespace; and the known patterns
    /// that tile ([`Split::tiling`]), where a space may start a match but only a whitespace
    /// alternative goes on after one, and those cannot start at the character before it. None
    /// looks behind, and the only look-ahead (`\s+(?!\S)`, `\s++$`) is in runs of whitespace,
    /// which the first part does not end with.
    pub(crate) fn cuts_before_spaces(&self) -> bool {
        let keeps_matches = self.behavior == SplitBehavior::Removed && self.invert;
        let clip = matches!(&self.matcher, Matcher::Regex(regex) if keeps_matches && regex.known() == Some(KnownPattern::Clip));
        clip || self.tiling().is_some()
    }

    /// The known pattern whose matches are exactly this split's pieces. A known pattern's
    /// matches tile any text, so the `find_matches` list holds matches only: isolating them
    /// keeps each as a piece, and so does removing the inverted ones (tiktoken's encodings are
    /// loaded as `Removed` + `invert`).
    pub(crate) fn tiling(&self) -> Option<KnownPattern> {
        let keeps_each_match = match self.behavior {
            SplitBehavior::Isolated => true,
            SplitBehavior::Removed => self.invert,
            _ => false,
        };
        match &self.matcher {
            Matcher::Regex(regex) if keeps_each_match => {
                regex.known().filter(|known| known.tiles())
            }
            _ => None,
        }
    }

    /// Compiles `pattern` (a `Regex` pattern with Oniguruma, as `tokenizers` does). An invalid
    /// regex is an [`ErrorKind::InvalidFile`](crate::error::ErrorKind::InvalidFile) error.
    pub fn new(pattern: SplitPattern, behavior: SplitBehavior, invert: bool) -> Result<Self> {
        let matcher = match &pattern {
            SplitPattern::String(s) if !s.is_empty() => Matcher::Literal(s.clone()),
            SplitPattern::String(_) => Matcher::Regex(Regex::onig("")?),
            SplitPattern::Regex(r) => Matcher::Regex(Regex::onig(r)?),
        };
        Ok(Split {
            pattern,
            matcher,
            behavior,
            invert,
        })
    }

    /// Splits with an already compiled regex, e.g. a [`Regex::fancy`] for tiktoken's pattern
    /// (tiktoken keeps only the matches: `Removed` with `invert`).
    pub fn with_regex(regex: Regex, behavior: SplitBehavior, invert: bool) -> Self {
        Split {
            pattern: SplitPattern::Regex(regex.as_str().to_owned()),
            matcher: Matcher::Regex(regex),
            behavior,
            invert,
        }
    }

    /// The pattern, as given.
    pub fn pattern(&self) -> &SplitPattern {
        &self.pattern
    }

    /// The behavior, as given.
    pub fn behavior(&self) -> SplitBehavior {
        self.behavior
    }

    /// Whether the match flags are inverted (the pattern matches the pieces, not the delimiters).
    pub fn invert(&self) -> bool {
        self.invert
    }

    /// Cuts the piece `text[piece]`, appending the resulting non-empty ranges (into `text`) to `out`.
    pub(crate) fn split_piece(
        &self,
        text: &str,
        piece: Range<usize>,
        scratch: &mut Vec<Marked>,
        out: &mut Vec<Range<usize>>,
    ) {
        scratch.clear();
        let offset = piece.start;
        let inside = &text[piece];
        let mut marks = MatchList::new(scratch, offset, inside.len(), self.invert);
        match &self.matcher {
            Matcher::Literal(lit) => {
                for (start, m) in inside.match_indices(lit.as_str()) {
                    marks.add_match(start, start + m.len());
                }
            }
            Matcher::Regex(re) => re.for_each_match(inside, |s, e| marks.add_match(s, e)),
        }
        marks.finish();
        apply_behavior(scratch, self.behavior, out);
    }
}

/// One entry of the `find_matches` list: an absolute byte range and whether it is a match
/// (after `invert`).
pub(crate) type Marked = (Range<usize>, bool);

/// Builds the `find_matches` list of one piece: matches and the non-empty gaps between them.
pub(crate) struct MatchList<'a> {
    list: &'a mut Vec<Marked>,
    offset: usize,
    len: usize,
    prev: usize,
    invert: bool,
}

impl<'a> MatchList<'a> {
    /// Starts the list of a piece of `len` bytes at absolute `offset`.
    pub(crate) fn new(list: &'a mut Vec<Marked>, offset: usize, len: usize, invert: bool) -> Self {
        MatchList {
            list,
            offset,
            len,
            prev: 0,
            invert,
        }
    }

    /// Adds a match at relative `start..end` (in order, not overlapping earlier matches).
    pub(crate) fn add_match(&mut self, start: usize, end: usize) {
        if self.prev != start {
            self.list
                .push((self.offset + self.prev..self.offset + start, self.invert));
        }
        self.list
            .push((self.offset + start..self.offset + end, !self.invert));
        self.prev = end;
    }

    /// Adds the trailing gap.
    pub(crate) fn finish(self) {
        if self.prev != self.len {
            self.list
                .push((self.offset + self.prev..self.offset + self.len, self.invert));
        }
    }
}

/// Every character for which `matches` holds is a one-character match; then `behavior`.
pub(crate) fn split_by_char(
    text: &str,
    piece: Range<usize>,
    scratch: &mut Vec<Marked>,
    out: &mut Vec<Range<usize>>,
    behavior: SplitBehavior,
    matches: impl Fn(char) -> bool,
) {
    scratch.clear();
    let offset = piece.start;
    let inside = &text[piece];
    let mut list = MatchList::new(scratch, offset, inside.len(), false);
    for (i, c) in inside.char_indices() {
        if matches(c) {
            list.add_match(i, i + c.len_utf8());
        }
    }
    list.finish();
    apply_behavior(scratch, behavior, out);
}

/// Turns a `find_matches` list into pieces with `behavior`, as `NormalizedString::split` does,
/// and appends the non-empty ones to `out`.
pub(crate) fn apply_behavior(
    list: &[Marked],
    behavior: SplitBehavior,
    out: &mut Vec<Range<usize>>,
) {
    let mut push = |r: Range<usize>| {
        if !r.is_empty() {
            out.push(r);
        }
    };
    match behavior {
        SplitBehavior::Isolated => list.iter().for_each(|(r, _)| push(r.clone())),
        SplitBehavior::Removed => list
            .iter()
            .filter(|(_, is_match)| !is_match)
            .for_each(|(r, _)| push(r.clone())),
        SplitBehavior::Contiguous | SplitBehavior::MergedWithPrevious => {
            // A fold where only the last piece can grow: keep it apart until it is complete.
            let contiguous = behavior == SplitBehavior::Contiguous;
            let mut current: Option<Range<usize>> = None;
            let mut previous_match = false;
            for (r, is_match) in list {
                let glue = if contiguous {
                    *is_match == previous_match
                } else {
                    *is_match && !previous_match
                };
                match &mut current {
                    Some(c) if glue => c.end = r.end,
                    _ => {
                        if let Some(c) = current.take() {
                            push(c);
                        }
                        current = Some(r.clone());
                    }
                }
                previous_match = *is_match;
            }
            if let Some(c) = current {
                push(c);
            }
        }
        SplitBehavior::MergedWithNext => {
            // `tokenizers` folds from the end: a match directly followed by a non-match joins it;
            // any other entry is a piece of its own. Forward, that is a one-entry look-behind.
            let mut pending_match: Option<Range<usize>> = None;
            for (r, is_match) in list {
                if *is_match {
                    if let Some(p) = pending_match.take() {
                        push(p);
                    }
                    pending_match = Some(r.clone());
                } else if let Some(p) = pending_match.take() {
                    push(p.start..r.end);
                } else {
                    push(r.clone());
                }
            }
            if let Some(p) = pending_match {
                push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::{Pieces, PreTokenizer};

    fn run(
        pattern: SplitPattern,
        behavior: SplitBehavior,
        invert: bool,
        text: &str,
    ) -> Vec<String> {
        let split = PreTokenizer::Split(Split::new(pattern, behavior, invert).unwrap());
        let mut pieces = Pieces::new();
        pieces.reset(text);
        split.pre_tokenize(&mut pieces);
        pieces.iter().map(str::to_owned).collect()
    }

    const BEHAVIORS: [(&str, SplitBehavior); 5] = [
        ("Removed", SplitBehavior::Removed),
        ("Isolated", SplitBehavior::Isolated),
        ("MergedWithPrevious", SplitBehavior::MergedWithPrevious),
        ("MergedWithNext", SplitBehavior::MergedWithNext),
        ("Contiguous", SplitBehavior::Contiguous),
    ];

    fn behavior(name: &str) -> SplitBehavior {
        BEHAVIORS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    type SplitCase = (
        bool,
        &'static str,
        &'static str,
        bool,
        &'static str,
        &'static [&'static str],
    );

    /// `(is_regex, pattern, behavior, invert, text, expected pieces)`. The expectations came from
    /// tokenizers 0.23.3: `pre_tokenize_str(text)` of the `Split` pre-tokenizer built from the same
    /// JSON.
    #[rustfmt::skip]
    const SPLIT_CASES: &[SplitCase] = &[
        (false, "-", "Removed", false, "The-final--countdown", &["The", "final", "countdown"]),
        (false, "-", "Removed", true, "The-final--countdown", &["-", "-", "-"]),
        (false, "-", "Isolated", false, "The-final--countdown", &["The", "-", "final", "-", "-", "countdown"]),
        (false, "-", "Isolated", true, "The-final--countdown", &["The", "-", "final", "-", "-", "countdown"]),
        (false, "-", "MergedWithPrevious", false, "The-final--countdown", &["The-", "final-", "-", "countdown"]),
        (false, "-", "MergedWithPrevious", true, "The-final--countdown", &["The", "-final", "-", "-countdown"]),
        (false, "-", "MergedWithNext", false, "The-final--countdown", &["The", "-final", "-", "-countdown"]),
        (false, "-", "MergedWithNext", true, "The-final--countdown", &["The-", "final-", "-", "countdown"]),
        (false, "-", "Contiguous", false, "The-final--countdown", &["The", "-", "final", "--", "countdown"]),
        (false, "-", "Contiguous", true, "The-final--countdown", &["The", "-", "final", "--", "countdown"]),
        (false, "-", "Removed", false, "-a-", &["a"]),
        (false, "-", "Removed", true, "-a-", &["-", "-"]),
        (false, "-", "Isolated", false, "-a-", &["-", "a", "-"]),
        (false, "-", "Isolated", true, "-a-", &["-", "a", "-"]),
        (false, "-", "MergedWithPrevious", false, "-a-", &["-", "a-"]),
        (false, "-", "MergedWithPrevious", true, "-a-", &["-a", "-"]),
        (false, "-", "MergedWithNext", false, "-a-", &["-a", "-"]),
        (false, "-", "MergedWithNext", true, "-a-", &["-", "a-"]),
        (false, "-", "Contiguous", false, "-a-", &["-", "a", "-"]),
        (false, "-", "Contiguous", true, "-a-", &["-", "a", "-"]),
        (false, "ab", "Removed", false, "xabab abx", &["x", " ", "x"]),
        (false, "ab", "Removed", true, "xabab abx", &["ab", "ab", "ab"]),
        (false, "ab", "Isolated", false, "xabab abx", &["x", "ab", "ab", " ", "ab", "x"]),
        (false, "ab", "Isolated", true, "xabab abx", &["x", "ab", "ab", " ", "ab", "x"]),
        (false, "ab", "MergedWithPrevious", false, "xabab abx", &["xab", "ab", " ab", "x"]),
        (false, "ab", "MergedWithPrevious", true, "xabab abx", &["x", "ab", "ab ", "abx"]),
        (false, "ab", "MergedWithNext", false, "xabab abx", &["x", "ab", "ab ", "abx"]),
        (false, "ab", "MergedWithNext", true, "xabab abx", &["xab", "ab", " ab", "x"]),
        (false, "ab", "Contiguous", false, "xabab abx", &["x", "abab", " ", "ab", "x"]),
        (false, "ab", "Contiguous", true, "xabab abx", &["x", "abab", " ", "ab", "x"]),
        (false, "", "Removed", false, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "Removed", true, "añ😀", &[]),
        (false, "", "Isolated", false, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "Isolated", true, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "MergedWithPrevious", false, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "MergedWithPrevious", true, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "MergedWithNext", false, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "MergedWithNext", true, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "Contiguous", false, "añ😀", &["a", "ñ", "😀"]),
        (false, "", "Contiguous", true, "añ😀", &["a", "ñ", "😀"]),
        (false, "*", "Removed", false, "a*b**", &["a", "b"]),
        (false, "*", "Removed", true, "a*b**", &["*", "*", "*"]),
        (false, "*", "Isolated", false, "a*b**", &["a", "*", "b", "*", "*"]),
        (false, "*", "Isolated", true, "a*b**", &["a", "*", "b", "*", "*"]),
        (false, "*", "MergedWithPrevious", false, "a*b**", &["a*", "b*", "*"]),
        (false, "*", "MergedWithPrevious", true, "a*b**", &["a", "*b", "*", "*"]),
        (false, "*", "MergedWithNext", false, "a*b**", &["a", "*b", "*", "*"]),
        (false, "*", "MergedWithNext", true, "a*b**", &["a*", "b*", "*"]),
        (false, "*", "Contiguous", false, "a*b**", &["a", "*", "b", "**"]),
        (false, "*", "Contiguous", true, "a*b**", &["a", "*", "b", "**"]),
        (true, r#"\s+"#, "Removed", false, "  hello   world \n", &["hello", "world"]),
        (true, r#"\s+"#, "Removed", true, "  hello   world \n", &["  ", "   ", " \n"]),
        (true, r#"\s+"#, "Isolated", false, "  hello   world \n", &["  ", "hello", "   ", "world", " \n"]),
        (true, r#"\s+"#, "Isolated", true, "  hello   world \n", &["  ", "hello", "   ", "world", " \n"]),
        (true, r#"\s+"#, "MergedWithPrevious", false, "  hello   world \n", &["  ", "hello   ", "world \n"]),
        (true, r#"\s+"#, "MergedWithPrevious", true, "  hello   world \n", &["  hello", "   world", " \n"]),
        (true, r#"\s+"#, "MergedWithNext", false, "  hello   world \n", &["  hello", "   world", " \n"]),
        (true, r#"\s+"#, "MergedWithNext", true, "  hello   world \n", &["  ", "hello   ", "world \n"]),
        (true, r#"\s+"#, "Contiguous", false, "  hello   world \n", &["  ", "hello", "   ", "world", " \n"]),
        (true, r#"\s+"#, "Contiguous", true, "  hello   world \n", &["  ", "hello", "   ", "world", " \n"]),
        (true, r#"a*"#, "Removed", false, "baab", &["b", "b"]),
        (true, r#"a*"#, "Removed", true, "baab", &["aa"]),
        (true, r#"a*"#, "Isolated", false, "baab", &["b", "aa", "b"]),
        (true, r#"a*"#, "Isolated", true, "baab", &["b", "aa", "b"]),
        (true, r#"a*"#, "MergedWithPrevious", false, "baab", &["baa", "b"]),
        (true, r#"a*"#, "MergedWithPrevious", true, "baab", &["b", "aab"]),
        (true, r#"a*"#, "MergedWithNext", false, "baab", &["b", "aab"]),
        (true, r#"a*"#, "MergedWithNext", true, "baab", &["baa", "b"]),
        (true, r#"a*"#, "Contiguous", false, "baab", &["b", "aa", "b"]),
        (true, r#"a*"#, "Contiguous", true, "baab", &["b", "aa", "b"]),
        (true, r#""#, "Removed", false, "ab", &["a", "b"]),
        (true, r#""#, "Removed", true, "ab", &[]),
        (true, r#""#, "Isolated", false, "ab", &["a", "b"]),
        (true, r#""#, "Isolated", true, "ab", &["a", "b"]),
        (true, r#""#, "MergedWithPrevious", false, "ab", &["a", "b"]),
        (true, r#""#, "MergedWithPrevious", true, "ab", &["a", "b"]),
        (true, r#""#, "MergedWithNext", false, "ab", &["a", "b"]),
        (true, r#""#, "MergedWithNext", true, "ab", &["a", "b"]),
        (true, r#""#, "Contiguous", false, "ab", &["a", "b"]),
        (true, r#""#, "Contiguous", true, "ab", &["a", "b"]),
        (true, r#"(?=a)"#, "Removed", false, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "Removed", true, "baa", &[]),
        (true, r#"(?=a)"#, "Isolated", false, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "Isolated", true, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "MergedWithPrevious", false, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "MergedWithPrevious", true, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "MergedWithNext", false, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "MergedWithNext", true, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "Contiguous", false, "baa", &["b", "a", "a"]),
        (true, r#"(?=a)"#, "Contiguous", true, "baa", &["b", "a", "a"]),
        (true, r#"\p{N}"#, "Removed", false, "1a22½", &["a"]),
        (true, r#"\p{N}"#, "Removed", true, "1a22½", &["1", "2", "2", "½"]),
        (true, r#"\p{N}"#, "Isolated", false, "1a22½", &["1", "a", "2", "2", "½"]),
        (true, r#"\p{N}"#, "Isolated", true, "1a22½", &["1", "a", "2", "2", "½"]),
        (true, r#"\p{N}"#, "MergedWithPrevious", false, "1a22½", &["1", "a2", "2", "½"]),
        (true, r#"\p{N}"#, "MergedWithPrevious", true, "1a22½", &["1a", "2", "2", "½"]),
        (true, r#"\p{N}"#, "MergedWithNext", false, "1a22½", &["1a", "2", "2", "½"]),
        (true, r#"\p{N}"#, "MergedWithNext", true, "1a22½", &["1", "a2", "2", "½"]),
        (true, r#"\p{N}"#, "Contiguous", false, "1a22½", &["1", "a", "22½"]),
        (true, r#"\p{N}"#, "Contiguous", true, "1a22½", &["1", "a", "22½"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Removed", false, "Hey, it's 2024!  ok\n", &[]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Removed", true, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Isolated", false, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Isolated", true, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "MergedWithPrevious", false, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "MergedWithPrevious", true, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "MergedWithNext", false, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "MergedWithNext", true, "Hey, it's 2024!  ok\n", &["Hey", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Contiguous", false, "Hey, it's 2024!  ok\n", &["Hey, it's 2024!  ok\n"]),
        (true, r#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#, "Contiguous", true, "Hey, it's 2024!  ok\n", &["Hey, it's 2024!  ok\n"]),
        (true, r#"x"#, "Removed", false, "", &[]),
        (true, r#"x"#, "Removed", true, "", &[]),
        (true, r#"x"#, "Isolated", false, "", &[]),
        (true, r#"x"#, "Isolated", true, "", &[]),
        (true, r#"x"#, "MergedWithPrevious", false, "", &[]),
        (true, r#"x"#, "MergedWithPrevious", true, "", &[]),
        (true, r#"x"#, "MergedWithNext", false, "", &[]),
        (true, r#"x"#, "MergedWithNext", true, "", &[]),
        (true, r#"x"#, "Contiguous", false, "", &[]),
        (true, r#"x"#, "Contiguous", true, "", &[]),
    ];

    #[test]
    fn split_matches_tokenizers() {
        for (is_regex, pattern, behavior_name, invert, text, expected) in SPLIT_CASES {
            let pattern = if *is_regex {
                SplitPattern::Regex(pattern.to_string())
            } else {
                SplitPattern::String(pattern.to_string())
            };
            let got = run(pattern.clone(), behavior(behavior_name), *invert, text);
            assert_eq!(
                got, *expected,
                "{pattern:?} {behavior_name} invert={invert} on {text:?}"
            );
        }
    }

    #[test]
    fn tiktoken_style_split_keeps_the_matches() {
        let regex = Regex::fancy(r"'s| ?\w+| ?[^\s\w]+|\s+(?!\S)|\s+").unwrap();
        let split = Split::with_regex(regex, SplitBehavior::Removed, true);
        assert_eq!(
            split.pattern(),
            &SplitPattern::Regex(r"'s| ?\w+| ?[^\s\w]+|\s+(?!\S)|\s+".into())
        );
        let mut pieces = Pieces::new();
        // Expected: Python's `re.findall` with the same pattern (no construct where engines differ).
        pieces.reset("it's  ok!");
        PreTokenizer::Split(split).pre_tokenize(&mut pieces);
        assert_eq!(
            pieces.iter().collect::<Vec<_>>(),
            ["it", "'s", " ", " ok", "!"]
        );
    }

    #[test]
    fn behavior_names() {
        for (name, b) in BEHAVIORS {
            assert_eq!(SplitBehavior::from_name(name), Some(b));
        }
        assert_eq!(SplitBehavior::from_name("removed"), None);
    }

    #[test]
    fn invalid_regex_is_an_error() {
        let err = Split::new(
            SplitPattern::Regex("(".into()),
            SplitBehavior::Isolated,
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidFile);
    }
}
