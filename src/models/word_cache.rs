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
//!   bounded by bytes. A short piece with 4 to 7 ids takes a whole set where it can (see
//!   [`Set`]); else, or with more ids, it leaves a redirect in its slot (with where its entry
//!   is, see [`Place`]), so a miss on a short piece never probes that map. The first version
//!   had 64-byte slots with 32-byte keys; `perf annotate` put two thirds of a cached piece's time on the load of its slot (a
//!   miss in L2), so the table was halved. The wall-clock difference between the two was within
//!   the noise of the shared machine.
//! - **2-way set-associative, with a second choice, no global clear.** A key can live in either
//!   slot of its set (one cache line), or in a second set when its own is full; when both are
//!   full, a key of its own set moves to that key's second set if it has room
//!   ([`WordCache::move_to_second_set`]), else its own set evicts its least recently used slot
//!   (a set keeps its slots most recently used first, see [`WordCache::get`]). The hot words of
//!   a Zipfian text stay, a word seen once is pushed out, and there is never a moment when
//!   everything is lost.
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

use rustc_hash::FxBuildHasher;

use super::huge_pages::ZeroedTable;
use crate::prefetch;

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
    /// The key of `piece`. A piece too long for a slot (or empty) gets a key of length 0 whose
    /// hash is the one [`LongWords`] stores it under.
    ///
    /// Both words are loaded with at most two fixed-size loads each and hashed without a loop:
    /// a loop over `chunks_exact` compiled to a `memcpy` call for pieces of 9 to 16 bytes, and
    /// dropping it and the hash's loop over the words took 6% off all encoding instructions
    /// (callgrind, o200k, mixed corpus).
    #[inline]
    fn new(piece: &[u8]) -> Key {
        let len = piece.len();
        let words = match len {
            1..=8 => [tail_word(piece), 0],
            9..=MAX_KEY => {
                let first = u64::from_le_bytes(piece[..8].try_into().expect("8 bytes"));
                [first, tail_word(&piece[8..])]
            }
            _ => {
                return Key {
                    words: [0; KEY_WORDS],
                    len: 0,
                    hash: LongWords::hash_of(piece),
                }
            }
        };
        Key::from_words(words, len as u8)
    }

    /// The key of the piece `text[start..end]`, its words loaded straight from the text where
    /// it has 16 bytes from `start`, and cut to the piece's length by a mask.
    ///
    /// Why: [`tail_word`] picks its loads by the piece's length, and that branch's outcome
    /// changes from one piece to the next. cachegrind's branch simulation (o200k, English,
    /// repeated text) put a third of the hot loop's mispredictions on it.
    #[inline(always)]
    fn in_text(text: &[u8], start: usize, end: usize) -> Key {
        let len = end - start;
        if let (1..=MAX_KEY, Some(window)) = (len, text.get(start..start + MAX_KEY)) {
            let [low, high] = KEY_MASKS[len];
            let first = u64::from_le_bytes(window[..8].try_into().expect("8 bytes"));
            let second = u64::from_le_bytes(window[8..].try_into().expect("8 bytes"));
            return Key::from_words([first & low, second & high], len as u8);
        }
        Key::new(&text[start..end])
    }

    /// Whether the piece fits a slot.
    #[inline]
    fn is_short(&self) -> bool {
        self.len != 0
    }

    /// The key whose bytes are the first `len` bytes of `words` (the rest zero), as a slot
    /// stores it.
    #[inline]
    fn from_words(words: [u64; KEY_WORDS], len: u8) -> Key {
        // Each word multiplied by its own odd constant (the second is zero for short keys): the
        // top bits of a product, which pick the set, depend on every bit of the word. A fold
        // and a second multiply after it, a chain of two multiplies before the prefetch can be
        // issued, cost 4% more instructions (callgrind, o200k, repeated text, per byte: English
        // 46.3 against 44.5, the mixed corpus 43.3 against 42.2) and spread keys no better (the
        // eviction test below encoded as many pieces again).
        let hash = (words[0] ^ u64::from(len)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ words[1].wrapping_mul(0x517C_C1B7_2722_0A95);
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

/// Per key length, the masks that keep a key's bytes of the two words read from the text.
const KEY_MASKS: [[u64; KEY_WORDS]; MAX_KEY + 1] = {
    let mut masks = [[0; KEY_WORDS]; MAX_KEY + 1];
    let mut len = 1;
    while len <= MAX_KEY {
        let low = if len >= 8 { 8 } else { len };
        masks[len][0] = u64::MAX >> (64 - 8 * low);
        if len > 8 {
            masks[len][1] = u64::MAX >> (64 - 8 * (len - 8));
        }
        len += 1;
    }
    masks
};

/// `ids_len` of a short piece whose ids, more than [`MAX_IDS`], are in [`LongWords`].
const IN_LONG: u8 = u8::MAX;

/// Most ids of a short piece that takes a whole set (a wide entry, see [`Set`]).
const WIDE_IDS: usize = 7;

/// `key_len` of the second slot of a set that holds a wide entry: never a key's length, so that
/// no look-up matches it, and not 0, so that it is not free.
const WIDE_REST: u8 = u8::MAX - 1;

/// What a slot lookup found.
enum Found {
    /// Up to eight ids, of which the first `.1` are the piece's (the rest is whatever follows in
    /// the set: copied along, never kept).
    Ids([u32; WIDE_IDS + 1], usize),
    /// A redirect: the piece's ids are in [`LongWords`], at this place if it is still current.
    InLong(Place),
    Missing,
}

/// Where an entry of [`LongWords`] is: its start in the arena and the arena's generation
/// ([`LongWords::generation`]). A redirect keeps it in its slot's ids.
///
/// Why: a redirect's look-up waited for its set, then for the index slot, then for the entry;
/// with the place in the slot it reads the entry straight after the set. GPT-2 on the mixed
/// corpus has 4% of its pieces behind redirects (short pieces of more than [`WIDE_IDS`] ids,
/// nearly all Japanese). `encode_corpus`, repeated text, the same binary without and with it
/// timed in turns, eight rounds: 107.6–115.0 MB/s against 111.2–129.2, faster in seven.
type Place = [u32; 2];

/// One entry, 32 bytes. `key_len == 0` marks an empty slot, so all-zero memory is empty slots.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: [u64; KEY_WORDS],
    ids: [u32; MAX_IDS],
    key_len: u8,
    ids_len: u8,
    /// Never read: a field rather than padding, so that every byte of a set is initialized and
    /// [`Set::found`] may read eight ids across fields.
    spare: [u8; 2],
}

impl Slot {
    /// Whether the slot holds `key`.
    #[inline]
    fn holds(&self, key: &Key) -> bool {
        self.key_len == key.len && self.key == key.words
    }

    /// Whether the slot is the first of a wide entry.
    #[inline]
    fn is_wide(&self) -> bool {
        (MAX_IDS + 1..=WIDE_IDS).contains(&usize::from(self.ids_len))
    }
}

/// An empty slot.
const EMPTY: Slot = Slot {
    key: [0; KEY_WORDS],
    ids: [0; MAX_IDS],
    key_len: 0,
    ids_len: 0,
    spare: [0; 2],
};

/// The slots a key may be in: one cache line.
///
/// A short piece with 4 to [`WIDE_IDS`] ids may take the whole set (a wide entry): the first
/// slot holds its key and count, and the second slot's 28 bytes before its `key_len` (which is
/// [`WIDE_REST`]) hold the ids. Such pieces went to [`LongWords`] behind a redirect, a look-up
/// that waits for its index slot, then its entry, then compares the bytes: 11% of GPT-2's pieces
/// on the mixed corpus (3% of o200k's). A wide entry is only ever in the first way, and only in a
/// set that was empty, so the rest of the table's rules hold for it. A hit copies eight ids
/// from the set whatever the count (one copy, no branch on the kind of entry). Callgrind,
/// `encode_corpus` on 2 MB of the four folders, repeated text, instructions per byte: GPT-2
/// 47.7 → 43.0, cl100k 41.5 → 38.3, o200k 43.3 → 40.1, Mistral 45.9 → 45.0.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Set([Slot; WAYS]);

/// Where a wide entry's ids start in its [`Set`]: the second slot.
const WIDE_IDS_AT: usize = std::mem::size_of::<Slot>();
/// Where a narrow entry's ids start in its slot.
const IDS_AT: usize = std::mem::offset_of!(Slot, ids);

// The set reads eight ids (32 bytes) from either place in one load, and a wide entry's ids must
// end before the second slot's `key_len`.
const _: () = assert!(WIDE_IDS_AT + 32 <= std::mem::size_of::<Set>());
const _: () = assert!(IDS_AT + 32 <= std::mem::size_of::<Set>());
const _: () =
    assert!(WIDE_IDS_AT + 4 * WIDE_IDS <= WIDE_IDS_AT + std::mem::offset_of!(Slot, key_len));

impl Set {
    /// What the set holds for the key in its way `way`.
    #[inline]
    fn found(&self, way: usize) -> Found {
        let slot = &self.0[way];
        if slot.ids_len == IN_LONG {
            return Found::InLong([slot.ids[0], slot.ids[1]]);
        }
        let count = usize::from(slot.ids_len);
        if way > 0 {
            // Never wide: only the first way's ids can be read as eight from the set.
            let mut ids = [0; WIDE_IDS + 1];
            ids[..MAX_IDS].copy_from_slice(&slot.ids);
            return Found::Ids(ids, count);
        }
        let at = match slot.is_wide() {
            true => WIDE_IDS_AT,
            false => IDS_AT,
        };
        // SAFETY: `at + 32` is within the set (asserted above), and a slot has no padding (see
        // `Slot::spare`), so all 32 bytes are initialized.
        let ids = unsafe {
            (self as *const Set)
                .cast::<u8>()
                .add(at)
                .cast::<[u32; WIDE_IDS + 1]>()
                .read_unaligned()
        };
        Found::Ids(ids, count)
    }

    /// The first way with no key, if any.
    #[inline]
    fn free_way(&self) -> Option<usize> {
        self.0.iter().position(|slot| slot.key_len == 0)
    }

    /// Whether the set has no key.
    fn is_empty(&self) -> bool {
        self.0.iter().all(|slot| slot.key_len == 0)
    }

    /// The ids of the key in way `way`, for the table's own bookkeeping.
    fn ids(&self, way: usize) -> Vec<u32> {
        match self.found(way) {
            Found::Ids(ids, count) => ids[..count].to_vec(),
            _ => Vec::new(),
        }
    }
}

/// The key in the ring's free entries (never read): a constant, so that making an empty ring
/// hashes nothing.
const UNUSED_KEY: Key = Key {
    words: [0; KEY_WORDS],
    len: 0,
    hash: 0,
};

/// The pieces [`WordCache::encode_ahead`] has queued: a ring of up to [`AHEAD`] pieces with
/// their keys, oldest at `start`.
///
/// A batch of documents may share one ring ([`WordCache::encode_ahead_in`]), so that the
/// first pieces of a document are asked for while the last ones of the document before it are
/// still queued; then each document's end is marked on its last queued piece
/// ([`Ahead::end_document`]), and recorded when that piece's ids are written.
pub(crate) struct Ahead<'p> {
    ring: [(&'p [u8], Key); AHEAD],
    start: usize,
    len: usize,
    /// Per ring entry: how many documents end right after its piece (more than one when
    /// documents with no piece follow it).
    ends: [u32; AHEAD],
    /// The output's length at the end of each document ended so far, in order.
    ended: Vec<usize>,
}

impl Default for Ahead<'_> {
    fn default() -> Self {
        Ahead {
            ring: [(&[], UNUSED_KEY); AHEAD],
            start: 0,
            len: 0,
            ends: [0; AHEAD],
            ended: Vec::new(),
        }
    }
}

impl Ahead<'_> {
    /// Ends the current document: after the newest queued piece, or, with nothing queued, at
    /// `out_len`, the output's length now.
    pub(crate) fn end_document(&mut self, out_len: usize) {
        match self.len {
            0 => self.ended.push(out_len),
            len => self.ends[(self.start + len - 1) % AHEAD] += 1,
        }
    }

    /// The output's length at the end of each document ended (and written) so far, in order.
    pub(crate) fn ended(&self) -> &[usize] {
        &self.ended
    }

    /// Records the ends of documents marked on ring entry `index`, whose ids were just written.
    #[inline(always)]
    fn record_ends(&mut self, index: usize, out_len: usize) {
        let ends = std::mem::take(&mut self.ends[index]);
        for _ in 0..ends {
            self.ended.push(out_len);
        }
    }
}

