//! Reader for OpenAI `.tiktoken` rank files: one `<base64 token> <rank>` pair per line.
//!
//! The reference is `tiktoken.load.load_tiktoken_bpe` (tiktoken 0.14.0) followed by the
//! construction of `tiktoken.Encoding`, which is where tiktoken rejects some files that its
//! reader accepts. [`parse_ranks`] accepts exactly the files tiktoken can build an encoding from,
//! with the same token bytes and ranks, and rejects the rest with an error naming the file and
//! the 1-based line:
//!
//! | input | tiktoken 0.14.0 | here |
//! |---|---|---|
//! | line ends | `bytes.splitlines()`: `\n`, `\r\n` and a lone `\r` | same (line numbers count them all) |
//! | empty line | skipped | skipped |
//! | line of only spaces or tabs | `ValueError` (not two fields) | error |
//! | field separators | `bytes.split()`: runs of space, `\t`, `\x0b`, `\x0c`; leading and trailing ones ignored | same |
//! | one field / three fields | `ValueError` | error ("missing rank" / field count) |
//! | base64 | `base64.b64decode(validate=False)`: bytes outside the alphabet are skipped, padding ends the data, unused low bits are ignored; `Incorrect padding` and a lone trailing character are errors | the same algorithm, byte for byte, with CPython's messages |
//! | rank | Python `int()`: optional sign, ASCII digits, single `_` between digits, leading zeros, at most 4300 digits | same |
//! | rank outside `0..=u32::MAX` (e.g. `-1`) | read, then `OverflowError` when the Rust core takes it as `u32` | error |
//! | gaps in ranks | allowed (p50k_base has no rank 50256: it is the `<\|endoftext\|>` special) | allowed |
//! | ranks out of order | allowed | allowed; the tokens are returned in rank order |
//! | no entries (empty file, only line ends) | read as `{}`, then `Encoding` fails (`max()` of nothing) | error |
//! | duplicate rank | read, then a panic in `CoreBPE::new` ("duplicate token indices") | error naming both lines |
//! | duplicate token bytes | the later line silently wins and the earlier rank vanishes | error naming both lines (deliberately stricter: such a file is corrupt) |
//!
//! Errors come in file order within two groups: first the first malformed line (fields, base64,
//! rank); if there is none, the first line that repeats an earlier token or rank.
//!
//! Cost: one pass over the bytes that decodes every token into one buffer, which the returned
//! [`Ranks`] keeps (no allocation per token), then one insert per token into its [`Vocab`],
//! which is also the duplicate-token check. The duplicate-rank check is free while entry `i` has
//! rank `i` (every OpenAI file up to p50k_base's gap) and switches to a hash map at the first
//! entry that does not.
//!
//! [`Vocab`]: crate::models::Vocab

use std::path::Path;

use crate::models::ranks::{Ranks, RanksError};

use crate::{Error, ErrorKind, Result};

/// Python's default `sys.int_info.default_max_str_digits`: `int()` refuses longer digit strings.
const PYTHON_MAX_INT_DIGITS: usize = 4300;

/// How many bytes of an offending field an error message quotes.
const QUOTE_LIMIT: usize = 60;

