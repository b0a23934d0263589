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
//! merge back to themselves, checked on first use); otherwise an O(n²) scan for short pieces,
//! where it is fastest, and a binary heap over a linked list (O(n log n)) for long ones. A piece
//! of megabytes is still superlinear in practice (10 MB of one character takes about 20 times
//! as long as 1 MB): its heap and links leave the caches.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::utf8_len;
use super::word_cache::{self, WordCache};
use crate::error::{Error, Result};
use crate::pretokenize::scanners::KnownPattern;

/// Pieces with at most this many units are merged by the quadratic scan; longer ones by the heap.
/// Below ~64 units a linear rescan of a small array beats heap bookkeeping.
const SHORT_PIECE_UNITS: usize = 64;

/// Gives each model its own cache identity, so that one thread can use several models.
static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(1);

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
    vocab: FxHashMap<Vec<u8>, u32>,
    /// (left id, right id) packed in a u64 → (rank, merged id).
    merges: FxHashMap<u64, (u32, u32)>,
    /// The id of each single byte as a unit (byte-level models).
    byte_units: [Option<u32>; 256],
    /// Units are bytes, every byte has a token, and no prefix or suffix applies.
    all_byte_units: bool,
    /// A piece may be cut before each word marker `▁` that follows another character (see
    /// [`Bpe::encode_piece`]).
    split_at_word_marker: bool,
    /// With `all_byte_units`: the merge of each byte pair, `(a << 8) | b` → (rank, merged id),
    /// rank `u32::MAX` when none. A piece's first round of pair lookups (one per byte) is the
    /// bulk of a merge's lookups; this 512 KB table stays in cache where the hash table
    /// (hundreds of thousands of pairs) does not. Measured with callgrind on the multilingual
    /// corpus (o200k, cold cache): 5% fewer instructions and 11% fewer L1 misses in encoding.
    byte_pairs: Box<[(u32, u32)]>,
    /// The `<0xXX>` token ids, when byte fallback is on.
    byte_fallback_ids: Option<[Option<u32>; 256]>,
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
    vocab: &FxHashMap<Vec<u8>, u32>,
    rank: usize,
    left: &[u8],
    right: &[u8],
    merged: &[u8],
) -> Result<(u32, u32, u32)> {
    let lookup = |part: &[u8]| {
        vocab.get(part).copied().ok_or_else(|| {
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

/// Whether every `▁` of `token` is in its leading run of them.
fn marker_only_leading(token: &[u8]) -> bool {
    let mut rest = token;
    while let Some(after) = rest.strip_prefix(WORD_MARKER) {
        rest = after;
    }
    memchr::memmem::find(rest, WORD_MARKER).is_none()
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
        vocab: FxHashMap<Vec<u8>, u32>,
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
        Self::assemble(vocab, table, units, options)
    }

    /// Builds a tiktoken model from token bytes and ranks (the rank is also the id).
    ///
    /// tiktoken merges the adjacent parts whose concatenation has the lowest rank. Every such
    /// merge joins two tokens into a third, so the pair table lists, for each token, each way of
    /// cutting it into two tokens, with the token's rank.
    pub fn from_ranks(ranks: &[(Vec<u8>, u32)]) -> Result<Self> {
        let mut vocab = FxHashMap::default();
        vocab.reserve(ranks.len());
        for (bytes, rank) in ranks {
            vocab.insert(bytes.clone(), *rank);
        }
        let mut table = FxHashMap::default();
        for (bytes, rank) in ranks {
            for cut in 1..bytes.len() {
                let (left, right) = bytes.split_at(cut);
                if let (Some(&l), Some(&r)) = (vocab.get(left), vocab.get(right)) {
                    table.insert(pair_key(l, r), (*rank, *rank));
                }
            }
        }
        let options = BpeOptions {
            ignore_merges: true,
            ..BpeOptions::default()
        };
        Self::assemble(vocab, table, Units::Bytes, &options)
    }

    fn assemble(
        vocab: FxHashMap<Vec<u8>, u32>,
        merges: FxHashMap<u64, (u32, u32)>,
        units: Units,
        options: &BpeOptions,
    ) -> Result<Self> {
        let unk_id = match &options.unk_token {
            Some(unk) => Some(*vocab.get(&unk[..]).ok_or_else(|| {
                Error::invalid(format!(
                    "model.unk_token: {:?} is not in the vocabulary",
                    String::from_utf8_lossy(unk)
                ))
            })?),
            None => None,
        };
        let mut byte_units = [None; 256];
        for (byte, slot) in byte_units.iter_mut().enumerate() {
            *slot = vocab.get(&[byte as u8][..]).copied();
        }
        let byte_fallback_ids = options.byte_fallback.then(|| {
            let mut ids = [None; 256];
            for (byte, slot) in ids.iter_mut().enumerate() {
                *slot = vocab.get(format!("<0x{byte:02X}>").as_bytes()).copied();
            }
            ids
        });
        let max_id = vocab.values().copied().max().map_or(0, |m| m as usize + 1);
        let prefix = options
            .continuing_subword_prefix
            .clone()
            .filter(|p| !p.is_empty());
        let suffix = options.end_of_word_suffix.clone().filter(|s| !s.is_empty());
        let all_byte_units = units == Units::Bytes
            && prefix.is_none()
            && suffix.is_none()
            && byte_units.iter().all(Option::is_some);
        let split_at_word_marker = units == Units::Chars
            && prefix.is_none()
            && suffix.is_none()
            // A known `▁`, so that unknown characters never fuse across a cut.
            && vocab.contains_key(WORD_MARKER)
            && vocab.keys().all(|token| marker_only_leading(token));
        let mut model = Bpe {
            cache_id: NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed),
            all_byte_units,
            split_at_word_marker,
            byte_pairs: Box::new([]),
            vocab,
            merges,
            byte_units,
            byte_fallback_ids,
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
                    model.merge_of(left, right).unwrap_or((u32::MAX, 0))
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
            let len = self.vocab.values().max().map_or(0, |&m| m as usize + 1);
            let mut table = vec![Vec::new(); len];
            for (bytes, &id) in &self.vocab {
                table[id as usize].clone_from(bytes);
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
            !self.vocab.contains_key(&key)
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
    pub fn vocab(&self) -> &FxHashMap<Vec<u8>, u32> {
        &self.vocab
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
            for piece in pieces {
                self.encode_cached(cache, piece, out);
            }
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
            scanner.for_each_match(text, |start, end| {
                self.encode_cached(cache, &bytes[start..end], out)
            });
        });
    }

    /// Encodes one piece through the cache, word by word when it may be cut at word markers.
    #[inline]
    fn encode_cached(&self, cache: &mut WordCache, piece: &[u8], out: &mut Vec<u32>) {
        if self.split_at_word_marker && piece.len() > WORD_MARKER.len() {
            let mut start = 0;
            for at in memchr::memmem::find_iter(piece, WORD_MARKER) {
                if at > start && !piece[..at].ends_with(WORD_MARKER) {
                    self.encode_word(cache, &piece[start..at], out);
                    start = at;
                }
            }
            self.encode_word(cache, &piece[start..], out);
        } else {
            self.encode_word(cache, piece, out);
        }
    }

    /// Encodes one word (a piece that no merge crosses) through the cache.
    #[inline]
    fn encode_word(&self, cache: &mut WordCache, piece: &[u8], out: &mut Vec<u32>) {
        cache.encode(piece, out, |piece, out| self.encode_uncached(piece, out));
    }

    /// Encodes one word without the cache: the whole-word lookup when it is known to give the
    /// merge result, else merging.
    fn encode_uncached(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(&id) = self.vocab.get(piece) {
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
        let merged_len = if symbols.len() <= SHORT_PIECE_UNITS {
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
                Some(&id) => {
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

    #[inline]
    fn merge_of(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        self.merges.get(&pair_key(left, right)).copied()
    }

    /// Merges in place by rescanning for the lowest-ranked pair; returns the new length.
    /// `bytes`, when given, are the piece's bytes, one per symbol (all-byte-unit models).
    fn merge_short(&self, symbols: &mut [u32], bytes: Option<&[u8]>) -> usize {
        let mut len = symbols.len();
        if len < 2 {
            return len;
        }
        // ranks[i] is the merge of (symbols[i], symbols[i + 1]), u32::MAX when none.
        let mut ranks = [(u32::MAX, 0u32); SHORT_PIECE_UNITS];
        match bytes {
            Some(bytes) => {
                for (rank, pair) in ranks.iter_mut().zip(bytes.windows(2)) {
                    *rank = self.byte_pairs[usize::from(pair[0]) << 8 | usize::from(pair[1])];
                }
            }
            None => {
                for i in 0..len - 1 {
                    ranks[i] = self
                        .merge_of(symbols[i], symbols[i + 1])
                        .unwrap_or((u32::MAX, 0));
                }
            }
        }
        loop {
            let mut best = u32::MAX;
            let mut at = 0;
            for (i, &(rank, _)) in ranks[..len - 1].iter().enumerate() {
                if rank < best {
                    best = rank;
                    at = i;
                }
            }
            if best == u32::MAX {
                return len;
            }
            symbols[at] = ranks[at].1;
            symbols.copy_within(at + 2..len, at + 1);
            if at + 2 < len {
                ranks.copy_within(at + 2..len - 1, at + 1);
            }
            len -= 1;
            if at + 1 < len {
                ranks[at] = self
                    .merge_of(symbols[at], symbols[at + 1])
                    .unwrap_or((u32::MAX, 0));
            }
            if at > 0 {
                ranks[at - 1] = self
                    .merge_of(symbols[at - 1], symbols[at])
                    .unwrap_or((u32::MAX, 0));
            }
            if len < 2 {
                return len;
            }
        }
    }

    /// Merges in O(n log n) with a heap of candidate pairs over a linked list; stale heap entries
    /// are skipped when popped. Returns the new length (the survivors are compacted to the front).
    ///
    /// Compact on purpose (the worst cases are single pieces of megabytes: a run of one
    /// character, text without spaces for a pre-tokenizer-less model): positions are `u32`, a
    /// heap entry is one `u64` (rank above, position below, so that the order is lowest rank,
    /// then leftmost), and `candidate[i]` holds the merge of the pair that starts at `i` now.
    /// An entry is stale when `candidate` no longer has its rank there: the pair at a position
    /// only changes by covering more bytes, so it never comes back to an earlier pair, and a rank
    /// belongs to one pair (HF lists each pair once; a tiktoken rank is one token, one byte
    /// string). 28 bytes per unit where the first version took 53 (`usize` links, 32-byte
    /// entries that carried the pair); on a 10 MB run of one character, the 10 MB : 1 MB time
    /// ratio was 14.4 before.
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
        const NONE: u32 = u32::MAX;
        const NO_MERGE: (u32, u32) = (u32::MAX, 0);
        let entry = |rank: u32, at: u32| Reverse(u64::from(rank) << 32 | u64::from(at));
        let mut next: Vec<u32> = (1..=n as u32).collect();
        next[n - 1] = NONE;
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        let mut candidate: Vec<(u32, u32)> = vec![NO_MERGE; n];
        let mut heap: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            if let Some(merge) = self.merge_of(symbols[i], symbols[i + 1]) {
                candidate[i] = merge;
                heap.push(entry(merge.0, i as u32));
            }
        }
        let mut skipped: Vec<Reverse<u64>> = Vec::new();
        while let Some(popped) = heap.pop() {
            // The coin comes before the staleness check, as in the reference: a stale entry
            // that is not skipped also puts the skipped ones back.
            if let Some(p) = dropout {
                if random_unit() < p {
                    skipped.push(popped);
                    continue;
                }
                heap.extend(skipped.drain(..));
            }
            let Reverse(key) = popped;
            let (rank, left) = ((key >> 32) as u32, key as u32 as usize);
            if candidate[left].0 != rank {
                continue; // stale: the pair at `left` changed, or `left` was merged away
            }
            let merged = candidate[left].1;
            let right = next[left] as usize;
            symbols[left] = merged;
            candidate[right] = NO_MERGE;
            candidate[left] = NO_MERGE;
            let after = next[right];
            next[left] = after;
            if after != NONE {
                prev[after as usize] = left as u32;
                if let Some(merge) = self.merge_of(merged, symbols[after as usize]) {
                    candidate[left] = merge;
                    heap.push(entry(merge.0, left as u32));
                }
            }
            let before = prev[left];
            if before != NONE {
                let before = before as usize;
                candidate[before] = self.merge_of(symbols[before], merged).unwrap_or(NO_MERGE);
                if candidate[before] != NO_MERGE {
                    heap.push(entry(candidate[before].0, before as u32));
                }
            }
        }
        // Position 0 is never merged away: walk the survivors from it.
        let mut len = 0;
        let mut at = 0;
        while at != NONE {
            symbols[len] = symbols[at as usize];
            len += 1;
            at = next[at as usize];
        }
        len
    }

    /// Lowest rank first, leftmost on ties, by rescanning the pairs after every merge: O(n²),
    /// no side tables. Only for pieces too long for [`Bpe::merge_long`]'s `u32` positions.
    fn merge_quadratic(&self, symbols: &mut [u32]) -> usize {
        let mut len = symbols.len();
        loop {
            let best = (0..len.saturating_sub(1))
                .filter_map(|i| {
                    self.merge_of(symbols[i], symbols[i + 1])
                        .map(|(r, m)| (r, i, m))
                })
                .min();
            let Some((_, at, merged)) = best else {
                return len;
            };
            symbols[at] = merged;
            symbols.copy_within(at + 2..len, at + 1);
            len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn toy(ignore_merges: bool) -> Bpe {
        let tokens = ["a", "b", "c", "ab", "bc", "abc", "aa"];
        let vocab: FxHashMap<Vec<u8>, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_bytes().to_vec(), i as u32))
            .collect();
        let merges: Vec<(Vec<u8>, Vec<u8>)> = [("b", "c"), ("a", "b"), ("a", "bc"), ("a", "a")]
            .iter()
            .map(|(l, r)| (l.as_bytes().to_vec(), r.as_bytes().to_vec()))
            .collect();
        let options = BpeOptions {
            ignore_merges,
            ..BpeOptions::default()
        };
        Bpe::from_merges(vocab, &merges, Units::Bytes, &options).unwrap()
    }

    fn encode(model: &Bpe, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        model.encode_piece(text.as_bytes(), &mut out);
        out
    }

    #[test]
    fn merges_lowest_rank_first() {
        let model = toy(false);
        // "abc": (b,c) has rank 0, then (a,bc) → abc.
        assert_eq!(encode(&model, "abc"), vec![5]);
        // "ab" alone: (a,b) → ab.
        assert_eq!(encode(&model, "ab"), vec![3]);
        // ties go to the leftmost pair: "aaa" → aa, a.
        assert_eq!(encode(&model, "aaa"), vec![6, 0]);
        assert_eq!(encode(&model, "cab"), vec![2, 3]);
    }

    #[test]
    fn long_pieces_match_short_algorithm() {
        let model = toy(false);
        let text: String = "abcaabcbcabaaacb".repeat(20);
        let mut short = Vec::new();
        model.initial_units(text.as_bytes(), &mut short);
        let n = model.merge_short_reference(&mut short);
        short.truncate(n);
        assert_eq!(encode(&model, &text), short);
    }

    impl Bpe {
        /// The quadratic algorithm on any length, for cross-checking the heap.
        fn merge_short_reference(&self, symbols: &mut [u32]) -> usize {
            let mut v = symbols.to_vec();
            loop {
                let best = (0..v.len().saturating_sub(1))
                    .filter_map(|i| self.merge_of(v[i], v[i + 1]).map(|(r, m)| (r, i, m)))
                    .min();
                match best {
                    Some((_, i, m)) => {
                        v[i] = m;
                        v.remove(i + 1);
                    }
                    None => break,
                }
            }
            symbols[..v.len()].copy_from_slice(&v);
            v.len()
        }
    }

    #[test]
    fn tiktoken_ranks_merge_by_concatenation_rank() {
        let ranks: Vec<(Vec<u8>, u32)> = ["a", "b", "c", "ab", "bc", "abc"]
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_bytes().to_vec(), i as u32))
            .collect();
        let model = Bpe::from_ranks(&ranks).unwrap();
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
