//! Eight bytes at a time: masks over a 64-bit word of text (SWAR, "SIMD within a register").
//!
//! The scanners' ASCII letter runs and the precompiled charsmap's runs of plain ASCII read the
//! text a word at a time and find where a run ends from the trailing zeros of a mask, instead of
//! a byte loop whose final, mispredicted branch is taken once per run.

/// The high bit of each byte of a word.
pub(crate) const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `at` as a little-endian word (byte `at` lowest), if the text has them.
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let word = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes(word.try_into().expect("8 bytes")))
}

/// The high bit of each byte of `word` that is an ASCII byte in `low..=high` (both ASCII), the
/// other bits zero. Computed on the low seven bits of each byte, so that no sum carries into the
/// next byte, and then cleared for the bytes whose high bit is set (not ASCII).
#[inline(always)]
pub(crate) fn ascii_between(word: u64, low: u8, high: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let seven = word & !HIGH_BITS;
    // Per byte: the high bit of `seven + (0x80 - low)` is set iff the byte is at least `low`,
    // that of `seven + (0x7F - high)` iff it is above `high`.
    let at_least_low = seven + ONES * u64::from(0x80 - low);
    let above_high = seven + ONES * u64::from(0x7F - high);
    at_least_low & !above_high & !word & HIGH_BITS
}

/// The offset of the first byte of `word` whose bit is set in `mask` (a mask of high bits).
#[inline(always)]
pub(crate) fn first_set(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_between_matches_byte_tests() {
        let ranges = [
            (b'A', b'Z'),
            (b'a', b'z'),
            (b' ', b'~'),
            (0, 0x7F),
            (b'0', b'0'),
        ];
        for (low, high) in ranges {
            for byte in 0..=255u8 {
                for at in 0..8 {
                    // The byte among neighbours both inside and outside the range.
                    for fill in [low, 0xFF] {
                        let word = u64::from(byte) << (8 * at)
                            | (u64::from(fill) * 0x0101_0101_0101_0101) & !(0xFF << (8 * at));
                        let bit = 0x80u64 << (8 * at);
                        assert_eq!(
                            ascii_between(word, low, high) & bit != 0,
                            (low..=high).contains(&byte),
                            "{byte:#x} in {low:#x}..={high:#x} at {at}"
                        );
                    }
                }
            }
        }
        assert_eq!(first_set(0x80 << 24), 3);
        assert_eq!(first_set(HIGH_BITS), 0);
    }
}