/// Parses the text of a `.tiktoken` rank file (one `<base64 token> <rank>` per line, as
/// tiktoken's `load_tiktoken_bpe` reads it).
///
/// Returns the tokens in rank order. For the OpenAI files the ranks count up from 0, so line `i`
/// has rank `i - 1`, except that p50k_base skips rank 50256; gaps are allowed as in tiktoken, and
/// so is any order. What is accepted and what is rejected is tabled in the module docs.
///
/// # Errors
///
/// [`ErrorKind::InvalidFile`] with a message `"{source}:{line}: …"` for bad base64, a missing or
/// non-integer rank, a rank outside `u32`, a duplicate token or a duplicate rank; and
/// `"{source}: …"` for a file without any entry.
///
/// # Example
///
/// ```
/// use ferrotok::load::tiktoken::parse_ranks;
///
/// let ranks = parse_ranks(b"Ig== 1\nIQ== 0\n", "tiny.tiktoken").unwrap();
/// assert_eq!(ranks.iter().collect::<Vec<_>>(), [(&b"!"[..], 0), (&b"\""[..], 1)]);
///
/// let error = parse_ranks(b"IQ== 0\nIg==\n", "tiny.tiktoken").unwrap_err();
/// assert!(error.message().starts_with("tiny.tiktoken:2: missing rank"));
/// ```
pub fn parse_ranks(data: &[u8], source: &str) -> Result<Ranks> {
    // Pass 1: split, decode and parse every line, stopping at the first malformed one. The
    // tokens go into one buffer (`decoded`, cut at `starts`), which `Ranks` keeps. The OpenAI
    // files average about 18 bytes a line.
    let estimate = data.len() / 16;
    let mut decoded: Vec<u8> = Vec::with_capacity(data.len() / 2);
    let mut starts: Vec<usize> = Vec::with_capacity(estimate + 1);
    starts.push(0);
    let mut ranks: Vec<u32> = Vec::with_capacity(estimate);
    let mut line_numbers: Vec<u32> = Vec::with_capacity(estimate);

    for (index, line) in python_splitlines(data).enumerate() {
        if line.is_empty() {
            continue;
        }
        let line_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some(rank) = decode_plain_line(line, &mut decoded) {
            starts.push(decoded.len());
            ranks.push(rank);
            line_numbers.push(line_number);
            continue;
        }
        let at = |error: Error| error.context(format!("{source}:{line_number}"));

        let mut fields = line
            .split(|byte| is_python_space(*byte))
            .filter(|field| !field.is_empty());
        let (token_text, rank_text) = match (fields.next(), fields.next(), fields.count()) {
            (Some(token), Some(rank), 0) => (token, rank),
            (None, _, _) => {
                return Err(at(Error::invalid(
                    "expected `<base64 token> <rank>`, found only whitespace",
                )))
            }
            (Some(_), None, _) => {
                return Err(at(Error::invalid(
                    "missing rank: expected `<base64 token> <rank>`, found one field",
                )))
            }
            (Some(_), Some(_), extra) => {
                return Err(at(Error::invalid(format!(
                    "expected `<base64 token> <rank>`, found {} fields",
                    2 + extra
                ))))
            }
        };

        if let Err(reason) = decode_base64_like_python(token_text, &mut decoded) {
            return Err(at(Error::invalid(format!(
                "invalid base64 token `{}`: {reason}",
                quote(token_text)
            ))));
        }
        let rank = parse_python_int_as_u32(rank_text).map_err(|reason| {
            at(Error::invalid(format!(
                "rank `{}` {reason}",
                quote(rank_text)
            )))
        })?;
        starts.push(decoded.len());
        ranks.push(rank);
        line_numbers.push(line_number);
    }
    if ranks.is_empty() {
        // tiktoken reads such a file as `{}`, then cannot build an encoding from it
        // (`max()` of no ranks).
        return Err(Error::invalid("no `<base64 token> <rank>` lines").context(source));
    }

    // Pass 2 (`Ranks::new`): the first entry, in file order, that repeats an earlier token or
    // rank.
    Ranks::new(decoded, starts, ranks).map_err(|error| {
        let (first, second) = match error {
            RanksError::TokenTwice { first, second }
            | RanksError::RankTwice { first, second, .. } => (line_numbers[first], second),
        };
        let line_number = line_numbers[second];
        let message = match error {
            RanksError::TokenTwice { .. } => {
                // The token's bytes again from its line, which decoded without error before.
                let field = base64_field_of(data, line_number);
                let mut token = Vec::new();
                let _ = decode_base64_like_python(field, &mut token);
                format!(
                    "duplicate token {} (`{}`): already on line {first}",
                    quote_bytes(&token),
                    quote(field)
                )
            }
            RanksError::RankTwice { rank, .. } => {
                format!("duplicate rank {rank}: already used on line {first}")
            }
        };
        Error::invalid(message).context(format!("{source}:{line_number}"))
    })
}

