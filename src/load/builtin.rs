//! The built-in OpenAI encodings, available offline: `gpt2`, `r50k_base`, `p50k_base`,
//! `p50k_edit`, `cl100k_base`, `o200k_base` and `o200k_harmony`, exactly as tiktoken 0.14.0's
//! `tiktoken_ext/openai_public.py` defines them (split pattern, special tokens, `explicit_n_vocab`).
//!
//! Four rank files are embedded with `include_bytes!`; the other encodings reuse them: `gpt2` has
//! r50k_base's ranks (tiktoken builds it from GPT-2's `encoder.json`/`vocab.bpe`, which give the
//! same ranks), `p50k_edit` has p50k_base's and `o200k_harmony` has o200k_base's.
//!
//! # The packed rank format (`encodings/<name>.bin`, written by `scripts/pack_encodings.py`)
//!
//! A zlib stream (RFC 1950, so corruption fails the Adler-32 check) of, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `FTKR` |
//! | 1 | format version: 1 |
//! | 1 | `B`, the length of the base name |
//! | `B` | base: ASCII name of the packed encoding whose entries come first, or empty |
//! | 4 | `R`, the number of rank runs |
//! | 8 × `R` | runs `(first rank: u32, count: u32)`; the ranks of this file's tokens, in order |
//! | `N` | the length of each token, one byte (1..=255); `N` is the sum of the counts |
//! | sum of lengths | the token bytes, concatenated |
//!
//! The entries are the base's, then this file's tokens paired with the ranks the runs spell out;
//! ranks rise strictly throughout. Why this shape: the tokens in rank order need no ranks stored
//! (one run, except p50k_base which skips 50256, the `<|endoftext|>` id); the lengths stored
//! apart from the bytes deflate 5% smaller than length-prefixed tokens; and p50k_base stores
//! only the 24 tokens it adds to r50k_base (its base). Sizes: r50k_base 201,548 bytes,
//! p50k_base 62, cl100k_base 429,287, o200k_base 993,639: 1.6 MB in all, from 7.0 MB of
//! `.tiktoken` text.
//!
//! Unpacking o200k_base took about 15 ms of CPU in release mode (inflating 1.6 MB about 9 ms,
//! one allocation per token about 5 ms, which [`builtin_ranks`] no longer makes: the tokens go
//! into one buffer; measured on a busy 2-core machine), against about
//! 40 ms for [`parse_ranks`](super::tiktoken::parse_ranks) on the 3.6 MB `.tiktoken` text and
//! 570 ms for tiktoken's `load_tiktoken_bpe`. Callers that need an encoding more than once
//! should keep it.

use std::io::Read;
use std::sync::OnceLock;

use crate::models::ranks::Ranks;
use crate::{Error, ErrorKind, Result};

/// The names [`builtin_encoding`] knows, in tiktoken's `list_encoding_names()` order.
pub const BUILTIN_ENCODINGS: &[&str] = &[
    "gpt2",
    "r50k_base",
    "p50k_base",
    "p50k_edit",
    "cl100k_base",
    "o200k_base",
    "o200k_harmony",
];

/// One of tiktoken's built-in encodings: what `tiktoken.get_encoding(name)` is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinEncoding {
    /// The encoding's name, e.g. `"o200k_base"`.
    pub name: &'static str,
    /// The split pattern, exactly tiktoken's `pat_str`.
    pub pattern: &'static str,
    /// The mergeable tokens and their ranks (ids), in rank order.
    pub ranks: Vec<(Vec<u8>, u32)>,
    /// The special tokens and their ids, exactly tiktoken's `special_tokens` in its dict order.
    ///
    /// Two strings may share an id: in `o200k_harmony` both `<|endofprompt|>` and
    /// `<|reserved_200018|>` are 200018. Both encode to it; tiktoken 0.14.0 decodes 200018 to
    /// `<|endofprompt|>` (measured).
    pub special_tokens: Vec<(&'static str, u32)>,
    /// tiktoken's `explicit_n_vocab`: when set, tiktoken asserts that the ranks plus the special
    /// tokens number exactly this many and that the largest id is one less.
    pub explicit_n_vocab: Option<usize>,
}

