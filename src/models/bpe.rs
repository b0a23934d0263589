//! Byte-pair encoding, as Hugging Face `tokenizers` and `tiktoken` define it.
//!
//! One model serves both references. A piece of text is cut into units (bytes for byte-level
//! models, characters otherwise), each unit is looked up, and then the adjacent pair with the
//! lowest merge rank is merged, the leftmost one on ties, until no listed pair remains. That is HF's
//! `merge_all` and tiktoken's `byte_pair_merge` alike: for a `.tiktoken` file the merge table is
//! derived from the ranks (pair `(a, b)` merges with rank `rank(a ++ b)`), which gives the same
//! choices as tiktoken's rank-of-concatenation loop.
//!
//! Vocabulary keys are bytes. For a byte-level model the GPT-2 "bytes to unicode" alphabet is undone
//! once at load time, so the hot path never maps characters: a piece of raw text is looked up as is.
//!
//! Costs: first the per-thread word cache ([`super::word_cache`]: a 32-byte slot per short
//! word, no global clear), then on a miss a whole-piece lookup whenever it is known to give the
//! merge result (always for tiktoken and `ignore_merges`; for other models, for the tokens that
//! merge back to themselves, checked on first use); otherwise merging, with pair priorities from
//! a packed table ([`super::pair_table`]): a vectorized O(n²) scan for short pieces, where it is
//! fastest, and a queue over a linked list for long ones (a binary heap, and for pieces of
//! thousands of units a radix heap, [`super::radix_heap`], that keeps a piece of megabytes in
//! linear time: 10 MB of one character takes 11 times as long as 1 MB, where it took 20).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::huge_pages::ZeroedTable;
use super::pair_table::PairTable;
use super::radix_heap::RadixHeap;
use super::ranks::Ranks;
use super::utf8_len;
use super::vocab::Vocab;
use super::word_cache::{self, Ahead, WordCache};
use crate::error::{Error, Result};
use crate::pretokenize::scanners::KnownPattern;

/// Pieces with at most this many units are merged by the quadratic scan; longer ones by the heap.
/// Below ~64 units a linear rescan of a small array beats heap bookkeeping.
const SHORT_PIECE_UNITS: usize = 64;

/// Pieces with at least this many units are merged with a [`RadixHeap`], shorter long ones with
/// a binary heap, which is then small enough for the CPU caches. Measured on new text of random
/// ASCII punctuation (o200k, one piece per document): at 100 units the binary heap was 25–35%
/// faster, at 1,000 and 5,000 units the two were within the noise.
const RADIX_HEAP_UNITS: usize = 1 << 14;

/// [`Bpe::char_units`]' mark of a character that is no token by itself.
const NO_UNIT: u32 = u32::MAX;

/// The table of [`Bpe::char_units`]: each token of one character below U+10000, by code point,
/// with the id the vocabulary gives for its bytes.
fn char_unit_table(vocab: &Vocab) -> Box<[u32]> {
    let mut table = vec![NO_UNIT; 0x10000].into_boxed_slice();
    for (token, _) in vocab.iter() {
        let Ok(token) = std::str::from_utf8(token) else {
            continue;
        };
        let mut chars = token.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if let (Some(slot), Some(id)) = (table.get_mut(c as usize), vocab.get(token.as_bytes()))
            {
                *slot = id;
            }
        }
    }
    table
}

/// How a piece is cut into initial units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// One unit per byte (byte-level BPE: GPT-2, cl100k, o200k, Llama 3, Qwen 2).
    Bytes,
    /// One unit per UTF-8 character (SentencePiece-style BPE).
    Chars,
}

/// The options of a BPE model, as a tokenizer.json states them.
#[derive(Debug, Clone, Default)]
pub struct BpeOptions {
    /// The unknown token (as vocabulary bytes), used for units missing from the vocabulary.
    pub unk_token: Option<Vec<u8>>,
    /// Fuse consecutive unknown units into one unknown token.
    pub fuse_unk: bool,
    /// Replace unknown units by their `<0xXX>` byte tokens.
    pub byte_fallback: bool,
    /// Prefix of every unit but the first of a word (as vocabulary bytes).
    pub continuing_subword_prefix: Option<Vec<u8>>,
    /// Suffix of the last unit of a word (as vocabulary bytes).
    pub end_of_word_suffix: Option<Vec<u8>>,
    /// Look the whole piece up before merging (HF `ignore_merges`; always true for tiktoken).
    pub ignore_merges: bool,
    /// BPE-dropout: each merge is skipped with this probability (`None` or 0: deterministic).
    pub dropout: Option<f32>,
}

/// A byte-pair-encoding model.
#[derive(Debug, Clone)]
pub struct Bpe {
    /// This model's identity in the per-thread piece caches.
    cache_id: u64,
    /// Token bytes → id. For byte-level models the bytes are raw (the GPT-2 alphabet undone).
    vocab: Vocab,
    /// (left id, right id) → the merge's priority: lower merges first (see [`Bpe::assemble`]).
    pairs: PairTable,
    /// The id a merge of priority `p` gives: `merged_ids[p]`, or `p` itself when `None`.
    merged_ids: Option<Box<[u32]>>,
    /// Every priority is below `2^25`, as [`Bpe::merge_short`]'s keys need.
    short_keys: bool,
    /// The id of each single byte as a unit (byte-level models).
    byte_units: [Option<u32>; 256],
    /// Units are bytes, every byte has a token, and no prefix or suffix applies.
    all_byte_units: bool,
    /// A piece may be cut before each word marker `▁` that follows another character (see
    /// [`Bpe::encode_piece`]).
    split_at_word_marker: bool,
    /// A piece may also be cut after each `\n`: its unit (the token `\n`, or byte fallback's
    /// `<0x0A>`) is in no merge, so no merge joins what is on its two sides (see
    /// [`Bpe::part_cuts`]).
    split_after_newline: bool,
    /// With `all_byte_units`: the merge priority of each byte pair, `(a << 8) | b` → priority,
    /// `u32::MAX` when none. A piece's first round of pair lookups (one per byte) is the bulk of
    /// a merge's lookups; this 256 KB table stays in cache where the pair table (hundreds of
    /// thousands of pairs) does not. Measured with callgrind on the multilingual corpus (o200k,
    /// cold cache): 5% fewer instructions and 11% fewer L1 misses in encoding.
    byte_pairs: Box<[u32]>,
    /// The `<0xXX>` token ids, when byte fallback is on.
    byte_fallback_ids: Option<[Option<u32>; 256]>,
    /// With character units and no prefix or suffix: the id of each character of the Basic
    /// Multilingual Plane that is a token, indexed by code point ([`NO_UNIT`] where none).
    ///
    /// Why: each character of a piece the word cache has not seen was a vocabulary lookup (a
    /// hash of its bytes and a probe of a table of megabytes). `perf`, Mistral, new text of
    /// the multilingual and English folders: `Vocab::find` was a fifth of the time, nearly all
    /// from here. A 256 KB array read is one load, which neighbouring characters of one script
    /// share. `encode_corpus`, Mistral, new text, 1 MB per folder, three runs of each build in
    /// turns: English 14.4–18.9 → 23.2–24.6 MB/s, multilingual 15.8–16.8 → 18.1–22.0, Japanese
    /// 42–62 → 77–122; repeated text the same within the noise.
    char_units: Option<Box<[u32]>>,
    /// For each id: whether merging its own bytes gives back exactly that id, so that a
    /// whole-piece lookup hit is the merge result. Answered on first use (see
    /// [`WholePieceFlags`]).
    whole_piece: WholePieceFlags,
    units: Units,
    unk_id: Option<u32>,
    fuse_unk: bool,
    prefix: Option<Vec<u8>>,
    suffix: Option<Vec<u8>>,
    /// id → token bytes, built on the first call that needs token spans (offsets).
    id_bytes: OnceLock<Vec<Vec<u8>>>,
    /// BPE-dropout probability, above 0 when set (see [`Bpe::merge_long`]).
    dropout: Option<f32>,
}

/// Per id: may a whole-piece lookup hit stand for the merge result? `tokenizers` without
/// `ignore_merges` always merges, and merging a token's own bytes does not always give that token
/// back, so each token needs checking once. Checking all of them at load time cost 10% of loading
/// a 200k-token tokenizer.json; instead each answer is computed the first time a piece equal to
/// the token is encoded (that merge is done anyway) and kept. Relaxed atomics are enough: the
/// answer is a pure function of the model, so racing threads store the same value.
#[derive(Debug)]
struct WholePieceFlags(Box<[AtomicU8]>);

