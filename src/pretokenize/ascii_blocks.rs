//! The scanners' ASCII fast path: where the pieces start in up to 64 bytes of ASCII text at once,
//! from bit masks of the bytes' classes, for the patterns whose matches tile the text (GPT-2,
//! cl100k and Llama 3, Qwen 2, o200k).
//!
//! # Why
//!
//! The scanners of `scanners.rs` find one piece at a time: a dispatch on the piece's first byte,
//! then a run to its end. Pieces are short (six bytes on average on the mixed corpus) and of
//! random kinds and lengths, so the branches that pick the kind and end the run are mispredicted
//! about once a piece, and the scanner alone ran at about 360 MB/s (`encode_corpus` with
//! `SCAN=o200k`, 2 MB of the four corpus folders, one core), 40% of a whole encoding of repeated
//! text. Here a window of 64 bytes is classified with SSE2 compares into one `u64` per class
//! (bit `i` for byte `i`), the starts of the pieces follow from a few shifts and ands of those
//! masks, and the pieces are read off the starts mask with `trailing_zeros`: no branch depends
//! on a piece's kind or length.
//!
//! Measured (`encode_corpus`, o200k, 1 MB per folder, one core, before → after, in turns): the
//! scanner alone on English 452 → 922 MB/s, on code 408 → 971, on the multilingual files
//! 439 → 429, on Japanese 798 → 730 (few windows there; the general scanner's loop compiled a
//! little worse beside this one, mended since, see [`tile`]); a whole encoding of the mixed
//! corpus, repeated text, 215–222 → 255–260 MB/s. The `throughput` test of `scanners.rs` (whole
//! folders, one core) now gives 0.83–1.02 GB/s on English and 1.07–1.37 GB/s on code for every
//! pattern of this module (two runs).
//!
//! # How a window is read
//!
//! A window begins where a piece starts (bit 0). Whether a piece starts at byte `i` depends on
//! the bytes around it and on whether one starts at `i - 1` or `i - 2`; those are known in
//! closed form, so the starts of the whole window come out at once. The rules are the
//! sequential ones of the scanners (see `scanners.rs` for why each pattern's matches tile the
//! text and how the engines backtrack), specialised to ASCII:
//!
//! - a run of letters, digits or "other" bytes (`[^\s\p{L}\p{N}]`) starts a piece unless the byte
//!   before it is a one-byte piece start that the pattern lets lead it (a space for GPT-2; for
//!   cl100k and o200k any byte of `[^\r\n\p{L}\p{N}]` before letters, and a space before "other"
//!   bytes);
//! - a whitespace run starts a piece, and so does its last byte when the run has two or more
//!   (`\s+(?!\S)` gives that byte back to the next piece); a run that reaches the end of the
//!   text is one piece;
//! - cl100k and o200k: `\s*[\r\n]+` takes a run up to its last newline, so a piece also starts
//!   right after that newline; an "other" run takes the newlines right after it (o200k: and
//!   slashes), found by adding the run's seeds to the mask of such bytes, and a piece starts
//!   after them; the byte after a run's last newline is found from the run's end, by the same
//!   addition on the reversed masks;
//! - contractions, digit groups and o200k's case changes as each pattern has them.
//!
//! A start is kept only where the window settles it: the bytes from the first non-ASCII byte on
//! are not classified, and short of the end of the text the last two classified bytes (a start
//! depends on the two bytes after it, for contractions) and a whitespace run that reaches the
//! window's end (a newline may follow) are left to the next window. Two things stop a window
//! where they occur: o200k's contraction right after another contraction (is the letter before
//! its apostrophe a word's?) and, for tiktoken's cl100k, whitespace at the end of the text
//! (`\s++$`). The pieces from there on are the next window's, or the general scanner's when a
//! window would settle none.
//!
//! Every ASCII byte's classes are checked against the class table
//! (`window_classes_match_the_table`), and the pieces against the engines on random ASCII text
//! (`random_ascii_strings_match_engines`) and by all of `scanners.rs`'s differential tests, which
//! run through this path.

use super::scanners::{contraction, contraction_ignore_case};
use super::unicode_tables::{self as tables, LETTER, NUMBER, SPACE};
use crate::swar::{word_at, HIGH_BITS};

/// Bytes per window: one bit each in a `u64`.
const WINDOW: usize = 64;

