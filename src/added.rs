//! Added tokens (special and not): found in the input before the model sees it, exactly like
//! `AddedVocabulary` in Hugging Face `tokenizers`.
//!
//! `tokenizers` matches added tokens in two passes, and the tokenizer pipeline must do the same:
//!
//! 1. [`AddedVocabulary::split_raw`] on the raw input finds the tokens with `normalized == false`.
//! 2. Each text segment left over is normalized on its own, and
//!    [`AddedVocabulary::split_normalized`] on that normalized text finds the tokens with
//!    `normalized == true`, whose patterns are their contents passed through the same normalizer
//!    (see [`AddedVocabulary::with_normalizer`]).
//!
//! Each pass is one leftmost-longest Aho-Corasick scan over all the patterns of the pass. A match
//! is then checked and widened per token: `single_word` drops a match with a word character
//! (Unicode `\w` of the `regex` crate) right before or after it; `lstrip`/`rstrip` widen the match
//! over the whitespace (Unicode `White_Space`) before/after it. A dropped match still consumes its
//! text: the scan does not look for a shorter token inside it, as in `tokenizers`.
//!
//! Whitespace taken by `lstrip` never reaches back before the end of the previous token; but
//! whitespace taken by `rstrip` is not seen by the scan, so a later match can start inside it. In
//! that case `tokenizers` emits both (overlapping) segments and the text after the second one
//! again; this module reproduces that (see [`Segment`]). Where `tokenizers` would then slice an
//! empty or reversed range (it drops the first and panics on the second), the token is skipped.

use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::{FxHashMap, FxHashSet};

/// A token added on top of the model's vocabulary (an entry of `tokenizer.json`'s `added_tokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    /// The id this token encodes to.
    pub id: u32,
    /// The text of the token, as given (before normalization).
    pub content: String,
    /// Special tokens are skipped when decoding with `skip_special_tokens`.
    pub special: bool,
    /// Only match where no word character touches the token on either side.
    pub single_word: bool,
    /// The token takes the whitespace on its left.
    pub lstrip: bool,
    /// The token takes the whitespace on its right.
    pub rstrip: bool,
    /// Match against the normalized text (with the normalized content) instead of the raw text.
    pub normalized: bool,
}

/// A piece of input after added-token matching: text to tokenize, or a matched added token.
///
/// Ranges are byte ranges into the text given to the split call; they are in order and never
/// empty. They do not overlap, except in one `tokenizers` quirk: when an `rstrip` token's
/// whitespace contains the start of the next matched token, the next segments start inside the
/// previous one (`tokenizers` tokenizes that text twice, and so must the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text that is not an added token.
    Text(Range<usize>),
    /// An added token, including the whitespace it took with `lstrip`/`rstrip`.
    Token {
        /// The token's id.
        id: u32,
        /// Where it is, whitespace included.
        range: Range<usize>,
    },
}

/// One leftmost-longest automaton over some of the tokens.
#[derive(Debug, Clone)]
struct Matcher {
    automaton: AhoCorasick,
    /// Pattern index → index into `AddedVocabulary::tokens`.
    token_of_pattern: Vec<usize>,
}

impl Matcher {
    /// Builds the automaton over `(pattern, token index)` pairs. Empty patterns never match (as in
    /// `tokenizers`); of two tokens with the same pattern the first one is kept (`tokenizers`
    /// keeps one of them at random: its maps iterate in a random order).
    fn build(patterns: Vec<(String, usize)>) -> Option<Self> {
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut unique = Vec::new();
        let mut token_of_pattern = Vec::new();
        for (pattern, token) in &patterns {
            if pattern.is_empty() || !seen.insert(pattern.as_str()) {
                continue;
            }
            unique.push(pattern.as_str());
            token_of_pattern.push(*token);
        }
        if unique.is_empty() {
            return None;
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&unique)
            .expect("an Aho-Corasick automaton over added tokens builds");
        Some(Matcher {
            automaton,
            token_of_pattern,
        })
    }
}

/// The added tokens of a tokenizer and the two automata that find them.
#[derive(Debug, Clone)]
pub struct AddedVocabulary {
    tokens: Vec<AddedToken>,
    /// Tokens with `normalized == false`, matched in the raw input.
    raw: Option<Matcher>,
    /// Tokens with `normalized == true`, matched in normalized text.
    normalized: Option<Matcher>,
    encode_special_tokens: bool,
}

impl AddedVocabulary {
    /// Builds the vocabulary with every token matched by its `content` as is. Right when the
    /// tokenizer has no normalizer; otherwise use [`AddedVocabulary::with_normalizer`].
    ///
    /// Tokens should have distinct contents and ids (see [`assign_ids`]); an empty content never
    /// matches.
    pub fn new(tokens: Vec<AddedToken>) -> Self {
        Self::build(tokens, None)
    }