const FLAG_UNKNOWN: u8 = 0;
const FLAG_WHOLE: u8 = 1;
const FLAG_MERGE: u8 = 2;

impl WholePieceFlags {
    fn new(len: usize, initial: u8) -> Self {
        WholePieceFlags((0..len).map(|_| AtomicU8::new(initial)).collect())
    }

    #[inline]
    fn get(&self, id: u32) -> u8 {
        self.0
            .get(id as usize)
            .map_or(FLAG_MERGE, |flag| flag.load(Ordering::Relaxed))
    }

    fn set(&self, id: u32, whole: bool) {
        if let Some(flag) = self.0.get(id as usize) {
            flag.store(
                if whole { FLAG_WHOLE } else { FLAG_MERGE },
                Ordering::Relaxed,
            );
        }
    }
}

impl Clone for WholePieceFlags {
    fn clone(&self) -> Self {
        WholePieceFlags(
            self.0
                .iter()
                .map(|flag| AtomicU8::new(flag.load(Ordering::Relaxed)))
                .collect(),
        )
    }
}

/// A batch of documents encoded by one [`Bpe`] through one ring of queued pieces
/// ([`Bpe::scanned_batch`]), so that the pieces of a document are looked for in the cache while
/// those of the next are being found, as within one document.
///
/// Why: a document of its own started with an empty ring, so its first pieces were looked up
/// with no time for their cache lines to arrive, and its last ones without the next pieces'
/// lines being asked for. `compare.py`'s batch has 8,537 documents of 470 bytes on average:
/// encoded one document at a time it took 16.1–17.2 ms in `encode_corpus` (o200k, repeated
/// text, the timed half), against 15.0–15.6 ms as one document. With the shared ring,
/// `encode_batch_numpy` on that batch against the same build encoding document by document, in
/// turns in one process, 21 calls each: one thread 106.8 → 111.9 and 118.9 → 123.6 MB/s (two
/// processes), two threads 200.6 → 205.8. (The batch still takes 15–22% longer than its text as
/// one document; `perf` puts about a tenth of that on the prefetch of each next document's
/// first bytes, which waits for a new page's address translation, and spreads the rest.)
pub struct ScannedBatch<'m, 'c, 't> {
    bpe: &'m Bpe,
    scanner: KnownPattern,
    cache: &'c mut WordCache,
    ahead: Ahead<'t>,
}

impl<'t> ScannedBatch<'_, '_, 't> {
    /// Queues the pieces of `text`; some of their ids reach `out` later.
    pub fn text(&mut self, text: &'t str, out: &mut Vec<u32>) {
        let (bpe, scanner) = (self.bpe, self.scanner);
        bpe.queue_scanned::<true>(self.cache, &mut self.ahead, scanner, text, out);
    }

    /// Appends the ids of `text` after those of everything queued, leaving none of its pieces
    /// in the ring: for a text that does not live as long as the batch (a normalized copy).
    pub fn text_now(&mut self, text: &str, out: &mut Vec<u32>) {
        self.flush(out);
        let mut ahead = Ahead::default();
        let bpe = self.bpe;
        bpe.queue_scanned::<false>(self.cache, &mut ahead, self.scanner, text, out);
        bpe.finish_queue(self.cache, &mut ahead, out);
    }

    /// Appends `id` (an added token) after the ids of everything queued.
    pub fn token(&mut self, id: u32, out: &mut Vec<u32>) {
        self.flush(out);
        out.push(id);
    }

    /// Ends the current document; `out_len` is the output's length now.
    pub fn end_document(&mut self, out_len: usize) {
        self.ahead.end_document(out_len);
    }

    /// Writes the ids of everything queued; returns the output's length at the end of each
    /// document ended, in order.
    pub fn finish(&mut self, out: &mut Vec<u32>) -> &[usize] {
        self.flush(out);
        self.ahead.ended()
    }

    fn flush(&mut self, out: &mut Vec<u32>) {
        self.bpe.finish_queue(self.cache, &mut self.ahead, out);
    }
}

thread_local! {
    /// The state of this thread's generator for BPE-dropout (xorshift64*), seeded from the
    /// clock and the thread: dropout needs no reproducible stream, the reference's has none.
    static RANDOM_STATE: std::cell::Cell<u64> = std::cell::Cell::new({
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let thread = FxBuildHasher.hash_one(std::thread::current().id());
        (clock ^ thread) | 1
    });
}

/// A uniform random number in `[0, 1)`.
fn random_unit() -> f32 {
    RANDOM_STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        // The top 24 bits of the xorshift64* output: every f32 in [0, 1) with 24-bit spacing.
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32) / (1u32 << 24) as f32
    })
}

/// The ids of merge `rank`: its two parts and their concatenation `merged` (the right part
/// without the continuing-subword prefix), each of which must be in the vocabulary.
pub fn merge_ids(
    vocab: &Vocab,
    rank: usize,
    left: &[u8],
    right: &[u8],
    merged: &[u8],
) -> Result<(u32, u32, u32)> {
    let lookup = |part: &[u8]| {
        vocab.get(part).ok_or_else(|| {
            Error::invalid(format!(
                "model.merges[{rank}]: token {:?} is not in the vocabulary",
                String::from_utf8_lossy(part)
            ))
        })
    };
    Ok((lookup(left)?, lookup(right)?, lookup(merged)?))
}

/// SentencePiece's word marker `▁` (U+2581), which stands for a space.
const WORD_MARKER: &[u8] = "\u{2581}".as_bytes();

/// The places from `from` on where [`Bpe::encode_marked_words`] cuts a piece that goes on its
/// word marker `▁`s: before each `▁` that follows a character other than `▁`.
fn marked_word_starts(piece: &[u8], from: usize) -> impl Iterator<Item = usize> + '_ {
    // The markers are found by their first byte, then checked (callgrind, Mistral, mixed
    // corpus, instructions per byte of encoding: `memmem::find_iter`, whose setup is paid once
    // per word, 14; this 11; a plain loop over the bytes 21). `from` may be inside a character:
    // the marker's first byte only ever starts one, and what precedes it is read in the whole
    // piece.
    memchr::memchr_iter(WORD_MARKER[0], &piece[from..])
        .map(move |at| from + at)
        .filter(|&at| {
            at > 0 && piece[at..].starts_with(WORD_MARKER) && !piece[..at].ends_with(WORD_MARKER)
        })
}

/// Whether every `▁` of `token` is in its leading run of them.
fn marker_only_leading(token: &[u8]) -> bool {
    let mut rest = token;
    while let Some(after) = rest.strip_prefix(WORD_MARKER) {
        rest = after;
    }
    memchr::memmem::find(rest, WORD_MARKER).is_none()
}

/// The two parts of a token cut at each position, looked up in a [`Vocab`] (for
/// [`Bpe::from_ranks`]).
///
/// Why: a part of at most 8 bytes is the token's first word masked (a left part) or shifted (a
/// right part of a short token), so it is looked up without reading its bytes again
/// ([`Vocab::get_short`]). Callgrind, loading o200k through Python: the cut loop and its
/// lookups (`tiktoken_model::from_ranks`, where they are inlined, and the prefetches of long
/// parts, which are not) 247M → 228M instructions.
struct Cuts<'a> {
    bytes: &'a [u8],
    /// The first 8 bytes ([`Vocab::short_word`]).
    head: u64,
}

