//! Normalizers: rewrite the text before it is pre-tokenized.
//!
//! Every normalizer of `tokenizers` lives here: the Unicode normalization forms, `Lowercase`,
//! `Replace`, `Prepend`, `BertNormalizer`, `Strip`, `StripAccents`, `Precompiled` (SentencePiece's
//! charsmap, in [`precompiled`]), `ByteLevel` and `Sequence`. Each normalizer works on a whole
//! segment of text and writes the result into a caller's buffer, so the hot path allocates
//! nothing once the buffer has grown.
//!
//! The character-by-character normalizers (BERT's clean-up, lowercasing, stripping, accents,
//! byte-level) are written as one loop over the input characters, each pushing what that one
//! character becomes: the shape that can later report, for every output character, which input
//! character it came from (the alignment offsets need). Character classes come from
//! [`char_classes`], asked of the reference itself for every code point.

pub mod aligned;
mod char_blocks;
pub(crate) mod char_classes;
mod forms;
pub mod precompiled;

use std::cell::{Cell, RefCell};

use serde_json::Value;
// The reference's own normalization crate (Unicode 9.0): a newer Unicode would decompose or
// reorder characters the reference leaves alone.
use unicode_normalization_alignments::char::canonical_combining_class;
use unicode_normalization_alignments::{
    is_nfd_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization,
};

use self::char_classes::{is, BERT_CONTROL, BERT_NONSPACING, BERT_SPACE, COMBINING, WHITESPACE};
use self::forms::Composed;
pub use self::precompiled::Precompiled;
use crate::byte_alphabet;
use crate::error::{Error, Result};
use crate::load::json::{field_str, kind, type_of};
use crate::pretokenize::Regex;
use crate::swar;

/// A normalizer, as a tokenizer.json names it.
#[derive(Debug)]
pub enum Normalizer {
    /// Canonical composition.
    Nfc,
    /// Canonical decomposition.
    Nfd,
    /// Compatibility composition.
    Nfkc,
    /// Compatibility decomposition.
    Nfkd,
    /// Each character lowercased on its own (HF maps `char::to_lowercase`, so a final sigma
    /// becomes `σ`, not `ς` as `str::to_lowercase` would give).
    Lowercase,
    /// Every match of a pattern replaced by `content`.
    Replace {
        /// What to replace.
        pattern: ReplacePattern,
        /// What to put in its place.
        content: String,
    },
    /// A string put before non-empty text (SentencePiece's `▁` for the first word).
    Prepend(String),
    /// BERT's normalizer: control characters removed and whitespace turned into spaces
    /// (`clean_text`), spaces around CJK ideographs, accents stripped (NFD, then the non-spacing
    /// marks removed), lowercasing.
    Bert {
        /// Remove control characters, turn whitespace into `' '`.
        clean_text: bool,
        /// Put spaces around CJK ideographs.
        handle_chinese_chars: bool,
        /// Decompose and drop non-spacing marks (`null` in the file means: as `lowercase`).
        strip_accents: bool,
        /// Lowercase each character.
        lowercase: bool,
    },
    /// Whitespace (Rust's `char::is_whitespace`) removed from the start and/or the end.
    Strip {
        /// Strip the start.
        left: bool,
        /// Strip the end.
        right: bool,
    },
    /// Combining marks removed (no decomposition: pair it with NFD/NFKD).
    StripAccents,
    /// SentencePiece's precompiled character map.
    Precompiled(Box<Precompiled>),
    /// Every byte of the UTF-8 text spelled as its GPT-2 alphabet character.
    ByteLevel,
    /// Each normalizer in turn.
    Sequence(Vec<Normalizer>),
}

/// The pattern of a `Replace` normalizer.
#[derive(Debug)]
pub enum ReplacePattern {
    /// A literal string (non-empty).
    String(String),
    /// A regex, run by Oniguruma as in HF.
    Regex(Regex),
    /// The regex `" {2,}"` (runs of two or more spaces), which the normalizers of
    /// SentencePiece-converted files (T5, ALBERT, XLNet) end with. Run as a byte search: through
    /// Oniguruma it was 8% of encoding with T5 (callgrind, mixed corpus), for a pattern whose
    /// greedy, non-overlapping matches are exactly the maximal runs of at least two spaces.
    SpaceRuns,
    /// The regex `\s+` (CLIP's normalizer), run by the pre-tokenizers' class table of
    /// Oniguruma's `\s` ([`crate::pretokenize::scanners::whitespace_runs`]).
    WhitespaceRuns,
}

/// The regex [`ReplacePattern::SpaceRuns`] stands for.
const SPACE_RUNS: &str = " {2,}";
/// The regex [`ReplacePattern::WhitespaceRuns`] stands for.
const WHITESPACE_RUNS: &str = r"\s+";