/// One model's cache on one thread.
pub(crate) struct WordCache {
    /// Pieces of up to [`MAX_KEY`] bytes with up to [`MAX_IDS`] ids (up to [`WIDE_IDS`] in a
    /// whole set).
    sets: ZeroedTable<Set>,
    /// Everything else.
    long: LongWords,
    /// `64 - log2(number of sets)`: the set of a key is `hash >> shift`.
    shift: u32,
    filled: usize,
    /// Entries evicted since the table last grew.
    evicted: usize,
}

impl WordCache {
    fn new() -> Self {
        Self::with_slots(INITIAL_SLOTS)
    }

    fn with_slots(slots: usize) -> Self {
        WordCache {
            // SAFETY: an all-zero `Set` is two empty slots (`key_len == 0`).
            sets: unsafe { ZeroedTable::new(slots / WAYS) },
            long: LongWords::default(),
            shift: 64 - (slots / WAYS).trailing_zeros(),
            filled: 0,
            evicted: 0,
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
        self.queue::<false>(ahead, piece, Key::new(piece), out, encode);
    }

    /// [`WordCache::encode_ahead`] for the piece `text[start..end]`, whose key is read from the
    /// text around it ([`Key::in_text`]). `BATCH`: the ring is shared by a batch's documents,
    /// whose ends are marked on it ([`Ahead::end_document`]); a constant, so that the loop of a
    /// single text does not test for those marks.
    #[inline(always)]
    pub(crate) fn encode_ahead_in<'p, const BATCH: bool>(
        &mut self,
        ahead: &mut Ahead<'p>,
        text: &'p [u8],
        (start, end): (usize, usize),
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        let key = Key::in_text(text, start, end);
        self.queue::<BATCH>(ahead, &text[start..end], key, out, encode);
    }