/// Class masks of a window: bit `i` for the window's byte `i`, set only for the ASCII bytes
/// before the first non-ASCII byte and the end of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Classes {
    /// The bytes classified: a run of low bits.
    valid: u64,
    /// `a-z`.
    lower: u64,
    /// `A-Z`.
    upper: u64,
    /// `0-9`.
    digit: u64,
    /// `\s`: tab, line feed, vertical tab, form feed, carriage return, space.
    space: u64,
    /// Carriage return and line feed.
    newline: u64,
    /// `' '`.
    blank: u64,
    /// `'`.
    apostrophe: u64,
    /// `/`.
    slash: u64,
}

impl Classes {
    fn letter(&self) -> u64 {
        self.lower | self.upper
    }

    /// `[^\s\p{L}\p{N}]`.
    fn other(&self) -> u64 {
        self.valid & !(self.letter() | self.digit | self.space)
    }
}

/// The class masks of `window`'s first `len` bytes (the rest is not text).
#[inline(always)]
fn classify(window: &[u8; WINDOW], len: usize) -> Classes {
    let mut classes = classify_window(window);
    let text = if len >= WINDOW {
        u64::MAX
    } else {
        (1u64 << len) - 1
    };
    // The run of ASCII bytes from the first: up to the first non-ASCII byte.
    let ascii = classes.valid & text;
    classes.valid = if ascii == u64::MAX {
        u64::MAX
    } else {
        (1u64 << (!ascii).trailing_zeros()) - 1
    };
    let valid = classes.valid;
    for mask in [
        &mut classes.lower,
        &mut classes.upper,
        &mut classes.digit,
        &mut classes.space,
        &mut classes.newline,
        &mut classes.blank,
        &mut classes.apostrophe,
        &mut classes.slash,
    ] {
        *mask &= valid;
    }
    classes
}

/// The class masks of all 64 bytes (`valid`: the ASCII ones), SSE2 compares sixteen bytes at a
/// time. SSE2 is part of x86-64 itself, so no check of the processor is needed.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_window(window: &[u8; WINDOW]) -> Classes {
    use std::arch::x86_64::*;

    let mut classes = Classes::default();
    for quarter in 0..WINDOW / 16 {
        // SAFETY: SSE2 is always available on x86-64; the load reads 16 bytes inside `window`
        // (`loadu`: no alignment needed).
        unsafe {
            let bytes = _mm_loadu_si128(window.as_ptr().add(16 * quarter).cast::<__m128i>());
            let splat = |b: u8| _mm_set1_epi8(b as i8);
            // `low <= byte <= high` for an ASCII byte: `byte + (0x80 - low)` wraps the range to
            // the bottom of the signed bytes, -128 ..= -128 + (high - low). (Non-ASCII bytes may
            // land there too; they are outside `valid`.)
            let between = |v: __m128i, low: u8, high: u8| {
                _mm_cmplt_epi8(
                    _mm_add_epi8(v, splat(0x80u8.wrapping_sub(low))),
                    splat(0x80u8.wrapping_add(high - low + 1)),
                )
            };
            let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16) << (16 * quarter);
            // Setting bit 5 maps exactly the ASCII letters into `a..=z`; bit 5 itself (moved
            // to the top of the byte) tells the case.
            let letter = bits(between(_mm_or_si128(bytes, splat(0x20)), b'a', b'z'));
            let case = bits(_mm_slli_epi16(bytes, 2));
            let eq = |b: u8| _mm_cmpeq_epi8(bytes, splat(b));
            let blank = eq(b' ');
            let newline = _mm_or_si128(eq(b'\n'), eq(b'\r'));
            classes.valid |= !bits(bytes) & (0xFFFF << (16 * quarter));
            classes.lower |= letter & case;
            classes.upper |= letter & !case;
            classes.digit |= bits(between(bytes, b'0', b'9'));
            classes.space |= bits(_mm_or_si128(between(bytes, b'\t', b'\r'), blank));
            classes.newline |= bits(newline);
            classes.blank |= bits(blank);
            classes.apostrophe |= bits(eq(b'\''));
            classes.slash |= bits(eq(b'/'));
        }
    }
    classes
}