impl Normalizer {
    /// Builds a normalizer from its tokenizer.json object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let component = type_of(value, path)?;
        Ok(match component {
            "NFC" => Normalizer::Nfc,
            "NFD" => Normalizer::Nfd,
            "NFKC" => Normalizer::Nfkc,
            "NFKD" => Normalizer::Nfkd,
            "Lowercase" => Normalizer::Lowercase,
            "StripAccents" => Normalizer::StripAccents,
            "ByteLevel" => Normalizer::ByteLevel,
            "Strip" => Normalizer::Strip {
                left: required_bool(value, "strip_left", path)?,
                right: required_bool(value, "strip_right", path)?,
            },
            "BertNormalizer" => {
                // Every field is required, as in `tokenizers` (only `strip_accents` may be absent).
                let lowercase = required_bool(value, "lowercase", path)?;
                let strip_accents = match value.get("strip_accents") {
                    None | Some(Value::Null) => lowercase,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        return Err(Error::invalid(format!(
                            "{path}.strip_accents: expected true, false or null, found {}",
                            kind(other)
                        )))
                    }
                };
                Normalizer::Bert {
                    clean_text: required_bool(value, "clean_text", path)?,
                    handle_chinese_chars: required_bool(value, "handle_chinese_chars", path)?,
                    strip_accents,
                    lowercase,
                }
            }
            "Precompiled" => {
                let field = format!("{path}.precompiled_charsmap");
                let blob = match value.get("precompiled_charsmap") {
                    Some(Value::String(s)) => s,
                    Some(other) => {
                        return Err(Error::invalid(format!(
                            "{field}: expected a base64 string, found {}",
                            kind(other)
                        )))
                    }
                    None => return Err(Error::invalid(format!("{field}: missing field"))),
                };
                Normalizer::Precompiled(Box::new(Precompiled::from_base64(blob, &field)?))
            }
            "Prepend" => Normalizer::Prepend(field_str(value, "prepend", path)?.to_owned()),
            "Replace" => Normalizer::Replace {
                pattern: ReplacePattern::from_json(value, path)?,
                content: field_str(value, "content", path)?.to_owned(),
            },
            "Sequence" => {
                let items = value
                    .get("normalizers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::invalid(format!("{path}.normalizers: missing or not a list"))
                    })?;
                let inner = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        Normalizer::from_json(item, &format!("{path}.normalizers[{i}]"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Normalizer::Sequence(inner)
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{path}: normalizer type {other:?} is not supported"
                )));
            }
        })
    }

    /// Whether normalizing the parts of a text cut at a line start (`x\nA`) gives the parts of
    /// its normalized form: true for the character-local normalizers (a line start is no
    /// composition or grapheme boundary question: `\n` and an ASCII letter never combine).
    /// BERT's is one too: it maps or drops each character on its own (`\n` becomes a space),
    /// and its NFD, when it strips accents, reorders marks only up to the next starter.
    pub fn keeps_line_starts(&self) -> bool {
        match self {
            Normalizer::Bert { .. } => true,
            Normalizer::Sequence(steps) => steps.iter().all(Normalizer::keeps_line_starts),
            _ => self.is_character_local(),
        }
    }

    /// The normal forms, lowercasing and accent stripping: each character's output depends on
    /// it alone, or (composition, the order of marks) on the characters up to the next starter.
    fn is_character_local(&self) -> bool {
        matches!(
            self,
            Normalizer::Nfc
                | Normalizer::Nfd
                | Normalizer::Nfkc
                | Normalizer::Nfkd
                | Normalizer::Lowercase
                | Normalizer::StripAccents
        )
    }

    /// Whether normalizing the parts of a text cut before a space that follows a printable
    /// ASCII character other than a space (`x| y`) gives the parts of its normalized form.
    ///
    /// True for steps that keep printable ASCII characters printable ASCII characters other
    /// than a space (so that every later step sees the same kind of cut) and look at nothing
    /// across such a cut: the character-local forms and lowercasing, a precompiled map that
    /// leaves printable ASCII as it is (T5's, ALBERT's: an ASCII character next to a space is a
    /// cluster of its own), a one-string `Replace` between such characters (ALBERT's ``` `` ```
    /// → `"`), and the runs of spaces or whitespace made one space (a run after the cut is
    /// wholly in the second part, since the first ends with a character that is not a space,
    /// and the second part still starts with a space).
    pub fn keeps_space_starts(&self) -> bool {
        let graphic = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        match self {
            Normalizer::Precompiled(map) => map.keeps_printable_ascii(),
            Normalizer::Replace {
                pattern: ReplacePattern::SpaceRuns | ReplacePattern::WhitespaceRuns,
                content,
            } => content == " ",
            Normalizer::Replace {
                pattern: ReplacePattern::String(literal),
                content,
            } => graphic(literal) && graphic(content),
            Normalizer::Sequence(steps) => steps.iter().all(Normalizer::keeps_space_starts),
            _ => self.is_character_local(),
        }
    }

    /// Writes the normalized form of `text` into `out` (cleared first).
    pub fn normalize(&self, text: &str, out: &mut String) {
        if !self.normalize_or_keep(text, out) {
            out.push_str(text);
        }
    }

    /// Writes the normalized form of `text` into `out` (cleared first) and returns true, or
    /// returns false when it finds on the way that `text` is its own normal form, so that the
    /// caller can use it where it is instead of a copy. Only some tell so: the precompiled map,
    /// of text that is all plain ASCII to it (English, for T5 and ALBERT); NFC and NFKC, of text
    /// that needs no composing; and a sequence whose steps all tell so.
    ///
    /// Every variant below writes the whole result; none reads `out` first.
    pub fn normalize_or_keep(&self, text: &str, out: &mut String) -> bool {
        out.clear();
        match self {
            // The first step that writes reads the caller's text where it is, and each later
            // one the output before it; a step that finds its input to be its own normal form
            // writes nothing. With T5 (a precompiled map, then runs of spaces made one), 10 MB
            // of spaces were copied three times: copying the text first, then the map's
            // unchanged output, took about half of the 20 ms (perf).
            Normalizer::Sequence(steps) => {
                let mut wrote = false;
                let mut previous = SEQUENCE_SPARE.take();
                for step in steps {
                    if wrote {
                        std::mem::swap(&mut previous, out);
                        if !step.normalize_or_keep(&previous, out) {
                            std::mem::swap(&mut previous, out);
                        }
                    } else {
                        wrote = step.normalize_or_keep(text, out);
                    }
                }
                if previous.capacity() <= SEQUENCE_SPARE_BYTES {
                    SEQUENCE_SPARE.set(previous);
                }
                return wrote;
            }
            // The quick checks answer "yes" for most text (all ASCII, for one), skipping the rewrite.
            Normalizer::Nfd if is_nfd_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Nfkd if is_nfkd_quick(text.chars()) == IsNormalized::Yes => {
                out.push_str(text)
            }
            Normalizer::Lowercase => out.extend(text.chars().flat_map(char::to_lowercase)),
            Normalizer::Bert {
                clean_text,
                handle_chinese_chars,
                strip_accents,
                lowercase,
            } => bert(
                text,
                BertFlags {
                    clean_text: *clean_text,
                    handle_chinese_chars: *handle_chinese_chars,
                    strip_accents: *strip_accents,
                    lowercase: *lowercase,
                },
                out,
            ),
            Normalizer::Strip { left, right } => {
                let mut rest = text;
                if *left {
                    rest = rest.trim_start_matches(|c| is(c, WHITESPACE));
                }
                if *right {
                    rest = rest.trim_end_matches(|c| is(c, WHITESPACE));
                }
                out.push_str(rest);
            }
            Normalizer::StripAccents => out.extend(text.chars().filter(|&c| !is(c, COMBINING))),
            Normalizer::Precompiled(map) => return map.normalize_or_keep(text, out),
            Normalizer::ByteLevel => out.extend(text.bytes().map(byte_alphabet::byte_to_char)),
            Normalizer::Prepend(prefix) => {
                if !text.is_empty() {
                    out.push_str(prefix);
                    out.push_str(text);
                }
            }
            Normalizer::Replace { pattern, content } => pattern.replace_all(text, content, out),
            // Each output character comes with its change count (what alignments need later).
            Normalizer::Nfc => return Composed::Nfc.normalize_or_keep(text, out),
            Normalizer::Nfd => out.extend(text.nfd().map(|(c, _)| c)),
            Normalizer::Nfkc => return Composed::Nfkc.normalize_or_keep(text, out),
            Normalizer::Nfkd => out.extend(text.nfkd().map(|(c, _)| c)),
        }
        true
    }
}