impl<'a> Cuts<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cuts {
            bytes,
            head: Vocab::short_word(bytes),
        }
    }

    /// `bytes[..cut]` as [`Vocab::get_short`] takes it, if it is that short.
    #[inline]
    fn left_word(&self, cut: usize) -> Option<u64> {
        match cut {
            1..=7 => Some(self.head & ((1 << (8 * cut)) - 1)),
            8 => Some(self.head),
            _ => None,
        }
    }

    /// `bytes[cut..]` as [`Vocab::get_short`] takes it, if it is that short.
    #[inline]
    fn right_word(&self, cut: usize) -> Option<u64> {
        if self.bytes.len() <= 8 {
            // `cut` is 1 to 7: the shift is less than 64.
            Some(self.head >> (8 * cut))
        } else if self.bytes.len() - cut <= 8 {
            Some(Vocab::short_word(&self.bytes[cut..]))
        } else {
            None
        }
    }

    #[inline]
    fn left(&self, vocab: &Vocab, cut: usize) -> Option<u32> {
        match self.left_word(cut) {
            Some(word) => vocab.get_short(word, cut),
            None => vocab.get(&self.bytes[..cut]),
        }
    }

    #[inline]
    fn right(&self, vocab: &Vocab, cut: usize) -> Option<u32> {
        match self.right_word(cut) {
            Some(word) => vocab.get_short(word, self.bytes.len() - cut),
            None => vocab.get(&self.bytes[cut..]),
        }
    }

    /// Asks for the slots of both parts.
    #[inline]
    fn prefetch(&self, vocab: &Vocab, cut: usize) {
        match self.left_word(cut) {
            Some(word) => vocab.prefetch_short(word, cut),
            None => vocab.prefetch(&self.bytes[..cut]),
        }
        match self.right_word(cut) {
            Some(word) => vocab.prefetch_short(word, self.bytes.len() - cut),
            None => vocab.prefetch(&self.bytes[cut..]),
        }
    }
}

/// Packs a pair of ids into one hash key.
#[inline]
fn pair_key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

impl Bpe {
    /// Builds a model from token bytes and merges given as pairs of token bytes.
    ///
    /// `vocab` maps token bytes to ids; `merges` lists pairs in priority order (first = rank 0).
    /// The merged token of `(a, b)` is `a ++ b` (with a continuing-subword prefix removed from `b`).
    pub fn from_merges(
        vocab: FxHashMap<Vec<u8>, u32>,
        merges: &[(Vec<u8>, Vec<u8>)],
        units: Units,
        options: &BpeOptions,
    ) -> Result<Self> {
        let vocab = Vocab::from_entries(vocab.iter().map(|(bytes, &id)| (&bytes[..], id)));
        let prefix_len = options
            .continuing_subword_prefix
            .as_ref()
            .map_or(0, Vec::len);
        let mut ids = Vec::with_capacity(merges.len());
        let mut merged = Vec::new();
        for (rank, (left, right)) in merges.iter().enumerate() {
            merged.clear();
            merged.extend_from_slice(left);
            merged.extend_from_slice(right.get(prefix_len.min(right.len())..).unwrap_or_default());
            ids.push(merge_ids(&vocab, rank, left, right, &merged)?);
        }
        Self::from_merge_ids(vocab, &ids, units, options)
    }

    /// Builds the model from merges given as `(left id, right id, merged id)` in rank order (the
    /// loader resolves them without allocating per merge; see [`merge_ids`]).
    pub fn from_merge_ids(
        vocab: Vocab,
        merges: &[(u32, u32, u32)],
        units: Units,
        options: &BpeOptions,
    ) -> Result<Self> {
        let mut table = FxHashMap::default();
        table.reserve(merges.len());
        for (rank, &(left_id, right_id, merged_id)) in merges.iter().enumerate() {
            // The first listing of a pair wins, as in HF (later duplicates are ignored).
            table
                .entry(pair_key(left_id, right_id))
                .or_insert((rank as u32, merged_id));
        }
        let by_rank = table
            .into_iter()
            .map(|(pair, (rank, merged))| (rank, merged, pair))
            .collect();
        Self::assemble(vocab, by_rank, units, options)
    }

    /// Builds a tiktoken model from token bytes and ranks (the rank is also the id).
    ///
    /// tiktoken merges the adjacent parts whose concatenation has the lowest rank. Every such
    /// merge joins two tokens into a third, so the pair table lists, for each token, each way of
    /// cutting it into two tokens, with the token's rank.
    ///
    /// A pair is found once: `a ++ b` is one token. The tokens come in rank order, so
    /// [`Bpe::assemble`] finds the pairs sorted, and the right part of a cut is looked up only
    /// when the left one is a token. The lookups (1.2 million for o200k) are cache misses in a
    /// table of 8 MB, independent of each other: the slots of a token's cuts are asked for four
    /// tokens ahead, so that their misses overlap. Callgrind, loading o200k from its file
    /// through Python: 1,055M instructions before the loader's changes of `9688033` (a map of
    /// the pairs sorted afterwards, every byte string copied once more and freed, the built-in
    /// ranks unpacked only for the pattern), about 814M after, 528M with [`Vocab`] and
    /// [`Ranks`] (`266b6a7`; a first load 450 → 180 ms, mostly fewer cache misses).
    pub fn from_ranks(ranks: Ranks) -> Result<Self> {
        /// Tokens longer than this are not prefetched for: a prefetch per cut of a long token
        /// costs more hashing than the few such tokens wait.
        const PREFETCH_MAX_LEN: usize = 32;
        const PREFETCH_AHEAD: usize = 4;
        let vocab = ranks.vocab();
        let mut by_rank = Vec::with_capacity(ranks.len() * 2);
        for (i, (bytes, rank)) in ranks.iter().enumerate() {
            if i + PREFETCH_AHEAD < ranks.len() {
                let ahead = Cuts::new(ranks.token(i + PREFETCH_AHEAD));
                if ahead.bytes.len() <= PREFETCH_MAX_LEN {
                    for cut in 1..ahead.bytes.len() {
                        ahead.prefetch(vocab, cut);
                    }
                }
            }
            let cuts = Cuts::new(bytes);
            for cut in 1..bytes.len() {
                let Some(l) = cuts.left(vocab, cut) else {
                    continue;
                };
                if let Some(r) = cuts.right(vocab, cut) {
                    by_rank.push((rank, rank, pair_key(l, r)));
                }
            }
        }
        let options = BpeOptions {
            ignore_merges: true,
            ..BpeOptions::default()
        };
        Self::assemble(ranks.into_vocab(), by_rank, Units::Bytes, &options)
    }