    /// Builds the vocabulary, matching each `normalized == true` token by `normalize(content)`:
    /// `tokenizers` passes those contents through the tokenizer's normalizer, since they are
    /// looked for in normalized text.
    pub fn with_normalizer(tokens: Vec<AddedToken>, normalize: &dyn Fn(&str) -> String) -> Self {
        Self::build(tokens, Some(normalize))
    }

    fn build(tokens: Vec<AddedToken>, normalize: Option<&dyn Fn(&str) -> String>) -> Self {
        let mut raw = Vec::new();
        let mut normalized = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            if token.normalized {
                let pattern = match normalize {
                    Some(f) => f(&token.content),
                    None => token.content.clone(),
                };
                normalized.push((pattern, i));
            } else {
                raw.push((token.content.clone(), i));
            }
        }
        AddedVocabulary {
            raw: Matcher::build(raw),
            normalized: Matcher::build(normalized),
            tokens,
            encode_special_tokens: false,
        }
    }

    /// The tokens, in the order given.
    pub fn tokens(&self) -> &[AddedToken] {
        &self.tokens
    }

    /// Whether there are no added tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// When `true`, special tokens are not matched (their text is tokenized like any text), as
    /// `tokenizers`' `encode_special_tokens` does. Off by default.
    pub fn set_encode_special_tokens(&mut self, value: bool) {
        self.encode_special_tokens = value;
    }

    /// Whether special tokens are left unmatched (see
    /// [`AddedVocabulary::set_encode_special_tokens`]).
    pub fn encode_special_tokens(&self) -> bool {
        self.encode_special_tokens
    }

    /// Matches the tokens with normalized == false in raw `text` (before normalization).
    /// Appends the segments to `out` (which is not cleared); an empty `text` appends nothing.
    pub fn split_raw(&self, text: &str, out: &mut Vec<Segment>) {
        self.split(text, self.raw.as_ref(), self.encode_special_tokens, out);
    }

    /// [`AddedVocabulary::split_raw`] as if `encode_special_tokens` were set: special tokens
    /// are left in the text; the others are matched.
    pub fn split_raw_except_special(&self, text: &str, out: &mut Vec<Segment>) {
        self.split(text, self.raw.as_ref(), true, out);
    }

    /// [`AddedVocabulary::split_normalized`] as if `encode_special_tokens` were set.
    pub fn split_normalized_except_special(&self, text: &str, out: &mut Vec<Segment>) {
        self.split(text, self.normalized.as_ref(), true, out);
    }

    /// Matches the tokens with normalized == true in already-normalized `text`: one text segment
    /// left by [`AddedVocabulary::split_raw`], after normalization (each segment is normalized and
    /// split on its own, and `single_word`/`lstrip`/`rstrip` look only inside it). Appends the
    /// segments to `out` (which is not cleared); an empty `text` appends nothing.
    pub fn split_normalized(&self, text: &str, out: &mut Vec<Segment>) {
        self.split(
            text,
            self.normalized.as_ref(),
            self.encode_special_tokens,
            out,
        );
    }

    /// `AddedVocabulary::find_matches` of `tokenizers`, then its drop of empty pieces.
    fn split(
        &self,
        text: &str,
        matcher: Option<&Matcher>,
        skip_special: bool,
        out: &mut Vec<Segment>,
    ) {
        if text.is_empty() {
            return;
        }
        let Some(matcher) = matcher else {
            out.push(Segment::Text(0..text.len()));
            return;
        };
        let mut start_offset = 0;
        for found in matcher.automaton.find_iter(text) {
            let token = &self.tokens[matcher.token_of_pattern[found.pattern().as_usize()]];
            if skip_special && token.special {
                continue;
            }
            let (mut start, mut stop) = (found.start(), found.end());
            if token.single_word {
                let space_before = start == 0 || !ends_with_word_char(&text[..start]);
                let space_after = stop == text.len() || !starts_with_word_char(&text[stop..]);
                if !space_before || !space_after {
                    continue;
                }
            }
            if token.lstrip {
                start = trailing_whitespace_start(&text[..start]).max(start_offset);
            }
            if token.rstrip {
                stop += leading_whitespace_len(&text[stop..]);
            }
            if start > stop {
                // Only after an overlapping `rstrip`; `tokenizers` panics here.
                continue;
            }
            if start_offset < start {
                out.push(Segment::Text(start_offset..start));
            }
            if start < stop {
                out.push(Segment::Token {
                    id: token.id,
                    range: start..stop,
                });
            }
            start_offset = stop;
        }
        if start_offset < text.len() {
            out.push(Segment::Text(start_offset..text.len()));
        }
    }
}