/// A required boolean field.
fn required_bool(value: &Value, name: &str, path: &str) -> Result<bool> {
    match value.get(name) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::invalid(format!(
            "{path}.{name}: expected true or false, found {}",
            kind(other)
        ))),
        None => Err(Error::invalid(format!("{path}.{name}: missing field"))),
    }
}

/// The CJK ideograph ranges of BERT's `handle_chinese_chars` (its own definition, not a Unicode
/// property).
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// The options of BERT's normalizer (see [`Normalizer::Bert`]).
#[derive(Clone, Copy)]
struct BertFlags {
    clean_text: bool,
    handle_chinese_chars: bool,
    strip_accents: bool,
    lowercase: bool,
}

/// BERT's normalizer, in the reference's order: clean-up and CJK spacing (one pass, character by
/// character), then NFD with the non-spacing marks dropped, then lowercasing.
///
/// Printable ASCII and `\t`, `\n`, `\r` take a fast path, one byte at a time: each is a starter
/// that NFD leaves alone and that clean-up keeps (turning the three controls into a space), so
/// the text between them can be normalized on its own with the same result (NFD reorders marks
/// only between starters). Other ASCII controls are removed by clean-up, which could bring two
/// marks together, so they stay on the general path. On the mixed corpus the general path alone
/// was 42% of encoding's instructions with bert-base-uncased (callgrind).
fn bert(text: &str, flags: BertFlags, out: &mut String) {
    let fast = |b: u8| matches!(b, b' '..=b'~' | b'\t' | b'\n' | b'\r');
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        while at < bytes.len() && fast(bytes[at]) {
            at += 1;
        }
        // Copied as runs of printable ASCII, lowercased in place (a `char` pushed per byte was
        // 14% of the instructions).
        for run in text[start..at].split_inclusive(['\t', '\n', '\r']) {
            let (printable, control) = match run.as_bytes().last() {
                Some(b'\t' | b'\n' | b'\r') => run.split_at(run.len() - 1),
                _ => (run, ""),
            };
            let from = out.len();
            out.push_str(printable);
            if flags.lowercase {
                out[from..].make_ascii_lowercase();
            }
            out.push_str(if flags.clean_text && !control.is_empty() {
                " "
            } else {
                control
            });
        }
        let start = at;
        while at < bytes.len() && !fast(bytes[at]) {
            at += 1;
        }
        if at > start {
            // `fast` bytes are ASCII, so `start` and `at` are character boundaries.
            bert_general(&text[start..at], flags, out);
        }
    }
}