/// Reads a `.tiktoken` rank file and parses it with [`parse_ranks`], naming the file in errors.
///
/// # Errors
///
/// [`ErrorKind::Io`] naming the path when the file cannot be read; otherwise the errors of
/// [`parse_ranks`].
pub fn read_ranks_file(path: &Path) -> Result<Ranks> {
    let source = path.display().to_string();
    let data = std::fs::read(path)
        .map_err(|error| Error::new(ErrorKind::Io, error.to_string()).context(&source))?;
    parse_ranks(&data, &source)
}

/// The lines of `data` as Python's `bytes.splitlines()` gives them: split at `\n`, `\r\n` and a
/// lone `\r`, without the line ends; no empty last line after a final line end.
fn python_splitlines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        rest = &rest[end + skip..];
        Some(line)
    })
}

/// Whitespace for Python's `bytes.split()` (C `isspace` in the C locale).
fn is_python_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Decodes base64 exactly as CPython's `base64.b64decode(s)` (`validate=False`, i.e.
/// `binascii.a2b_base64(s, strict_mode=False)`), appending to `out`.
///
/// The rules of that decoder: a byte outside `A-Z a-z 0-9 + /` and `=` is skipped; `=` before
/// the third character of a 4-character group is skipped; once the padding completes a group
/// (`xx==`, `xxx=`, also with skipped bytes in between) decoding stops and the rest is ignored;
/// the unused low bits of a final partial group are dropped. Ending inside a group is an error:
/// one data character too many, or missing padding.
///
/// On error returns CPython's message and leaves `out` with the bytes decoded so far.
fn decode_base64_like_python(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut quad_position = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    let mut data_characters = 0usize;
    for &byte in input {
        if byte == b'=' {
            if quad_position >= 2 {
                pads += 1;
                if quad_position + pads >= 4 {
                    return Ok(());
                }
            }
            continue;
        }
        let value = BASE64_VALUES[byte as usize];
        if value == INVALID {
            continue;
        }
        pads = 0;
        data_characters += 1;
        match quad_position {
            0 => {
                left = value;
                quad_position = 1;
            }
            1 => {
                out.push((left << 2) | (value >> 4));
                left = value & 0x0f;
                quad_position = 2;
            }
            2 => {
                out.push((left << 4) | (value >> 2));
                left = value & 0x03;
                quad_position = 3;
            }
            _ => {
                out.push((left << 6) | value);
                quad_position = 0;
            }
        }
    }
    match quad_position {
        0 => Ok(()),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({data_characters}) \
             cannot be 1 more than a multiple of 4"
        )),
        _ => Err("Incorrect padding".to_owned()),
    }
}