impl BuiltinEncoding {
    /// The largest id, rank or special: tiktoken's `Encoding.max_token_value`. Its `n_vocab` is
    /// one more.
    pub fn max_token_value(&self) -> u32 {
        let ranks = self.ranks.iter().map(|&(_, rank)| rank);
        let specials = self.special_tokens.iter().map(|&(_, id)| id);
        ranks.chain(specials).max().unwrap_or(0)
    }
}

/// The parts of a [`BuiltinEncoding`] other than its ranks (see [`builtin_spec`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinSpec {
    /// As [`BuiltinEncoding::name`].
    pub name: &'static str,
    /// As [`BuiltinEncoding::pattern`].
    pub pattern: &'static str,
    /// As [`BuiltinEncoding::special_tokens`].
    pub special_tokens: Vec<(&'static str, u32)>,
    /// As [`BuiltinEncoding::explicit_n_vocab`].
    pub explicit_n_vocab: Option<usize>,
    /// The packed rank file the ranks come from.
    rank_file: &'static str,
}

/// Builds a built-in encoding by name (one of [`BUILTIN_ENCODINGS`]), from data in the binary.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for an unknown name; the message lists the known ones.
///
/// # Example
///
/// ```
/// let encoding = ferrotok::load::builtin::builtin_encoding("cl100k_base").unwrap();
/// assert_eq!(encoding.ranks.len(), 100_256);
/// assert_eq!(encoding.special_tokens[0], ("<|endoftext|>", 100_257));
/// assert_eq!(encoding.max_token_value(), 100_276);
/// ```
pub fn builtin_encoding(name: &str) -> Result<BuiltinEncoding> {
    let spec = builtin_spec(name)?;
    Ok(BuiltinEncoding {
        name: spec.name,
        pattern: spec.pattern,
        ranks: builtin_ranks(&spec)?.to_pairs(),
        special_tokens: spec.special_tokens,
        explicit_n_vocab: spec.explicit_n_vocab,
    })
}

/// A built-in encoding's definition without its ranks: what [`builtin_encoding`] adds them
/// to. Cheap (no unpacking): `Tokenizer.from_tiktoken` takes a named file's pattern from here,
/// where unpacking the ranks only to drop them cost a third of loading o200k from its file.
///
/// # Errors
///
/// As [`builtin_encoding`].
pub fn builtin_spec(name: &str) -> Result<BuiltinSpec> {
    let encoding = match name {
        "gpt2" | "r50k_base" => BuiltinSpec {
            name: if name == "gpt2" { "gpt2" } else { "r50k_base" },
            pattern: R50K_PATTERN,
            rank_file: "r50k_base",
            special_tokens: vec![(ENDOFTEXT, 50256)],
            explicit_n_vocab: Some(50257),
        },
        "p50k_base" => BuiltinSpec {
            name: "p50k_base",
            pattern: R50K_PATTERN,
            rank_file: "p50k_base",
            special_tokens: vec![(ENDOFTEXT, 50256)],
            explicit_n_vocab: Some(50281),
        },
        "p50k_edit" => BuiltinSpec {
            name: "p50k_edit",
            pattern: R50K_PATTERN,
            rank_file: "p50k_base",
            special_tokens: vec![
                (ENDOFTEXT, 50256),
                (FIM_PREFIX, 50281),
                (FIM_MIDDLE, 50282),
                (FIM_SUFFIX, 50283),
            ],
            explicit_n_vocab: None,
        },
        "cl100k_base" => BuiltinSpec {
            name: "cl100k_base",
            pattern: CL100K_PATTERN,
            rank_file: "cl100k_base",
            special_tokens: vec![
                (ENDOFTEXT, 100257),
                (FIM_PREFIX, 100258),
                (FIM_MIDDLE, 100259),
                (FIM_SUFFIX, 100260),
                (ENDOFPROMPT, 100276),
            ],
            explicit_n_vocab: None,
        },
        "o200k_base" => BuiltinSpec {
            name: "o200k_base",
            pattern: O200K_PATTERN,
            rank_file: "o200k_base",
            special_tokens: vec![(ENDOFTEXT, 199999), (ENDOFPROMPT, 200018)],
            explicit_n_vocab: None,
        },
        "o200k_harmony" => BuiltinSpec {
            name: "o200k_harmony",
            pattern: O200K_PATTERN,
            rank_file: "o200k_base",
            special_tokens: harmony_special_tokens(),
            explicit_n_vocab: None,
        },
        _ => {
            return Err(Error::argument(format!(
                "unknown built-in encoding {name:?}; the built-in encodings are: {}",
                BUILTIN_ENCODINGS.join(", ")
            )))
        }
    };
    Ok(encoding)
}

