//! A per-thread cache of encoded words: piece bytes → ids, for the models whose pieces repeat
//! (BPE and Unigram).
//!
//! Why it is shaped like this (measured with `perf` on the mixed corpus, o200k, one thread):
//! before it, a piece cost a vocabulary lookup (a hash map of `Vec<u8>` keys: a probe, then the
//! key's bytes elsewhere on the heap, then a `memcmp` call), a whole-piece flag, and on a miss a
//! second map with its own arenas; that map was emptied every 65,536 pieces, so on a corpus with
//! 110k distinct pieces it never reached a steady state and a third of the input bytes were merged
//! again on every pass. Lookups and merges were two thirds of the encode time.
//!
//! - **Half a cache line per entry, one line per set.** A [`Slot`] holds the key (up to
//!   [`MAX_KEY`] bytes, as two zero-padded words) and up to [`MAX_IDS`] ids inline: a hit reads
//!   one line and compares two words, with no pointer to follow and no `memcmp` call. Most
//!   pieces fit (on the mixed corpus, 95% of pieces have at most 16 bytes); the rest (Japanese
//!   runs, long code tokens, nearly all distinct) go to a map with arenas ([`LongWords`]),
//!   bounded by bytes, and a short piece with more ids leaves a redirect in its slot, so a miss
//!   on a short piece never probes that map. The first version had 64-byte slots with 32-byte
//!   keys; `perf annotate` put two thirds of a cached piece's time on the load of its slot (a
//!   miss in L2), so the table was halved. The wall-clock difference between the two was within
//!   the noise of the shared machine.
//! - **2-way set-associative, no global clear.** A key can live in either slot of its set (one
//!   cache line); a full set evicts one in rotation. The hot words of a Zipfian text stay, a
//!   word seen once is pushed out, and there is never a moment when everything is lost.
//! - **Grows with the text.** It starts at 32 KB and grows ×4 when three quarters full
//!   (counting what was evicted since the last growth), up to [`MAX_SLOTS`] (8 MB): a notebook
//!   encoding a sentence keeps a small table, a corpus job gets the whole working set (the top
//!   65k pieces cover 92% of the corpus's pieces).
//! - **Per thread, per model.** No locks on the hot path. A thread keeps the caches of its
//!   [`MODELS_PER_THREAD`] most recently used models, so alternating two tokenizers does not
//!   empty them.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::{FxBuildHasher, FxHashMap};

/// Longest piece, in bytes, that is cached.
const MAX_KEY: usize = 16;
/// Most ids a cached piece may have.
const MAX_IDS: usize = 3;
/// Slots per set.
const WAYS: usize = 2;
/// The first table: 1,024 slots (32 KB).
const INITIAL_SLOTS: usize = 1 << 10;
/// The largest table: 262,144 slots (8 MB).
const MAX_SLOTS: usize = 1 << 18;
/// How many models' caches a thread keeps.
const MODELS_PER_THREAD: usize = 4;
/// How many pieces [`WordCache::encode_ahead`] fetches ahead (8, 16 and 32 measured within the
/// noise of each other).
const AHEAD: usize = 16;

/// A piece as the cache compares it: its bytes as little-endian words, zero-padded, its length,
/// and its hash.
#[derive(Clone, Copy)]
struct Key {
    words: [u64; KEY_WORDS],
    len: u8,
    hash: u64,
}

impl Key {
    /// The key of `piece`, or `None` when it is too long to cache (or empty).
    ///
    /// Both words are loaded with at most two fixed-size loads each and hashed without a loop:
    /// a loop over `chunks_exact` compiled to a `memcpy` call for pieces of 9 to 16 bytes, and
    /// dropping it and the hash's loop over the words took 6% off all encoding instructions
    /// (callgrind, o200k, mixed corpus).
    #[inline]
    fn new(piece: &[u8]) -> Option<Key> {
        let len = piece.len();
        let words = match len {
            1..=8 => [tail_word(piece), 0],
            9..=MAX_KEY => {
                let first = u64::from_le_bytes(piece[..8].try_into().expect("8 bytes"));
                [first, tail_word(&piece[8..])]
            }
            _ => return None,
        };
        Some(Key::from_words(words, len as u8))
    }