/// Gives ids to the `added_tokens` of a `tokenizer.json` the way `tokenizers` does when it loads
/// one (`AddedVocabulary::add_tokens`): the `id` written in the file is ignored.
///
/// In file order: a token with empty content is skipped; a content seen before keeps its id (its
/// flags are replaced by the later entry's, except that a content once special stays special:
/// `tokenizers` keeps the special contents in a set, which decoding and `encode_special_tokens`
/// consult); a content in the model's vocabulary gets the model's
/// id; any other gets the next new id, counting from `model_vocab_size` (the number of entries in
/// the model's vocabulary, which is `get_vocab_size()` in `tokenizers`). Returns one token per id,
/// sorted by id.
pub fn assign_ids(
    tokens: impl IntoIterator<Item = AddedToken>,
    model_token_to_id: &dyn Fn(&str) -> Option<u32>,
    model_vocab_size: u32,
) -> Vec<AddedToken> {
    let mut id_of_content: FxHashMap<String, u32> = FxHashMap::default();
    let mut token_of_id: FxHashMap<u32, AddedToken> = FxHashMap::default();
    let mut was_special: FxHashSet<String> = FxHashSet::default();
    let mut next_id = model_vocab_size;
    for mut token in tokens {
        if token.content.is_empty() {
            continue;
        }
        let id = match id_of_content.get(&token.content) {
            Some(&id) => id,
            None => match model_token_to_id(&token.content) {
                Some(id) => id,
                None => {
                    next_id += 1;
                    next_id - 1
                }
            },
        };
        id_of_content.insert(token.content.clone(), id);
        // `tokenizers` keeps a set of special contents that a later entry never removes.
        if was_special.contains(&token.content) {
            token.special = true;
        } else if token.special {
            was_special.insert(token.content.clone());
        }
        token.id = id;
        token_of_id.insert(id, token);
    }
    let mut tokens: Vec<AddedToken> = token_of_id.into_values().collect();
    tokens.sort_unstable_by_key(|t| t.id);
    tokens
}

/// `\w` of the `regex` crate (Unicode word character), which `tokenizers` uses for `single_word`.
static WORD_CHAR: LazyLock<fancy_regex::Regex> =
    LazyLock::new(|| fancy_regex::Regex::new(r"^\w$").expect("\\w compiles"));

fn is_word_char(c: char) -> bool {
    let mut buf = [0u8; 4];
    WORD_CHAR.is_match(c.encode_utf8(&mut buf)).unwrap_or(false)
}

/// `\w$` (`$` is the end of the text: no multi-line mode).
fn ends_with_word_char(text: &str) -> bool {
    text.chars().next_back().is_some_and(is_word_char)
}

/// `^\w`.
fn starts_with_word_char(text: &str) -> bool {
    text.chars().next().is_some_and(is_word_char)
}

/// The start of the match of `\s*$`: where the trailing whitespace begins. `\s` of the `regex`
/// crate is the Unicode `White_Space` property, as is `char::is_whitespace`.
fn trailing_whitespace_start(text: &str) -> usize {
    text.trim_end_matches(char::is_whitespace).len()
}