const ENDOFTEXT: &str = "<|endoftext|>";
const FIM_PREFIX: &str = "<|fim_prefix|>";
const FIM_MIDDLE: &str = "<|fim_middle|>";
const FIM_SUFFIX: &str = "<|fim_suffix|>";
const ENDOFPROMPT: &str = "<|endofprompt|>";

/// tiktoken's `r50k_pat_str` (gpt2, r50k_base, p50k_base, p50k_edit).
const R50K_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// cl100k_base's `pat_str`.
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// o200k_base's `pat_str`: seven alternatives joined with `|`, as tiktoken writes it.
const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// o200k_harmony's special tokens in tiktoken's dict order:
/// `{**o200k_base specials, <named ones>} | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}`.
/// Re-assigning `<|endoftext|>` keeps its first place; `<|reserved_200018|>` shares
/// `<|endofprompt|>`'s id 200018.
fn harmony_special_tokens() -> Vec<(&'static str, u32)> {
    const NAMED: &[(&str, u32)] = &[
        (ENDOFTEXT, 199999),
        (ENDOFPROMPT, 200018),
        ("<|startoftext|>", 199998),
        ("<|reserved_200000|>", 200000),
        ("<|reserved_200001|>", 200001),
        ("<|return|>", 200002),
        ("<|constrain|>", 200003),
        ("<|reserved_200004|>", 200004),
        ("<|channel|>", 200005),
        ("<|start|>", 200006),
        ("<|end|>", 200007),
        ("<|message|>", 200008),
        ("<|reserved_200009|>", 200009),
        ("<|reserved_200010|>", 200010),
        ("<|reserved_200011|>", 200011),
        ("<|call|>", 200012),
    ];
    const RESERVED: std::ops::Range<u32> = 200013..201088;
    static RESERVED_NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let reserved =
        RESERVED_NAMES.get_or_init(|| RESERVED.map(|id| format!("<|reserved_{id}|>")).collect());
    let mut tokens = NAMED.to_vec();
    tokens.extend(reserved.iter().map(String::as_str).zip(RESERVED));
    tokens
}

/// The packed rank files, by name.
fn packed_data(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "r50k_base" => include_bytes!("encodings/r50k_base.bin"),
        "p50k_base" => include_bytes!("encodings/p50k_base.bin"),
        "cl100k_base" => include_bytes!("encodings/cl100k_base.bin"),
        "o200k_base" => include_bytes!("encodings/o200k_base.bin"),
        _ => return None,
    })
}

/// The ranks of a built-in encoding, unpacked.
///
/// # Errors
///
/// As [`unpack`].
pub(crate) fn builtin_ranks(spec: &BuiltinSpec) -> Result<Ranks> {
    let Unpacked {
        bytes,
        starts,
        ranks,
    } = unpack(spec.rank_file)?;
    Ranks::new(bytes, starts, ranks).map_err(|error| {
        Error::new(
            ErrorKind::Internal,
            format!("built-in rank data {}.bin: {error:?}", spec.rank_file),
        )
    })
}

/// Tokens as [`Ranks::new`] takes them: their bytes one after another, where each starts (and
/// the end), their ranks.
#[derive(Default)]
struct Unpacked {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    ranks: Vec<u32>,
}