    /// The key whose bytes are the first `len` bytes of `words` (the rest zero), as a slot
    /// stores it.
    #[inline]
    fn from_words(words: [u64; KEY_WORDS], len: u8) -> Key {
        // Each word multiplied by its own odd constant (the second is zero for short keys),
        // then a fold so that the top bits (the set index) depend on every byte.
        let mut hash = (words[0] ^ u64::from(len)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ words[1].wrapping_mul(0x517C_C1B7_2722_0A95);
        hash ^= hash >> 29;
        hash = hash.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        hash ^= hash >> 32;
        Key { words, len, hash }
    }
}

/// The 1 to 8 bytes of `rest` as a little-endian word, without a byte-by-byte loop: two loads that
/// may overlap, OR-ed together (overlapping bytes are the same bytes).
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    if n == 8 {
        u64::from_le_bytes(rest.try_into().expect("8 bytes"))
    } else if n >= 4 {
        let low = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(rest[n - 4..].try_into().expect("4 bytes"));
        u64::from(low) | (u64::from(high) << (8 * (n - 4)))
    } else {
        u64::from(rest[0])
            | (u64::from(rest[n / 2]) << (8 * (n / 2)))
            | (u64::from(rest[n - 1]) << (8 * (n - 1)))
    }
}

/// The words of a key.
const KEY_WORDS: usize = MAX_KEY / 8;

/// `ids_len` of a short piece whose ids, more than [`MAX_IDS`], are in [`LongWords`].
const IN_LONG: u8 = u8::MAX;

/// What a slot lookup found.
enum Found<'a> {
    Ids(&'a [u32]),
    InLong,
    Missing,
}

/// One entry, 32 bytes. `key_len == 0` marks an empty slot.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: [u64; KEY_WORDS],
    ids: [u32; MAX_IDS],
    key_len: u8,
    ids_len: u8,
}

const EMPTY: Slot = Slot {
    key: [0; KEY_WORDS],
    ids: [0; MAX_IDS],
    key_len: 0,
    ids_len: 0,
};

/// The slots a key may be in: one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Set([Slot; WAYS]);

/// The pieces [`WordCache::encode_ahead`] has queued: a ring of up to [`AHEAD`] pieces with
/// their keys, oldest at `start`.
pub(crate) struct Ahead<'p> {
    ring: [(&'p [u8], Option<Key>); AHEAD],
    start: usize,
    len: usize,
}

impl Default for Ahead<'_> {
    fn default() -> Self {
        Ahead {
            ring: [(&[], None); AHEAD],
            start: 0,
            len: 0,
        }
    }
}

/// One model's cache on one thread.
pub(crate) struct WordCache {
    /// Pieces of up to [`MAX_KEY`] bytes with up to [`MAX_IDS`] ids.
    sets: Vec<Set>,
    /// Everything else.
    long: LongWords,
    /// `64 - log2(number of sets)`: the set of a key is `hash >> shift`.
    shift: u32,
    filled: usize,
    /// Entries evicted since the table last grew.
    evicted: usize,
    /// Which way a full set evicts next.
    clock: usize,
}

impl WordCache {
    fn new() -> Self {
        Self::with_slots(INITIAL_SLOTS)
    }

    fn with_slots(slots: usize) -> Self {
        WordCache {
            sets: vec![Set([EMPTY; WAYS]); slots / WAYS],
            long: LongWords::default(),
            shift: 64 - (slots / WAYS).trailing_zeros(),
            filled: 0,
            evicted: 0,
            clock: 0,
        }
    }