/// The end of the match of `^\s*`: the length of the leading whitespace.
fn leading_whitespace_len(text: &str) -> usize {
    text.len() - text.trim_start_matches(char::is_whitespace).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags of a test token: `s` special, `w` single_word, `l` lstrip, `r` rstrip, `n` normalized.
    fn token(content: &str, flags: &str) -> AddedToken {
        AddedToken {
            id: u32::MAX, // ignored by `assign_ids`, like the ids in tokenizer.json
            content: content.to_owned(),
            special: flags.contains('s'),
            single_word: flags.contains('w'),
            lstrip: flags.contains('l'),
            rstrip: flags.contains('r'),
            normalized: flags.contains('n'),
        }
    }

    /// The token lists of the cases below, in `added_tokens` order, and whether the tokenizer
    /// lowercases (its normalizer is `Lowercase`).
    fn vocabulary(name: &str) -> (Vec<AddedToken>, bool) {
        let (tokens, lowercase) = match name {
            "plain" => (vec![token("<s>", "s"), token("</s>", "s")], false),
            "longest_wins" => (
                vec![token("ab", ""), token("abc", ""), token("bcd", "")],
                false,
            ),
            "single_word" => (vec![token("ab", "w"), token("b", "")], false),
            "lstrip" => (vec![token("<mask>", "l")], false),
            "rstrip" => (vec![token("<mask>", "r")], false),
            "lstrip_after_rstrip" => (vec![token("[A]", "r"), token("[B]", "l")], false),
            "rstrip_overlap" => (vec![token("A", "r"), token("\n", "")], false),
            "rstrip_swallows_lstrip" => (vec![token("A", "r"), token("\n", "l")], false),
            "normalized" => (vec![token("Hello", "n"), token("<X>", "")], true),
            "same_content_twice" => (vec![token("tok", "s"), token("tok", "nl")], false),
            _ => unreachable!("no vocabulary {name}"),
        };
        // A model vocabulary of one entry, "[UNK]" = 0: new ids start at 1.
        let model = |s: &str| (s == "[UNK]").then_some(0);
        (assign_ids(tokens, &model, 1), lowercase)
    }

    /// The two passes of an encode, as strings: `(Some(id), token text)` or `(None, text)`.
    /// Text of the second pass is normalized text.
    fn two_passes(
        added: &AddedVocabulary,
        lowercase: bool,
        text: &str,
    ) -> Vec<(Option<u32>, String)> {
        let mut result = Vec::new();
        let mut raw = Vec::new();
        added.split_raw(text, &mut raw);
        for segment in raw {
            match segment {
                Segment::Token { id, range } => result.push((Some(id), text[range].to_owned())),
                Segment::Text(range) => {
                    let normalized = if lowercase {
                        text[range].to_lowercase()
                    } else {
                        text[range].to_owned()
                    };
                    let mut segments = Vec::new();
                    added.split_normalized(&normalized, &mut segments);
                    for segment in segments {
                        result.push(match segment {
                            Segment::Token { id, range } => {
                                (Some(id), normalized[range].to_owned())
                            }
                            Segment::Text(range) => (None, normalized[range].to_owned()),
                        });
                    }
                }
            }
        }
        result
    }

    /// Expected segments: `(Some(id), token text)` or `(None, text)`.
    type Expected = &'static [(Option<u32>, &'static str)];

    /// `(vocabulary, text, expected segments)`. The expectations came from tokenizers 0.23.3:
    /// a `tokenizer.json` with these `added_tokens`, a one-entry WordLevel model and no
    /// pre-tokenizer, so that `encode(text, add_special_tokens=False)` gives one token per segment;
    /// the strings are the input text at each token's offsets (compared lowercased when the
    /// vocabulary lowercases, since the second pass sees normalized text).
    #[rustfmt::skip]
    const ADDED_CASES: &[(&str, &str, Expected)] = &[
        ("plain", "", &[]),
        ("plain", "<s>", &[(Some(1), "<s>")]),
        ("plain", "<s>hi</s>", &[(Some(1), "<s>"), (None, "hi"), (Some(2), "</s>")]),
        ("plain", "a<s></s>b", &[(None, "a"), (Some(1), "<s>"), (Some(2), "</s>"), (None, "b")]),
        ("plain", "<s<s>>", &[(None, "<s"), (Some(1), "<s>"), (None, ">")]),
        ("plain", "</s", &[(None, "</s")]),
        ("longest_wins", "abcd", &[(Some(2), "abc"), (None, "d")]),
        ("longest_wins", "xabcdx", &[(None, "x"), (Some(2), "abc"), (None, "dx")]),
        ("longest_wins", "ababc", &[(Some(1), "ab"), (Some(2), "abc")]),
        ("longest_wins", "bcd", &[(Some(3), "bcd")]),
        ("single_word", "ab", &[(Some(1), "ab")]),
        ("single_word", "xab ab b", &[(None, "xab "), (Some(1), "ab"), (None, " "), (Some(2), "b")]),
        ("single_word", "ab_", &[(None, "ab_")]),
        ("single_word", "ab.", &[(Some(1), "ab"), (None, ".")]),
        ("single_word", "é ab", &[(None, "é "), (Some(1), "ab")]),
        ("single_word", "\u{200d}ab", &[(None, "\u{200d}ab")]),
        ("single_word", "½ab", &[(None, "½"), (Some(1), "ab")]),
        ("lstrip", "a  <mask>", &[(None, "a"), (Some(1), "  <mask>")]),
        ("lstrip", "<mask>", &[(Some(1), "<mask>")]),
        ("lstrip", " \t\u{3000}<mask>b", &[(Some(1), " \t\u{3000}<mask>"), (None, "b")]),
        ("lstrip", "a\u{a0}<mask>", &[(None, "a"), (Some(1), "\u{a0}<mask>")]),
        ("rstrip", "<mask>  a", &[(Some(1), "<mask>  "), (None, "a")]),
        ("rstrip", "a<mask>\n\n", &[(None, "a"), (Some(1), "<mask>\n\n")]),
        ("rstrip", "<mask>\u{2028}x", &[(Some(1), "<mask>\u{2028}"), (None, "x")]),
        ("lstrip_after_rstrip", "[A]   [B]", &[(Some(1), "[A]   "), (Some(2), "[B]")]),
        ("lstrip_after_rstrip", "x [B] [A] [B]", &[(None, "x"), (Some(2), " [B]"), (None, " "), (Some(1), "[A] "), (Some(2), "[B]")]),
        ("rstrip_overlap", "A\n\nX", &[(Some(1), "A\n\n"), (Some(2), "\n"), (Some(2), "\n"), (None, "X")]),
        ("rstrip_overlap", "xA \n  B", &[(None, "x"), (Some(1), "A \n  "), (Some(2), "\n"), (None, "  B")]),
        ("rstrip_swallows_lstrip", "A\nX", &[(Some(1), "A\n"), (None, "X")]),
        ("normalized", "say HELLO<X>hello", &[(None, "say "), (Some(1), "HELLO"), (Some(2), "<X>"), (Some(1), "hello")]),
        ("normalized", "<x>hello", &[(None, "<x>"), (Some(1), "hello")]),
        ("same_content_twice", "a tok", &[(None, "a"), (Some(1), " tok")]),
    ];

    #[test]
    fn added_tokens_match_tokenizers() {
        for (name, text, expected) in ADDED_CASES {
            let (tokens, lowercase) = vocabulary(name);
            let added = if lowercase {
                AddedVocabulary::with_normalizer(tokens, &|s: &str| s.to_lowercase())
            } else {
                AddedVocabulary::new(tokens)
            };
            let expected: Vec<(Option<u32>, String)> = expected
                .iter()
                .map(|(id, s)| {
                    (
                        *id,
                        if lowercase {
                            s.to_lowercase()
                        } else {
                            s.to_string()
                        },
                    )
                })
                .collect();
            let mut got = two_passes(&added, lowercase, text);
            if lowercase {
                got.iter_mut().for_each(|(_, s)| *s = s.to_lowercase());
            }
            assert_eq!(got, expected, "{name} on {text:?}");
        }
    }

    #[test]
    fn ids_are_assigned_like_tokenizers() {
        let model = |s: &str| match s {
            "hello" => Some(7),
            "[UNK]" => Some(0),
            _ => None,
        };
        let tokens = vec![
            token("<pad>", "s"),
            token("", "s"),
            token("hello", "n"),
            token("<eos>", "s"),
            token("<pad>", "n"),
        ];
        let assigned = assign_ids(tokens, &model, 10);
        let got: Vec<(u32, &str, bool, bool)> = assigned
            .iter()
            .map(|t| (t.id, t.content.as_str(), t.special, t.normalized))
            .collect();
        // "hello" keeps the model's id; "<pad>" keeps its first id, takes the later flags but
        // stays special; the empty token is skipped.
        assert_eq!(
            got,
            [
                (7, "hello", false, true),
                (10, "<pad>", true, true),
                (11, "<eos>", true, false)
            ]
        );
    }

    #[test]
    fn encode_special_tokens_leaves_special_tokens_in_the_text() {
        let (mut tokens, _) = vocabulary("plain");
        tokens.push(AddedToken {
            id: 3,
            ..token("x", "")
        });
        let mut added = AddedVocabulary::new(tokens);
        assert!(!added.encode_special_tokens());
        added.set_encode_special_tokens(true);
        let mut out = Vec::new();
        added.split_raw("a<s>x</s>", &mut out);
        assert_eq!(
            out,
            [
                Segment::Text(0..4),
                Segment::Token { id: 3, range: 4..5 },
                Segment::Text(5..9)
            ]
        );
    }

    #[test]
    fn empty_vocabulary_and_empty_text() {
        let added = AddedVocabulary::new(Vec::new());
        assert!(added.is_empty());
        let mut out = Vec::new();
        added.split_raw("", &mut out);
        added.split_normalized("", &mut out);
        assert!(out.is_empty());
        added.split_raw("abc", &mut out);
        assert_eq!(out, [Segment::Text(0..3)]);
        // A token whose normalized form is empty never matches (as in tokenizers).
        let added = AddedVocabulary::with_normalizer(vec![token("x", "n")], &|_| String::new());
        let mut out = Vec::new();
        added.split_normalized("ab", &mut out);
        assert_eq!(out, [Segment::Text(0..2)]);
    }

    #[test]
    fn shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AddedVocabulary>();
    }
}
