//! A BPE vocabulary: token bytes → id, in one open-addressed table whose slots hold short tokens
//! whole.
//!
//! Why not a `HashMap<Vec<u8>, u32>` (what it replaced): every lookup there reads three places
//! that are far apart in memory, the map's control bytes, its entry, and the key's own heap
//! allocation, one after the other. On this machine a random read in a table of several
//! megabytes is a cache miss of about 190 ns (see `pair_table`'s notes), and these tables are
//! read at random twice over:
//!
//! - **Loading.** A rank file's pair table comes from cutting every token in two at every
//!   position and looking both parts up: o200k makes about 1.2 million lookups. With the map,
//!   `perf` put a fifth of the load in `memcmp` (waiting for the key's bytes) and another fifth
//!   in `malloc` and `free` (a `Vec` per token, 200k of them).
//! - **New text.** The whole-piece lookup of every piece the word cache has not seen.
//!
//! Here a token of at most 8 bytes (most of them: o200k's average is under 7) sits in its slot,
//! so a lookup is one read of one slot; a longer one is in one shared buffer, and its slot has
//! where, with a fingerprint of its hash. The table is at most half full (linear probing then
//! reads about 1.5 slots for a hit and 2.5 for a miss, which share a cache line most of the
//! time), and [`Vocab::prefetch`] lets a loop ask for the slot of a key it will look up a few
//! steps later.

/// The longest token a slot holds whole.
const INLINE: usize = 8;

/// One slot: a token and its id, or free (`len == 0`).
#[derive(Clone, Copy, Default, Debug)]
#[repr(C, align(16))]
struct Slot {
    /// A short token's bytes, zero-padded. A long token's: where its bytes start in
    /// [`Vocab::long_bytes`] (4 bytes), then a 32-bit fingerprint of its hash, so that most
    /// slots of other long tokens are passed over without reading their bytes.
    head: [u8; INLINE],
    id: u32,
    /// The token's length in bytes; 0 marks a free slot (the empty token has no slot).
    len: u32,
}

impl Slot {
    /// Where a long token's bytes start in [`Vocab::long_bytes`].
    fn start(&self) -> usize {
        u32::from_le_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]) as usize
    }

    fn fingerprint(&self) -> [u8; 4] {
        [self.head[4], self.head[5], self.head[6], self.head[7]]
    }
}

/// Token bytes → id. Each token's bytes appear once; inserting them again replaces the id.
#[derive(Clone, Debug)]
pub struct Vocab {
    /// A power of two long, at least twice the number of tokens.
    slots: Box<[Slot]>,
    /// The bytes of every long token, one after another.
    long_bytes: Vec<u8>,
    len: usize,
    /// The id of the empty token, if there is one (it has no slot: `len == 0` marks a free one).
    empty: Option<u32>,
}

impl Default for Vocab {
    fn default() -> Self {
        Vocab::with_capacity(0)
    }
}