    /// Appends the ids of `piece` to `out`: the cached ones, else those `encode` appends, which
    /// are then cached. (The encoder goes through [`WordCache::encode_ahead`]; this one-piece
    /// form is for tests.)
    #[cfg(test)]
    fn encode(
        &mut self,
        piece: &[u8],
        out: &mut Vec<u32>,
        mut encode: impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        self.encode_keyed(piece, Key::new(piece), out, &mut encode);
    }

    /// Like [`WordCache::encode`] for a stream of pieces, `AHEAD` pieces late: `piece` is queued
    /// and its set's cache line fetched, and the oldest queued piece (if `ahead` is full) is
    /// encoded now. Call [`WordCache::finish`] after the last piece.
    ///
    /// Why: on repeated English text (o200k, one thread), `perf annotate` put two thirds of the
    /// time of a cache hit, a third of all encoding time, on the first load of the piece's set,
    /// which is usually not in L1 or L2 (the table is megabytes, the set random). Looking up
    /// pieces one at a time waits for those misses one after another; fetching a few pieces
    /// ahead lets them overlap. Measured with `encode_corpus` (o200k, one core), repeated text:
    /// English 34 → 78 MB/s, the 4 MB mixed corpus about 40 → 80 MB/s.
    #[inline(always)]
    pub(crate) fn encode_ahead<'p>(
        &mut self,
        ahead: &mut Ahead<'p>,
        piece: &'p [u8],
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        let key = Key::new(piece);
        if let Some(key) = &key {
            self.prefetch(key);
        }
        // The ring is updated in place here rather than through push and pop helpers shared
        // with `finish`: with those, callgrind counted 2–11% more instructions in this function
        // (o200k, mixed corpus).
        let queued = (piece, key);
        if ahead.len < AHEAD {
            ahead.ring[(ahead.start + ahead.len) % AHEAD] = queued;
            ahead.len += 1;
            return;
        }
        let (oldest, oldest_key) = std::mem::replace(&mut ahead.ring[ahead.start], queued);
        ahead.start = (ahead.start + 1) % AHEAD;
        self.encode_keyed(oldest, oldest_key, out, encode);
    }

    /// Encodes the pieces still queued in `ahead`, oldest first.
    pub(crate) fn finish(
        &mut self,
        ahead: &mut Ahead<'_>,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        while ahead.len > 0 {
            let (piece, key) = ahead.ring[ahead.start];
            ahead.start = (ahead.start + 1) % AHEAD;
            ahead.len -= 1;
            self.encode_keyed(piece, key, out, encode);
        }
    }

    /// Asks for the cache line of `key`'s set, without waiting for it. The set is found again
    /// from the hash when the piece is encoded, so a table that grew in between is only a
    /// wasted fetch.
    #[inline]
    fn prefetch(&self, key: &Key) {
        let set: *const Set = &self.sets[self.set(key)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and the address
        // is that of a live element anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(set.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = set;
    }

    /// [`WordCache::encode`] with the key already made.
    #[inline(always)]
    fn encode_keyed(
        &mut self,
        piece: &[u8],
        key: Option<Key>,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        // A short piece is looked for in the long map only when its slot says it is there, so
        // that a miss on a short piece (the common miss) costs one cache line.
        let in_long = match &key {
            Some(key) => match self.get(key) {
                Found::Ids(ids) => {
                    // At most MAX_IDS ids: pushed one by one, not through a `memcpy` call
                    // (`extend_from_slice` called it for every piece; callgrind, English text:
                    // 1.4% fewer instructions).
                    out.reserve(MAX_IDS);
                    for &id in ids {
                        out.push(id);
                    }
                    return;
                }
                Found::InLong => true,
                Found::Missing => false,
            },
            None => true,
        };
        self.encode_missed(piece, key, in_long, out, encode);
    }

    /// The rest of [`WordCache::encode_keyed`] when the table has no ids for the piece: the
    /// long map (looked in when `in_long`), else `encode`. Kept out of line so that the hit path, inlined into the
    /// scanner's loop, stays small (callgrind, o200k, mixed corpus, repeated text: 55.4 → 52.8
    /// instructions per byte).
    #[inline(never)]
    fn encode_missed(
        &mut self,
        piece: &[u8],
        key: Option<Key>,
        in_long: bool,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        // Hashed for the long map only when it is used (once): a short miss never needs it.
        let looked_up = in_long.then(|| FxBuildHasher.hash_one(piece));
        if let Some(hash) = looked_up {
            if let Some(ids) = self.long.get(hash, piece) {
                out.extend_from_slice(ids);
                return;
            }
        }
        let hash = || looked_up.unwrap_or_else(|| FxBuildHasher.hash_one(piece));
        let start = out.len();
        encode(piece, out);
        let ids = &out[start..];
        match &key {
            Some(key) if ids.len() <= MAX_IDS => self.insert(key, ids, ids.len() as u8),
            Some(key) => {
                self.insert(key, &[], IN_LONG);
                self.long.insert(hash(), piece, ids);
            }
            None => self.long.insert(hash(), piece, ids),
        }
    }

    #[inline]
    fn set(&self, key: &Key) -> usize {
        (key.hash >> self.shift) as usize
    }

    fn slots(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// What the table holds for `key`.
    #[inline]
    fn get(&self, key: &Key) -> Found<'_> {
        let set = self.set(key);
        match self.sets[set]
            .0
            .iter()
            .find(|slot| slot.key_len == key.len && slot.key == key.words)
        {
            Some(slot) if slot.ids_len == IN_LONG => Found::InLong,
            Some(slot) => Found::Ids(&slot.ids[..usize::from(slot.ids_len)]),
            None => Found::Missing,
        }
    }

    /// Caches `ids` for `key`, with `ids_len` its length or [`IN_LONG`] (then `ids` is empty).
    fn insert(&mut self, key: &Key, ids: &[u32], ids_len: u8) {
        // Grown when three quarters full, counting the entries evicted since the last growth:
        // two-way sets start evicting well before the table is full, and a table that evicts
        // is too small for the text.
        if (self.filled + self.evicted) * 4 >= self.slots() * 3 && self.slots() < MAX_SLOTS {
            self.grow();
        }
        let set = &mut self.sets[(key.hash >> self.shift) as usize].0;
        // The key's own slot when it has one (a redirect whose long entry was emptied), else a
        // free one, else one evicted in rotation.
        let way = match set
            .iter()
            .position(|slot| slot.key_len == key.len && slot.key == key.words)
        {
            Some(way) => way,
            None => match set.iter().position(|slot| slot.key_len == 0) {
                Some(way) => {
                    self.filled += 1;
                    way
                }
                None => {
                    self.evicted += 1;
                    self.clock = self.clock.wrapping_add(1);
                    self.clock % WAYS
                }
            },
        };
        let slot = &mut set[way];
        slot.key = key.words;
        slot.key_len = key.len;
        slot.ids[..ids.len()].copy_from_slice(ids);
        slot.ids_len = ids_len;
    }

    /// Moves every entry into a table four times as large (at most [`MAX_SLOTS`]).
    fn grow(&mut self) {
        let mut bigger = WordCache::with_slots((self.slots() * 4).min(MAX_SLOTS));
        bigger.long = std::mem::take(&mut self.long);
        let slots = self.sets.iter().flat_map(|set| set.0.iter());
        for slot in slots.filter(|slot| slot.key_len > 0) {
            let key = Key::from_words(slot.key, slot.key_len);
            let ids = &slot.ids[..usize::from(slot.ids_len).min(MAX_IDS)];
            bigger.insert(&key, ids, slot.ids_len);
        }
        *self = bigger;
    }
}