    /// The body of [`WordCache::encode_ahead`]; `BATCH` as for [`WordCache::encode_ahead_in`].
    #[inline(always)]
    fn queue<'p, const BATCH: bool>(
        &mut self,
        ahead: &mut Ahead<'p>,
        piece: &'p [u8],
        key: Key,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        if key.is_short() {
            prefetch::line(self.own_set(&key));
        } else {
            self.long.prefetch(key.hash);
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
        let oldest_index = ahead.start;
        let (oldest, oldest_key) = std::mem::replace(&mut ahead.ring[oldest_index], queued);
        ahead.start = (ahead.start + 1) % AHEAD;
        self.encode_keyed(oldest, oldest_key, out, encode);
        if BATCH {
            ahead.record_ends(oldest_index, out.len());
        }
    }

    /// Encodes the pieces still queued in `ahead`, oldest first.
    pub(crate) fn finish(
        &mut self,
        ahead: &mut Ahead<'_>,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        while ahead.len > 0 {
            let index = ahead.start;
            let (piece, key) = ahead.ring[index];
            ahead.start = (ahead.start + 1) % AHEAD;
            ahead.len -= 1;
            self.encode_keyed(piece, key, out, encode);
            ahead.record_ends(index, out.len());
        }
    }

    /// [`WordCache::encode`] with the key already made.
    #[inline(always)]
    fn encode_keyed(
        &mut self,
        piece: &[u8],
        key: Key,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        // A short piece is looked for in the long map only when its slot says it is there, so
        // that a miss on a short piece (the common miss) costs one cache line.
        let in_long = if key.is_short() {
            match self.get(&key) {
                Found::Ids(ids, count) => {
                    // Eight ids are written and the length then set to the piece's count: one
                    // fixed-size copy, with no `memcpy` call (`extend_from_slice` called it for
                    // every piece) and no branch per id (pushing them one by one did).
                    // Callgrind, o200k, repeated text, instructions per byte: English 48.7 →
                    // 46.3, the mixed corpus 45.0 → 43.3. (Writing them through
                    // `spare_capacity_mut` and a zip gave 52.5 on English.)
                    out.reserve(WIDE_IDS + 1);
                    let len = out.len();
                    // SAFETY: `reserve` made room for eight more elements after `len`, all
                    // written here, of which the first `count <= WIDE_IDS` are kept.
                    unsafe {
                        out.as_mut_ptr()
                            .add(len)
                            .cast::<[u32; WIDE_IDS + 1]>()
                            .write_unaligned(ids);
                        out.set_len(len + count);
                    }
                    return;
                }
                Found::InLong(place) => Some(place),
                Found::Missing => None,
            }
        } else {
            None
        };
        self.encode_missed(piece, key, in_long, out, encode);
    }

    /// The rest of [`WordCache::encode_keyed`] when the table has no ids for the piece: the
    /// long map (a long piece by its hash; a short one at its redirect's place `in_long`, or
    /// its second set's), else `encode`. Kept out of line so that the hit path, inlined into the scanner's loop, stays
    /// small (callgrind, o200k, mixed corpus, repeated text: 55.4 → 52.8 instructions per byte).
    #[inline(never)]
    fn encode_missed(
        &mut self,
        piece: &[u8],
        key: Key,
        in_long: Option<Place>,
        out: &mut Vec<u32>,
        encode: &mut impl FnMut(&[u8], &mut Vec<u32>),
    ) {
        let found = if !key.is_short() {
            self.long.append(key.hash, piece, out)
        } else {
            let place = match in_long {
                Some(place) => Some(place),
                None => match self.get_second(&key) {
                    Found::Ids(ids, count) => {
                        out.extend_from_slice(&ids[..count]);
                        return;
                    }
                    Found::InLong(place) => Some(place),
                    Found::Missing => None,
                },
            };
            // Only the place: every entry a short piece stored is at the place its slot
            // holds (the slot is written after each store, and the arena is only ever emptied
            // whole, which moves the generation on), so its index would find nothing more.
            place.is_some_and(|place| self.long.append_at(place, piece, out))
        };
        if found {
            return;
        }
        let start = out.len();
        encode(piece, out);
        let ids = &out[start..];
        let call = CALLS.load(Ordering::Relaxed);
        if !key.is_short() {
            self.long.insert(key.hash, piece, ids, call);
        } else if ids.len() <= MAX_IDS {
            self.insert(&key, ids, ids.len() as u8);
        } else if ids.len() <= WIDE_IDS && self.insert_wide(&key, ids) {
            // Cached in a whole set.
        } else {
            // The entry first: storing it may empty the arena, which starts a new generation.
            let start = self.long.insert(key.hash, piece, ids, call);
            let place = [
                start.map_or(u32::MAX, |start| start as u32),
                self.long.generation,
            ];
            self.insert(&key, &place, IN_LONG);
        }
    }

    #[inline]
    fn set(&self, key: &Key) -> usize {
        (key.hash >> self.shift) as usize
    }

    /// The set `key` belongs to, without a bounds check on the hot path: the set is the top
    /// `log2(sets.len())` bits of the hash, always below `sets.len()` (a power of two, at least
    /// `INITIAL_SLOTS / WAYS`, so `shift` is below 64). Dropping the checks here and in
    /// [`WordCache::get`]: callgrind, o200k, repeated text, English 46.2 → 45.9 instructions per
    /// byte, the mixed corpus 42.3 → 42.0.
    #[inline]
    fn own_set(&self, key: &Key) -> &Set {
        let index = self.set(key);
        debug_assert!(index < self.sets.len());
        // SAFETY: see above.
        unsafe { self.sets.get_unchecked(index) }
    }

    fn slots(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// What the table holds for `key` in its own set (see [`WordCache::second_set`]), a key
    /// found in the second way moved to the first.
    ///
    /// Why: which way holds a piece is data, not a pattern a branch predictor learns, and a
    /// branch on it was the hot loop's costliest misprediction. Kept most recently used first,
    /// the hot piece of a set is nearly always in the first way, and the branch goes one way.
    /// cachegrind's branch simulation, o200k, repeated text, mispredictions per kB: English
    /// 246 → 213, the mixed corpus 324 → 293, for 0.5 to 0.7 more instructions per byte.
    #[inline]
    fn get(&mut self, key: &Key) -> Found {
        let index = self.set(key);
        debug_assert!(index < self.sets.len());
        // SAFETY: `index` is below `sets.len()` (see `own_set`).
        let set = &mut unsafe { self.sets.get_unchecked_mut(index) }.0;
        if !set[0].holds(key) {
            if !set[1].holds(key) {
                return Found::Missing;
            }
            // Never a wide entry: its second slot holds no key.
            set.swap(0, 1);
        }
        // SAFETY: as above.
        unsafe { self.sets.get_unchecked(index) }.found(0)
    }

    /// What `set` holds for `key`.
    #[inline]
    fn find(set: &Set, key: &Key) -> Found {
        match set.0.iter().position(|slot| slot.holds(key)) {
            Some(way) => set.found(way),
            None => Found::Missing,
        }
    }

    /// The set a key goes to when its own set is full: picked by the top bits of its hash
    /// multiplied again.
    ///
    /// Why: with one set per key, the sets that draw three or more of the working set's keys
    /// evict one of them on every pass over a repeated text, and the evicted pieces are merged
    /// again each time (`compare.py`'s 4 MB batch has 85k distinct short pieces with o200k, and
    /// `perf` put 14% of a repeated pass in `merge_piece`). A second choice makes such overflow
    /// rare at the same memory. Slots are never emptied, only replaced, so a key can be in its
    /// second set only when its own set is full, and a set with a free slot needs no second look:
    /// a new piece in a sparse table still costs one cache line.
    #[inline]
    fn second_set(&self, key: &Key) -> usize {
        (key.hash.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> self.shift) as usize
    }

    /// What the table holds for `key` in its second set, looked in only when its own set is full.
    fn get_second(&self, key: &Key) -> Found {
        if self.sets[self.set(key)].free_way().is_some() {
            return Found::Missing;
        }
        Self::find(&self.sets[self.second_set(key)], key)
    }

    /// Caches `ids` for `key`, with `ids_len` its length or [`IN_LONG`] (then `ids` is empty).
    fn insert(&mut self, key: &Key, ids: &[u32], ids_len: u8) {
        self.grow_if_due();
        let own = self.set(key);
        let second = self.second_set(key);
        let holds = |set: &Set| set.0.iter().position(|slot| slot.holds(key));
        // The key's own slot when it has one (a redirect whose long entry was emptied), else a
        // free one in its own set, else its slot in its second set, else a free one there, else
        // one its own set frees by moving a key, else one evicted from its own set.
        //
        // The second set is read only when the own set is full: a key is in its second set only
        // if its own set was full when it went there, and a set's slots are only replaced, so it
        // stays full. (Replacing a wide entry frees a slot; a key that then goes to that free
        // slot while a copy of it stays in its second set is only a duplicate, with the same
        // ids.) Why: on new text every piece is inserted, and reading the second set first made
        // each insert wait for one more random line of the table. Callgrind, the new-text pass
        // of `encode_corpus` (0.5 MB, a simulated 1 MB last level), its read misses: o200k
        // English 62.4k → 51.3k, multilingual 69.0k → 62.0k; Mistral 65.4k → 57.9k and 58.8k →
        // 51.3k.
        let (set, way) = if let Some(way) = holds(&self.sets[own]) {
            (own, way)
        } else if let Some(way) = self.sets[own].free_way() {
            self.filled += 1;
            (own, way)
        } else if let Some(way) = holds(&self.sets[second]) {
            (second, way)
        } else if let Some(way) = self.sets[second].free_way() {
            self.filled += 1;
            (second, way)
        } else if let Some(way) = self.move_to_second_set(own) {
            self.filled += 1;
            (own, way)
        } else if self.sets[own].0[0].is_wide() {
            // A wide entry is evicted whole (its second slot is emptied below).
            self.evicted += 1;
            (own, 0)
        } else {
            // The least recently used way (see `get`).
            self.evicted += 1;
            (own, WAYS - 1)
        };
        let set = &mut self.sets[set].0;
        if way == 0 && set[0].is_wide() {
            // A wide entry replaced by a narrow one: its second slot is freed.
            set[1] = EMPTY;
            self.filled -= 1;
        }
        let slot = &mut set[way];
        slot.key = key.words;
        slot.key_len = key.len;
        slot.ids[..ids.len()].copy_from_slice(ids);
        slot.ids_len = ids_len;
    }

    /// Makes room in the full set `own`: moves one of its keys whose own set it is (least
    /// recently used first) to that key's second set, if that has a free slot; the way freed, or
    /// `None`.
    ///
    /// Why: with both of a new key's sets full, a key was evicted, and on a text encoded again
    /// its piece was merged again on every pass (the sets that draw three keys of the working
    /// set evict one each pass). The moved key stays where look-ups find it: its own set is full
    /// again once the new key takes the freed slot, and slots are never emptied, so a look-up
    /// goes on to its second set (see [`WordCache::get_second`]). Keys in `own` that are guests
    /// (`own` is their second set) are not moved: their own set is full. Callgrind, o200k,
    /// `encode_corpus` on 4 MB of the four folders: `merge_piece` cost 118k instructions in two
    /// repeated passes before, 8k after (40.34 → 40.22 instructions per byte in all); a corpus
    /// job whose pieces outgrow the largest table keeps more of them.
    fn move_to_second_set(&mut self, own: usize) -> Option<usize> {
        for way in (0..WAYS).rev() {
            let slot = self.sets[own].0[way];
            if slot.is_wide() || slot.key_len == WIDE_REST {
                // A wide entry's two slots stay together.
                return None;
            }
            let key = Key::from_words(slot.key, slot.key_len);
            let second = self.second_set(&key);
            if self.set(&key) != own || second == own {
                continue;
            }
            if let Some(free) = self.sets[second].free_way() {
                self.sets[second].0[free] = slot;
                return Some(way);
            }
        }
        None
    }

    /// Caches the 4 to [`WIDE_IDS`] `ids` of `key` as a wide entry, in its own set if that is
    /// empty, else in its second set if its own set is full and the second empty; false (nothing
    /// cached) otherwise, or when the key already has a slot.
    fn insert_wide(&mut self, key: &Key, ids: &[u32]) -> bool {
        debug_assert!((MAX_IDS + 1..=WIDE_IDS).contains(&ids.len()));
        self.grow_if_due();
        let (own, second) = (self.set(key), self.second_set(key));
        let holds = |set: &Set| set.0.iter().any(|slot| slot.holds(key));
        // As in `insert`, the second set is read only when the own set is full.
        let set = if self.sets[own].is_empty() {
            own
        } else if self.sets[own].free_way().is_none()
            && !holds(&self.sets[own])
            && !holds(&self.sets[second])
            && self.sets[second].is_empty()
        {
            second
        } else {
            return false;
        };
        let mut rest = [0u32; 8];
        rest[..ids.len()].copy_from_slice(ids);
        // Two ids as the word whose bytes in memory are theirs, in order.
        let pair = |i: usize| {
            let mut bytes = [0; 8];
            bytes[..4].copy_from_slice(&rest[i].to_ne_bytes());
            bytes[4..].copy_from_slice(&rest[i + 1].to_ne_bytes());
            u64::from_ne_bytes(bytes)
        };
        self.sets[set].0 = [
            Slot {
                key: key.words,
                ids: [0; MAX_IDS],
                key_len: key.len,
                ids_len: ids.len() as u8,
                spare: [0; 2],
            },
            Slot {
                key: [pair(0), pair(2)],
                ids: [rest[4], rest[5], rest[6]],
                key_len: WIDE_REST,
                ids_len: 0,
                spare: [0; 2],
            },
        ];
        self.filled += 2;
        true
    }

    /// Grows the table when three quarters full, counting the entries evicted since the last
    /// growth: two-way sets start evicting well before the table is full, and a table that evicts
    /// is too small for the text.
    fn grow_if_due(&mut self) {
        if (self.filled + self.evicted) * 4 >= self.slots() * 3 && self.slots() < MAX_SLOTS {
            self.grow();
        }
    }

    /// Moves every entry into a table four times as large (at most [`MAX_SLOTS`]).
    fn grow(&mut self) {
        let mut bigger = WordCache::with_slots((self.slots() * 4).min(MAX_SLOTS));
        bigger.long = std::mem::take(&mut self.long);
        for set in self.sets.iter() {
            for (way, slot) in set.0.iter().enumerate() {
                if slot.key_len == 0 || slot.key_len == WIDE_REST {
                    continue;
                }
                let key = Key::from_words(slot.key, slot.key_len);
                if slot.is_wide() {
                    // Dropped if the bigger table has no empty set for it: only a cache.
                    bigger.insert_wide(&key, &set.ids(way));
                } else {
                    let ids = &slot.ids[..usize::from(slot.ids_len).min(MAX_IDS)];
                    bigger.insert(&key, ids, slot.ids_len);
                }
            }
        }
        *self = bigger;
    }
}