/// Decodes a line that is exactly `<base64> <digits>`, with the base64 in groups of four
/// alphabet characters and `=` only as padding of the last group, and a rank of one to ten
/// digits that fits a `u32`: every line of the OpenAI files. Appends the token to `out` and
/// returns the rank; `None` (and `out` as it was) for any other line, which the general path
/// then reads (and rejects if it must, with its message).
///
/// Why: on such a line the general path's results are these (CPython's lenient decoder gives
/// the standard bytes for standard base64, `int()` the digits' value), and it splits the line
/// on six kinds of whitespace and decodes a character at a time with checks for the cases
/// this excludes. Callgrind, `parse_ranks` on o200k's file: 219M → 155M instructions (58M
/// of them `Ranks::new`); 139M with the lines found by `memchr2` in [`python_splitlines`].
fn decode_plain_line(line: &[u8], out: &mut Vec<u8>) -> Option<u32> {
    let space = memchr::memchr(b' ', line)?;
    let (token, rank_text) = (&line[..space], &line[space + 1..]);
    if token.is_empty() || token.len() % 4 != 0 || !(1..=10).contains(&rank_text.len()) {
        return None;
    }
    let mut rank = 0u64;
    for &digit in rank_text {
        if !digit.is_ascii_digit() {
            return None;
        }
        rank = rank * 10 + u64::from(digit - b'0');
    }
    let rank = u32::try_from(rank).ok()?;
    let value = |c: u8| BASE64_VALUES[usize::from(c)];
    let start = out.len();
    let (body, last) = token.split_at(token.len() - 4);
    for group in body.chunks_exact(4) {
        let (a, b, c, d) = (
            value(group[0]),
            value(group[1]),
            value(group[2]),
            value(group[3]),
        );
        // An alphabet character's value is below 64; `INVALID` (any other byte, `=` too) is not.
        if a | b | c | d >= 64 {
            out.truncate(start);
            return None;
        }
        out.extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]);
    }
    let (a, b, c, d) = (
        value(last[0]),
        value(last[1]),
        value(last[2]),
        value(last[3]),
    );
    // `xx==` gives one byte, `xxx=` two, `xxxx` three.
    let (kept, used) = match (last[2], last[3]) {
        (b'=', b'=') => (1, a | b),
        (_, b'=') => (2, a | b | c),
        _ => (3, a | b | c | d),
    };
    if used >= 64 {
        out.truncate(start);
        return None;
    }
    out.extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d][..kept]);
    Some(rank)
}

const INVALID: u8 = 0xff;

/// The 6-bit value of each base64 character; [`INVALID`] for every other byte.
static BASE64_VALUES: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [INVALID; 256];
    let mut index = 0;
    while index < 64 {
        table[alphabet[index] as usize] = index as u8;
        index += 1;
    }
    table
};

/// Parses a rank as Python's `int(bytes)` does in base 10, then requires `0..=u32::MAX` as
/// tiktoken's Rust core does when it takes the rank as `u32`.
///
/// Python's syntax here: an optional `+`/`-`, then ASCII digits with single underscores allowed
/// between digits; leading zeros are fine; at most 4300 digits (Python's default
/// `int_max_str_digits`). The field never holds whitespace (it was split on it).
fn parse_python_int_as_u32(text: &[u8]) -> Result<u32, String> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let not_integer = || "is not an integer".to_owned();
    if digits.is_empty() || digits[0] == b'_' || digits[digits.len() - 1] == b'_' {
        return Err(not_integer());
    }
    let mut value: u64 = 0;
    let mut digit_count = 0usize;
    let mut previous_underscore = false;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                value = value
                    .saturating_mul(10)
                    .saturating_add(u64::from(byte - b'0'));
                digit_count += 1;
                previous_underscore = false;
            }
            b'_' if !previous_underscore => previous_underscore = true,
            _ => return Err(not_integer()),
        }
    }
    if digit_count > PYTHON_MAX_INT_DIGITS {
        return Err(format!(
            "is not an integer Python reads: more than {PYTHON_MAX_INT_DIGITS} digits"
        ));
    }
    match u32::try_from(value) {
        Ok(rank) if !negative || rank == 0 => Ok(rank),
        _ => Err(format!("is out of range: ranks are 0..={}", u32::MAX)),
    }
}

/// The base64 field of 1-based line `line_number` of `data`, for error messages.
fn base64_field_of(data: &[u8], line_number: u32) -> &[u8] {
    python_splitlines(data)
        .nth(line_number as usize - 1)
        .and_then(|line| {
            line.split(|byte| is_python_space(*byte))
                .find(|field| !field.is_empty())
        })
        .unwrap_or_default()
}

/// A field of the file for an error message: ASCII kept, other bytes escaped, long fields cut.
fn quote(field: &[u8]) -> String {
    let shown = &field[..field.len().min(QUOTE_LIMIT)];
    let mut text = shown.escape_ascii().to_string();
    if field.len() > QUOTE_LIMIT {
        text.push('…');
    }
    text
}