/// The cache of pieces too long for a [`Slot`] (or with too many ids): a map from the piece's
/// hash to its bytes and ids, stored back to back in two arenas. Most such pieces are seen once
/// in a real corpus (whole Japanese or Chinese phrases, long code runs), so it is emptied when
/// the arenas reach [`LONG_BYTES`]: a bound on memory, and a clear costs nothing compared with
/// the merges that filled it. A hash collision only replaces an entry: a lookup compares bytes.
#[derive(Default)]
struct LongWords {
    index: FxHashMap<u64, LongEntry>,
    bytes: Vec<u8>,
    ids: Vec<u32>,
}

/// Where a long piece's bytes and ids are in the arenas.
#[derive(Clone, Copy)]
struct LongEntry {
    bytes_start: u32,
    bytes_len: u32,
    ids_start: u32,
    ids_len: u32,
}

/// The arenas of [`LongWords`] are emptied when they hold this many bytes (8 MB). Long pieces are
/// mostly seen once in a real corpus, but a text encoded again (a benchmark's repeated batch, an
/// epoch over the same documents) finds its long pieces only if they all fit: a bound below
/// their total empties the arenas on every pass, and every long piece is merged again. The 4 MB
/// corpus batch of `benches/compare.py` needs more than 4 MB with Mistral, whose Japanese
/// paragraphs are single words (`encode_corpus` on 3.6 MB, repeated: 16 MB/s with a 4 MB
/// bound, 46 with 8, 44 with 16). Each doubling costs that much peak memory on a corpus job
/// (`benches/peak_memory.py`: 16 MB instead of 4 kept 18 MB more).
const LONG_BYTES: usize = 8 << 20;

