//! NFC and NFKC that rewrite only the stretches of a text that need it.
//!
//! The reference composes the whole text (`unicode-normalization-alignments`, whose tables this
//! module asks). A text that its quick check cannot pass as it is (any Hangul jamo, most
//! combining marks, many Indic and Arabic texts) used to go whole through decomposition and
//! recomposition: with Qwen 2.5 (NFC) on the mixed corpus, that was 35 of the 76 instructions
//! per byte of a repeated pass.
//!
//! Composition is local: a character whose combining class is 0 and whose quick-check value is
//! Yes starts a *boundary*: what comes before it never changes it or what follows (it cannot
//! combine with anything before it, or its value would be Maybe; a mark after it cannot reorder
//! past a class-0 character), and UAX #15 uses exactly those characters to restart a check. So
//! the text is copied as it is up to the last boundary before a character that is not one, the
//! stretch from there to the next boundary is checked alone, and composed only when that check
//! does not pass. The test below compares this with composing the whole text.

use unicode_normalization_alignments::char::canonical_combining_class;
use unicode_normalization_alignments::{
    is_nfc_quick, is_nfkc_quick, IsNormalized, UnicodeNormalization,
};

use super::char_blocks::{BlockBits, LazyBlocks};
use crate::swar;

/// A composing normalization form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Composed {
    /// Canonical composition.
    Nfc,
    /// Compatibility composition.
    Nfkc,
}

/// Per form, the boundary characters of each block, computed the first time a text has one of
/// its characters: the crate's look-ups (a perfect hash for the combining class, a search of the
/// quick-check ranges) cost more per character than a bit. A character above the blocks is taken
/// as no boundary, which only makes the stretch around it longer.
static NFC_BOUNDARIES: LazyBlocks<BlockBits> = LazyBlocks::new();
static NFKC_BOUNDARIES: LazyBlocks<BlockBits> = LazyBlocks::new();

impl Composed {
    /// Whether the form's quick check passes `text` as it is.
    fn quick_yes(self, text: &str) -> bool {
        let quick = match self {
            Composed::Nfc => is_nfc_quick(text.chars()),
            Composed::Nfkc => is_nfkc_quick(text.chars()),
        };
        quick == IsNormalized::Yes
    }

    /// Whether `c` is a boundary of this form (combining class 0, quick check Yes), from the
    /// block table.
    #[inline]
    fn is_boundary(self, c: char) -> bool {
        let table = match self {
            Composed::Nfc => &NFC_BOUNDARIES,
            Composed::Nfkc => &NFKC_BOUNDARIES,
        };
        let starts_boundary = |c: char| {
            let mut spelled = [0u8; 4];
            self.quick_yes(c.encode_utf8(&mut spelled)) && canonical_combining_class(c) == 0
        };
        let code = c as u32;
        table
            .get(code, |code| BlockBits::of(code, starts_boundary))
            .is_some_and(|bits| bits.has(code))
    }

    /// Appends the composed form of `text`, which starts at a boundary or at the text's start, to
    /// `out`.
    fn compose_all(self, text: &str, out: &mut String) {
        // Each output character comes with its change count (what alignments need later).
        match self {
            Composed::Nfc => out.extend(text.nfc().map(|(c, _)| c)),
            Composed::Nfkc => out.extend(text.nfkc().map(|(c, _)| c)),
        }
    }

    /// Appends the composed form of `text` to `out`: what the reference gives for the whole text.
    #[cfg(test)]
    fn normalize(self, text: &str, out: &mut String) {
        if !self.normalize_or_keep(text, out) {
            out.push_str(text);
        }
    }

