//! Normalization that remembers where each character came from: the slow path behind offsets.
//!
//! [`Aligned`] is a normalized text plus, for every one of its bytes, the byte range of the
//! original text it stands for: the `alignments` of `tokenizers`' `NormalizedString`. Offsets are
//! exact only if every normalizer moves these ranges exactly as the reference does, including its
//! odd corners: a composed character keeps the range of its *first* source character only, an
//! inserted character takes the range of the character before it, a removed one leaves nothing.
//! The reference expresses every rewrite as a list of `(char, change)` pairs (`change` > 0:
//! inserted; < 0: this character replaces itself and the `-change` that follow; 0: replaces one);
//! [`Aligned::transform`] applies such a list with the same rules, and the normalizers whose
//! effect is simpler (filtering, mapping, lowercasing, byte-level) write the result directly,
//! which gives the same ranges.
//!
//! The ids-only path ([`Normalizer::normalize`]) stays as it is: this one allocates per call and
//! is only used when offsets are asked for.

use unicode_normalization_alignments::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::char_classes::{is, BERT_CONTROL, BERT_NONSPACING, BERT_SPACE, COMBINING, WHITESPACE};
use super::{is_chinese_char, Normalizer};
use crate::byte_alphabet;

/// A byte range of the original text.
pub type Span = (usize, usize);

/// Normalized text with the original byte range of each of its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aligned {
    /// The normalized text.
    pub text: String,
    /// For each byte of `text`: the range of the original text it comes from (every byte of one
    /// character has the same range).
    pub align: Vec<Span>,
}

impl Aligned {
    /// `original` itself: each character aligned with its own bytes.
    pub fn new(original: &str) -> Self {
        let mut align = Vec::with_capacity(original.len());
        for (at, c) in original.char_indices() {
            let span = (at, at + c.len_utf8());
            align.extend(std::iter::repeat_n(span, c.len_utf8()));
        }
        Aligned {
            text: original.to_owned(),
            align,
        }
    }

    /// The range of the original text covered by the normalized bytes `start..end` (non-empty):
    /// from the first byte's start to the last byte's end, as the reference computes it.
    pub fn original_range(&self, start: usize, end: usize) -> Span {
        (self.align[start].0, self.align[end - 1].1)
    }

    /// Rewrites the text by a list of `(char, change)` pairs, skipping `initial_offset`
    /// characters first: the reference's `NormalizedString::transform`.
    pub fn transform(
        &mut self,
        dest: impl IntoIterator<Item = (char, isize)>,
        initial_offset: usize,
    ) {
        let old_text = std::mem::take(&mut self.text);
        let old_align = std::mem::take(&mut self.align);
        let mut replaced = old_text.chars();
        let mut offset: usize = replaced
            .by_ref()
            .take(initial_offset)
            .map(char::len_utf8)
            .sum();
        let at = |i: usize| {
            old_align
                .get(i)
                .or(old_align.last())
                .copied()
                .unwrap_or((0, 0))
        };
        for (c, change) in dest {
            let span = if change > 0 {
                if offset < 1 {
                    (0, 0)
                } else {
                    at(offset - 1)
                }
            } else {
                at(offset)
            };
            if change <= 0 {
                offset += replaced.next().map_or(0, char::len_utf8);
            }
            if change < 0 {
                offset += replaced
                    .by_ref()
                    .take(change.unsigned_abs())
                    .map(char::len_utf8)
                    .sum::<usize>();
            }
            self.push(c, span);
        }
    }

    fn push(&mut self, c: char, span: Span) {
        self.text.push(c);
        self.align.extend(std::iter::repeat_n(span, c.len_utf8()));
    }

    /// Each character replaced by what `f` appends for it; every output character keeps the
    /// range of its source character (filtering, mapping, lowercasing, byte-level spelling).
    fn per_char(&mut self, mut f: impl FnMut(char, &mut dyn FnMut(char))) {
        let old_text = std::mem::take(&mut self.text);
        let old_align = std::mem::take(&mut self.align);
        for (at, c) in old_text.char_indices() {
            let span = old_align[at];
            f(c, &mut |out| self.push(out, span));
        }
    }