/// [`bert`] on any text: each character through a per-thread memo of what one character
/// becomes, when that is the same as normalizing the text as a whole (see [`bert_by_char`]), else
/// [`bert_by_run`].
fn bert_general(text: &str, flags: BertFlags, out: &mut String) {
    let start = out.len();
    if !bert_by_char(text, flags, out) {
        out.truncate(start);
        bert_by_run(text, flags, out);
    }
}

/// One entry of [`BERT_MEMO`]: a character and its flags, and what it becomes.
#[derive(Clone, Copy)]
struct BertMemo {
    /// `code point << 4 | flags`, or `u32::MAX` for an empty entry.
    key: u32,
    len: u8,
    chars: [char; 3],
}

/// Entries of [`BERT_MEMO`] (80 KB).
const BERT_MEMO_ENTRIES: usize = 1 << 12;

thread_local! {
    /// The buffer a sequence's steps write into in turn with `out`, kept between calls so that
    /// each call does not grow a new one (that was 2% more instructions in `malloc` and `free`
    /// with T5, callgrind, mixed corpus). A nested sequence takes an empty one.
    static SEQUENCE_SPARE: Cell<String> = const { Cell::new(String::new()) };
}

/// The largest [`SEQUENCE_SPARE`] kept: a 10 MB document's is given back.
const SEQUENCE_SPARE_BYTES: usize = 1 << 20;

thread_local! {
    /// What single characters become through [`bert_by_run`], direct-mapped by code point.
    static BERT_MEMO: RefCell<Box<[BertMemo; BERT_MEMO_ENTRIES]>> = RefCell::new(Box::new(
        [BertMemo { key: u32::MAX, len: 0, chars: ['\0'; 3] }; BERT_MEMO_ENTRIES],
    ));
}

/// [`bert_by_run`] one character at a time, each character's output looked up in
/// [`BERT_MEMO`] or worked out alone; false (with some output written) when a character's output
/// holds a mark that NFD could reorder with its neighbours'.
///
/// Why it is exact: NFD decomposes each character on its own and then only reorders runs of
/// non-starters (canonical combining class ≠ 0); clean-up, CJK spacing, the removal of
/// non-spacing marks and lowercasing all work character by character. When no character's own
/// output keeps a non-starter, every non-starter of the decomposed text is removed, so their
/// order never shows, and the text's output is the characters' outputs one after another.
///
/// Why: the general path decomposed, filtered and lowercased through iterators over the whole
/// run, 26% of the time of encoding the mixed corpus with bert-base-uncased (`perf`), though a
/// text uses a few thousand distinct characters. With the memo, callgrind counts 105.6 instead
/// of 152.4 instructions per byte of encoding (mixed corpus, bert-base-uncased, repeated text).
fn bert_by_char(text: &str, flags: BertFlags, out: &mut String) -> bool {
    let mode = u32::from(flags.clean_text)
        | u32::from(flags.handle_chinese_chars) << 1
        | u32::from(flags.strip_accents) << 2
        | u32::from(flags.lowercase) << 3;
    BERT_MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        for c in text.chars() {
            let key = (c as u32) << 4 | mode;
            let entry = &mut memo[(c as usize) & (BERT_MEMO_ENTRIES - 1)];
            if entry.key != key {
                let mut alone = String::new();
                bert_by_run(c.encode_utf8(&mut [0; 4]), flags, &mut alone);
                if alone.chars().any(|c| canonical_combining_class(c) != 0) {
                    return false;
                }
                if alone.chars().count() > 3 {
                    out.push_str(&alone);
                    continue;
                }
                *entry = BertMemo {
                    key,
                    len: 0,
                    chars: ['\0'; 3],
                };
                for c in alone.chars() {
                    entry.chars[usize::from(entry.len)] = c;
                    entry.len += 1;
                }
            }
            out.extend(&entry.chars[..usize::from(entry.len)]);
        }
        true
    })
}