/// The class masks of all 64 bytes from the class table, a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_window_bytewise(window: &[u8; WINDOW]) -> Classes {
    let mut classes = Classes::default();
    for (i, &b) in window.iter().enumerate() {
        let bit = 1u64 << i;
        if b >= 0x80 {
            continue;
        }
        let class = tables::ASCII[usize::from(b)];
        classes.valid |= bit;
        let set = |mask: &mut u64, yes: bool| {
            if yes {
                *mask |= bit;
            }
        };
        set(
            &mut classes.lower,
            class & LETTER != 0 && b.is_ascii_lowercase(),
        );
        set(
            &mut classes.upper,
            class & LETTER != 0 && b.is_ascii_uppercase(),
        );
        set(&mut classes.digit, class & NUMBER != 0);
        set(&mut classes.space, class & SPACE != 0);
        set(&mut classes.newline, b == b'\r' || b == b'\n');
        set(&mut classes.blank, b == b' ');
        set(&mut classes.apostrophe, b == b'\'');
        set(&mut classes.slash, b == b'/');
    }
    classes
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify_window(window: &[u8; WINDOW]) -> Classes {
    classify_window_bytewise(window)
}

/// The patterns with window rules, and what sets them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rules {
    /// GPT-2: a space leads letters, digits and "other" runs; case-sensitive contractions start
    /// pieces; newlines are whitespace like any other.
    Gpt2,
    /// cl100k and Llama 3 (digits in threes), Qwen 2 (`digits: 1`): one byte of
    /// `[^\r\n\p{L}\p{N}]` leads letters, a space leads "other" runs; contractions (any case)
    /// start pieces. `space_to_end`: tiktoken's `\s++$`.
    Cl100k { digits: u8, space_to_end: bool },
    /// o200k: as cl100k, and a lowercase letter followed by a capital ends a piece;
    /// contractions (any case) belong to the word before them; digits in threes.
    O200k,
}

/// `mask` at `i - 1`, for every `i`.
#[inline(always)]
fn before(mask: u64) -> u64 {
    mask << 1
}

/// `mask` at `i + 1`, for every `i`.
#[inline(always)]
fn after(mask: u64) -> u64 {
    mask >> 1
}