/// A key of at most 8 bytes, zero-padded, as one word.
///
/// Why the overlapping loads: copying a slice of 1 to 8 bytes of unknown length into a buffer
/// is a call to `memcpy`; two loads that may overlap and an `or` are a few instructions.
#[inline]
fn short_word(key: &[u8]) -> u64 {
    let len = key.len();
    if len >= INLINE {
        u64::from_le_bytes(key[..INLINE].try_into().unwrap_or_default())
    } else if len >= 4 {
        let low = u32::from_le_bytes(key[..4].try_into().unwrap_or_default());
        let high = u32::from_le_bytes(key[len - 4..].try_into().unwrap_or_default());
        // The two loads share `8 - len` bytes; `or` of equal bytes in the same place is that byte.
        u64::from(low) | (u64::from(high) << ((len - 4) * 8))
    } else if len > 0 {
        u64::from(key[0])
            | (u64::from(key[len / 2]) << (len / 2 * 8))
            | (u64::from(key[len - 1]) << ((len - 1) * 8))
    } else {
        0
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash of a key of `len` bytes (1 to 8) whose [`short_word`] is `word`.
#[inline]
fn hash_short(word: u64, len: usize) -> u64 {
    let h = word ^ (len as u64).rotate_right(8);
    (h ^ (h >> 29)).wrapping_mul(K)
}

/// The hash of a key. Its top bits pick the first slot; a long token's fingerprint is bits 8 to
/// 39.
#[inline]
fn hash(key: &[u8]) -> u64 {
    let mut h = hash_short(short_word(key), key.len());
    if key.len() > INLINE {
        for chunk in key[INLINE..].chunks(INLINE) {
            h = (h.rotate_left(26) ^ short_word(chunk)).wrapping_mul(K);
        }
    }
    h
}

fn fingerprint(hash: u64) -> [u8; 4] {
    ((hash >> 8) as u32).to_le_bytes()
}

impl Vocab {
    /// An empty vocabulary with room for `tokens` tokens before it grows.
    pub fn with_capacity(tokens: usize) -> Vocab {
        Vocab {
            slots: vec![Slot::default(); slots_for(tokens)].into_boxed_slice(),
            long_bytes: Vec::new(),
            len: 0,
            empty: None,
        }
    }

    /// Builds a vocabulary from `(bytes, id)` entries; a later entry with the same bytes replaces
    /// the id of an earlier one.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a [u8], u32)>) -> Vocab {
        let entries = entries.into_iter();
        let mut vocab = Vocab::with_capacity(entries.size_hint().0);
        for (bytes, id) in entries {
            vocab.insert(bytes, id);
        }
        vocab
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.len + usize::from(self.empty.is_some())
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        if key.is_empty() {
            return self.empty;
        }
        self.find(key, hash(key)).ok().map(|at| self.slots[at].id)
    }

    /// The id of the token of `len` bytes (1 to 8) that are the low bytes of `word`, little-endian
    /// (the bytes above them zero): what [`Vocab::get`] finds for those bytes, without reading
    /// them one by one. Why: all the cuts of a short token are masks and shifts of one word
    /// ([`Vocab::short_word`]); o200k's load looks up 1.2 million of them.
    #[inline]
    pub fn get_short(&self, word: u64, len: usize) -> Option<u32> {
        debug_assert!((1..=INLINE).contains(&len) && (len == INLINE || word >> (8 * len) == 0));
        let hash = hash_short(word, len);
        self.find_short(word, len as u32, self.first_slot(hash))
            .ok()
            .map(|at| self.slots[at].id)
    }

    /// [`Vocab::prefetch`] of the key [`Vocab::get_short`] takes.
    #[inline]
    pub fn prefetch_short(&self, word: u64, len: usize) {
        crate::prefetch::line(&self.slots[self.first_slot(hash_short(word, len))]);
    }

    /// The first 8 bytes of `key` (all of a shorter one), little-endian, as [`Vocab::get_short`]
    /// takes them.
    #[inline]
    pub fn short_word(key: &[u8]) -> u64 {
        short_word(key)
    }

    /// Whether `key` is a token.
    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Asks for the cache line of `key`'s first slot, without waiting for it (a lookup of `key`
    /// a few steps later then finds it cached).
    #[inline]
    pub fn prefetch(&self, key: &[u8]) {
        crate::prefetch::line(&self.slots[self.first_slot(hash(key))]);
    }

    /// Sets `key`'s id; returns the id it had, if it was already a token.
    pub fn insert(&mut self, key: &[u8], id: u32) -> Option<u32> {
        if key.is_empty() {
            return self.empty.replace(id);
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let hash = hash(key);
        let at = match self.find(key, hash) {
            Ok(at) => return Some(std::mem::replace(&mut self.slots[at].id, id)),
            Err(free) => free,
        };
        let head = if key.len() <= INLINE {
            short_word(key).to_le_bytes()
        } else {
            let start = u32::try_from(self.long_bytes.len()).expect("tokens fit in 4 GiB");
            self.long_bytes.extend_from_slice(key);
            let [a, b, c, d] = start.to_le_bytes();
            let [e, f, g, h] = fingerprint(hash);
            [a, b, c, d, e, f, g, h]
        };
        let len = u32::try_from(key.len()).expect("a token is shorter than 4 GiB");
        self.slots[at] = Slot { head, id, len };
        self.len += 1;
        None
    }

    /// Every token's bytes and id, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u32)> + '_ {
        let empty = self.empty.map(|id| (&[][..], id));
        let filled = self
            .slots
            .iter()
            .filter(|slot| slot.len != 0)
            .map(|slot| (self.bytes(slot), slot.id));
        empty.into_iter().chain(filled)
    }

    /// The largest id, if there is a token.
    pub fn max_id(&self) -> Option<u32> {
        self.iter().map(|(_, id)| id).max()
    }

    /// The slot holding `key` (not empty; whose hash is `hash`), or the free slot where it
    /// would go.
    #[inline]
    fn find(&self, key: &[u8], hash: u64) -> Result<usize, usize> {
        let len = key.len() as u32;
        let mask = self.slots.len() - 1;
        let mut at = self.first_slot(hash);
        if key.len() <= INLINE {
            return self.find_short(short_word(key), len, at);
        }
        let fingerprint = fingerprint(hash);
        loop {
            let slot = &self.slots[at];
            if slot.len == len && slot.fingerprint() == fingerprint && self.bytes(slot) == key {
                return Ok(at);
            }
            if slot.len == 0 {
                return Err(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// [`Vocab::find`] for a key of at most 8 bytes, given as its [`short_word`], from slot `at`.
    #[inline]
    fn find_short(&self, word: u64, len: u32, mut at: usize) -> Result<usize, usize> {
        let head = word.to_le_bytes();
        let mask = self.slots.len() - 1;
        loop {
            let slot = &self.slots[at];
            if slot.len == len && slot.head == head {
                return Ok(at);
            }
            if slot.len == 0 {
                return Err(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// The bytes of the token in `slot`.
    fn bytes<'a>(&'a self, slot: &'a Slot) -> &'a [u8] {
        let len = slot.len as usize;
        if len <= INLINE {
            &slot.head[..len]
        } else {
            &self.long_bytes[slot.start()..slot.start() + len]
        }
    }

    #[inline]
    fn first_slot(&self, hash: u64) -> usize {
        // The top bits: the multiply in `hash` mixes every input bit into them.
        (hash >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    fn grow(&mut self) {
        let old = std::mem::replace(
            &mut self.slots,
            vec![Slot::default(); slots_for(2 * self.len + 2)].into_boxed_slice(),
        );
        let mask = self.slots.len() - 1;
        for slot in old.iter().filter(|slot| slot.len != 0) {
            let hash = hash(self.bytes(slot));
            let mut at = self.first_slot(hash);
            while self.slots[at].len != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = *slot;
        }
    }
}

/// The number of slots for `tokens` tokens: a power of two, at least twice as many.
fn slots_for(tokens: usize) -> usize {
    (2 * tokens).next_power_of_two().max(16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashMap;

    /// Tokens of every length from 0 to 40, prefixes of each other and not, with shared heads.
    fn tokens() -> Vec<Vec<u8>> {
        let mut tokens = Vec::new();
        for len in 0..=40u8 {
            tokens.push((0..len).collect::<Vec<u8>>());
            tokens.push((0..len).map(|b| b.wrapping_mul(7) ^ 0xA5).collect());
            let mut same_head: Vec<u8> = b"abcdefgh".to_vec();
            same_head.extend((0..len).map(|b| b ^ 0x5A));
            tokens.push(same_head);
        }
        tokens.push(vec![0]);
        tokens.push(vec![0, 0]);
        tokens.push(vec![0; 9]);
        tokens.push(vec![0xFF; 8]);
        tokens.sort();
        tokens.dedup();
        tokens
    }

    #[test]
    fn finds_every_token_and_nothing_else() {
        let tokens = tokens();
        let mut vocab = Vocab::with_capacity(3);
        for (id, token) in tokens.iter().enumerate() {
            assert_eq!(vocab.insert(token, id as u32), None);
        }
        assert_eq!(vocab.len(), tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            assert_eq!(vocab.get(token), Some(id as u32), "{token:?}");
            // One byte more or less, or one byte changed, is not a token unless it is listed.
            let mut longer = token.clone();
            longer.push(0x77);
            assert_eq!(vocab.contains(&longer), tokens.contains(&longer));
            if let Some(last) = token.last() {
                let mut changed = token.clone();
                *changed.last_mut().unwrap() = last ^ 0x80;
                assert_eq!(vocab.contains(&changed), tokens.contains(&changed));
                let shorter = &token[..token.len() - 1];
                assert_eq!(vocab.contains(shorter), tokens.iter().any(|t| t == shorter));
            }
        }
        let listed: FxHashMap<Vec<u8>, u32> = vocab
            .iter()
            .map(|(token, id)| (token.to_vec(), id))
            .collect();
        let expected: FxHashMap<Vec<u8>, u32> = tokens.iter().cloned().zip(0..).collect();
        assert_eq!(listed, expected);
        assert_eq!(vocab.max_id(), Some(tokens.len() as u32 - 1));
    }

    #[test]
    fn inserting_again_replaces_the_id() {
        let mut vocab = Vocab::default();
        assert_eq!(vocab.insert(b"hello world!", 1), None);
        assert_eq!(vocab.insert(b"hi", 2), None);
        assert_eq!(vocab.insert(b"", 3), None);
        assert_eq!(vocab.insert(b"hello world!", 4), Some(1));
        assert_eq!(vocab.insert(b"hi", 5), Some(2));
        assert_eq!(vocab.insert(b"", 6), Some(3));
        assert_eq!(vocab.len(), 3);
        assert_eq!(vocab.get(b"hello world!"), Some(4));
        assert_eq!(vocab.get(b"hi"), Some(5));
        assert_eq!(vocab.get(b""), Some(6));
    }

    #[test]
    fn many_tokens_survive_growing() {
        let mut vocab = Vocab::default();
        let token = |i: u32| format!("tok{i}-{}", i % 7).repeat(1 + (i % 3) as usize);
        for i in 0..50_000 {
            vocab.insert(token(i).as_bytes(), i);
        }
        assert!(vocab.slots.len() >= 2 * vocab.len);
        for i in 0..50_000 {
            assert_eq!(vocab.get(token(i).as_bytes()), Some(i));
        }
        assert_eq!(vocab.get(b"tok50000-2"), None);
    }
}