/// [`bert`] on any text, normalized as a whole.
fn bert_by_run(text: &str, flags: BertFlags, out: &mut String) {
    let BertFlags {
        clean_text,
        handle_chinese_chars,
        strip_accents,
        lowercase,
    } = flags;
    let push_lower = |c: char, out: &mut String| {
        if !lowercase {
            out.push(c);
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    };
    // First pass: clean-up and CJK spacing; lowercased now too unless accents are stripped in
    // between (lowercasing must come after the decomposition).
    let mut first = String::new();
    let target: &mut String = if strip_accents { &mut first } else { out };
    for c in text.chars() {
        let mut c = c;
        if clean_text {
            if c == '\0' || c == '\u{FFFD}' || is(c, BERT_CONTROL) {
                continue;
            }
            if is(c, BERT_SPACE) {
                c = ' ';
            }
        }
        if handle_chinese_chars && is_chinese_char(c) {
            target.push(' ');
            target.push(c);
            target.push(' ');
        } else if strip_accents {
            target.push(c);
        } else {
            push_lower(c, target);
        }
    }
    if strip_accents {
        if is_nfd_quick(first.chars()) == IsNormalized::Yes {
            for c in first.chars().filter(|&c| !is(c, BERT_NONSPACING)) {
                push_lower(c, out);
            }
        } else {
            for c in first
                .nfd()
                .map(|(c, _)| c)
                .filter(|&c| !is(c, BERT_NONSPACING))
            {
                push_lower(c, out);
            }
        }
    }
}

impl ReplacePattern {
    /// Reads `{"String": s}` or `{"Regex": r}` (the `pattern` of `Replace` normalizers and
    /// decoders).
    ///
    /// HF compiles both forms with Oniguruma (the string escaped); for a non-empty literal,
    /// leftmost non-overlapping matching is the same as plain substring search, which runs here.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let Some(Value::Object(pattern)) = value.get("pattern") else {
            return Err(Error::invalid(format!(
                "{path}.pattern: missing or not an object"
            )));
        };
        match (pattern.get("String"), pattern.get("Regex")) {
            (Some(Value::String(s)), None) if s.is_empty() => Err(Error::unsupported(format!(
                "{path}.pattern.String: an empty pattern is not supported"
            ))),
            (Some(Value::String(s)), None) => Ok(ReplacePattern::String(s.clone())),
            (None, Some(Value::String(r))) if r == SPACE_RUNS => Ok(ReplacePattern::SpaceRuns),
            (None, Some(Value::String(r))) if r == WHITESPACE_RUNS => {
                Ok(ReplacePattern::WhitespaceRuns)
            }
            (None, Some(Value::String(r))) => Ok(ReplacePattern::Regex(
                Regex::onig(r).map_err(|e| e.context(format!("{path}.pattern.Regex")))?,
            )),
            _ => Err(Error::invalid(format!(
                "{path}.pattern: expected {{\"String\": ...}} or {{\"Regex\": ...}}"
            ))),
        }
    }

    /// Calls `f(start, end)` for each match in `text`, in order: leftmost, non-overlapping.
    pub fn for_each_match(&self, text: &str, mut f: impl FnMut(usize, usize)) {
        match self {
            // Searched with `memchr`: `str::match_indices` ran its two-way searcher even for the
            // one-space literal of SentencePiece files (`" "` → `▁`), 22 instructions per byte
            // of encoding with Mistral (callgrind, mixed corpus).
            ReplacePattern::String(literal) => match literal.as_bytes() {
                &[byte] => {
                    memchr::memchr_iter(byte, text.as_bytes()).for_each(|start| f(start, start + 1))
                }
                bytes => memchr::memmem::find_iter(text.as_bytes(), bytes)
                    .for_each(|start| f(start, start + bytes.len())),
            },
            ReplacePattern::Regex(regex) => regex.for_each_match(text, f),
            ReplacePattern::WhitespaceRuns => {
                crate::pretokenize::scanners::whitespace_runs(text, f)
            }
            ReplacePattern::SpaceRuns => {
                let bytes = text.as_bytes();
                let mut at = 0;
                while let Some(found) = memchr::memmem::find(&bytes[at..], b"  ") {
                    let start = at + found;
                    let end = space_run_end(bytes, start + 2);
                    f(start, end);
                    at = end;
                }
            }
        }
    }

    /// Appends `text` to `out` with every match replaced by `content`.
    pub fn replace_all(&self, text: &str, content: &str, out: &mut String) {
        if let ReplacePattern::String(literal) = self {
            if let (&[byte], 0..=4) = (literal.as_bytes(), content.len()) {
                return replace_byte(text, byte, content, out);
            }
        }
        let mut last = 0;
        self.for_each_match(text, |start, end| {
            out.push_str(&text[last..start]);
            out.push_str(content);
            last = end;
        });
        out.push_str(&text[last..]);
    }
}