/// The piece starts of the window `window` at `at` in `bytes`, other than `at` itself, that
/// the window settles (see the module docs), as bits relative to `at`; 0 when it settles none.
/// `at` must be a piece start.
#[inline(always)]
fn window_starts(bytes: &[u8], at: usize, window: &[u8; WINDOW], rules: Rules) -> u64 {
    let len = bytes.len() - at;
    let c = classify(window, len);
    // The first byte that is not classified.
    let end = c.valid.count_ones() as usize;
    let at_text_end = end == len;
    // The text's last byte, when it and the byte before it are both in `run`: a whitespace run
    // that reaches the end of the text is one piece (`\s+(?!\S)` takes it whole), so its last
    // byte starts none.
    let last_of_run_to_end = |run: u64| match at_text_end && len >= 2 {
        true if (run >> (len - 2)) & 0b11 == 0b11 => 1u64 << (len - 1),
        _ => 0,
    };
    let letter = c.letter();
    let other = c.other();
    let blank_space = c.space & !c.newline;
    let other_starts = other & !before(other);
    let letter_starts = letter & !before(letter);
    let digit_starts = c.digit & !before(c.digit);
    // Contractions: apostrophes that begin one, then the bytes they cover (never starts) and the
    // byte after (always a start).
    let candidates = match rules {
        Rules::O200k => c.apostrophe & before(letter),
        Rules::Gpt2 | Rules::Cl100k { .. } => c.apostrophe & other_starts & !before(c.blank),
    };
    let (mut contractions, mut covered, mut after_contraction) = (0u64, 0u64, 0u64);
    let mut rest = candidates;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        let found = match rules {
            Rules::Gpt2 => contraction(bytes, at + i),
            _ => contraction_ignore_case(bytes, at + i),
        };
        if let Some(contraction_end) = found {
            let n = contraction_end - at - i;
            contractions |= 1 << i;
            covered |= ((1u64 << n) - 1) << i;
            if i + n < WINDOW {
                after_contraction |= 1 << (i + n);
            }
        }
    }
    let mut stops = 0u64;
    let mut settled_end = if at_text_end {
        end + 1
    } else {
        end.saturating_sub(2)
    };
    let starts = match rules {
        Rules::Gpt2 => {
            // A whitespace run's first byte, and its last when it has two or more, unless the
            // run reaches the end of the text.
            let space_starts = (c.space & !before(c.space))
                | (c.space & before(c.space) & !after(c.space) & !last_of_run_to_end(c.space));
            let led = before(c.blank);
            (((letter_starts | digit_starts | other_starts) & !led)
                | space_starts
                | after_contraction)
                & !(covered & !contractions)
        }
        Rules::Cl100k { .. } | Rules::O200k => {
            let o200k = rules == Rules::O200k;
            // What an "other" run takes after it: `[\r\n]*`, o200k `[\r\n/]*`. From each
            // newline right after an "other" byte, through the run of such bytes. (Adding a
            // seed to the run's bits clears them up to the run's end; a second seed in the same
            // run is already inside and only needs its own bit.)
            let trailing = if o200k {
                c.newline | c.slash
            } else {
                c.newline
            };
            let seeds = c.newline & before(other);
            let taken = (((trailing.wrapping_add(seeds)) ^ trailing) & trailing) | seeds;
            let after_taken = before(taken) & !taken;
            // Spaces after the last newline that reach the end of the text: one piece.
            let space_starts = newline_space_starts(&c, taken) & !last_of_run_to_end(blank_space);
            if matches!(
                rules,
                Rules::Cl100k {
                    space_to_end: true,
                    ..
                }
            ) {
                // tiktoken's `\s++$`: a whitespace run that reaches the end of the text is one
                // piece even with newlines in it. Left to the general scanner.
                if at_text_end && c.space & (1 << (len - 1)) != 0 {
                    stops |= last_run_start(c.space, c.valid);
                }
            }
            if !at_text_end && end >= 1 && c.space & (1 << (end - 1)) != 0 {
                // A run that reaches the window's end may have a newline beyond it: only its
                // first byte is settled.
                let run_start = last_run_start(c.space, c.valid).trailing_zeros() as usize;
                settled_end = settled_end.min(run_start + 1);
            }
            let digit_groups = match rules {
                Rules::Cl100k { digits: 1, .. } => c.digit,
                _ => digit_groups_of_three(c.digit, digit_starts),
            };
            // "Other" bytes that start a piece: the first of a run (unless a space leads it),
            // and the byte after what a run took (`"/("` after `".\n"`). An o200k contraction's
            // apostrophe belongs to the word before it.
            let mut other_led = (other_starts & !before(c.blank) & !taken) | (after_taken & other);
            if o200k {
                other_led &= !contractions;
                // A contraction right after another one: its apostrophe follows a letter that
                // may belong to the first contraction, not to a word.
                stops |= contractions & ((contractions << 2) | (contractions << 3));
            }
            let letters_led = letter_starts & !before(blank_space | other_led);
            let starts = other_led
                | letters_led
                | digit_groups
                | space_starts
                | after_contraction
                | after_taken;
            if o200k {
                let case_changes = c.upper & before(c.lower);
                (starts | case_changes) & !covered
            } else {
                // cl100k's contractions are pieces of their own.
                starts & !(covered & !contractions)
            }
        }
    };
    // Settled: before the first stop, and (short of the text's end) before the last two
    // classified bytes, on which the starts before them depend.
    let settled_end = settled_end.min((stops & c.valid).trailing_zeros() as usize);
    let text_end = if at_text_end {
        1u64.checked_shl(end as u32).unwrap_or(0)
    } else {
        0
    };
    let mut starts = (starts | text_end) & !1;
    if settled_end < WINDOW {
        starts &= (1u64 << settled_end) - 1;
    }
    starts
}

/// cl100k and o200k: in a whitespace run, `\s*[\r\n]+` takes everything up to its last
/// newline; after it, `\s+(?!\S)` takes all but the last byte, which starts the next piece.
/// So a run's pieces start at its first byte (unless an "other" run took it, `taken`), after
/// its last newline, and at its last byte unless that is a newline.
#[inline(always)]
fn newline_space_starts(c: &Classes, taken: u64) -> u64 {
    let space = c.space;
    let blank_space = space & !c.newline;
    let first = space & !before(space) & !taken;
    let last = space & !after(space);
    let mut starts = first | (last & !c.newline);
    if c.newline != 0 {
        // The byte after a run's last newline: the first byte of the run of blank (non-newline)
        // whitespace that ends the run, when a newline comes before it. Found from the run's
        // end by adding its bit to the run's bits in reversed order: the carry lands on the
        // byte before the run of blanks.
        let reversed = blank_space.reverse_bits();
        let landing =
            (reversed.wrapping_add((last & blank_space).reverse_bits()) & !reversed).reverse_bits();
        starts |= before(landing & c.newline);
    }
    starts
}

