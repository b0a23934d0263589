//! The generic regex fallback of the pre-tokenizers: one compiled pattern over two engines.
//!
//! Hugging Face `tokenizers` compiles every `Split` regex (and the GPT-2 pattern of `ByteLevel`)
//! with Oniguruma, while `tiktoken` uses `fancy-regex`. The two engines disagree on corner cases
//! (Unicode classes, `$` before a newline, look-around), so each reference gets its own engine and
//! the caller picks by where the pattern came from. Known hot patterns are meant to be replaced by
//! hand-written scanners; this module is the exact, slower path for everything else.
//!
//! Both compiled forms are `Send + Sync` and carry no per-search state: the Oniguruma match region
//! is allocated per call, so one `Regex` can be searched from many threads at once.

use std::ops::Range;

use super::scanners::{Engine, KnownPattern};
use crate::error::{Error, Result};

/// A compiled regex usable from many threads: an enum over engines.
pub enum Regex {
    /// Oniguruma (Ruby syntax), the engine of Hugging Face `tokenizers`.
    Onig {
        /// The compiled pattern.
        regex: onig::Regex,
        /// The source pattern (Oniguruma does not keep it).
        pattern: String,
    },
    /// `fancy-regex`, the engine of `tiktoken`.
    Fancy(fancy_regex::Regex),
    /// A hand-written scanner that gives exactly the engine's matches for a known pattern
    /// (GPT-2, cl100k, Llama 3, Qwen 2, o200k), 10–25× faster (see `scanners.rs`).
    Known {
        /// Which scanner.
        scanner: KnownPattern,
        /// The source pattern.
        pattern: String,
    },
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Regex::Onig { pattern, .. } => write!(f, "Regex::Onig({pattern:?})"),
            Regex::Fancy(re) => write!(f, "Regex::Fancy({:?})", re.as_str()),
            Regex::Known { scanner, .. } => write!(f, "Regex::Known({scanner:?})"),
        }
    }
}

impl Regex {
    /// The hand-written scanner that runs this pattern, if it has one.
    pub(crate) fn known(&self) -> Option<KnownPattern> {
        match self {
            Regex::Known { scanner, .. } => Some(*scanner),
            _ => None,
        }
    }

    /// Compiles `pattern` with Oniguruma's default (Ruby) syntax, as Hugging Face `tokenizers`
    /// does for `Split` patterns.
    ///
    /// A pattern with a hand-written scanner for Oniguruma's semantics gets the scanner.
    pub fn onig(pattern: &str) -> Result<Self> {
        if let Some(scanner) = KnownPattern::recognize(pattern, Engine::Onig) {
            return Ok(Regex::Known {
                scanner,
                pattern: pattern.to_owned(),
            });
        }
        Self::onig_engine(pattern)
    }

    /// Compiles `pattern` with Oniguruma even when a scanner exists (for cross-checks).
    pub fn onig_engine(pattern: &str) -> Result<Self> {
        onig::Regex::new(pattern)
            .map(|regex| Regex::Onig {
                regex,
                pattern: pattern.to_owned(),
            })
            .map_err(|e| Error::invalid(format!("invalid regex {pattern:?}: {e}")))
    }

    /// Compiles `pattern` with `fancy-regex`, as `tiktoken` does.
    ///
    /// A pattern with a hand-written scanner for fancy-regex's semantics gets the scanner.
    pub fn fancy(pattern: &str) -> Result<Self> {
        if let Some(scanner) = KnownPattern::recognize(pattern, Engine::Fancy) {
            return Ok(Regex::Known {
                scanner,
                pattern: pattern.to_owned(),
            });
        }
        Self::fancy_engine(pattern)
    }

    /// Compiles `pattern` with fancy-regex even when a scanner exists (for cross-checks).
    pub fn fancy_engine(pattern: &str) -> Result<Self> {
        fancy_regex::Regex::new(pattern)
            .map(Regex::Fancy)
            .map_err(|e| Error::invalid(format!("invalid regex {pattern:?}: {e}")))
    }

    /// The source pattern.
    pub fn as_str(&self) -> &str {
        match self {
            Regex::Onig { pattern, .. } => pattern,
            Regex::Fancy(re) => re.as_str(),
            Regex::Known { pattern, .. } => pattern,
        }
    }