impl LongWords {
    #[inline]
    fn get(&self, hash: u64, piece: &[u8]) -> Option<&[u32]> {
        let entry = *self.index.get(&hash)?;
        let bytes = &self.bytes[entry.bytes_start as usize..][..entry.bytes_len as usize];
        (bytes == piece).then(|| &self.ids[entry.ids_start as usize..][..entry.ids_len as usize])
    }

    fn insert(&mut self, hash: u64, piece: &[u8], ids: &[u32]) {
        if self.bytes.len() + 4 * self.ids.len() + piece.len() + 4 * ids.len() > LONG_BYTES {
            self.index.clear();
            self.bytes.clear();
            self.ids.clear();
            if piece.len() + 4 * ids.len() > LONG_BYTES {
                return;
            }
        }
        let entry = LongEntry {
            bytes_start: self.bytes.len() as u32,
            bytes_len: piece.len() as u32,
            ids_start: self.ids.len() as u32,
            ids_len: ids.len() as u32,
        };
        self.bytes.extend_from_slice(piece);
        self.ids.extend_from_slice(ids);
        self.index.insert(hash, entry);
    }
}

/// The next model identity (see [`new_model_id`]).
static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

/// A new identity for a model's caches, unique across every model of every kind, so that one
/// thread can use several models.
pub(crate) fn new_model_id() -> u64 {
    NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// This thread's caches, most recently used model first.
    static CACHES: RefCell<Vec<(u64, WordCache)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's cache for model `model` (an id unique to the model).
///
/// Borrowed once per text rather than once per piece: the thread-local access and the `RefCell`
/// check are then off the per-piece path.
#[inline]
pub(crate) fn with_cache<R>(model: u64, f: impl FnOnce(&mut WordCache) -> R) -> R {
    CACHES.with(|caches| {
        let mut caches = caches.borrow_mut();
        match caches.iter().position(|(id, _)| *id == model) {
            Some(0) => {}
            Some(at) => caches[..=at].rotate_right(1),
            None => {
                if caches.len() == MODELS_PER_THREAD {
                    caches.pop();
                }
                caches.insert(0, (model, WordCache::new()));
            }
        }
        f(&mut caches[0].1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_length_round_trip_and_differ() {
        let text: Vec<u8> = (1..=40u8).collect();
        let mut seen = std::collections::HashSet::new();
        for len in 1..=MAX_KEY {
            let key = Key::new(&text[..len]).expect("short enough");
            let bytes: Vec<u8> = key.words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(&bytes[..len], &text[..len], "length {len}");
            assert!(
                bytes[len..].iter().all(|&b| b == 0),
                "padding at length {len}"
            );
            assert!(seen.insert((key.words, key.len)));
        }
        assert!(Key::new(&text[..MAX_KEY + 1]).is_none());
        assert!(Key::new(b"").is_none());
        // A trailing zero byte is part of the key: "a" and "a\0" differ by length.
        let a = Key::new(b"a").unwrap();
        let a0 = Key::new(b"a\0").unwrap();
        assert_eq!(a.words, a0.words);
        assert_ne!(a.len, a0.len);
    }

    /// The ids a test "encodes" a piece into: 0 to 5 of them, depending on its bytes.
    fn ids_of(piece: &[u8]) -> Vec<u32> {
        let count = piece.iter().map(|&b| usize::from(b)).sum::<usize>() % 6;
        (0..count as u32)
            .map(|k| 7 * k + piece.len() as u32)
            .collect()
    }

    #[test]
    fn gives_back_what_was_encoded_through_growth_eviction_and_long_entries() {
        let mut cache = WordCache::new();
        // Short words (some with more ids than a slot holds) and words too long for a slot.
        let words: Vec<String> = (0..150_000)
            .map(|i| match i % 10 {
                0 => format!("a-word-too-long-for-a-slot-{i}"),
                _ => format!("w{i}"),
            })
            .collect();
        let mut encoded = 0;
        for _ in 0..2 {
            for word in &words {
                let mut out = vec![u32::MAX];
                cache.encode(word.as_bytes(), &mut out, |piece, out| {
                    encoded += 1;
                    out.extend(ids_of(piece));
                });
                assert_eq!(out[1..], ids_of(word.as_bytes()), "{word}");
            }
        }
        assert_eq!(cache.slots(), MAX_SLOTS);
        // The second pass found most words cached. 135k short words in 131k two-way sets: sets
        // that drew three or more keys (Poisson, ~11% of the keys) evict, and in a cyclic scan
        // an evicted word evicts another when it comes back.
        assert!(encoded < words.len() * 13 / 10, "{encoded}");
    }

    #[test]
    fn encoding_ahead_gives_the_ids_in_order_through_growth() {
        let words: Vec<String> = (0..20_000)
            .map(|i| match i % 7 {
                0 => format!("a-word-too-long-for-a-slot-{}", i % 500),
                _ => format!("w{}", i % 3000),
            })
            .collect();
        let mut expected = Vec::new();
        for word in &words {
            expected.extend(ids_of(word.as_bytes()));
        }
        let mut cache = WordCache::new();
        let mut ahead = Ahead::default();
        let mut out = Vec::new();
        let mut encode = |piece: &[u8], out: &mut Vec<u32>| out.extend(ids_of(piece));
        for word in &words {
            cache.encode_ahead(&mut ahead, word.as_bytes(), &mut out, &mut encode);
        }
        assert!(
            out.len() < expected.len(),
            "the last pieces are still queued"
        );
        cache.finish(&mut ahead, &mut out, &mut encode);
        assert_eq!(out, expected);
        assert!(cache.slots() > INITIAL_SLOTS);
    }

    #[test]
    fn a_short_word_whose_long_entry_was_emptied_is_encoded_again_in_its_own_slot() {
        let mut cache = WordCache::new();
        let word = b"\xff\xff\xff\xff\xfe"; // 5 ids
        let many: Vec<u32> = (0..5).collect();
        let mut out = Vec::new();
        cache.encode(word, &mut out, |_, out| out.extend(&many));
        cache.long = LongWords::default();
        out.clear();
        let mut calls = 0;
        cache.encode(word, &mut out, |_, out| {
            calls += 1;
            out.extend(&many)
        });
        assert_eq!((out, calls), (many, 1));
        let key = Key::new(word).unwrap();
        let set = &cache.sets[cache.set(&key)].0;
        let own = set
            .iter()
            .filter(|slot| slot.key_len == key.len && slot.key == key.words);
        assert_eq!(own.count(), 1);
    }
}