    /// Builds the model from its vocabulary and merges: pair (packed by [`pair_key`]) → (rank,
    /// merged id).
    ///
    /// A merge's priority is what the merge loops compare. It is the rank, unless ordering by
    /// merged id is the same order (tiktoken, where the rank is the id; HF files whose merged ids
    /// rise with the rank, as GPT-2's and Llama 3's do): then it is the merged id, and a merge
    /// needs no second lookup to find the id it gives.
    fn assemble(
        vocab: Vocab,
        mut by_rank: Vec<(u32, u32, u64)>,
        units: Units,
        options: &BpeOptions,
    ) -> Result<Self> {
        let max_id = vocab.max_id().map_or(0, |m| m as usize + 1);
        // By rank, then merged id: the order of the pairs of one merge does not matter. A list
        // made in rank order (tiktoken ranks) is not sorted again.
        if !by_rank.is_sorted_by_key(|&(rank, merged, _)| (rank, merged)) {
            by_rank.sort_unstable();
        }
        // Same order: a higher rank never has a lower or equal merged id, and equal ranks
        // have equal merged ids.
        let merged_is_priority = by_rank.windows(2).all(|w| {
            let ((rank_a, merged_a, _), (rank_b, merged_b, _)) = (w[0], w[1]);
            if rank_a == rank_b {
                merged_a == merged_b
            } else {
                merged_a < merged_b
            }
        });
        let priority = |&(rank, merged, _): &(u32, u32, u64)| {
            if merged_is_priority {
                merged
            } else {
                rank
            }
        };
        let short_keys = by_rank.iter().map(priority).max().unwrap_or(0) < 1 << 25;
        let merged_ids = (!merged_is_priority).then(|| {
            let mut ids = vec![0; by_rank.last().map_or(0, |m| m.0 as usize + 1)];
            for &(rank, merged, _) in &by_rank {
                ids[rank as usize] = merged;
            }
            ids.into_boxed_slice()
        });
        let pair_list: Vec<(u32, u32, u32)> = by_rank
            .iter()
            .map(|entry| ((entry.2 >> 32) as u32, entry.2 as u32, priority(entry)))
            .collect();
        let pairs = PairTable::new(&pair_list);
        let unk_id = match &options.unk_token {
            Some(unk) => Some(vocab.get(&unk[..]).ok_or_else(|| {
                Error::invalid(format!(
                    "model.unk_token: {:?} is not in the vocabulary",
                    String::from_utf8_lossy(unk)
                ))
            })?),
            None => None,
        };
        let mut byte_units = [None; 256];
        for (byte, slot) in byte_units.iter_mut().enumerate() {
            *slot = vocab.get(&[byte as u8][..]);
        }
        let byte_fallback_ids = options.byte_fallback.then(|| {
            let mut ids = [None; 256];
            for (byte, slot) in ids.iter_mut().enumerate() {
                *slot = vocab.get(format!("<0x{byte:02X}>").as_bytes());
            }
            ids
        });
        let prefix = options
            .continuing_subword_prefix
            .clone()
            .filter(|p| !p.is_empty());
        let suffix = options.end_of_word_suffix.clone().filter(|s| !s.is_empty());
        let char_units = (units == Units::Chars && prefix.is_none() && suffix.is_none())
            .then(|| char_unit_table(&vocab));
        let all_byte_units = units == Units::Bytes
            && prefix.is_none()
            && suffix.is_none()
            && byte_units.iter().all(Option::is_some);
        let split_at_word_marker = units == Units::Chars
            && prefix.is_none()
            && suffix.is_none()
            // A known `▁`, so that unknown characters never fuse across a cut.
            && vocab.contains(WORD_MARKER)
            && vocab.iter().all(|(token, _)| marker_only_leading(token));
        let newline_unit = vocab.get(b"\n").or_else(|| {
            byte_fallback_ids
                .as_ref()
                .and_then(|ids| ids[usize::from(b'\n')])
        });
        let split_after_newline = split_at_word_marker
            && newline_unit.is_some_and(|unit| {
                pair_list
                    .iter()
                    .all(|&(left, right, _)| left != unit && right != unit)
            });
        let mut model = Bpe {
            cache_id: word_cache::new_model_id(),
            all_byte_units,
            split_at_word_marker,
            split_after_newline,
            byte_pairs: Box::new([]),
            vocab,
            pairs,
            merged_ids,
            short_keys,
            byte_units,
            byte_fallback_ids,
            char_units,
            whole_piece: WholePieceFlags::new(0, FLAG_MERGE),
            units,
            unk_id,
            fuse_unk: options.fuse_unk,
            prefix,
            suffix,
            id_bytes: OnceLock::new(),
            dropout: options.dropout.filter(|&p| p > 0.0),
        };
        let initial = if options.ignore_merges {
            // HF (`ignore_merges`) and tiktoken both return a vocabulary hit without merging.
            FLAG_WHOLE
        } else if model.prefix.is_some() || model.suffix.is_some() {
            // The lookup key would need the prefix or suffix; not worth it for these rare models.
            FLAG_MERGE
        } else {
            FLAG_UNKNOWN
        };
        model.whole_piece = WholePieceFlags::new(max_id, initial);
        if model.all_byte_units {
            model.byte_pairs = (0..=u16::MAX)
                .map(|pair| {
                    let left = model.byte_units[usize::from(pair >> 8)].unwrap_or_default();
                    let right = model.byte_units[usize::from(pair & 0xFF)].unwrap_or_default();
                    model.merge_of(left, right).unwrap_or(u32::MAX)
                })
                .collect();
        }
        Ok(model)
    }

    /// The byte range of `piece` that each of `ids` (its encoding) covers, as the reference's
    /// `Word` records it: a token its own bytes (without the continuing-subword prefix and the
    /// end-of-word suffix), a byte-fallback token one byte, the unknown token the unit or fused
    /// run of units it stands for.
    pub fn piece_spans(&self, piece: &[u8], ids: &[u32], out: &mut Vec<(usize, usize)>) {
        let id_bytes = self.id_bytes.get_or_init(|| {
            let len = self.vocab.max_id().map_or(0, |m| m as usize + 1);
            let mut table = vec![Vec::new(); len];
            for (bytes, id) in self.vocab.iter() {
                table[id as usize] = bytes.to_vec();
            }
            table
        });
        let unit_len = |at: usize| match self.units {
            Units::Bytes => 1,
            Units::Chars => utf8_len(piece[at]).min(piece.len() - at),
        };
        // Whether the unit at `at` is missing from the vocabulary and has no byte fallback.
        let unknown_at = |at: usize| {
            let end = at + unit_len(at);
            let mut key = Vec::new();
            if at > 0 {
                key.extend(self.prefix.iter().flatten());
            }
            key.extend_from_slice(&piece[at..end]);
            if end == piece.len() {
                key.extend(self.suffix.iter().flatten());
            }
            !self.vocab.contains(&key)
                && !self
                    .byte_fallback_ids
                    .as_ref()
                    .is_some_and(|fallback| key.iter().all(|&b| fallback[b as usize].is_some()))
        };
        let mut at = 0;
        for &id in ids {
            let start = at.min(piece.len());
            let mut bytes: &[u8] = id_bytes.get(id as usize).map_or(&[], Vec::as_slice);
            if start > 0 {
                if let Some(prefix) = &self.prefix {
                    bytes = bytes.strip_prefix(&prefix[..]).unwrap_or(bytes);
                }
            }
            if let Some(suffix) = &self.suffix {
                if let Some(stripped) = bytes.strip_suffix(&suffix[..]) {
                    if start + stripped.len() == piece.len() {
                        bytes = stripped;
                    }
                }
            }
            let spelled = !bytes.is_empty() && piece[start..].starts_with(bytes);
            if spelled {
                at = start + bytes.len();
            } else if Some(id) == self.unk_id && start < piece.len() {
                at = start + unit_len(start);
                while self.fuse_unk && at < piece.len() && unknown_at(at) {
                    at += unit_len(at);
                }
            } else {
                // A byte-fallback token.
                at = (start + 1).min(piece.len());
            }
            out.push((start, at));
        }
    }

    /// The vocabulary: token bytes and ids.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Whether a long piece may be cut at the places of [`Bpe::part_cuts`], its parts encoded
    /// on their own giving the ids of the whole: the vocabulary allows it (see
    /// [`Bpe::encode_pieces`]), and no dropout makes the merges random.
    pub fn cuts_long_pieces(&self) -> bool {
        self.split_at_word_marker && self.dropout.is_none()
    }

    /// Appends to `cuts` places where a piece may be cut (with [`Bpe::cuts_long_pieces`]), about
    /// `step` bytes apart: the first place at or after each multiple of `step` past the last
    /// cut that is a word start of [`marked_word_starts`] or, with `split_after_newline`, just
    /// after a `\n`.
    ///
    /// Why the newlines: Japanese text has few spaces, so few word markers, and the Japanese
    /// end of `long_document.py`'s 10 MB document was a few large parts; one thread encoded the
    /// last of them while the other waited (Mistral: 1.68× on two threads with the markers
    /// alone).
    pub fn part_cuts(&self, piece: &[u8], step: usize, cuts: &mut Vec<usize>) {
        let step = step.max(1);
        let mut from = step;
        while from < piece.len() {
            let marker = marked_word_starts(piece, from).next();
            // A newline only counts before the marker: the search stops there.
            let newline = match self.split_after_newline {
                true => memchr::memchr(b'\n', &piece[from..marker.unwrap_or(piece.len())])
                    .map(|at| from + at + 1),
                false => None,
            };
            let Some(cut) = newline.or(marker) else {
                break;
            };
            if cut >= piece.len() {
                break;
            }
            cuts.push(cut);
            from = cut + step;
        }
    }