/// The cache of pieces too long for a [`Slot`] (or with too many ids). Most such pieces are seen
/// once in a real corpus (whole Japanese or Chinese phrases, long code runs), so it is emptied
/// when it reaches [`LONG_BYTES`] (then [`LONG_BYTES_AFTER_OVERFLOW`] for the rest of the call):
/// a bound on memory, and a clear costs nothing compared with the merges that filled it.
///
/// Laid out for a look-up that waits for memory once: an open-addressing index of 8-byte slots
/// (a tag from the hash and where the entry starts), which [`WordCache::encode_ahead`] prefetches
/// like a short piece's set, and one arena in which an entry's header, bytes and ids lie back to
/// back. It replaced a `HashMap` from the hash to offsets into two arenas: on the repeated 4 MB
/// batch of `compare.py` (o200k, 28k distinct long pieces), `perf` put 13–15% of the time in its
/// look-ups, which waited in turn for the map's control bytes, its entry, the bytes and the ids.
#[derive(Default)]
struct LongWords {
    /// A power of two of slots, at most half full (empty until the first insert): `tag << 32 |
    /// start`, or [`NO_ENTRY`].
    index: Vec<u64>,
    /// `64 - log2(index.len())`.
    shift: u32,
    entries: usize,
    /// Entries back to back: the hash (8 bytes), the byte and id counts (4 bytes each), the
    /// bytes, then the ids (little-endian `u32`s).
    arena: Arena,
    /// The call ([`begin_call`]) in which the arena last outgrew [`LONG_BYTES`].
    overflowed_in: Option<u64>,
    /// How many times the arena was emptied: a [`Place`] of an earlier generation is stale.
    generation: u32,
}