/// Token bytes for an error message, as a Rust byte-string literal.
fn quote_bytes(token: &[u8]) -> String {
    format!("b\"{}\"", quote(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{data_dir, Rng};

    /// What the general path of `parse_ranks` reads from one line: the token and the rank, or
    /// `None` where it reports an error.
    fn general_line(line: &[u8]) -> Option<(Vec<u8>, u32)> {
        let fields: Vec<&[u8]> = line
            .split(|byte| is_python_space(*byte))
            .filter(|field| !field.is_empty())
            .collect();
        let [token, rank] = fields[..] else {
            return None;
        };
        let mut decoded = Vec::new();
        decode_base64_like_python(token, &mut decoded).ok()?;
        Some((decoded, parse_python_int_as_u32(rank).ok()?))
    }

    #[test]
    fn plain_lines_decode_as_the_general_path_does() {
        let mut rng = Rng(7);
        // Mostly well-formed: a byte from the second string now and then.
        let pick = |rng: &mut Rng, usual: &[u8], odd: &[u8]| {
            let set = if rng.next() % 16 == 0 { odd } else { usual };
            set[(rng.next() % set.len() as u64) as usize]
        };
        let mut accepted = 0;
        for _ in 0..200_000 {
            let token_len = (rng.next() % 13) as usize;
            let rank_len = (rng.next() % 12) as usize;
            let mut line: Vec<u8> = (0..token_len)
                .map(|_| pick(&mut rng, b"AQgw+/9z", b"= \t!"))
                .collect();
            line.push(b' ');
            line.extend((0..rank_len).map(|_| pick(&mut rng, b"0123456789", b"_-+ \tA")));
            let mut out = b"kept".to_vec();
            match decode_plain_line(&line, &mut out) {
                Some(rank) => {
                    accepted += 1;
                    let (token, expected) = general_line(&line).expect("the general path reads it");
                    assert_eq!((&out[4..], rank), (&token[..], expected), "{line:?}");
                }
                None => assert_eq!(out, b"kept", "{line:?}"),
            }
        }
        assert!(accepted > 10_000, "{accepted}");
        for line in [
            &b"IQ== 4294967295"[..],
            b"IQ== 4294967296",
            b"IQ==  1",
            b"IQ== 1 ",
            b"=Q== 1",
        ] {
            let mut out = Vec::new();
            let fast = decode_plain_line(line, &mut out).map(|rank| (out, rank));
            assert!(fast.is_none() || fast == general_line(line), "{line:?}");
        }
    }

    #[test]
    fn every_line_of_the_openai_files_is_plain() {
        for name in ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"] {
            let data = std::fs::read(data_dir().join("tiktoken").join(format!("{name}.tiktoken")))
                .unwrap();
            let mut out = Vec::new();
            for line in python_splitlines(&data).filter(|line| !line.is_empty()) {
                assert!(
                    decode_plain_line(line, &mut out).is_some(),
                    "{name}: {line:?}"
                );
            }
        }
    }

    /// Expected values from CPython 3.11's `base64.b64decode` (validate=False).
    #[test]
    fn base64_matches_python() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"", Some(b"")),
            (b"QQ==", Some(b"A")),
            (b"QUJD", Some(b"ABC")),
            (b"QR==", Some(b"A")),
            (b"QQ==junk", Some(b"A")),
            (b"!!!!", Some(b"")),
            (b"QQ=x=", Some(b"A\x0c")),
            (b"=QQ==", Some(b"A")),
            (b"QUJD\xffRA==", Some(b"ABCD")),
            (b"QUJ=D", Some(b"AB")),
            (b"QQ=A=", Some(b"A\x00")),
            (b"QUI=x", Some(b"AB")),
            (b"QQ", None),
            (b"Q", None),
            (b"QQ=", None),
            (b"Q=Q=", None),
            (b"QUJDRA", None),
            (b"Q===", None),
        ];
        for &(input, expected) in cases {
            let mut out = Vec::new();
            let got = decode_base64_like_python(input, &mut out).map(|()| out);
            assert_eq!(
                got.ok().as_deref(),
                expected,
                "input {:?}",
                input.escape_ascii().to_string()
            );
        }
        let mut out = Vec::new();
        assert_eq!(
            decode_base64_like_python(b"Q", &mut out).unwrap_err(),
            "Invalid base64-encoded string: number of data characters (1) cannot be 1 more than a multiple of 4"
        );
    }

    /// Expected values from CPython's `int(bytes)`, then the `u32` range of tiktoken's core.
    #[test]
    fn ranks_parse_like_python_int() {
        let cases: &[(&[u8], Option<u32>)] = &[
            (b"0", Some(0)),
            (b"1_0", Some(10)),
            (b"+5", Some(5)),
            (b"-0", Some(0)),
            (b"007", Some(7)),
            (b"4294967295", Some(u32::MAX)),
            (b"4294967296", None),
            (b"99999999999999999999999", None),
            (b"-1", None),
            (b"_1", None),
            (b"1_", None),
            (b"1__0", None),
            (b"+", None),
            (b"-", None),
            (b"", None),
            (b"0x1", None),
            (b"1e3", None),
            (b"\xd9\xa1", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(
                parse_python_int_as_u32(input).ok(),
                expected,
                "input {:?}",
                input.escape_ascii().to_string()
            );
        }
        let mut long = vec![b'0'; PYTHON_MAX_INT_DIGITS];
        assert_eq!(parse_python_int_as_u32(&long), Ok(0));
        long.push(b'_');
        long.push(b'1');
        assert!(parse_python_int_as_u32(&long).is_err());
    }

    #[test]
    fn lines_split_like_python() {
        let lines: Vec<&[u8]> = python_splitlines(b"a\rb\r\nc\n\nd\x0be\x0cf\x1cg\x85h").collect();
        let expected: Vec<&[u8]> = vec![b"a", b"b", b"c", b"", b"d\x0be\x0cf\x1cg\x85h"];
        assert_eq!(lines, expected);
        assert_eq!(python_splitlines(b"a\n").count(), 1);
        assert_eq!(python_splitlines(b"").count(), 0);
        assert_eq!(python_splitlines(b"\n\n").count(), 2);
    }

    #[test]
    fn whitespace_and_gaps_are_accepted() {
        let data = b"\n  IQ==\t0 \r\n\x0bIg==\x0c5\rIw== 2\n\n";
        let ranks = parse_ranks(data, "t").unwrap();
        assert_eq!(
            ranks.to_pairs(),
            vec![(b"!".to_vec(), 0), (b"#".to_vec(), 2), (b"\"".to_vec(), 5)]
        );
    }

    #[test]
    fn duplicate_rank_after_a_gap_is_found() {
        let error = parse_ranks(b"IQ== 0\nIg== 2\nIw== 1\nJA== 2\n", "t").unwrap_err();
        assert_eq!(
            error.message(),
            "t:4: duplicate rank 2: already used on line 2"
        );
        let error = parse_ranks(b"IQ== 0\nIg== 1\nIw== 0\n", "t").unwrap_err();
        assert_eq!(
            error.message(),
            "t:3: duplicate rank 0: already used on line 1"
        );
    }

    #[test]
    fn line_numbers_count_blank_lines_and_lone_carriage_returns() {
        let error = parse_ranks(b"IQ== 0\r\rIg==\n", "t").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidFile);
        assert!(error.message().starts_with("t:3: missing rank"), "{error}");
        let error = parse_ranks(b"IQ== 0\n \t \n", "t").unwrap_err();
        assert!(error.message().starts_with("t:2: expected"), "{error}");
        let error = parse_ranks(b"IQ== 0 1\n", "t").unwrap_err();
        assert!(error.message().contains("found 3 fields"), "{error}");
    }
}