    /// Encodes one pre-tokenized piece, appending its ids to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        self.encode_pieces(std::iter::once(piece), out);
    }

    /// Encodes pre-tokenized pieces in order, appending their ids to `out`; the per-thread word
    /// cache is borrowed once for all of them.
    ///
    /// SentencePiece-style models (Llama 2, Mistral) have no pre-tokenizer: the whole text, its
    /// spaces turned into `▁`, is one piece, merged at once (no cache, long merges: about 1 MB/s
    /// on 100 kB of text). When no token has a `▁` after another character, as in those
    /// vocabularies, no merge can join the characters on both sides of a position where a `▁`
    /// follows another character: such a token would not exist. BPE merges only touch neighbours,
    /// so merging each word on its own gives exactly the merges of the whole piece, and words go
    /// through the cache like pre-tokenized pieces.
    pub fn encode_pieces<'p>(
        &self,
        pieces: impl IntoIterator<Item = &'p [u8]>,
        out: &mut Vec<u32>,
    ) {
        if let Some(dropout) = self.dropout {
            // Random merges: no whole-piece shortcut and no cache (the reference bypasses both).
            for piece in pieces {
                let start = out.len();
                self.initial_units(piece, out);
                let merged_len = self.merge_long(&mut out[start..], Some(dropout));
                out.truncate(start + merged_len);
            }
            return;
        }
        word_cache::with_cache(self.cache_id, |cache| {
            let mut ahead = Ahead::default();
            for piece in pieces {
                self.encode_cached(cache, &mut ahead, piece, out);
            }
            self.finish_queue(cache, &mut ahead, out);
        });
    }

    /// Like [`Bpe::encode_pieces`] for the pieces `scanner` finds in `text` (its matches tile
    /// the text): each is encoded as soon as it is found, with no list of pieces in between.
    pub fn encode_scanned(&self, text: &str, scanner: KnownPattern, out: &mut Vec<u32>) {
        let bytes = text.as_bytes();
        if self.dropout.is_some() {
            let mut ranges = Vec::new();
            scanner.find_ranges(text, &mut ranges);
            return self.encode_pieces(ranges.into_iter().map(|r| &bytes[r]), out);
        }
        word_cache::with_cache(self.cache_id, |cache| {
            // Two loops rather than a test per piece, so that the scanner's loop is compiled for
            // each case. Callgrind, `encode_corpus` on 2 MB of the four folders, repeated text,
            // instructions per byte: o200k 44.3 → 43.3, cl100k 42.1 → 41.5, gpt2 48.1 → 47.7;
            // Mistral (the marker loop) 45.5 → 45.9. Also tried: keeping only a piece's place
            // and hash in `Ahead`'s ring (24 bytes, not 48) and reading its key from the text
            // again when its turn comes: 45.5 for o200k, more than it saved.
            let mut ahead = Ahead::default();
            if self.split_at_word_marker {
                scanner.for_each_match(
                    text,
                    #[inline(always)]
                    |start, end| self.encode_cached(cache, &mut ahead, &bytes[start..end], out),
                );
            } else {
                self.queue_scanned::<false>(cache, &mut ahead, scanner, text, out);
            }
            self.finish_queue(cache, &mut ahead, out);
        });
    }

    /// Writes the ids of the pieces still queued on `ahead`.
    fn finish_queue(&self, cache: &mut WordCache, ahead: &mut Ahead<'_>, out: &mut Vec<u32>) {
        let mut encode = |piece: &[u8], out: &mut Vec<u32>| self.encode_uncached(piece, out);
        cache.finish(ahead, out, &mut encode);
    }

    /// Queues the pieces `scanner` cuts from `text` on `ahead`, through `cache`; the ids of
    /// the pieces that leave the ring reach `out`. `BATCH` as for
    /// [`WordCache::encode_ahead_in`]. The one loop of [`Bpe::encode_scanned`],
    /// [`ScannedBatch::text`] and [`ScannedBatch::text_now`].
    #[inline(always)]
    fn queue_scanned<'p, const BATCH: bool>(
        &self,
        cache: &mut WordCache,
        ahead: &mut Ahead<'p>,
        scanner: KnownPattern,
        text: &'p str,
        out: &mut Vec<u32>,
    ) {
        let bytes = text.as_bytes();
        let mut encode = |piece: &[u8], out: &mut Vec<u32>| self.encode_uncached(piece, out);
        // A whole piece's key is read from the text around it (`Key::in_text`).
        scanner.for_each_match(
            text,
            #[inline(always)]
            |start, end| {
                cache.encode_ahead_in::<BATCH>(ahead, bytes, (start, end), out, &mut encode)
            },
        );
    }

    /// Whether [`Bpe::scanned_batch`] serves this model: not with BPE-dropout (no cache) nor
    /// with cuts at word markers (a piece is cut into words first).
    pub fn batches_scanned(&self) -> bool {
        self.dropout.is_none() && !self.split_at_word_marker
    }

    /// Runs `f` with a [`ScannedBatch`]: the texts it is given are encoded like
    /// [`Bpe::encode_scanned`]'s, one after the other, through one ring of queued pieces.
    /// Only for a model that [`Bpe::batches_scanned`].
    pub fn scanned_batch<'t, R>(
        &self,
        scanner: KnownPattern,
        f: impl FnOnce(&mut ScannedBatch<'_, '_, 't>) -> R,
    ) -> R {
        debug_assert!(self.batches_scanned());
        word_cache::with_cache(self.cache_id, |cache| {
            f(&mut ScannedBatch {
                bpe: self,
                scanner,
                cache,
                ahead: Ahead::default(),
            })
        })
    }

    /// Encodes one piece through the cache, word by word when it may be cut at word markers.
    /// The ids of the last few words come later, when `ahead` moves on or is finished.
    ///
    /// Inlined into the scanner's loop, with the cutting at word markers out of line: with it
    /// inline, this was a call per piece with an 800-byte frame (the substring finder) and
    /// seven saved registers (callgrind, o200k, mixed corpus, repeated text: 52.8 → 52.0
    /// instructions per byte, then 46.3 with the scanner's closures inlined too).
    #[inline(always)]
    fn encode_cached<'p>(
        &self,
        cache: &mut WordCache,
        ahead: &mut Ahead<'p>,
        piece: &'p [u8],
        out: &mut Vec<u32>,
    ) {
        if self.split_at_word_marker && piece.len() > WORD_MARKER.len() {
            self.encode_marked_words(cache, ahead, piece, out);
        } else {
            self.encode_word(cache, ahead, piece, out);
        }
    }

    /// [`Bpe::encode_cached`] for a piece that is cut before each word marker `▁` that follows
    /// another character (see [`Bpe::encode_pieces`]).
    #[inline(never)]
    fn encode_marked_words<'p>(
        &self,
        cache: &mut WordCache,
        ahead: &mut Ahead<'p>,
        piece: &'p [u8],
        out: &mut Vec<u32>,
    ) {
        let mut start = 0;
        for at in marked_word_starts(piece, 0) {
            self.encode_word(cache, ahead, &piece[start..at], out);
            start = at;
        }
        self.encode_word(cache, ahead, &piece[start..], out);
    }

    /// Encodes one word (a piece that no merge crosses) through the cache.
    #[inline(always)]
    fn encode_word<'p>(
        &self,
        cache: &mut WordCache,
        ahead: &mut Ahead<'p>,
        piece: &'p [u8],
        out: &mut Vec<u32>,
    ) {
        cache.encode_ahead(ahead, piece, out, &mut |piece, out| {
            self.encode_uncached(piece, out)
        });
    }

    /// Encodes one word without the cache: the whole-word lookup when it is known to give the
    /// merge result, else merging.
    fn encode_uncached(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(id) = self.vocab.get(piece) {
            match self.whole_piece.get(id) {
                FLAG_WHOLE => {
                    out.push(id);
                    return;
                }
                FLAG_UNKNOWN => {
                    // The first time this token is a whole piece: merge, and remember whether
                    // the merge gave the token back.
                    let start = out.len();
                    self.merge_piece(piece, out);
                    self.whole_piece
                        .set(id, out.len() == start + 1 && out[start] == id);
                    return;
                }
                _ => {}
            }
        }
        self.merge_piece(piece, out);
    }

    /// Cuts `piece` into units and merges them; appends the ids to `out`.
    fn merge_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        let start = out.len();
        self.initial_units(piece, out);
        let symbols = &mut out[start..];
        let merged_len = if symbols.len() <= SHORT_PIECE_UNITS && self.short_keys {
            // Byte units: the initial ranks come from the dense byte-pair table.
            let bytes = if self.all_byte_units {
                Some(piece)
            } else {
                None
            };
            self.merge_short(symbols, bytes)
        } else {
            self.merge_long(symbols, None)
        };
        out.truncate(start + merged_len);
    }

    /// Appends the ids of the initial units of `piece`, handling prefix, suffix, byte fallback and
    /// the unknown token exactly as HF's `BPE::merge_word` does.
    fn initial_units(&self, piece: &[u8], out: &mut Vec<u32>) {
        if self.all_byte_units {
            // The hot case: byte-level vocabularies have a token for every byte.
            out.extend(
                piece
                    .iter()
                    .map(|&b| self.byte_units[b as usize].unwrap_or_default()),
            );
            return;
        }
        if let (Some(char_units), Ok(text)) = (&self.char_units, std::str::from_utf8(piece)) {
            return self.initial_char_units(char_units, text, out);
        }
        let mut pending_unk: Option<u32> = None;
        let mut key = Vec::new();
        let mut start = 0;
        while start < piece.len() {
            let end = match self.units {
                Units::Bytes => start + 1,
                Units::Chars => start + utf8_len(piece[start]).min(piece.len() - start),
            };
            key.clear();
            if start > 0 {
                if let Some(prefix) = &self.prefix {
                    key.extend_from_slice(prefix);
                }
            }
            key.extend_from_slice(&piece[start..end]);
            if end == piece.len() {
                if let Some(suffix) = &self.suffix {
                    key.extend_from_slice(suffix);
                }
            }
            match self.vocab.get(&key[..]) {
                Some(id) => {
                    if let Some(unk) = pending_unk.take() {
                        out.push(unk);
                    }
                    out.push(id);
                }
                None => self.unknown_unit(&key, out, &mut pending_unk),
            }
            start = end;
        }
        if let Some(unk) = pending_unk {
            out.push(unk);
        }
    }

    /// [`Bpe::initial_units`] with character units and no prefix or suffix: each character's id
    /// from `char_units` where it has one there, else from the vocabulary.
    fn initial_char_units(&self, char_units: &[u32], text: &str, out: &mut Vec<u32>) {
        let mut pending_unk: Option<u32> = None;
        for (start, c) in text.char_indices() {
            let key = &text.as_bytes()[start..start + c.len_utf8()];
            // The table holds every token of one character below U+10000.
            let id = match char_units.get(c as usize) {
                Some(&id) => (id != NO_UNIT).then_some(id),
                None => self.vocab.get(key),
            };
            match id {
                Some(id) => {
                    if let Some(unk) = pending_unk.take() {
                        out.push(unk);
                    }
                    out.push(id);
                }
                None => self.unknown_unit(key, out, &mut pending_unk),
            }
        }
        if let Some(unk) = pending_unk {
            out.push(unk);
        }
    }

    /// A unit missing from the vocabulary: its `<0xXX>` tokens if all exist, else the unknown
    /// token (fused with a preceding one when `fuse_unk`), else nothing, as in HF.
    fn unknown_unit(&self, key: &[u8], out: &mut Vec<u32>, pending_unk: &mut Option<u32>) {
        if let Some(fallback) = &self.byte_fallback_ids {
            if key.iter().all(|&b| fallback[b as usize].is_some()) {
                if let Some(unk) = pending_unk.take() {
                    out.push(unk);
                }
                out.extend(key.iter().filter_map(|&b| fallback[b as usize]));
                return;
            }
        }
        if let Some(unk) = self.unk_id {
            match pending_unk {
                Some(_) if self.fuse_unk => {}
                Some(previous) => {
                    out.push(*previous);
                    *pending_unk = Some(unk);
                }
                None => *pending_unk = Some(unk),
            }
        }
    }

    /// The priority of merging `left` and `right` (lower first), if they merge.
    #[inline]
    fn merge_of(&self, left: u32, right: u32) -> Option<u32> {
        self.pairs.get(left, right)
    }

    /// The id a merge of priority `priority` gives.
    #[inline]
    fn merged_id(&self, priority: u32) -> u32 {
        match &self.merged_ids {
            None => priority,
            Some(ids) => ids[priority as usize],
        }
    }

    /// Merges in place, lowest priority first and leftmost on ties; returns the new length.
    /// `bytes`, when given, are the piece's bytes, one per symbol (all-byte-unit models).
    ///
    /// For pieces of at most [`SHORT_PIECE_UNITS`] units: each step takes the minimum over an
    /// array of keys `priority << 6 | position` (a plain `min` that the compiler vectorizes, and
    /// the leftmost pair wins a tie by its lower position) and unlinks the merged unit from a
    /// list of `u8` links, so nothing is moved. The first version rescanned `(rank, id)` pairs
    /// with a branch per pair and shifted both arrays with `copy_within` on every merge;
    /// memmove calls alone were 3% of new-text encoding. Against that scan (both on the packed
    /// pair table; 20 MB of the mixed corpus, o200k, medians of 8 alternating runs): 21.7
    /// against 19.8 MB/s on new text, 40.9 against 38.0 on repeated text, near the noise.
    fn merge_short(&self, symbols: &mut [u32], bytes: Option<&[u8]>) -> usize {
        // Keys are `i32` (priorities below 2^25, see `short_keys`): baseline x86-64 (SSE2) has
        // a signed 32-bit compare but no unsigned one or any 32-bit `min`, and the unsigned
        // `min` took two more instructions per four keys. With that and the scan in whole
        // blocks (below), callgrind on the new-text pass of `encode_corpus` (o200k, Japanese,
        // whose pieces are long): 57.5M → 44.6M instructions here, 122.8M → 111.2M in all.
        const NONE: i32 = i32::MAX;
        let n = symbols.len();
        debug_assert!(n <= SHORT_PIECE_UNITS && self.short_keys);
        if n < 2 {
            return n;
        }
        let key = |priority: Option<u32>, at: usize| {
            priority.map_or(NONE, |p| (p << 6 | at as u32) as i32)
        };
        // keys[i]: the merge of the pair that starts at unit i now; NONE when there is none or
        // unit i was merged away.
        let mut keys = [NONE; SHORT_PIECE_UNITS];
        match bytes {
            Some(bytes) => {
                for (at, pair) in bytes.windows(2).enumerate() {
                    let priority =
                        self.byte_pairs[usize::from(pair[0]) << 8 | usize::from(pair[1])];
                    keys[at] = key((priority != u32::MAX).then_some(priority), at);
                }
            }
            None => {
                for at in 0..n - 1 {
                    keys[at] = key(self.merge_of(symbols[at], symbols[at + 1]), at);
                }
            }
        }
        // The units still there, as a list: next[i] and prev[i] (n: none after).
        let mut next = [0u8; SHORT_PIECE_UNITS];
        let mut prev = [0u8; SHORT_PIECE_UNITS];
        for at in 0..n {
            next[at] = (at + 1) as u8;
            prev[at] = at.wrapping_sub(1) as u8;
        }
        // The keys scanned: whole blocks of eight, those past `n - 1` staying `NONE`, so that
        // the scan has no remainder loop.
        let blocks = (n - 1).div_ceil(8);
        loop {
            let best = keys[..blocks * 8]
                .chunks_exact(8)
                .fold([NONE; 8], |least, block| {
                    std::array::from_fn(|lane| least[lane].min(block[lane]))
                })
                .into_iter()
                .min()
                .unwrap_or(NONE);
            if best == NONE {
                break;
            }
            let at = (best & 63) as usize;
            let right = usize::from(next[at]);
            symbols[at] = self.merged_id((best >> 6) as u32);
            keys[right] = NONE;
            let after = usize::from(next[right]);
            next[at] = after as u8;
            keys[at] = if after < n {
                prev[after] = at as u8;
                key(self.merge_of(symbols[at], symbols[after]), at)
            } else {
                NONE
            };
            // Unit 0 is never merged away, so every other unit has one before it.
            if at > 0 {
                let before = usize::from(prev[at]);
                keys[before] = key(self.merge_of(symbols[before], symbols[at]), before);
            }
        }
        let mut len = 0;
        let mut at = 0;
        while at < n {
            symbols[len] = symbols[at];
            len += 1;
            at = usize::from(next[at]);
        }
        len
    }

    /// Merges with a queue of candidate pairs over a linked list; stale entries are skipped when
    /// popped. Returns the new length (the survivors are compacted to the front). Up to
    /// [`RADIX_HEAP_UNITS`] units the queue is a binary heap (O(n log n), in cache), beyond it a
    /// [`RadixHeap`].
    ///
    /// Compact on purpose (the worst cases are single pieces of megabytes: a run of one
    /// character, text without spaces for a pre-tokenizer-less model): positions are `u32`, a
    /// heap entry is one `u64` (priority above, position below, so that the order is lowest
    /// priority, then leftmost), and a position's [`Unit`] holds the priority of the pair that
    /// starts there now. An entry is stale when the unit no longer has its priority: the pair
    /// at a position only changes by covering more bytes, so it never comes back to an earlier
    /// pair, and a priority belongs to one merged token (HF lists each pair once; a tiktoken rank
    /// is one token, one byte string), which at one position is one pair. 24 bytes per unit (a
    /// 16-byte [`Unit`] and a heap entry) where the first version took 53 (`usize` links,
    /// 32-byte entries that carried the pair);
    /// on a 10 MB run of one character, the 10 MB : 1 MB time ratio was 14.4 before. With the
    /// radix heap (o200k, one thread): 0.07 s for 1 MB, 0.76 s for 10 MB, where the binary heap
    /// took 0.27 s and 3.3 s.
    ///
    /// With `dropout` (BPE-dropout, as the reference's `Word::merge_all`): each merge taken from
    /// the heap is skipped with that probability and set aside; the set-aside merges go back
    /// into the heap as soon as one is not skipped. At 1.0 nothing merges.
    fn merge_long(&self, symbols: &mut [u32], dropout: Option<f32>) -> usize {
        let n = symbols.len();
        if n < 2 {
            return n;
        }
        if n >= u32::MAX as usize {
            // Beyond `u32` positions (a 4 GB piece): the slow but general quadratic scan.
            return self.merge_quadratic(symbols);
        }
        if n >= RADIX_HEAP_UNITS {
            self.merge_queued(symbols, RadixHeap::new(), dropout)
        } else {
            self.merge_queued(symbols, BinaryHeap::with_capacity(n), dropout)
        }
    }

    /// [`Bpe::merge_long`] with a given queue of `priority << 32 | position` keys.
    fn merge_queued(
        &self,
        symbols: &mut [u32],
        mut queue: impl MergeQueue,
        dropout: Option<f32>,
    ) -> usize {
        let n = symbols.len();
        const NONE: u32 = u32::MAX;
        let key = |priority: u32, at: u32| u64::from(priority) << 32 | u64::from(at);
        // SAFETY: all-zero bytes are a valid `Unit` (four `u32`s).
        let mut units: ZeroedTable<Unit> = unsafe { ZeroedTable::new(n) };
        for (at, (unit, &symbol)) in units.iter_mut().zip(symbols.iter()).enumerate() {
            *unit = Unit {
                symbol,
                next: at as u32 + 1,
                prev: (at as u32).wrapping_sub(1),
                candidate: NONE,
            };
        }
        units[n - 1].next = NONE;
        for i in 0..n - 1 {
            if let Some(priority) = self.merge_of(units[i].symbol, units[i + 1].symbol) {
                units[i].candidate = priority;
                queue.push(key(priority, i as u32));
            }
        }
        let mut skipped: Vec<u64> = Vec::new();
        while let Some(popped) = queue.pop() {
            // The coin comes before the staleness check, as in the reference: a stale entry
            // that is not skipped also puts the skipped ones back.
            if let Some(p) = dropout {
                if random_unit() < p {
                    skipped.push(popped);
                    continue;
                }
                for key in skipped.drain(..) {
                    queue.push(key);
                }
            }
            let (priority, left) = ((popped >> 32) as u32, popped as u32 as usize);
            if units[left].candidate != priority {
                continue; // stale: the pair at `left` changed, or `left` was merged away
            }
            let merged = self.merged_id(priority);
            let right = units[left].next as usize;
            let after = units[right].next;
            units[right].candidate = NONE;
            units[left] = Unit {
                symbol: merged,
                next: after,
                candidate: NONE,
                ..units[left]
            };
            if after != NONE {
                units[after as usize].prev = left as u32;
                if let Some(priority) = self.merge_of(merged, units[after as usize].symbol) {
                    units[left].candidate = priority;
                    queue.push(key(priority, left as u32));
                }
            }
            let before = units[left].prev;
            if before != NONE {
                let before = before as usize;
                let candidate = self.merge_of(units[before].symbol, merged).unwrap_or(NONE);
                units[before].candidate = candidate;
                if candidate != NONE {
                    queue.push(key(candidate, before as u32));
                }
            }
        }
        // Position 0 is never merged away: walk the survivors from it.
        let mut len = 0;
        let mut at = 0;
        while at != NONE {
            symbols[len] = units[at as usize].symbol;
            len += 1;
            at = units[at as usize].next;
        }
        len
    }

    /// Lowest priority first, leftmost on ties, by rescanning the pairs after every merge:
    /// O(n²), no side tables. Only for pieces too long for [`Bpe::merge_long`]'s `u32`
    /// positions.
    fn merge_quadratic(&self, symbols: &mut [u32]) -> usize {
        let mut len = symbols.len();
        loop {
            let best = (0..len.saturating_sub(1))
                .filter_map(|i| self.merge_of(symbols[i], symbols[i + 1]).map(|p| (p, i)))
                .min();
            let Some((priority, at)) = best else {
                return len;
            };
            symbols[at] = self.merged_id(priority);
            symbols.copy_within(at + 2..len, at + 1);
            len -= 1;
        }
    }
}

