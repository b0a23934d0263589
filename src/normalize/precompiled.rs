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
//! runs without segmenting (see `plain_ascii`, computed from the map at load), eight at a time
//! when every printable character is one; most other characters are looked up one by one without
//! segmenting either (see `normalize_graphemes` and [`Classes`]).

use base64::Engine as _;
use unicode_segmentation::UnicodeSegmentation;

use super::char_blocks::{BlockBits, LazyBlocks};
use crate::error::{Error, Result};
use crate::swar;

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
    /// Whether all of `' '..='~'` are `plain_ascii` (then runs are read eight bytes at a time).
    printable_plain: bool,
    /// The [`Classes`] of the characters, by blocks (see [`char_blocks`](super::char_blocks)).
    classes: Box<LazyBlocks<Classes>>,
}

/// Two bits per character of a block: see [`Classes::of`].
#[derive(Debug, Clone)]
struct Classes {
    alone: BlockBits,
    kept: BlockBits,
}

/// A character may be a neighbour of a character looked up alone ([`Classes::of`]).
const PLAIN: u8 = 1;
/// A character is a cluster of its own between `PLAIN` neighbours.
const ALONE: u8 = 2;
/// The map has no replacement for the character alone.
const KEPT: u8 = 4;

impl Classes {
    /// The classes of the characters of the block that holds `code`, under `map`.
    ///
    /// `ALONE` is the grapheme cluster break property seen from outside: a character that is a
    /// cluster of its own after `a`, before `a` and after itself is none of CR, LF, Extend, ZWJ,
    /// SpacingMark (joined to what precedes them), Prepend (joined to what follows), Regional
    /// Indicator, Hangul L, V or T (joined to themselves). What is left (Other, Control, Hangul
    /// LV and LVT, Extended_Pictographic) joins no character of the same set: every rule that
    /// joins two characters needs one of the excluded classes on one side (Hangul LV and LVT
    /// only join a following V or T; emoji only join through ZWJ; an Indic consonant only joins
    /// a preceding linker, which is Extend).
    fn compute(map: &Precompiled, code: u32) -> Self {
        let kept = |c: char| {
            let mut spelled = [0u8; 4];
            map.transform(c.encode_utf8(&mut spelled)).is_none()
        };
        Classes {
            alone: BlockBits::of(code, alone_among_plain),
            kept: BlockBits::of(code, kept),
        }
    }

    /// The `PLAIN`, `ALONE` and `KEPT` bits of `c`, a character of this block. `PLAIN` is
    /// `ALONE`, CR and LF: those two break from every other character, though not from each
    /// other.
    #[inline]
    fn of(&self, c: char) -> u8 {
        let code = c as u32;
        let plain = self.alone.has(code) || c == '\r' || c == '\n';
        (u8::from(plain) * PLAIN)
            | (u8::from(self.alone.has(code)) * ALONE)
            | (u8::from(self.kept.has(code)) * KEPT)
    }
}