/// The lowest bit of the whitespace run that holds the last classified byte, or 0 if that byte
/// is not whitespace.
#[inline(always)]
fn last_run_start(space: u64, valid: u64) -> u64 {
    let top = 63 - valid.leading_zeros().min(63);
    if valid == 0 || space & (1 << top) == 0 {
        return 0;
    }
    let not_space_below = !space & valid & ((1u64 << top) - 1);
    if not_space_below == 0 {
        1
    } else {
        1 << (64 - not_space_below.leading_zeros())
    }
}

/// Starts of `\p{N}{1,3}` pieces in the digit runs: each run's first digit and every third
/// after it.
#[inline(always)]
fn digit_groups_of_three(digit: u64, run_starts: u64) -> u64 {
    // A digit with digits at the two bytes before it: a group may end with it.
    let three = digit & before(digit) & before(before(digit));
    let mut groups = run_starts;
    let mut next = (run_starts << 3) & three;
    // Runs of four digits or more are rare: the loop usually stops at once.
    while next != 0 {
        groups |= next;
        next = (next << 3) & three;
    }
    groups
}

/// Calls `f(start, end)` for each match, in order, for a pattern whose matches tile the text:
/// windows of ASCII where they settle pieces, `end_at(bytes, i)` (the general scanner) where
/// they do not.
///
/// The general scanner runs in a loop of its own, piece after piece until a window may settle
/// some, rather than in one loop with the window's state: there, with its registers taken, it
/// cost more instructions on every piece it scanned, even where no window was opened
/// (callgrind, `encode_corpus`, o200k, the scanner alone, one loop → two: Japanese 9.84M →
/// 8.82M, the multilingual files 11.00M → 10.55M, English 6.85M → 6.66M, code 6.83M →
/// 6.64M; Japanese in turns, 529–531 → 684–743 MB/s). `f` is inlined at both loops' calls.
#[inline(always)]
pub(super) fn tile(
    bytes: &[u8],
    rules: Rules,
    mut f: impl FnMut(usize, usize),
    end_at: impl Fn(&[u8], usize) -> usize,
) {
    // Not where a non-ASCII byte comes within eight: the window would settle little for what
    // it costs (the multilingual corpus folder: 439 → 354 MB/s, scanner alone, when every ASCII
    // byte opened a window).
    let ascii_ahead = |start: usize| match word_at(bytes, start) {
        Some(word) => word & HIGH_BITS == 0,
        None => bytes[start] < 0x80,
    };
    let mut start = 0;
    let mut padded = [0u8; WINDOW];
    while start < bytes.len() {
        let mut starts = 0;
        if ascii_ahead(start) {
            let window: &[u8; WINDOW] = match bytes.get(start..start + WINDOW) {
                Some(window) => window.try_into().expect("64 bytes"),
                None => {
                    // The text's last bytes, zero-padded (the padding is not classified).
                    let tail = &bytes[start..];
                    padded[..tail.len()].copy_from_slice(tail);
                    padded[tail.len()..].fill(0);
                    &padded
                }
            };
            starts = window_starts(bytes, start, window, rules);
        }
        if starts == 0 {
            // The general scanner, piece after piece, until a window may settle some.
            loop {
                let end = end_at(bytes, start);
                debug_assert!(end > start && end <= bytes.len());
                f(start, end);
                start = end;
                if start >= bytes.len() || ascii_ahead(start) {
                    break;
                }
            }
            continue;
        }
        let window_at = start;
        while starts != 0 {
            let end = window_at + starts.trailing_zeros() as usize;
            starts &= starts - 1;
            f(start, end);
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_classes_match_the_table() {
        // Every byte value at every position, among neighbours of each kind.
        for b in 0..=255u8 {
            for fill in [b'a', b' ', b'\n', 0xC3, b'\''] {
                let mut window = [fill; WINDOW];
                for i in [0, 1, 15, 16, 31, 33, 47, 63] {
                    window[i] = b;
                }
                let fast = classify_window(&window);
                let table = classify_window_bytewise(&window);
                let valid = table.valid;
                assert_eq!(fast.valid, valid, "{b:#x} among {fill:#x}");
                let pairs = [
                    (fast.lower, table.lower),
                    (fast.upper, table.upper),
                    (fast.digit, table.digit),
                    (fast.space, table.space),
                    (fast.newline, table.newline),
                    (fast.blank, table.blank),
                    (fast.apostrophe, table.apostrophe),
                    (fast.slash, table.slash),
                ];
                for (k, (fast, table)) in pairs.into_iter().enumerate() {
                    assert_eq!(fast & valid, table, "class {k} of {b:#x} among {fill:#x}");
                }
            }
        }
    }
}