/// One position of [`Bpe::merge_queued`]'s linked list: its symbol, its neighbours, and the
/// priority of the pair that starts there (`u32::MAX`: none).
///
/// Why one record rather than an array per field: a long piece's merges come from the queue in
/// priority order, so each lands at a position far from the last, and with four arrays each
/// merge read and wrote a cache line in each of them (and, past a few megabytes, missed the TLB
/// in each). With one record the position's fields share a line, and its neighbours are
/// usually in the same line or the next. The records are on 2 MB pages ([`ZeroedTable`]) once
/// they take that much. o200k on one piece of random ASCII punctuation, a fresh process per
/// run, three rounds in turns: 1 MB in 0.19–0.21 s and 10 MB in 2.1–2.6 s with four arrays,
/// 0.13–0.19 s and 1.4–1.9 s with records (`benches/worst_case.py`'s ratio for that row: 14.7
/// → 9.7). The new-text pass of `encode_corpus`, whose medium-sized pieces come here too, counts
/// 1% more instructions with Mistral (callgrind).
#[derive(Clone, Copy)]
#[repr(C)]
struct Unit {
    symbol: u32,
    next: u32,
    prev: u32,
    candidate: u32,
}

/// A min-queue of merge keys for [`Bpe::merge_queued`].
trait MergeQueue {
    fn push(&mut self, key: u64);
    fn pop(&mut self) -> Option<u64>;
}

