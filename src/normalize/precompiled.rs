//! SentencePiece's precompiled character map (`Precompiled`), applied as `tokenizers` applies it.
//!
//! The `precompiled_charsmap` blob (base64 in tokenizer.json) is SentencePiece's compiled
//! normalization rules: a little-endian `u32` giving the byte size of a Darts double-array trie,
//! the trie's `u32` units, then a table of NUL-terminated replacement strings. The trie maps an
//! input byte string to the offset of its replacement in that table.
//!
//! `tokenizers` cuts the text into extended grapheme clusters. A cluster shorter than 6 bytes is
//! looked up whole; otherwise, or when that finds nothing, each of its characters is looked up
//! alone, an unmatched character staying as it is. A look-up is a common-prefix search that takes
//! the *first* (shortest) matching prefix's replacement for the whole chunk: faithfully odd, as
//! the reference comments itself.
//!
//! Costs: the grapheme segmentation dominates; ASCII characters that the map leaves alone and
//! that never join a cluster with a following ASCII character (all but CR and LF) are copied in
//! runs without segmenting (see `plain_ascii`, computed from the map at load).

use base64::Engine as _;
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Error, Result};

/// A unit of the Darts double array.
#[derive(Debug, Clone, Copy)]
struct Unit(u32);

impl Unit {
    #[inline]
    fn has_leaf(self) -> bool {
        (self.0 >> 8) & 1 == 1
    }
    #[inline]
    fn value(self) -> u32 {
        self.0 & ((1 << 31) - 1)
    }
    #[inline]
    fn label(self) -> u32 {
        self.0 & ((1 << 31) | 0xFF)
    }
    #[inline]
    fn offset(self) -> usize {
        ((self.0 >> 10) << ((self.0 & (1 << 9)) >> 6)) as usize
    }
}

/// A parsed precompiled character map.
#[derive(Debug, Clone)]
pub struct Precompiled {
    units: Vec<Unit>,
    /// The replacement strings, NUL-separated.
    normalized: String,
    /// ASCII bytes that the map leaves alone and that need no grapheme segmentation.
    plain_ascii: [bool; 128],
}