/// Whether `c` is a cluster of its own after `a`, before `a` and after itself, and is not CR or
/// LF: the `ALONE` class of [`Classes::compute`].
fn alone_among_plain(c: char) -> bool {
    let clusters = |first: char, second: char| {
        let mut buffer = [0u8; 8];
        let length = first.encode_utf8(&mut buffer).len();
        let length = length + second.encode_utf8(&mut buffer[length..]).len();
        let pair = std::str::from_utf8(&buffer[..length]).expect("two characters");
        pair.graphemes(true).count()
    };
    c != '\r' && c != '\n' && clusters('a', c) == 2 && clusters(c, 'a') == 2 && clusters(c, c) == 2
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
            printable_plain: false,
            classes: Box::new(LazyBlocks::new()),
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
        map.printable_plain = (b' '..=b'~').all(|byte| map.plain_ascii[byte as usize]);
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

    /// Whether the map leaves every printable ASCII character (`' '..='~'`) as it is, each its
    /// own cluster next to another ASCII character.
    pub fn keeps_printable_ascii(&self) -> bool {
        self.printable_plain
    }

    /// Appends the normalized form of `text` to `out`.
    pub fn normalize(&self, text: &str, out: &mut String) {
        if !self.normalize_or_keep(text, out) {
            out.push_str(text);
        }
    }

    /// Appends the normalized form of `text` to `out` and returns true, or returns false and
    /// writes nothing when `text` is all plain ASCII, which the map leaves as it is.
    pub fn normalize_or_keep(&self, text: &str, out: &mut String) -> bool {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < text.len() {
            // A run of plain ASCII, except its last byte when a non-ASCII character follows (a
            // combining mark would join it in one cluster).
            let mut end = self.plain_ascii_run(bytes, at);
            if at == 0 && end == text.len() {
                return false;
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
        true
    }

    /// The end of the run of `plain_ascii` bytes from `start`.
    ///
    /// Eight bytes at a time while they are all printable, when all printable characters are
    /// plain (T5's and ALBERT's maps): English and code are mostly such runs. callgrind, T5, the
    /// mixed corpus: the byte loop alone was 4.5% of a repeated pass.
    #[inline]
    fn plain_ascii_run(&self, bytes: &[u8], start: usize) -> usize {
        let mut end = start;
        loop {
            if self.printable_plain {
                while let Some(word) = swar::word_at(bytes, end) {
                    let stop = !swar::ascii_between(word, b' ', b'~') & swar::HIGH_BITS;
                    if stop != 0 {
                        end += swar::first_set(stop);
                        break;
                    }
                    end += 8;
                }
            }
            // A byte the words stopped at may still be plain (a tab), and the text's last
            // seven bytes go one at a time.
            if end < bytes.len() && bytes[end] < 0x80 && self.plain_ascii[bytes[end] as usize] {
                end += 1;
            } else {
                return end;
            }
        }
    }

    /// The `PLAIN`, `ALONE` and `KEPT` bits of `c` ([`Classes::of`]); none for a character
    /// above the blocks, which is then segmented with its neighbours.
    #[inline]
    fn class_of(&self, c: char) -> u8 {
        self.classes
            .get(c as u32, |code| Classes::compute(self, code))
            .map_or(0, |classes| classes.of(c))
    }

    /// Normalizes `text`, which starts and ends at cluster boundaries, cluster by cluster.
    ///
    /// Grapheme segmentation is most of the cost of a non-ASCII text, and most characters of
    /// such texts are clusters of their own: an `ALONE` character ([`Classes::compute`]) whose
    /// neighbours are each `PLAIN` is one, since no rule joins such pairs. Those are looked up
    /// directly (and copied without a look-up when `KEPT`); only the runs of other characters,
    /// which start and end at such certain boundaries, are segmented.
    ///
    /// callgrind, T5 on the mixed corpus: about 360 → 285 million instructions in all with a
    /// hand-written set of scripts (Latin, Greek, Cyrillic, kana, CJK). With the classes of every
    /// character below U+30000 (which also take Devanagari, Arabic, Thai and the other
    /// scripts of the UDHR out of segmentation when no mark follows) and the eight-byte ASCII
    /// runs: 96.2 → 73.0 instructions per byte of a repeated pass. Computing a block costs about
    /// 2,300 instructions per character, once per map: 80 million for the 139 blocks the corpus
    /// touches.
    fn normalize_graphemes(&self, text: &str, out: &mut String) {
        let mut run_start: Option<usize> = None;
        let mut previous_plain = true;
        let mut chars = text.char_indices();
        let mut current = chars.next().map(|(at, c)| (at, c, self.class_of(c)));
        while let Some((at, c, class)) = current {
            let next = chars.next().map(|(at, c)| (at, c, self.class_of(c)));
            let next_plain = next.is_none_or(|(_, _, class)| class & PLAIN != 0);
            if previous_plain && next_plain && class & ALONE != 0 {
                if let Some(start) = run_start.take() {
                    self.normalize_clusters(&text[start..at], out);
                }
                if class & KEPT != 0 {
                    out.push(c);
                } else {
                    self.normalize_char(&text[at..at + c.len_utf8()], c, out);
                }
            } else if run_start.is_none() {
                run_start = Some(at);
            }
            previous_plain = class & PLAIN != 0;
            current = next;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::char_blocks::COVERED;
    use crate::testing::Rng;

    /// The charsmap of a tokenizer.json of the shared data.
    fn charsmap(tokenizer: &str) -> Precompiled {
        let path = crate::testing::data_dir()
            .join("tokenizers")
            .join(tokenizer)
            .join("tokenizer.json");
        let text = std::fs::read_to_string(&path).expect("the shared data's tokenizer.json");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let steps = &doc["normalizer"]["normalizers"];
        let blob = steps
            .as_array()
            .expect("a normalizer sequence")
            .iter()
            .find_map(|step| step["precompiled_charsmap"].as_str())
            .expect("a Precompiled step");
        Precompiled::from_base64(blob, "precompiled_charsmap").expect("charsmap")
    }

    fn clusters(text: &str) -> usize {
        text.graphemes(true).count()
    }

    #[test]
    fn alone_characters_are_clusters_among_plain_ones() {
        let map = charsmap("t5-legal-small-fr-en");
        let classed: Vec<(char, u8)> = (0..COVERED)
            .filter_map(char::from_u32)
            .map(|c| (c, map.class_of(c)))
            .collect();
        for &(c, class) in &classed[..128] {
            let line_break = c == '\r' || c == '\n';
            assert_ne!(class & PLAIN, 0, "{c:?}");
            assert_eq!(class & ALONE != 0, !line_break, "{c:?}");
            let kept = map.transform(&c.to_string()).is_none();
            assert_eq!(class & KEPT != 0, kept, "{c:?}");
            if !line_break {
                assert_eq!(kept, map.plain_ascii[c as usize], "{c:?}");
            }
        }
        // The scripts that the first version of this fast path listed by hand.
        for range in [
            0xA0..=0x2FF,
            0x370..=0x482,
            0x3041..=0x3096,
            0x4E00..=0x9FFF,
        ] {
            for code in range {
                let class = map.class_of(char::from_u32(code).unwrap());
                assert_ne!(class & ALONE, 0, "U+{code:04X}");
            }
        }
        let alone: Vec<char> = classed
            .iter()
            .filter(|&&(_, class)| class & ALONE != 0)
            .map(|&(c, _)| c)
            .collect();
        let not_alone = classed
            .iter()
            .filter(|&&(_, class)| class & ALONE == 0)
            .count();
        assert!(
            alone.len() > 150_000 && not_alone > 2_000,
            "{} {not_alone}",
            alone.len()
        );
        // Each one next to characters of other kinds of the set, and random pairs of the set.
        let neighbours = [
            'a',
            '\r',
            '\n',
            '\u{7}',
            '\u{e9}',
            '\u{ac00}',
            '\u{ac01}',
            '\u{1f600}',
        ];
        for &c in &alone {
            for n in neighbours {
                assert_eq!(
                    clusters(&format!("{c}{n}")),
                    2,
                    "U+{:04X} U+{:04X}",
                    c as u32,
                    n as u32
                );
                assert_eq!(
                    clusters(&format!("{n}{c}")),
                    2,
                    "U+{:04X} U+{:04X}",
                    n as u32,
                    c as u32
                );
            }
        }
        let mut rng = Rng(11);
        for _ in 0..300_000 {
            let (c, d) = (alone[rng.below(alone.len())], alone[rng.below(alone.len())]);
            assert_eq!(
                clusters(&format!("{c}{d}")),
                2,
                "U+{:04X} U+{:04X}",
                c as u32,
                d as u32
            );
        }
    }

    #[test]
    fn normalize_equals_segmenting_everything() {
        // Characters of every cluster-break class (controls, Prepend, Extend, SpacingMark, ZWJ,
        // regional indicators, Hangul jamo and syllables, an Indic conjunct, emoji), characters
        // the maps replace (fullwidth, ligatures, compatibility forms), CR LF and plain text.
        let alphabet = [
            "a",
            "Z",
            " ",
            ".",
            "\t",
            "\r",
            "\n",
            "\u{7}",
            "\u{e9}",
            "e\u{301}",
            "\u{301}",
            "\u{300}",
            "\u{308}",
            "\u{200d}",
            "\u{200c}",
            "\u{600}",
            "\u{644}",
            "\u{64b}",
            "\u{915}",
            "\u{94d}",
            "\u{937}",
            "\u{93f}",
            "\u{e01}",
            "\u{e33}",
            "\u{1100}",
            "\u{1161}",
            "\u{11a8}",
            "\u{ac00}",
            "\u{ac01}",
            "\u{1f1eb}",
            "\u{1f1f7}",
            "\u{1f600}",
            "\u{2764}",
            "\u{fe0f}",
            "\u{1f3fb}",
            "\u{ff21}",
            "\u{fb01}",
            "\u{2460}",
            "\u{3000}",
            "\u{3042}",
            "\u{3099}",
            "\u{4e00}",
            "\u{416}",
            "\u{a0}",
            "\u{ad}",
            "\u{2028}",
            "\u{fffd}",
            "\u{e0041}",
            "\u{2f800}",
            "\u{30000}",
        ];
        for name in ["t5-legal-small-fr-en", "albert-base-v2"] {
            let map = charsmap(name);
            let mut rng = Rng(5);
            let (mut fast, mut reference) = (String::new(), String::new());
            for _ in 0..50_000 {
                let text = rng.text(&alphabet, 24);
                fast.clear();
                reference.clear();
                map.normalize(&text, &mut fast);
                map.normalize_clusters(&text, &mut reference);
                assert_eq!(fast, reference, "{name}: {text:?}");
            }
        }
    }
}