impl MergeQueue for BinaryHeap<Reverse<u64>> {
    #[inline]
    fn push(&mut self, key: u64) {
        BinaryHeap::push(self, Reverse(key));
    }

    #[inline]
    fn pop(&mut self) -> Option<u64> {
        BinaryHeap::pop(self).map(|Reverse(key)| key)
    }
}

impl MergeQueue for RadixHeap {
    #[inline]
    fn push(&mut self, key: u64) {
        RadixHeap::push(self, key);
    }

    #[inline]
    fn pop(&mut self) -> Option<u64> {
        RadixHeap::pop(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mistral's BPE model, from the shared data.
    fn mistral() -> Bpe {
        let path = crate::testing::data_dir().join("tokenizers/mistral-7b-v0.1/tokenizer.json");
        match crate::Tokenizer::from_file(&path).unwrap().model {
            crate::models::Model::Bpe(bpe) => bpe,
            _ => panic!("a BPE model"),
        }
    }

    #[test]
    fn part_cuts_are_word_starts_or_line_starts() {
        let bpe = mistral();
        assert!(bpe.cuts_long_pieces() && bpe.split_after_newline);
        // Every step, so that the search starts at every byte of runs of markers.
        let mut rng = crate::testing::Rng(0x0DD_BA11_CAFE);
        for _ in 0..500 {
            let text = rng.text(&["\u{2581}", "\u{2581}\u{2581}", "a", "\n", "é"], 40);
            let piece = text.as_bytes();
            let words: Vec<usize> = marked_word_starts(piece, 0).collect();
            for step in 1..=piece.len() {
                let mut cuts = Vec::new();
                bpe.part_cuts(piece, step, &mut cuts);
                for &cut in &cuts {
                    assert!(
                        cut < piece.len() && (words.contains(&cut) || piece[cut - 1] == b'\n'),
                        "{text:?} {step}: {cuts:?}"
                    );
                }
                assert!(
                    cuts.windows(2).all(|w| w[1] >= w[0] + step),
                    "{text:?} {step}"
                );
            }
        }
    }

    #[test]
    fn character_table_gives_the_units_of_the_vocabulary_lookups() {
        let with_table = mistral();
        assert!(with_table.char_units.is_some());
        let mut without_table = with_table.clone();
        without_table.char_units = None;
        // Characters that are tokens, one that is not (byte fallback), one beyond U+FFFF (byte
        // fallback too), the word marker, and a character whose token Mistral lacks.
        let atoms = [
            "a",
            "Z",
            "é",
            "\u{2581}",
            "語",
            "\u{4DC0}",
            "😀",
            " ",
            "\n",
            "ъ",
            "\u{10FFFF}",
        ];
        let mut rng = crate::testing::Rng(0x5EED_C4A2);
        for _ in 0..2_000 {
            let text = rng.text(&atoms, 30);
            let (mut expected, mut got) = (Vec::new(), Vec::new());
            without_table.initial_units(text.as_bytes(), &mut expected);
            with_table.initial_units(text.as_bytes(), &mut got);
            assert_eq!(got, expected, "{text:?}");
        }
    }

    #[test]
    fn word_marker_only_in_the_leading_run() {
        for (token, expected) in [
            ("▁the", true),
            ("▁▁▁", true),
            ("the", true),
            ("", true),
            ("a▁", false),
            ("▁a▁b", false),
        ] {
            assert_eq!(marker_only_leading(token.as_bytes()), expected, "{token}");
        }
    }

    /// The toy merges, in rank order.
    const TOY_MERGES: [(&str, &str); 4] = [("b", "c"), ("a", "b"), ("a", "bc"), ("a", "a")];

    /// A model over `tokens` (ids in that order) with `merges` (rank order).
    fn toy_with(tokens: &[&str], merges: &[(&str, &str)], ignore_merges: bool) -> Bpe {
        let vocab: FxHashMap<Vec<u8>, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_bytes().to_vec(), i as u32))
            .collect();
        let merges: Vec<(Vec<u8>, Vec<u8>)> = merges
            .iter()
            .map(|(l, r)| (l.as_bytes().to_vec(), r.as_bytes().to_vec()))
            .collect();
        let options = BpeOptions {
            ignore_merges,
            ..BpeOptions::default()
        };
        Bpe::from_merges(vocab, &merges, Units::Bytes, &options).unwrap()
    }