    /// Appends the composed form of `text` to `out` and returns true, or returns false (and
    /// appends nothing) when `text` is its own composed form.
    ///
    /// Why: a text that needs no composing (all of English, code and most other text) can then
    /// be encoded where it is. Qwen 2.5 (NFC) copied every text, and so could not take a batch's
    /// shared ring of pieces (`Tokenizer::encode_batch_into`), which needs the text to outlive
    /// the batch.
    pub(crate) fn normalize_or_keep(self, text: &str, out: &mut String) -> bool {
        let bytes = text.as_bytes();
        // `text[..copied]` is in `out`; `boundary` is where the last boundary character starts
        // (the text's start is one too).
        let (mut copied, mut boundary, mut at) = (0, 0, 0);
        while at < bytes.len() {
            if bytes[at] < 0x80 {
                // ASCII characters are all boundaries: skip the run, eight bytes at a time.
                while let Some(word) = swar::word_at(bytes, at) {
                    if word & swar::HIGH_BITS != 0 {
                        at += swar::first_set(word & swar::HIGH_BITS);
                        break;
                    }
                    at += 8;
                }
                while at < bytes.len() && bytes[at] < 0x80 {
                    at += 1;
                }
                boundary = at - 1;
                continue;
            }
            let c = text[at..]
                .chars()
                .next()
                .expect("a character at a char boundary");
            if self.is_boundary(c) {
                boundary = at;
                at += c.len_utf8();
                continue;
            }
            // A stretch from the last boundary to the next one (or the end).
            let mut end = at + c.len_utf8();
            while let Some(next) = text[end..].chars().next() {
                if next.is_ascii() || self.is_boundary(next) {
                    break;
                }
                end += next.len_utf8();
            }
            let stretch = &text[boundary..end];
            if !self.quick_yes(stretch) {
                out.push_str(&text[copied..boundary]);
                self.compose_all(stretch, out);
                copied = end;
            }
            at = end;
        }
        if copied == 0 {
            return false;
        }
        out.push_str(&text[copied..]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::char_blocks::COVERED;
    use crate::testing::Rng;

    #[test]
    fn composing_stretches_equals_composing_the_whole_text() {
        // Starters that compose with what follows, marks of several classes (in and out of
        // order), Hangul jamo and syllables, singletons and exclusions that NFC rewrites alone,
        // compatibility characters, a non-starter decomposition (U+0F73), Indic and Tibetan
        // two-part vowels, characters above the table, ASCII.
        let alphabet = [
            "a",
            "e",
            "o",
            "A",
            " ",
            "\n",
            "\u{300}",
            "\u{301}",
            "\u{308}",
            "\u{323}",
            "\u{327}",
            "\u{345}",
            "\u{5b0}",
            "\u{e9}",
            "\u{1ec7}",
            "\u{1100}",
            "\u{1161}",
            "\u{11a8}",
            "\u{ac00}",
            "\u{ac01}",
            "\u{212b}",
            "\u{2126}",
            "\u{340}",
            "\u{344}",
            "\u{f73}",
            "\u{f71}",
            "\u{f72}",
            "\u{f80}",
            "\u{b47}",
            "\u{b3e}",
            "\u{b57}",
            "\u{cc6}",
            "\u{cc2}",
            "\u{cd5}",
            "\u{9c7}",
            "\u{9be}",
            "\u{fb01}",
            "\u{ff21}",
            "\u{2460}",
            "\u{3099}",
            "\u{304b}",
            "\u{1d15e}",
            "\u{1d165}",
            "\u{2f800}",
            "\u{30000}",
            "\u{e0100}",
            "\u{4e00}",
            "\u{416}",
            "\u{306}",
        ];
        let mut rng = Rng(3);
        let (mut got, mut expected) = (String::new(), String::new());
        for form in [Composed::Nfc, Composed::Nfkc] {
            for _ in 0..100_000 {
                let text = rng.text(&alphabet, 20);
                got.clear();
                expected.clear();
                form.normalize(&text, &mut got);
                form.compose_all(&text, &mut expected);
                assert_eq!(got, expected, "{form:?} {text:?}");
            }
        }
    }

    #[test]
    fn every_character_between_others_composes_as_in_the_whole_text() {
        // Each character of planes 0 to 2 after and before a composing pair and a mark.
        let (mut got, mut expected) = (String::new(), String::new());
        for form in [Composed::Nfc, Composed::Nfkc] {
            for c in (0..COVERED).filter_map(char::from_u32) {
                for text in [
                    format!("e\u{301}{c}\u{301}"),
                    format!("{c}\u{1161}\u{300}a"),
                ] {
                    got.clear();
                    expected.clear();
                    form.normalize(&text, &mut got);
                    form.compose_all(&text, &mut expected);
                    assert_eq!(got, expected, "{form:?} U+{:04X}", c as u32);
                }
            }
        }
    }
}
