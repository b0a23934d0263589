//! What the unit tests share: the shared data's folder, a small deterministic generator, and
//! random strings drawn from a hand-picked alphabet for the tests that compare a fast path with a
//! plain one.

use std::path::PathBuf;

/// The shared data (`FERROTOK_DATA`, else `../shared/data` beside the repository).
pub(crate) fn data_dir() -> PathBuf {
    let dir = std::env::var_os("FERROTOK_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("MANIFEST.md").exists(),
        "shared data not found at {}; set FERROTOK_DATA",
        dir.display()
    );
    dir
}

/// splitmix64: a tiny deterministic generator, so that failures reproduce.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A string of fewer than `max_pieces` pieces, each drawn from `alphabet`.
    pub(crate) fn text(&mut self, alphabet: &[&str], max_pieces: usize) -> String {
        (0..self.below(max_pieces))
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}