    /// `prefix` put before non-empty text, aligned with the first character (the reference's
    /// `prepend`).
    pub fn prepend(&mut self, prefix: &str) {
        let Some(&span) = self.align.first() else {
            return;
        };
        let mut text = String::with_capacity(prefix.len() + self.text.len());
        text.push_str(prefix);
        text.push_str(&self.text);
        let mut align = Vec::with_capacity(text.len());
        align.extend(std::iter::repeat_n(span, prefix.len()));
        align.append(&mut self.align);
        self.text = text;
        self.align = align;
    }

    /// Every match `start..end` replaced by `content`, whose characters all take the range of
    /// the match's last byte (the reference's `replace`).
    fn replace_matches(&mut self, matches: &[(usize, usize)], content: &str) {
        let old_text = std::mem::take(&mut self.text);
        let old_align = std::mem::take(&mut self.align);
        let mut last = 0;
        for &(start, end) in matches {
            self.text.push_str(&old_text[last..start]);
            self.align.extend_from_slice(&old_align[last..start]);
            let span = if end == 0 { (0, 0) } else { old_align[end - 1] };
            for c in content.chars() {
                self.push(c, span);
            }
            last = end;
        }
        self.text.push_str(&old_text[last..]);
        self.align.extend_from_slice(&old_align[last..]);
    }
}