    /// Appends the (start, end) byte ranges of all leftmost non-overlapping matches in `text`.
    ///
    /// Empty matches are reported, except one that starts where the previous match ended: this is
    /// the iteration rule of both `onig::Regex::find_iter` (what `tokenizers` uses) and
    /// `fancy_regex::Regex::find_iter` (what `tiktoken` uses). A `fancy-regex` search that fails
    /// (its backtrack limit) ends the iteration early; `tiktoken` would panic there.
    pub fn find_ranges(&self, text: &str, out: &mut Vec<Range<usize>>) {
        self.for_each_match(text, |start, end| out.push(start..end));
    }

    /// Calls `f(start, end)` for each match, in order, with the iteration rule of `find_ranges`.
    pub(crate) fn for_each_match(&self, text: &str, mut f: impl FnMut(usize, usize)) {
        match self {
            Regex::Onig { regex, .. } => onig_for_each_match(regex, text, f),
            Regex::Fancy(re) => {
                for m in re.find_iter(text) {
                    match m {
                        Ok(m) => f(m.start(), m.end()),
                        Err(_) => break,
                    }
                }
            }
            Regex::Known { scanner, .. } => scanner.for_each_match(text, f),
        }
    }
}

/// The loop of `onig::FindMatches::next`, written out so that nothing but the region is allocated:
/// search from `last_end`; an empty match ending where the previous match ended is skipped by
/// moving `last_end` one character forward; otherwise the match is reported and `last_end` moves
/// to its end.
fn onig_for_each_match(re: &onig::Regex, text: &str, mut f: impl FnMut(usize, usize)) {
    let mut region = onig::Region::new();
    let mut last_end = 0;
    let mut last_match_end: Option<usize> = None;
    while last_end <= text.len() {
        region.clear();
        if re
            .search_with_options(
                text,
                last_end,
                text.len(),
                onig::SearchOptions::SEARCH_OPTION_NONE,
                Some(&mut region),
            )
            .is_none()
        {
            return;
        }
        let Some((start, end)) = region.pos(0) else {
            return;
        };
        if start == end && last_match_end == Some(end) {
            last_end += text[last_end..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        last_end = end;
        last_match_end = Some(end);
        f(start, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(re: &Regex, text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        re.find_ranges(text, &mut out);
        out.into_iter().map(|r| (r.start, r.end)).collect()
    }

    fn onig_crate_matches(pattern: &str, text: &str) -> Vec<(usize, usize)> {
        onig::Regex::new(pattern).unwrap().find_iter(text).collect()
    }

    #[test]
    fn onig_iteration_matches_the_onig_crate() {
        let patterns = [
            "",
            "a*",
            "b|",
            r"\s*",
            r"(?=a)",
            r"$",
            r"^",
            r"\b",
            r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        ];
        let texts = [
            "",
            "a",
            "abc",
            "aab ba",
            "é😀a",
            " \n\t x",
            "hello world's 123!!",
        ];
        for p in patterns {
            let re = Regex::onig(p).unwrap();
            for t in texts {
                assert_eq!(matches(&re, t), onig_crate_matches(p, t), "{p:?} on {t:?}");
            }
        }
    }

    #[test]
    fn fancy_iteration() {
        let re = Regex::fancy("a*").unwrap();
        assert_eq!(matches(&re, "baab"), vec![(0, 0), (1, 3), (4, 4)]);
        let re = Regex::fancy(r"\s+(?!\S)|\s+").unwrap();
        assert_eq!(matches(&re, "a  b "), vec![(1, 2), (2, 3), (4, 5)]);
    }

    #[test]
    fn keeps_the_pattern() {
        assert_eq!(Regex::onig(r"\s+").unwrap().as_str(), r"\s+");
        assert_eq!(Regex::fancy(r"\s+").unwrap().as_str(), r"\s+");
    }

    #[test]
    fn bad_patterns_are_invalid() {
        assert!(Regex::onig("(").is_err());
        assert!(Regex::fancy("(").is_err());
    }

    #[test]
    fn regex_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Regex>();
    }
}