impl Precompiled {
    /// Decodes the base64 `precompiled_charsmap`; `path` names it in errors.
    pub fn from_base64(text: &str, path: &str) -> Result<Self> {
        let blob = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Error::invalid(format!("{path}: invalid base64: {e}")))?;
        Self::from_blob(&blob, path)
    }

    /// Parses the binary map; `path` names it in errors.
    pub fn from_blob(blob: &[u8], path: &str) -> Result<Self> {
        let invalid = |what: &str| Error::invalid(format!("{path}: {what}"));
        if blob.len() < 4 {
            return Err(invalid("the charsmap is shorter than its 4-byte header"));
        }
        let trie_size = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        let units_bytes = blob
            .get(4..4 + trie_size / 4 * 4)
            .ok_or_else(|| invalid("the trie is longer than the charsmap"))?;
        let units: Vec<Unit> = units_bytes
            .chunks_exact(4)
            .map(|c| Unit(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        if units.is_empty() {
            return Err(invalid("the charsmap's trie is empty"));
        }
        let normalized = String::from_utf8(blob[4 + units_bytes.len()..].to_vec())
            .map_err(|_| invalid("the replacement table is not valid UTF-8"))?;
        let mut map = Precompiled {
            units,
            normalized,
            plain_ascii: [false; 128],
        };
        for byte in 0..128u8 {
            // Any ASCII character but CR and LF: no ASCII character is a Prepend, Extend or
            // SpacingMark, so two ASCII characters are always two clusters except CR LF. (A
            // combining mark after one is handled in `normalize`.) Letters and digits alone
            // sent every space and punctuation mark through grapheme segmentation: with them,
            // `Precompiled::normalize` was 27% of encoding repeated text with T5.
            let candidate = byte != b'\r' && byte != b'\n';
            let s = [byte];
            map.plain_ascii[byte as usize] = candidate
                && map
                    .transform(std::str::from_utf8(&s).expect("ASCII"))
                    .is_none();
        }
        Ok(map)
    }

    /// The first (shortest) prefix of `key` in the trie, as an offset into the table.
    fn first_prefix(&self, key: &[u8]) -> Option<usize> {
        let mut node = self.units[0].offset();
        for &c in key {
            if c == 0 {
                break;
            }
            node ^= c as usize;
            let unit = *self.units.get(node)?;
            if unit.label() != c as u32 {
                return None;
            }
            node ^= unit.offset();
            if unit.has_leaf() {
                return Some(self.units.get(node)?.value() as usize);
            }
        }
        None
    }

    /// The replacement of `chunk`, when the map has one.
    pub fn transform(&self, chunk: &str) -> Option<&str> {
        let start = self.first_prefix(chunk.as_bytes())?;
        let rest = self.normalized.as_bytes().get(start..)?;
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        self.normalized.get(start..start + len)
    }

    /// Appends the normalized form of `text` to `out`.
    pub fn normalize(&self, text: &str, out: &mut String) {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < text.len() {
            // A run of plain ASCII, except its last byte when a non-ASCII character follows (a
            // combining mark would join it in one cluster).
            let mut end = at;
            while end < bytes.len() && bytes[end] < 0x80 && self.plain_ascii[bytes[end] as usize] {
                end += 1;
            }
            if end < bytes.len() && end > at && bytes[end] >= 0x80 {
                end -= 1;
            }
            out.push_str(&text[at..end]);
            if end >= text.len() {
                break;
            }
            // By graphemes, up to a plain ASCII byte that surely starts a cluster of its own: an
            // ASCII character before it (not a Prepend), an ASCII one after it (not an Extend).
            let mut stop = end + 1;
            while stop < bytes.len()
                && !(bytes[stop - 1] < 0x80
                    && bytes[stop] < 0x80
                    && self.plain_ascii[bytes[stop] as usize]
                    && bytes.get(stop + 1).is_none_or(|&b| b < 0x80))
            {
                stop += 1;
            }
            self.normalize_graphemes(&text[end..stop], out);
            at = stop;
        }
    }

    /// Normalizes `text`, which starts and ends at cluster boundaries, cluster by cluster.
    ///
    /// Grapheme segmentation is most of the cost of a non-ASCII text, and most characters of
    /// such texts (CJK, kana, Cyrillic, Greek, accented Latin) are clusters of their own: a
    /// character of [`alone_between_plain`] (or ASCII but CR and LF) whose neighbours are each
    /// ASCII or of that set is one, since no rule joins such pairs. Those are looked up
    /// directly; only the runs of other characters, which start and end at such certain
    /// boundaries, are segmented. (callgrind, T5 on the mixed corpus: about 360 → 285 million
    /// instructions in all.)
    fn normalize_graphemes(&self, text: &str, out: &mut String) {
        let plain = |c: char| c.is_ascii() || alone_between_plain(c);
        let mut run_start: Option<usize> = None;
        let mut previous_plain = true;
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let next_plain = chars.peek().is_none_or(|&(_, next)| plain(next));
            // ASCII is alone between such characters too, but for CR LF.
            let alone = alone_between_plain(c) || (c.is_ascii() && c != '\r' && c != '\n');
            if previous_plain && next_plain && alone {
                if let Some(start) = run_start.take() {
                    self.normalize_clusters(&text[start..at], out);
                }
                self.normalize_char(&text[at..at + c.len_utf8()], c, out);
            } else if run_start.is_none() {
                run_start = Some(at);
            }
            previous_plain = plain(c);
        }
        if let Some(start) = run_start {
            self.normalize_clusters(&text[start..], out);
        }
    }

    /// The replacement of one character, or the character itself.
    #[inline]
    fn normalize_char(&self, spelled: &str, c: char, out: &mut String) {
        match self.transform(spelled) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }

    /// Normalizes `text` by its grapheme clusters, as the reference does.
    fn normalize_clusters(&self, text: &str, out: &mut String) {
        for grapheme in text.graphemes(true) {
            if grapheme.len() < 6 {
                if let Some(replacement) = self.transform(grapheme) {
                    out.push_str(replacement);
                    continue;
                }
                // A one-character cluster: its character's look-up is the one that just failed.
                if grapheme.chars().nth(1).is_none() {
                    out.push_str(grapheme);
                    continue;
                }
            }
            for (i, c) in grapheme.char_indices() {
                self.normalize_char(&grapheme[i..i + c.len_utf8()], c, out);
            }
        }
    }
}

/// Whether `c` is a grapheme cluster of its own when the characters on both sides are ASCII or
/// also of this set: letters and symbols of the common scripts whose cluster-break property is
/// Other (or Control), none of them a Prepend, Extend, SpacingMark, ZWJ, Hangul jamo or regional
/// indicator. The test `alone_between_plain_characters_are_clusters` checks every one of them
/// against the segmentation itself.
#[inline]
fn alone_between_plain(c: char) -> bool {
    matches!(
        c as u32,
        0x00A0..=0x02FF // Latin-1 Supplement, Latin Extended-A/B, IPA, spacing modifiers
            | 0x0370..=0x0482 // Greek and Coptic, Cyrillic up to its combining marks
            | 0x048A..=0x052F // the rest of Cyrillic, Cyrillic Supplement
            | 0x3041..=0x3096 // Hiragana up to its combining sound marks
            | 0x309B..=0x30FF // Hiragana's spacing sound marks, Katakana
            | 0x4E00..=0x9FFF // CJK Unified Ideographs
            | 0xFF01..=0xFF9D // Fullwidth and halfwidth forms up to the halfwidth sound marks
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alone_between_plain_characters_are_clusters() {
        let plain: Vec<char> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| alone_between_plain(c))
            .collect();
        assert!(plain.len() > 20_000);
        let neighbours = [
            'a', ' ', '.', '\u{e9}', '\u{416}', '\u{3042}', '\u{4e00}', '\u{ff21}',
        ];
        for &c in &plain {
            for &n in neighbours.iter().chain([&c]) {
                for text in [format!("{c}{n}"), format!("{n}{c}")] {
                    let clusters: Vec<&str> = text.graphemes(true).collect();
                    assert_eq!(
                        clusters.len(),
                        2,
                        "U+{:04X} next to U+{:04X}",
                        c as u32,
                        n as u32
                    );
                }
            }
        }
    }
}