impl Normalizer {
    /// Normalizes `text` in place, keeping its alignments as the reference does. The text is the
    /// same as [`Normalizer::normalize`] gives.
    pub fn normalize_aligned(&self, text: &mut Aligned) {
        match self {
            Normalizer::Sequence(steps) => {
                for step in steps {
                    step.normalize_aligned(text);
                }
            }
            Normalizer::Nfc => {
                let source = text.text.clone();
                text.transform(source.nfc(), 0);
            }
            Normalizer::Nfd => {
                let source = text.text.clone();
                text.transform(source.nfd(), 0);
            }
            Normalizer::Nfkc => {
                let source = text.text.clone();
                text.transform(source.nfkc(), 0);
            }
            Normalizer::Nfkd => {
                let source = text.text.clone();
                text.transform(source.nfkd(), 0);
            }
            Normalizer::Lowercase => text.per_char(|c, push| c.to_lowercase().for_each(&mut *push)),
            Normalizer::StripAccents => text.per_char(|c, push| {
                if !is(c, COMBINING) {
                    push(c)
                }
            }),
            Normalizer::ByteLevel => text.per_char(|c, push| {
                let mut buffer = [0u8; 4];
                for &b in c.encode_utf8(&mut buffer).as_bytes() {
                    push(byte_alphabet::byte_to_char(b));
                }
            }),
            Normalizer::Strip { left, right } => {
                let chars: Vec<char> = text.text.chars().collect();
                let leading = if *left {
                    chars.iter().take_while(|&&c| is(c, WHITESPACE)).count()
                } else {
                    0
                };
                let trailing = if *right {
                    chars[leading..]
                        .iter()
                        .rev()
                        .take_while(|&&c| is(c, WHITESPACE))
                        .count()
                } else {
                    0
                };
                let keep = leading..chars.len() - trailing;
                let mut index = 0;
                text.per_char(|c, push| {
                    if keep.contains(&index) {
                        push(c);
                    }
                    index += 1;
                });
            }
            Normalizer::Bert {
                clean_text,
                handle_chinese_chars,
                strip_accents,
                lowercase,
            } => {
                if *clean_text {
                    text.per_char(|c, push| {
                        if !(c == '\0' || c == '\u{FFFD}' || is(c, BERT_CONTROL)) {
                            push(if is(c, BERT_SPACE) { ' ' } else { c });
                        }
                    });
                }
                if *handle_chinese_chars {
                    text.per_char(|c, push| {
                        if is_chinese_char(c) {
                            push(' ');
                            push(c);
                            push(' ');
                        } else {
                            push(c);
                        }
                    });
                }
                if *strip_accents {
                    Normalizer::Nfd.normalize_aligned(text);
                    text.per_char(|c, push| {
                        if !is(c, BERT_NONSPACING) {
                            push(c)
                        }
                    });
                }
                if *lowercase {
                    Normalizer::Lowercase.normalize_aligned(text);
                }
            }
            Normalizer::Precompiled(map) => {
                // Grapheme by grapheme, as the fast path; a replacement of another length marks
                // its extra characters as inserted, or its last character as swallowing the
                // missing ones (the reference's own bookkeeping).
                let mut changes: Vec<(char, isize)> = Vec::with_capacity(text.text.len());
                let mut modified = false;
                let replace = |changes: &mut Vec<(char, isize)>, old: &str, new: &str| {
                    let diff = new.chars().count() as isize - old.chars().count() as isize;
                    changes.extend(new.chars().map(|c| (c, 0)));
                    if diff > 0 {
                        let n = changes.len();
                        for change in &mut changes[n - diff as usize..] {
                            change.1 = 1;
                        }
                    } else if diff < 0 {
                        if let Some(last) = changes.last_mut() {
                            last.1 += diff;
                        }
                    }
                };
                for grapheme in text.text.graphemes(true) {
                    if grapheme.len() < 6 {
                        if let Some(new) = map.transform(grapheme) {
                            modified = true;
                            replace(&mut changes, grapheme, new);
                            continue;
                        }
                    }
                    for (i, c) in grapheme.char_indices() {
                        let part = &grapheme[i..i + c.len_utf8()];
                        match map.transform(part) {
                            Some(new) => {
                                modified = true;
                                replace(&mut changes, part, new);
                            }
                            None => changes.push((c, 0)),
                        }
                    }
                }
                if modified {
                    text.transform(changes, 0);
                }
            }
            Normalizer::Prepend(prefix) => text.prepend(prefix),
            Normalizer::Replace { pattern, content } => {
                let mut matches = Vec::new();
                pattern.for_each_match(&text.text, |s, e| matches.push((s, e)));
                text.replace_matches(&matches, content);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::ReplacePattern;

    fn aligned(normalizer: &Normalizer, input: &str) -> Aligned {
        let mut text = Aligned::new(input);
        normalizer.normalize_aligned(&mut text);
        let mut plain = String::new();
        normalizer.normalize(input, &mut plain);
        assert_eq!(text.text, plain, "{normalizer:?} on {input:?}");
        assert_eq!(text.align.len(), text.text.len());
        text
    }

    #[test]
    fn composition_keeps_the_first_source_range() {
        let text = aligned(&Normalizer::Nfc, "e\u{301}x");
        assert_eq!(text.text, "\u{e9}x");
        assert_eq!(text.align, vec![(0, 1), (0, 1), (3, 4)]);
    }

    #[test]
    fn decomposition_and_insertions_share_the_source_range() {
        let text = aligned(&Normalizer::Nfd, "\u{e9}");
        assert_eq!(text.align, vec![(0, 2); 3]);
        let text = aligned(&Normalizer::Prepend("\u{2581}".into()), "ab");
        assert_eq!(text.align, vec![(0, 1), (0, 1), (0, 1), (0, 1), (1, 2)]);
    }

    #[test]
    fn replacement_takes_the_range_of_the_match_end() {
        let normalizer = Normalizer::Replace {
            pattern: ReplacePattern::String("  ".into()),
            content: "_".into(),
        };
        let text = aligned(&normalizer, "a  b");
        assert_eq!(text.text, "a_b");
        assert_eq!(text.align, vec![(0, 1), (2, 3), (3, 4)]);
    }

    #[test]
    fn strip_removes_ranges() {
        let normalizer = Normalizer::Strip {
            left: true,
            right: true,
        };
        let text = aligned(&normalizer, "  ab ");
        assert_eq!(text.align, vec![(2, 3), (3, 4)]);
    }
}