    /// Merged ids that do not rise with the rank: priorities are ranks, merged ids looked up.
    fn toy(ignore_merges: bool) -> Bpe {
        toy_with(
            &["a", "b", "c", "ab", "bc", "abc", "aa"],
            &TOY_MERGES,
            ignore_merges,
        )
    }

    fn encode(model: &Bpe, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        model.encode_piece(text.as_bytes(), &mut out);
        out
    }

    #[test]
    fn merges_lowest_rank_first() {
        let model = toy(false);
        assert!(model.merged_ids.is_some());
        // "abc": (b,c) has rank 0, then (a,bc) → abc.
        assert_eq!(encode(&model, "abc"), vec![5]);
        // "ab" alone: (a,b) → ab.
        assert_eq!(encode(&model, "ab"), vec![3]);
        // ties go to the leftmost pair: "aaa" → aa, a.
        assert_eq!(encode(&model, "aaa"), vec![6, 0]);
        assert_eq!(encode(&model, "cab"), vec![2, 3]);
    }

    /// BPE by the book, on token strings: merge the lowest-ranked listed pair, leftmost first.
    fn reference_merge(text: &str, merges: &[(&str, &str)]) -> Vec<String> {
        let mut parts: Vec<String> = text.chars().map(String::from).collect();
        loop {
            let best = (0..parts.len().saturating_sub(1))
                .filter_map(|i| {
                    merges
                        .iter()
                        .position(|&(l, r)| parts[i] == l && parts[i + 1] == r)
                        .map(|rank| (rank, i))
                })
                .min();
            let Some((_, i)) = best else {
                return parts;
            };
            let right = parts.remove(i + 1);
            parts[i].push_str(&right);
        }
    }

    #[test]
    fn short_and_long_merges_match_the_book_with_every_kind_of_priority_and_queue() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc", "aa"];
        // Merged ids rising with the rank: the merged id is the priority.
        let rising = ["a", "b", "c", "bc", "ab", "abc", "aa"];
        // `ab` is made (rank 2) after a pair with it (rank 1): a key below the last popped,
        // for the radix heap's side heap.
        let made_late = [("b", "c"), ("ab", "c"), ("a", "b"), ("a", "bc"), ("a", "a")];
        for (tokens, merges) in [
            (tokens, &TOY_MERGES[..]),
            (rising, &TOY_MERGES[..]),
            (tokens, &made_late[..]),
        ] {
            let model = toy_with(&tokens, merges, false);
            assert_eq!(model.merged_ids.is_none(), tokens[3] == "bc");
            let mut rng = crate::testing::Rng(12345);
            for len in (1..80).chain([200, 1000]) {
                // A pseudo-random string of a, b and c.
                let text: String = (0..len).map(|_| ['a', 'b', 'c'][rng.below(3)]).collect();
                let expected: Vec<u32> = reference_merge(&text, merges)
                    .iter()
                    .map(|part| tokens.iter().position(|t| t == part).unwrap() as u32)
                    .collect();
                assert_eq!(encode(&model, &text), expected, "{text}");
                let mut initial = Vec::new();
                model.initial_units(text.as_bytes(), &mut initial);
                let mut units = initial.clone();
                let n = model.merge_queued(&mut units, BinaryHeap::new(), None);
                assert_eq!(units[..n], expected, "binary heap: {text}");
                let mut units = initial;
                let n = model.merge_queued(&mut units, RadixHeap::new(), None);
                assert_eq!(units[..n], expected, "radix heap: {text}");
            }
        }
    }

    #[test]
    fn cuts_look_up_the_same_parts_as_slices() {
        // Tokens of 1 to 20 bytes, zero bytes included (a zero byte pads a short word), and
        // every prefix and suffix of the longest ones, so that most parts are tokens.
        let long: Vec<u8> = (0..20u8)
            .map(|b| if b % 3 == 0 { 0 } else { b'a' + b })
            .collect();
        let mut tokens: Vec<Vec<u8>> = Vec::new();
        for len in 1..=long.len() {
            tokens.push(long[..len].to_vec());
            tokens.push(long[long.len() - len..].to_vec());
        }
        tokens.extend([vec![0], vec![0, 0], b"ab".to_vec(), b"abcdefghij".to_vec()]);
        let vocab = Vocab::from_entries(tokens.iter().map(|t| &t[..]).zip(0..));
        let mut found = 0;
        for token in &tokens {
            let cuts = Cuts::new(token);
            for cut in 1..token.len() {
                assert_eq!(
                    cuts.left(&vocab, cut),
                    vocab.get(&token[..cut]),
                    "{token:?} {cut}"
                );
                assert_eq!(
                    cuts.right(&vocab, cut),
                    vocab.get(&token[cut..]),
                    "{token:?} {cut}"
                );
                found += usize::from(cuts.left(&vocab, cut).is_some());
            }
        }
        assert!(found > 100, "{found}");
    }

    #[test]
    fn tiktoken_ranks_merge_by_concatenation_rank() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc"];
        let ranks = Ranks::from_pairs(tokens.iter().zip(0..)).unwrap();
        let model = Bpe::from_ranks(ranks).unwrap();
        assert_eq!(encode(&model, "abc"), vec![5]);
        // "abca": ab (rank 3) before bc (rank 4), then abc? (ab, c) → abc rank 5.
        assert_eq!(encode(&model, "abca"), vec![5, 0]);
    }

    #[test]
    fn unknown_units_use_unk_and_byte_fallback() {
        let mut vocab: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        for (i, t) in ["<unk>", "a", "<0xC3>", "<0xA9>"].iter().enumerate() {
            vocab.insert(t.as_bytes().to_vec(), i as u32);
        }
        let fuse = BpeOptions {
            unk_token: Some(b"<unk>".to_vec()),
            fuse_unk: true,
            ..Default::default()
        };
        let model = Bpe::from_merges(vocab.clone(), &[], Units::Chars, &fuse).unwrap();
        assert_eq!(encode(&model, "axxa"), vec![1, 0, 1]);
        let fallback = BpeOptions {
            byte_fallback: true,
            ..fuse
        };
        let model = Bpe::from_merges(vocab, &[], Units::Chars, &fallback).unwrap();
        assert_eq!(encode(&model, "éa"), vec![2, 3, 1]);
    }
}