/// The entries of packed rank file `name` (its base's first), in rank order.
///
/// The data is compiled in and checked by the tests, so a failure here is a packaging bug:
/// [`ErrorKind::Internal`].
fn unpack(name: &str) -> Result<Unpacked> {
    let corrupt = |what: &str| {
        Error::new(
            ErrorKind::Internal,
            format!("built-in rank data {name}.bin is corrupt: {what}"),
        )
    };
    let packed = packed_data(name).ok_or_else(|| corrupt("no such packed file"))?;
    let mut payload = Vec::with_capacity(packed.len() * 2);
    flate2::read::ZlibDecoder::new(packed)
        .read_to_end(&mut payload)
        .map_err(|error| corrupt(&error.to_string()))?;

    let mut reader = ByteReader { rest: &payload };
    if reader.take(4) != Some(b"FTKR") || reader.take(1) != Some(&[1]) {
        return Err(corrupt("not a version 1 packed rank file"));
    }
    let base_length = reader.take(1).ok_or_else(|| corrupt("truncated header"))?[0];
    let base = reader
        .take(base_length.into())
        .and_then(|base| std::str::from_utf8(base).ok())
        .ok_or_else(|| corrupt("bad base name"))?;
    let mut entries = if base.is_empty() {
        Unpacked {
            starts: vec![0],
            ..Unpacked::default()
        }
    } else if base != name {
        unpack(base)?
    } else {
        return Err(corrupt("the file is its own base"));
    };

    let run_count = reader.u32().ok_or_else(|| corrupt("truncated header"))?;
    let mut runs = Vec::with_capacity(run_count.min(1 << 20) as usize);
    let mut token_count = 0usize;
    for _ in 0..run_count {
        let (first, count) = reader
            .u32()
            .zip(reader.u32())
            .ok_or_else(|| corrupt("truncated runs"))?;
        token_count += count as usize;
        runs.push((first, count));
    }
    let lengths = reader
        .take(token_count)
        .ok_or_else(|| corrupt("truncated lengths"))?;
    let total: usize = lengths.iter().map(|&length| usize::from(length)).sum();
    let mut bytes = reader
        .take(total)
        .ok_or_else(|| corrupt("truncated tokens"))?;
    if !reader.rest.is_empty() {
        return Err(corrupt("bytes left over"));
    }

    entries.bytes.reserve(total);
    entries.starts.reserve(token_count);
    entries.ranks.reserve(token_count);
    let mut lengths = lengths.iter();
    let mut next_rank = entries.ranks.last().map_or(0, |&rank| u64::from(rank) + 1);
    for (first, count) in runs {
        if u64::from(first) < next_rank || u64::from(first) + u64::from(count) > 1 << 32 {
            return Err(corrupt("ranks do not rise"));
        }
        // `first + offset` fits: `first + count <= 2^32` was checked above.
        for rank in (0..count).map(|offset| first + offset) {
            // `lengths` holds exactly one entry per rank and `bytes` their total: checked above.
            let length = usize::from(*lengths.next().unwrap_or(&0));
            let (token, rest) = bytes.split_at(length);
            entries.bytes.extend_from_slice(token);
            entries.starts.push(entries.bytes.len());
            entries.ranks.push(rank);
            bytes = rest;
        }
        next_rank = u64::from(first) + u64::from(count);
    }
    Ok(entries)
}

/// A cursor over the inflated payload.
struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.rest.len() {
            return None;
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        let bytes = self.take(4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_packed_file_unpacks() {
        for name in ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"] {
            let entries = unpack(name).unwrap();
            assert!(
                entries.ranks.windows(2).all(|pair| pair[0] < pair[1]),
                "{name}"
            );
            assert_eq!(entries.starts.len(), entries.ranks.len() + 1, "{name}");
            assert_eq!(entries.starts.last(), Some(&entries.bytes.len()), "{name}");
        }
    }

    #[test]
    fn harmony_specials_follow_python_dict_order() {
        let specials = harmony_special_tokens();
        assert_eq!(specials.len(), 1091);
        assert_eq!(specials[0], ("<|endoftext|>", 199999));
        assert_eq!(specials[2], ("<|startoftext|>", 199998));
        assert_eq!(specials[15], ("<|call|>", 200012));
        assert_eq!(specials[16], ("<|reserved_200013|>", 200013));
        assert_eq!(specials[1090], ("<|reserved_201087|>", 201087));
        let shared: Vec<_> = specials.iter().filter(|&&(_, id)| id == 200018).collect();
        assert_eq!(
            shared,
            [
                &("<|endofprompt|>", 200018),
                &("<|reserved_200018|>", 200018)
            ]
        );
    }
}