/// Appends `text` to `out` with every `byte` (ASCII: a one-byte pattern) replaced by `content`
/// (at most 4 bytes), without a branch per byte: each byte stores four bytes, its own or the
/// content's, and moves on by one or by the content's length.
///
/// Why: SentencePiece files (Llama 2, Mistral) turn each space into `▁` this way, and English
/// has a space every six bytes or so: copying the runs between matches, two `push_str` calls a
/// match, took 32–66 ms for `long_document.py`'s 10 MB document, the part of a cut document
/// that its threads cannot share (see `Tokenizer::encode_in_model_parts`).
fn replace_byte(text: &str, byte: u8, content: &str, out: &mut String) {
    debug_assert!(byte.is_ascii() && content.len() <= 4);
    let mut padded = [0u8; 4];
    padded[..content.len()].copy_from_slice(content.as_bytes());
    let content_word = u32::from_le_bytes(padded);
    // SAFETY: the bytes written are `text`'s with each ASCII `byte` replaced by the whole of
    // `content`, so `out` stays UTF-8; `reserve` makes room for every byte of `text` becoming
    // `content`, and for the three bytes past the end that the last store writes (not kept).
    unsafe {
        let out = out.as_mut_vec();
        let start = out.len();
        out.reserve(text.len() * content.len().max(1) + 3);
        let base = out.as_mut_ptr().add(start);
        let mut at = 0;
        for &b in text.as_bytes() {
            let hit = b == byte;
            let word = if hit { content_word } else { u32::from(b) };
            base.add(at).cast::<u32>().write_unaligned(word);
            at += if hit { content.len() } else { 1 };
        }
        out.set_len(start + at);
    }
}

