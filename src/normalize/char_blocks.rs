//! Per-character facts kept as bits, in blocks of 256 characters computed the first time a text
//! has one of the block's characters: what a normalizer would otherwise ask of a slower source
//! (grapheme segmentation, a trie, the normalization crate's tables) for every character.
//!
//! Only planes 0 to 2 are covered (every script in current use and the emoji); a character above
//! [`COVERED`] has no block, and each user then takes its slower, always correct path.

use std::sync::OnceLock;

/// The characters that have blocks: U+0000 to U+2FFFF.
pub(super) const COVERED: u32 = 0x3_0000;

/// Characters per block.
const BLOCK: u32 = 256;

/// The number of blocks.
const BLOCKS: usize = (COVERED / BLOCK) as usize;

/// One bit per character of a block.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BlockBits([u64; 4]);

impl BlockBits {
    /// The bits of `test` for the characters of the block that holds `code` (surrogates: 0).
    pub(super) fn of(code: u32, mut test: impl FnMut(char) -> bool) -> BlockBits {
        let first = code - code % BLOCK;
        let mut bits = [0u64; 4];
        for code in first..first + BLOCK {
            if char::from_u32(code).is_some_and(&mut test) {
                bits[(code % BLOCK / 64) as usize] |= 1 << (code % 64);
            }
        }
        BlockBits(bits)
    }

    /// The bit of `code`, a character of this block.
    #[inline]
    pub(super) fn has(&self, code: u32) -> bool {
        self.0[(code % BLOCK / 64) as usize] >> (code % 64) & 1 == 1
    }
}

/// A value per block, each computed on first use.
#[derive(Debug, Clone)]
pub(super) struct LazyBlocks<T>([OnceLock<T>; BLOCKS]);

impl<T> LazyBlocks<T> {
    /// No block computed yet (usable in a `static`).
    pub(super) const fn new() -> Self {
        LazyBlocks([const { OnceLock::new() }; BLOCKS])
    }

    /// The value of the block that holds `code`, computed by `compute(code)` the first time; none
    /// above [`COVERED`].
    #[inline]
    pub(super) fn get(&self, code: u32, compute: impl FnOnce(u32) -> T) -> Option<&T> {
        let block = self.0.get((code / BLOCK) as usize)?;
        Some(block.get_or_init(|| compute(code)))
    }
}