/// The bytes of [`LongWords`]'s entries: small buffers at first ([`ARENA_STEPS`]), then one table
/// of the whole bound, filled in place and never moved.
///
/// Why: it was a `Vec` grown by doubling. Above a few megabytes each doubling copies, and on the
/// heap (a process that has read large files has glibc's `mmap` threshold raised to 32 MB) the
/// buffer it leaves stays resident: a corpus job held the arena one and a half times over at
/// the peak. A table of the bound is mapped on its own ([`ZeroedTable`]): only the pages
/// written become resident, and dropping it gives them back.
#[derive(Default)]
struct Arena {
    table: ZeroedTable<u8>,
    len: usize,
}

/// The sizes of an [`Arena`]'s buffers before the one of the whole bound: 64 kB (the long pieces
/// of a few documents), then 1 MB (a long document). A table of the bound is on huge pages, so
/// its first write makes 2 MB resident: a notebook's one long text should not cost that.
const ARENA_STEPS: [usize; 2] = [64 << 10, 1 << 20];

impl Arena {
    /// The bytes written.
    fn bytes(&self) -> &[u8] {
        &self.table[..self.len]
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Makes room for `additional` more bytes, for an arena that never holds more than `bound`.
    fn reserve(&mut self, additional: usize, bound: usize) {
        let needed = self.len + additional;
        if needed <= self.table.len() {
            return;
        }
        let step = ARENA_STEPS
            .into_iter()
            .find(|&step| needed <= step && step < bound);
        let capacity = step.unwrap_or(bound.max(needed));
        // SAFETY: zero is a valid byte.
        let mut table = unsafe { ZeroedTable::new(capacity) };
        table[..self.len].copy_from_slice(self.bytes());
        self.table = table;
    }

    /// Appends `bytes`, for which [`Arena::reserve`] made room.
    fn extend(&mut self, bytes: &[u8]) {
        self.table[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// An empty slot of [`LongWords::index`] (no entry starts at `u32::MAX`: the arena is smaller).
const NO_ENTRY: u64 = u64::MAX;

/// The size of an entry's header in the arena of [`LongWords`].
const LONG_HEADER: usize = 16;

/// [`LongWords`] is emptied when its arena would hold more than this many bytes (8 MB). The
/// index comes on top, 8 to 16 bytes an entry (Mistral on `compare.py`'s batch: 65k entries,
/// 5.5 MB of arena, 1 MB of index); counting it in the bound put that batch over it, and every
/// pass merged its long pieces again (20 instead of 60–87 MB/s, one thread).
/// Long pieces are mostly seen once in a real corpus, but a text encoded again (a benchmark's
/// repeated batch, an epoch over the same documents) finds its long pieces only if they all fit:
/// a bound below their total empties it on every pass, and every long piece is merged again. The
/// 4 MB corpus batch of `benches/compare.py` needs more than 4 MB with Mistral, whose Japanese
/// paragraphs are single words (`encode_corpus` on 3.6 MB, repeated: 16 MB/s with a 4 MB bound,
/// 46 with 8, 44 with 16). Each doubling costs that much peak memory on a corpus job
/// (`benches/peak_memory.py`: 16 MB instead of 4 kept 18 MB more).
const LONG_BYTES: usize = 8 << 20;

/// The bound of [`LongWords`] for the rest of a call in which it outgrew [`LONG_BYTES`] (1 MB).
///
/// Why: a call whose long pieces overflow 8 MB is a pass over a corpus, not a batch encoded again
/// (a repeated batch's long pieces either fit, or are all merged again on every pass anyway), and
/// in such a pass a long piece comes back, if ever, soon after (in the same document). The long
/// pieces were most of a corpus job's memory above its strings and output: with a 256 kB bound,
/// `benches/peak_memory.py` (the 26 MB corpus in one `encode_batch_numpy` call) peaked 20 MiB
/// lower with Mistral (whose Japanese paragraphs are single pieces) on one thread, 53 on two.
/// This bound took 8 and 25 MiB of that (111.7 → 103.7 and 156.2 → 130.9 MiB above the
/// baseline). o200k's long pieces of that corpus fit in 8 MB: it never overflows there. The
/// bound is back to [`LONG_BYTES`] in the next call.
const LONG_BYTES_AFTER_OVERFLOW: usize = 1 << 20;

/// The number of calls begun: see [`begin_call`].
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Marks the start of a call that encodes a batch (or a long text): [`LongWords`] caches that
/// overflowed in an earlier call get their full bound again.
pub(crate) fn begin_call() {
    CALLS.fetch_add(1, Ordering::Relaxed);
}

impl LongWords {
    /// The hash under which a piece too long for a [`Key`] is stored. (A short piece with more
    /// ids than a slot holds is stored under its key's hash.)
    #[inline(never)]
    fn hash_of(piece: &[u8]) -> u64 {
        FxBuildHasher.hash_one(piece)
    }

    /// Where the probe for `hash` starts.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Asks for the index slot where the look-up of `hash` starts, without waiting for it.
    #[inline]
    fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.index.get(self.home(hash)) {
            prefetch::line(slot);
        }
    }

    /// Appends the ids stored for `piece` (whose hash is `hash`) to `out`; false if it has none.
    fn append(&self, hash: u64, piece: &[u8], out: &mut Vec<u32>) -> bool {
        match self.find(hash, piece) {
            Some(start) => {
                Self::extend_ids(self.entry(start).2, out);
                true
            }
            None => false,
        }
    }

    /// Appends the ids of the entry at `place` to `out` if it is current and holds `piece`;
    /// false otherwise (also for the place `[u32::MAX, _]` of an entry that was too large to
    /// store). The bytes are compared whatever the place says, so a stale place can only miss:
    /// an entry that holds `piece` holds its ids.
    fn append_at(&self, [start, generation]: Place, piece: &[u8], out: &mut Vec<u32>) -> bool {
        if generation != self.generation || start as usize >= self.arena.len() {
            return false;
        }
        let (_, bytes, ids) = self.entry(start as usize);
        if bytes != piece {
            return false;
        }
        Self::extend_ids(ids, out);
        true
    }

    /// Appends `ids`, little-endian `u32`s, to `out`.
    fn extend_ids(ids: &[u8], out: &mut Vec<u32>) {
        out.extend(
            ids.chunks_exact(4)
                .map(|id| u32::from_le_bytes(id.try_into().expect("4 bytes"))),
        );
    }

    /// Where the entry of `piece` (whose hash is `hash`) starts in the arena.
    fn find(&self, hash: u64, piece: &[u8]) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let tag = hash >> 32;
        let mut at = self.home(hash);
        loop {
            let slot = self.index[at];
            if slot == NO_ENTRY {
                return None;
            }
            if slot >> 32 == tag {
                let start = slot as u32 as usize;
                if self.entry(start).1 == piece {
                    return Some(start);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The hash, bytes and ids (little-endian) of the entry at `start` in the arena.
    fn entry(&self, start: usize) -> (u64, &[u8], &[u8]) {
        let arena = self.arena.bytes();
        let header = &arena[start..start + LONG_HEADER];
        let hash = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
        let bytes_len = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
        let ids_len = u32::from_le_bytes(header[12..].try_into().expect("4 bytes")) as usize;
        let bytes = &arena[start + LONG_HEADER..][..bytes_len];
        let ids = &arena[start + LONG_HEADER + bytes_len..][..4 * ids_len];
        (hash, bytes, ids)
    }

    /// Stores `piece` (whose hash is `hash`) and its ids, during call number `call` (see
    /// [`LONG_BYTES_AFTER_OVERFLOW`]); where its entry starts, or `None` if it is too large to
    /// store.
    fn insert(&mut self, hash: u64, piece: &[u8], ids: &[u32], call: u64) -> Option<usize> {
        // A piece already here (encoded again because the redirect to it was evicted) is not
        // stored twice: on a repeated text the duplicates would fill the arena pass after pass,
        // and each time it was emptied every long piece would be merged again.
        if let Some(start) = self.find(hash, piece) {
            return Some(start);
        }
        let size = LONG_HEADER + piece.len() + 4 * ids.len();
        let mut bound = match self.overflowed_in == Some(call) {
            true => LONG_BYTES_AFTER_OVERFLOW,
            false => LONG_BYTES,
        };
        if self.arena.len() + size > bound && size <= bound {
            // Dropped rather than cleared: the memory goes back now, not at the next call.
            *self = LongWords {
                overflowed_in: Some(call),
                generation: self.generation.wrapping_add(1),
                ..LongWords::default()
            };
            bound = LONG_BYTES_AFTER_OVERFLOW;
        }
        if size > bound {
            return None;
        }
        // The index doubles when half full (it starts at 1,024 slots).
        if 2 * (self.entries + 1) > self.index.len() {
            self.reindex((2 * self.index.len()).max(1 << 10));
        }
        let start = self.arena.len();
        self.arena.reserve(size, bound);
        self.arena.extend(&hash.to_le_bytes());
        self.arena.extend(&(piece.len() as u32).to_le_bytes());
        self.arena.extend(&(ids.len() as u32).to_le_bytes());
        self.arena.extend(piece);
        for id in ids {
            self.arena.extend(&id.to_le_bytes());
        }
        self.place(hash, start);
        self.entries += 1;
        Some(start)
    }

    /// Puts the entry at `start`, whose hash is `hash`, in the first free slot of its probe.
    fn place(&mut self, hash: u64, start: usize) {
        let mask = self.index.len() - 1;
        let mut at = self.home(hash);
        while self.index[at] != NO_ENTRY {
            at = (at + 1) & mask;
        }
        self.index[at] = (hash >> 32) << 32 | start as u64;
    }

    /// Rebuilds the index with `slots` slots from the arena.
    fn reindex(&mut self, slots: usize) {
        self.index = vec![NO_ENTRY; slots];
        self.shift = 64 - slots.trailing_zeros();
        let mut start = 0;
        while start < self.arena.len() {
            let (hash, bytes, ids) = self.entry(start);
            let next = start + LONG_HEADER + bytes.len() + ids.len();
            self.place(hash, start);
            start = next;
        }
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
            let key = Key::new(&text[..len]);
            assert!(key.is_short());
            let bytes: Vec<u8> = key.words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(&bytes[..len], &text[..len], "length {len}");
            assert!(
                bytes[len..].iter().all(|&b| b == 0),
                "padding at length {len}"
            );
            assert!(seen.insert((key.words, key.len)));
        }
        assert!(!Key::new(&text[..MAX_KEY + 1]).is_short());
        assert!(!Key::new(b"").is_short());
        // A trailing zero byte is part of the key: "a" and "a\0" differ by length.
        let a = Key::new(b"a");
        let a0 = Key::new(b"a\0");
        assert_eq!(a.words, a0.words);
        assert_ne!(a.len, a0.len);
        // Read from the text around the piece, the key is the same, near the end too.
        for start in 0..text.len() {
            for end in start..=text.len() {
                let (inside, alone) =
                    (Key::in_text(&text, start, end), Key::new(&text[start..end]));
                let what = format!("{start}..{end}");
                assert_eq!(
                    (inside.words, inside.len),
                    (alone.words, alone.len),
                    "{what}"
                );
                assert_eq!(inside.hash, alone.hash, "{what}");
            }
        }
    }

    /// The ids a test "encodes" a piece into: 0 to 9 of them (narrow, wide, and behind a redirect
    /// to the long map), depending on its bytes.
    fn ids_of(piece: &[u8]) -> Vec<u32> {
        let count = piece.iter().map(|&b| usize::from(b)).sum::<usize>() % 10;
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
        // The second pass found most words cached. 135k short words in 131k two-way sets, a
        // load of one half: with one set per key, the sets that drew three or more keys evict
        // one on every pass (184,292 encodings in all); with a second set for the overflow,
        // 158,956 (evicting in rotation) or 159,353 (evicting the least recently used way).
        assert!(encoded < words.len() * 11 / 10, "{encoded}");
    }

    #[test]
    fn long_words_find_what_was_stored_through_growth_and_clearing() {
        let mut long = LongWords::default();
        let piece = |i: usize| format!("a piece too long for a slot, number {i}").into_bytes();
        let ids = |i: usize| {
            (0..i % 7 + 1)
                .map(|k| (i * 10 + k) as u32)
                .collect::<Vec<_>>()
        };
        // Hashes that share their top half (the tag) and their home slot must still be told
        // apart by their bytes.
        let hash = |i: usize| (i % 5) as u64;
        for i in 0..5_000 {
            long.insert(hash(i), &piece(i), &ids(i), 0);
            long.insert(hash(i), &piece(i), &ids(i), 0);
        }
        assert_eq!(long.entries, 5_000, "stored once each");
        assert!(long.index.len() >= 10_000);
        for i in 0..5_000 {
            let mut out = vec![u32::MAX];
            assert!(long.append(hash(i), &piece(i), &mut out), "{i}");
            assert_eq!(out[1..], ids(i));
        }
        assert!(!long.append(hash(1), b"never stored", &mut Vec::new()));
        // A piece larger than the bound is not stored, and empties nothing.
        long.insert(9, b"too big", &vec![0; LONG_BYTES / 4], 0);
        assert!(long.find(9, b"too big").is_none());
        assert_eq!(long.entries, 5_000);
        // Entries past the bound empty it first; for the rest of that call, the bound is
        // `LONG_BYTES_AFTER_OVERFLOW`.
        let big = vec![1u32; LONG_BYTES / 8];
        long.insert(7, b"big", &big, 0);
        assert_eq!(long.entries, 5_001);
        long.insert(8, b"bigger", &big, 0);
        assert_eq!(long.entries, 0);
        assert!(long.find(7, b"big").is_none());
        assert!(
            long.find(8, b"bigger").is_none(),
            "above the bound after overflowing"
        );
        let smaller = vec![2u32; LONG_BYTES_AFTER_OVERFLOW / 8];
        for (i, hash) in (10..13).enumerate() {
            long.insert(hash, b"smaller", &smaller[i..], 0);
        }
        assert_eq!(long.entries, 1, "emptied at the smaller bound");
        assert!(long.arena.len() <= LONG_BYTES_AFTER_OVERFLOW);
        // The next call has the whole bound again.
        long.insert(8, b"bigger", &big, 1);
        assert_eq!(long.entries, 2);
        assert!(long.find(8, b"bigger").is_some());
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
    fn the_long_arena_keeps_its_bytes_through_each_step_up_to_its_bound() {
        let mut arena = Arena::default();
        let bound = 3 << 20;
        let (mut expected, mut capacities) = (Vec::new(), Vec::new());
        for i in 0..bound / 1000 {
            let bytes: Vec<u8> = (0..1000).map(|k| (i * 7 + k) as u8).collect();
            arena.reserve(bytes.len(), bound);
            arena.extend(&bytes);
            expected.extend(bytes);
            if capacities.last() != Some(&arena.table.len()) {
                capacities.push(arena.table.len());
            }
        }
        assert!(arena.bytes() == expected);
        assert_eq!(capacities, [64 << 10, 1 << 20, bound]);
    }

    #[test]
    fn a_full_set_makes_room_by_moving_a_key_to_its_second_set() {
        let mut cache = WordCache::new();
        let words: Vec<Vec<u8>> = (0..20_000).map(|i| format!("w{i}").into_bytes()).collect();
        let own = |word: &Vec<u8>| cache.set(&Key::new(word));
        let second = |word: &Vec<u8>| cache.second_set(&Key::new(word));
        // `new`'s sets are both full: its own set `s` holds `a` and `b`, its second set `t`
        // holds `e` and `f`, and `b`'s second set is free.
        let (new, a, b, e, f) = words
            .iter()
            .find_map(|new| {
                let (s, t) = (own(new), second(new));
                let mut in_s = words.iter().filter(|w| *w != new && own(w) == s);
                let mut in_t = words.iter().filter(|w| own(w) == t);
                let a = in_s.next()?;
                let b = in_s.find(|w| ![s, t].contains(&second(w)))?;
                let e = in_t.next()?;
                let f = in_t.find(|w| second(w) != s)?;
                (s != t && second(a) != t && second(e) != s).then_some((new, a, b, e, f))
            })
            .expect("such words among 20,000");
        // One id each: narrow entries.
        let id = |piece: &[u8]| piece.iter().map(|&b| u32::from(b)).sum::<u32>();
        let mut out = Vec::new();
        for word in [e, f, a, b, new] {
            cache.encode(word, &mut out, |piece, out| out.push(id(piece)));
        }
        let mut encoded = Vec::new();
        for word in [e, f, a, b, new] {
            out.clear();
            cache.encode(word, &mut out, |piece, out| {
                encoded.push(piece.to_vec());
                out.push(id(piece))
            });
            assert_eq!(out, [id(word)]);
        }
        assert_eq!(encoded, Vec::<Vec<u8>>::new(), "evicted instead of moved");
        assert_eq!(cache.evicted, 0);
    }

    #[test]
    fn short_words_with_four_to_seven_ids_take_a_whole_set_and_give_them_back() {
        let mut cache = WordCache::new();
        // Words whose sets no other word uses: nothing is evicted.
        let mut used = std::collections::HashSet::new();
        let words: Vec<Vec<u8>> = (0..10_000)
            .map(|i| format!("w{i}").into_bytes())
            .filter(|w| {
                let key = Key::new(w);
                let (own, second) = (cache.set(&key), cache.second_set(&key));
                own != second
                    && !used.contains(&own)
                    && !used.contains(&second)
                    && used.insert(own)
                    && used.insert(second)
            })
            .take(100)
            .collect();
        let ids = |i: usize| {
            (0..4 + i % 4)
                .map(|k| (1000 * i + k) as u32)
                .collect::<Vec<_>>()
        };
        let mut out = Vec::new();
        for (i, word) in words.iter().enumerate() {
            cache.encode(word, &mut out, |_, out| out.extend(ids(i)));
        }
        let wide = cache.sets.iter().filter(|set| set.0[0].is_wide()).count();
        assert_eq!((wide, cache.long.entries), (words.len(), 0));
        // Each comes back from the cache (no call), in the same calls as a batch would make.
        let mut calls = 0;
        for (i, word) in words.iter().enumerate() {
            out.clear();
            cache.encode(word, &mut out, |_, out| {
                calls += 1;
                out.extend(ids(i))
            });
            assert_eq!(out, ids(i), "word {i}");
        }
        assert_eq!(calls, 0);
        // Evicting a wide entry frees its second slot, and the narrow keys of the set are found.
        let victim = cache
            .sets
            .iter()
            .position(|set| set.0[0].is_wide())
            .unwrap();
        let narrow: Vec<Vec<u8>> = (0..200_000)
            .map(|i| format!("n{i}").into_bytes())
            .filter(|w| cache.set(&Key::new(w)) == victim)
            .take(3)
            .collect();
        for word in &narrow {
            cache.encode(word, &mut out, |piece, out| out.push(piece.len() as u32));
        }
        assert!(!cache.sets[victim]
            .0
            .iter()
            .any(|slot| slot.key_len == WIDE_REST));
        for word in &narrow {
            out.clear();
            cache.encode(word, &mut out, |piece, out| out.push(piece.len() as u32));
            assert_eq!(out, [word.len() as u32]);
        }
    }

    /// A word with more ids than a wide entry holds, and those ids.
    const REDIRECTED: &[u8] = b"\xff\xff\xff\xff\xfe";
    fn redirected_ids() -> Vec<u32> {
        (0..WIDE_IDS as u32 + 1).collect()
    }

    /// [`REDIRECTED`]'s ids from `cache`, and how many times it was encoded for them.
    fn encode_redirected(cache: &mut WordCache) -> (Vec<u32>, usize) {
        let (mut out, mut calls) = (Vec::new(), 0);
        cache.encode(REDIRECTED, &mut out, |_, out| {
            calls += 1;
            out.extend(redirected_ids())
        });
        (out, calls)
    }

    #[test]
    fn a_redirect_reads_its_entry_at_its_place_and_never_takes_another_entry_for_it() {
        let mut cache = WordCache::new();
        assert_eq!(encode_redirected(&mut cache), (redirected_ids(), 1));
        // With the index emptied, only the place in the slot finds the entry.
        cache.long.index.fill(NO_ENTRY);
        assert_eq!(encode_redirected(&mut cache), (redirected_ids(), 0));
        // A place whose generation is current but whose entry is another piece's (as after
        // the arena was emptied and filled again, had the generation not moved): the bytes
        // differ, so the piece is encoded again, not given the other piece's ids.
        let other = b"\xff\xff\xff\xff\xfd";
        let generation = cache.long.generation;
        cache.long = LongWords {
            generation,
            ..LongWords::default()
        };
        cache
            .long
            .insert(LongWords::hash_of(other), other, &[7; 9], 0);
        assert_eq!(encode_redirected(&mut cache), (redirected_ids(), 1));
    }

    #[test]
    fn a_short_word_whose_long_entry_was_emptied_is_encoded_again_in_its_own_slot() {
        let mut cache = WordCache::new();
        encode_redirected(&mut cache);
        cache.long = LongWords::default();
        assert_eq!(encode_redirected(&mut cache), (redirected_ids(), 1));
        let key = Key::new(REDIRECTED);
        let set = &cache.sets[cache.set(&key)].0;
        let own = set.iter().filter(|slot| slot.holds(&key));
        assert_eq!(own.count(), 1);
    }
}