/// Where the run of spaces that goes on at `at` ends. Eight bytes at a time: a byte loop took
/// 23% of encoding 10 MB of spaces with T5 (perf).
fn space_run_end(bytes: &[u8], mut at: usize) -> usize {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const LOW_SEVEN: u64 = !swar::HIGH_BITS;
    while let Some(word) = swar::word_at(bytes, at) {
        let differs = word ^ SPACES;
        // The high bit of each byte that is not zero: its low seven bits carry into it, or it
        // was set already.
        let not_space = (((differs & LOW_SEVEN) + LOW_SEVEN) | differs) & swar::HIGH_BITS;
        if not_space != 0 {
            return at + swar::first_set(not_space);
        }
        at += 8;
    }
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bert_by_character_matches_bert_on_the_whole_run() {
        // Characters whose outputs hold non-starters (İ lowercased, a kept spacing mark, marks
        // that NFD reorders), starters with and without decompositions, CJK, controls.
        let alphabet = [
            "e",
            "\u{301}",
            "\u{316}",
            "é",
            "ệ",
            "İ",
            "Σ",
            "ς",
            "が",
            "\u{3099}",
            "日",
            "\u{F900}",
            "ǅ",
            "\u{1D165}",
            "\u{1D16D}",
            "\u{0F71}",
            "\u{0F72}",
            "\u{0F80}",
            "\0",
            "\u{FFFD}",
            "\u{7}",
            "\u{A0}",
            "\u{2028}",
            "ß",
            "ﬁ",
            "Å",
            "\u{212B}",
            "\u{345}",
            "ᾳ",
            "한",
        ];
        let mut rng = crate::testing::Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..20_000 {
            let text = rng.text(&alphabet, 9);
            for mode in 0..16 {
                let [clean_text, handle_chinese_chars, strip_accents, lowercase] =
                    [0, 1, 2, 3].map(|bit| mode >> bit & 1 == 1);
                let flags = BertFlags {
                    clean_text,
                    handle_chinese_chars,
                    strip_accents,
                    lowercase,
                };
                let mut by_char = String::new();
                bert_general(&text, flags, &mut by_char);
                let mut by_run = String::new();
                bert_by_run(&text, flags, &mut by_run);
                assert_eq!(by_char, by_run, "{text:?}, flags {mode:04b}");
            }
        }
    }

    fn component(name: &str) -> Normalizer {
        let json = match name {
            "bert_default" => {
                r#"{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}"#
            }
            "bert_cased_no_chinese" => {
                r#"{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": false, "strip_accents": false, "lowercase": false}"#
            }
            "bert_strip_only" => {
                r#"{"type": "BertNormalizer", "clean_text": false, "handle_chinese_chars": false, "strip_accents": true, "lowercase": false}"#
            }
            "strip_both" => r#"{"type": "Strip", "strip_left": true, "strip_right": true}"#,
            "strip_left" => r#"{"type": "Strip", "strip_left": true, "strip_right": false}"#,
            "strip_accents" => r#"{"type": "StripAccents"}"#,
            "byte_level" => r#"{"type": "ByteLevel"}"#,
            other => panic!("{other}"),
        };
        Normalizer::from_json(&serde_json::from_str(json).unwrap(), "normalizer").unwrap()
    }

    /// `(normalizer, input, expected)`; expectations from tokenizers 0.23.3's `normalize_str`
    /// on the same normalizer.
    #[rustfmt::skip]
    const COMPONENT_CASES: &[(&str, &str, &str)] = &[
        ("bert_default", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "hello world!"),
        ("bert_default", " \u{4e2d}\u{6587} x ", "  \u{4e2d}  \u{6587}  x "),
        ("bert_default", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "ae\u{df} \u{fb01}"),
        ("bert_default", "  a b  ", "  a b  "),
        ("bert_default", "\u{200b}x\u{a0}", "x "),
        ("bert_cased_no_chinese", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "H\u{e9}llo W\u{f6}rld!"),
        ("bert_cased_no_chinese", " \u{4e2d}\u{6587} x ", " \u{4e2d}\u{6587} x "),
        ("bert_cased_no_chinese", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}"),
        ("bert_cased_no_chinese", "  a b  ", "  a b  "),
        ("bert_cased_no_chinese", "\u{200b}x\u{a0}", "x "),
        ("bert_strip_only", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "Hello\u{9}World\u{0}\u{fffd}!"),
        ("bert_strip_only", " \u{4e2d}\u{6587} x ", " \u{4e2d}\u{6587} x "),
        ("bert_strip_only", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "AE\u{df} \u{fb01}"),
        ("bert_strip_only", "  a b  ", "  a b  "),
        ("bert_strip_only", "\u{200b}x\u{a0}", "\u{200b}x\u{a0}"),
        ("strip_both", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!"),
        ("strip_both", " \u{4e2d}\u{6587} x ", "\u{4e2d}\u{6587} x"),
        ("strip_both", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}"),
        ("strip_both", "  a b  ", "a b"),
        ("strip_both", "\u{200b}x\u{a0}", "\u{200b}x"),
        ("strip_left", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!"),
        ("strip_left", " \u{4e2d}\u{6587} x ", "\u{4e2d}\u{6587} x "),
        ("strip_left", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}"),
        ("strip_left", "  a b  ", "a b  "),
        ("strip_left", "\u{200b}x\u{a0}", "\u{200b}x\u{a0}"),
        ("strip_accents", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!"),
        ("strip_accents", " \u{4e2d}\u{6587} x ", " \u{4e2d}\u{6587} x "),
        ("strip_accents", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "\u{c5}\u{c9}\u{df} \u{fb01}"),
        ("strip_accents", "  a b  ", "  a b  "),
        ("strip_accents", "\u{200b}x\u{a0}", "\u{200b}x\u{a0}"),
        ("byte_level", "H\u{e9}llo\u{9}W\u{f6}rld\u{0}\u{fffd}!", "H\u{c3}\u{a9}llo\u{109}W\u{c3}\u{b6}rld\u{100}\u{ef}\u{bf}\u{bd}!"),
        ("byte_level", " \u{4e2d}\u{6587} x ", "\u{120}\u{e4}\u{b8}\u{143}\u{e6}\u{138}\u{129}\u{120}x\u{120}"),
        ("byte_level", "\u{c5}\u{c9}\u{301}\u{df} \u{fb01}", "\u{c3}\u{127}\u{c3}\u{12b}\u{cc}\u{123}\u{c3}\u{141}\u{120}\u{ef}\u{ac}\u{123}"),
        ("byte_level", "  a b  ", "\u{120}\u{120}a\u{120}b\u{120}\u{120}"),
        ("byte_level", "\u{200b}x\u{a0}", "\u{e2}\u{122}\u{12d}x\u{c2}\u{142}"),
    ];

    #[test]
    fn literal_matches_are_those_of_match_indices() {
        let texts = [
            "",
            " ",
            "a b  c",
            "aaaa",
            "aaaaa",
            "\u{2581}x \u{2581}\u{2581}",
            "ab\nab",
        ];
        for literal in [" ", "aa", "\u{2581}", "ab\n", "\n"] {
            let pattern = ReplacePattern::String(literal.to_owned());
            for text in texts {
                let mut found = Vec::new();
                pattern.for_each_match(text, |s, e| found.push((s, e)));
                let expected: Vec<_> = text
                    .match_indices(literal)
                    .map(|(s, m)| (s, s + m.len()))
                    .collect();
                assert_eq!(found, expected, "{literal:?} in {text:?}");
            }
        }
    }

    #[test]
    fn one_byte_replacements_match_str_replace() {
        let mut rng = crate::testing::Rng(0xB1_7E5);
        let alphabet = [" ", "  ", "a", "é", "\u{2581}", "\n", "日本"];
        for content in ["", "_", "\u{e9}", "\u{2581}", "\u{1F600}", "ab"] {
            for _ in 0..300 {
                let text = rng.text(&alphabet, 30);
                let mut out = String::from("kept ");
                ReplacePattern::String(" ".into()).replace_all(&text, content, &mut out);
                assert_eq!(
                    out,
                    format!("kept {}", text.replace(' ', content)),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn space_runs_match_oniguruma() {
        let onig = ReplacePattern::Regex(Regex::onig(SPACE_RUNS).unwrap());
        let texts = [
            "",
            " ",
            "  ",
            "   ",
            "a  b   c    d",
            "  x",
            "x  ",
            " a b ",
            "\u{3000}  \u{a0} \t  é",
            "a\u{2581}  \u{2581}     ",
        ];
        // Runs longer than a word, ending at every offset within one, before a byte whose low
        // seven bits are a space's (the `\u{a0}`'s second byte) or not.
        let mut rng = crate::testing::Rng(0x5EED_0F5B_ACE5);
        let alphabet = ["  ", "        ", " ", "a", "\u{a0}", "\u{2581}", "!"];
        let random = (0..5_000).map(|_| rng.text(&alphabet, 12));
        for text in texts.iter().map(|t| t.to_string()).chain(random) {
            let text = text.as_str();
            let matches = |pattern: &ReplacePattern| {
                let mut found = Vec::new();
                pattern.for_each_match(text, |s, e| found.push((s, e)));
                found
            };
            assert_eq!(
                matches(&ReplacePattern::SpaceRuns),
                matches(&onig),
                "{text:?}"
            );
        }
    }

    #[test]
    fn components_match_tokenizers() {
        let mut out = String::new();
        for (name, input, expected) in COMPONENT_CASES {
            component(name).normalize(input, &mut out);
            assert_eq!(out, *expected, "{name} on {input:?}");
        }
    }

    #[test]
    fn precompiled_charsmap_of_albert() {
        // The charsmap of albert-base-v2's tokenizer.json (NFKC-based with SentencePiece's
        // extra rules); expectations from tokenizers 0.23.3's `Precompiled.normalize_str`.
        let path = crate::testing::data_dir().join("tokenizers/albert-base-v2/tokenizer.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let step = &doc["normalizer"]["normalizers"][5];
        let map = Normalizer::from_json(step, "normalizer").unwrap();
        let cases: &[(&str, &str)] = &[
            ("abc", "abc"),
            ("\u{fb01}", "fi"),
            ("\u{ff21}\u{ff22}", "AB"),
            ("a\u{3000}b", "a b"),
            ("\u{2460}", "1"),
            ("e\u{301}", "\u{e9}"),
        ];
        let mut out = String::new();
        for (input, expected) in cases {
            map.normalize(input, &mut out);
            assert_eq!(out, *expected, "{input:?}");
        }
        let err = Normalizer::from_json(
            &serde_json::json!({"type": "Precompiled", "precompiled_charsmap": "AAAA"}),
            "normalizer",
        )
        .unwrap_err();
        assert!(
            err.message().contains("normalizer.precompiled_charsmap"),
            "{err}"
        );
    }

    #[test]
    fn a_sequence_that_skips_unchanged_steps_writes_what_each_step_in_turn_writes() {
        // T5's steps (its precompiled map, then runs of spaces made one), in every order and
        // nesting, against running each step in turn on a copy of the step before's output.
        let path =
            crate::testing::data_dir().join("tokenizers/t5-legal-small-fr-en/tokenizer.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let step = |i: usize| {
            Normalizer::from_json(&doc["normalizer"]["normalizers"][i], "normalizer").unwrap()
        };
        // m: the map, s: the spaces, l: lowercase, n: a sequence of the map alone.
        let make = |letter: char| match letter {
            'm' => step(0),
            's' => step(1),
            'l' => Normalizer::Lowercase,
            _ => Normalizer::Sequence(vec![step(0)]),
        };
        let sequences = ["ms", "sm", "mm", "m", "", "lms", "mlm", "nsm", "nn"];
        let texts = [
            "",
            "plain ascii",
            "two  spaces",
            "Ab\u{ff21}  x",
            "\u{fb01}",
            "a\u{301}",
        ];
        for letters in sequences {
            let steps: Vec<Normalizer> = letters.chars().map(make).collect();
            for text in texts {
                let mut expected = text.to_owned();
                for step in &steps {
                    let mut next = String::new();
                    step.normalize(&expected, &mut next);
                    expected = next;
                }
                let sequence = Normalizer::Sequence(letters.chars().map(make).collect());
                let mut out = String::from("stale");
                let got = match sequence.normalize_or_keep(text, &mut out) {
                    true => out.as_str(),
                    false => text,
                };
                assert_eq!(got, expected, "{letters} on {text:?}");
                sequence.normalize(text, &mut out);
                assert_eq!(out, expected, "{letters} on {text:?}");
            }
        }
    }

    #[test]
    fn forms() {
        let cases = [
            (Normalizer::Nfc, "e\u{301}", "\u{e9}"),
            (Normalizer::Nfd, "\u{e9}", "e\u{301}"),
            (Normalizer::Nfkc, "\u{fb01}", "fi"),
            (Normalizer::Nfkd, "\u{2460}", "1"),
            (
                Normalizer::Sequence(vec![Normalizer::Nfd, Normalizer::Nfc]),
                "e\u{301}x",
                "\u{e9}x",
            ),
        ];
        let mut out = String::new();
        for (normalizer, input, expected) in cases {
            normalizer.normalize(input, &mut out);
            assert_eq!(out, expected, "{normalizer:?} on {input:?}");
        }
    }
}
