//! The assembled pipeline: added-token split → normalizer → pre-tokenizer → model →
//! post-processor, and ids → decoder → text.
//!
//! A `Tokenizer` is immutable once loaded and shared by all threads without locks; the per-call
//! buffers (segments, normalized text, pieces) live in a thread-local scratch that is reused, so
//! encoding allocates only when a buffer has to grow.

use std::cell::RefCell;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;

use crate::added::{AddedToken, AddedVocabulary, Segment};
use crate::byte_alphabet;
use crate::decode::{self, Decoder};
use crate::encoding::{PaddingParams, TruncationParams};
use crate::error::{Error, ErrorKind, Result};
use crate::models::ranks::{Ranks, RanksError};
use crate::models::Model;
use crate::normalize::Normalizer;
use crate::parallel;
use crate::postprocess::PostProcessor;
use crate::prefetch::for_each_prefetched;
use crate::pretokenize::scanners::{letter_at, space_before, KnownPattern};
use crate::pretokenize::{Pieces, PreTokenizer};

/// Reusable buffers for one encode call on one thread.
struct Scratch {
    segments: Vec<Segment>,
    normalized_segments: Vec<Segment>,
    normalized: String,
    pieces: Pieces,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        segments: Vec::new(),
        normalized_segments: Vec::new(),
        normalized: String::new(),
        pieces: Pieces::new(),
    });
}

/// Which special-token strings in the input are matched as special tokens.
#[derive(Clone, Copy)]
pub enum SpecialTokens<'a> {
    /// Hugging Face semantics: every added token (special or not) is matched, with its options.
    Added,
    /// tiktoken's `encode_ordinary`: none; the text is all text.
    Ignored,
    /// Hugging Face with `encode_special_tokens`: added tokens that are not special are matched;
    /// the text of special tokens is text. (The same as `Ignored` when every added token is
    /// special, as in the OpenAI encodings.)
    NonSpecial,
    /// tiktoken's `encode(allowed_special=...)`: only these strings (leftmost-longest).
    Only(&'a AhoCorasick),
}

/// A batch encoder ([`parallel::EncodeTexts`]): [`Tokenizer::encode_batch_into`] with these
/// options.
#[derive(Clone, Copy)]
pub struct Batched<'a> {
    /// The tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// Which special-token strings are matched.
    pub specials: SpecialTokens<'a>,
    /// Whether the post-processor adds its tokens.
    pub add_special_tokens: bool,
}

impl parallel::EncodeTexts for Batched<'_> {
    fn encode_texts(&self, texts: &[&str], ids: &mut Vec<u32>, lengths: &mut Vec<usize>) {
        let Batched {
            tokenizer,
            specials,
            add_special_tokens,
        } = *self;
        tokenizer.encode_batch_into(texts, specials, add_special_tokens, ids, lengths);
    }
}

/// The id ↔ token tables of a tokenizer: model vocabulary plus added tokens.
///
/// A rank file's tokenizer spells its token strings (GPT-2's alphabet for the bytes, e.g.
/// `Ġhello`) and maps them back to ids only when something asks: `id_to_token`, `token_to_id`,
/// `get_vocab`, offsets with tokens. Encoding and decoding never do, and making them was a
/// sixth of loading o200k (200k strings, twice, and a map of them).
#[derive(Debug, Clone)]
pub(crate) struct TokenTable {
    /// id → token string (the vocabulary's own spelling).
    tokens: OnceLock<Vec<Option<String>>>,
    /// token string → id; added tokens take precedence, as in HF.
    ids: OnceLock<FxHashMap<String, u32>>,
    /// id → whether some token has it.
    known: Vec<bool>,
    /// id → whether it is a special added token.
    pub special: Vec<bool>,
    /// Every id's decoded bytes (`bytes[offsets[id]..offsets[id + 1]]`), when the loader has
    /// them without decoding the token strings (a rank file's tokens are bytes already); else
    /// they are decoded from the strings by a per-token decoder.
    pub decoded: Option<(Vec<u8>, Vec<u32>)>,
}

impl TokenTable {
    /// Tables of token strings made by the loader.
    pub fn new(
        tokens: Vec<Option<String>>,
        ids: FxHashMap<String, u32>,
        special: Vec<bool>,
    ) -> TokenTable {
        TokenTable {
            known: tokens.iter().map(Option::is_some).collect(),
            tokens: OnceLock::from(tokens),
            ids: OnceLock::from(ids),
            special,
            decoded: None,
        }
    }

    /// Tables of a byte-level tokenizer whose strings are spelled when first asked for
    /// ([`Tokenizer::tokens`]): each known id that is not special is its decoded bytes in
    /// GPT-2's alphabet, each special id its added token's text.
    pub fn spelled_later(
        known: Vec<bool>,
        special: Vec<bool>,
        decoded: (Vec<u8>, Vec<u32>),
    ) -> TokenTable {
        TokenTable {
            tokens: OnceLock::new(),
            ids: OnceLock::new(),
            known,
            special,
            decoded: Some(decoded),
        }
    }
}

/// A loaded tokenizer: the whole pipeline, immutable and shareable across threads.
#[derive(Debug)]
pub struct Tokenizer {
    pub(crate) added: AddedVocabulary,
    pub(crate) has_normalized_added: bool,
    /// Whether a pre-tokenizer needs to know which piece starts the input (Metaspace `first`).
    needs_origin: bool,
    /// The known pattern whose matches are the pre-tokenizer's pieces, if any: the model then
    /// takes each match as the scanner finds it (no [`Pieces`] built: no copy of the text, no
    /// list of ranges). See [`PreTokenizer::tiling_scanner`].
    tiling: Option<KnownPattern>,
    /// Whether a long text may be cut at line starts and its parts encoded in parallel (see
    /// [`Tokenizer::encode_parallel`]).
    line_cuts: bool,
    /// Whether those line starts may follow whitespace ([`PreTokenizer::cuts_after_blank_lines`]).
    blank_line_cuts: bool,
    /// Whether a long text may be cut before a space that follows a printable ASCII character
    /// other than a space instead (see [`space_starts`]).
    space_cuts: bool,
    /// Whether a long text may be cut in its normalized form instead, where the model allows
    /// (no pre-tokenizer, a model that [`Model::cuts_long_pieces`], and no added token matched
    /// in normalized text; see [`Tokenizer::encode_in_model_parts`]).
    model_cuts: bool,
    pub(crate) normalizer: Option<Normalizer>,
    pub(crate) pre_tokenizer: Option<PreTokenizer>,
    pub(crate) model: Model,
    pub(crate) post_processor: Option<PostProcessor>,
    pub(crate) decoder: Option<Decoder>,
    pub(crate) table: TokenTable,
    /// An added token's text → its id, the later of two with the same text (as in `table`'s
    /// map, which has the model's tokens too and may not be made yet).
    added_ids: FxHashMap<String, u32>,
    /// The decoded bytes of each id when the decoder works token by token: `decoded_bytes[
    /// decoded_offsets[id]..decoded_offsets[id + 1]]`.
    decoded_bytes: Vec<u8>,
    decoded_offsets: Vec<u32>,
    /// The file's own truncation settings (`"truncation"`), the default of the rich encode.
    pub truncation: Option<TruncationParams>,
    /// The file's own padding settings (`"padding"`), the default of the rich encode.
    pub padding: Option<PaddingParams>,
}

impl Tokenizer {
    /// Assembles a tokenizer from its parts (the loaders call this).
    pub(crate) fn assemble(
        added: AddedVocabulary,
        normalizer: Option<Normalizer>,
        pre_tokenizer: Option<PreTokenizer>,
        model: Model,
        post_processor: Option<PostProcessor>,
        decoder: Option<Decoder>,
        table: TokenTable,
    ) -> Self {
        let has_normalized_added = added.tokens().iter().any(|t| t.normalized);
        let needs_origin = pre_tokenizer
            .as_ref()
            .is_some_and(PreTokenizer::needs_origin);
        // Added tokens that could span a line start or reach back across one (lstrip takes
        // the newline before it) would see a cut text differently.
        let line_cuts = pre_tokenizer
            .as_ref()
            .is_some_and(PreTokenizer::cuts_at_line_starts)
            && normalizer
                .as_ref()
                .is_none_or(Normalizer::keeps_line_starts)
            && added
                .tokens()
                .iter()
                .all(|t| !t.lstrip && !t.content.contains(['\n', '\r']));
        let blank_line_cuts = line_cuts
            && pre_tokenizer
                .as_ref()
                .is_some_and(PreTokenizer::cuts_after_blank_lines);
        // Added tokens that hold whitespace could span such a cut, and one that takes the
        // whitespace after it (rstrip) would reach across it. (One that takes the whitespace
        // before it takes all of it: the cut is before it. One matched in the normalized text
        // has no whitespace there either: the normalizer keeps printable ASCII as it is.)
        let space_cuts = !blank_line_cuts
            && pre_tokenizer
                .as_ref()
                .is_some_and(PreTokenizer::cuts_before_spaces)
            && normalizer
                .as_ref()
                .is_none_or(Normalizer::keeps_space_starts)
            && added
                .tokens()
                .iter()
                .all(|t| !t.rstrip && !t.content.contains(char::is_whitespace));
        let model_cuts =
            pre_tokenizer.is_none() && model.cuts_long_pieces() && !has_normalized_added;
        let tiling = pre_tokenizer
            .as_ref()
            .and_then(PreTokenizer::tiling_scanner);
        let added_ids = added
            .tokens()
            .iter()
            .map(|t| (t.content.clone(), t.id))
            .collect();
        let mut tokenizer = Tokenizer {
            added_ids,
            added,
            has_normalized_added,
            needs_origin,
            tiling,
            line_cuts,
            blank_line_cuts,
            space_cuts,
            model_cuts,
            normalizer,
            pre_tokenizer,
            model,
            post_processor,
            decoder,
            table,
            decoded_bytes: Vec::new(),
            decoded_offsets: Vec::new(),
            truncation: None,
            padding: None,
        };
        if let Some((bytes, offsets)) = tokenizer.table.decoded.take() {
            tokenizer.decoded_bytes = bytes;
            tokenizer.decoded_offsets = offsets;
        } else if let Some(decoder) = tokenizer.decoder.as_ref().filter(|d| d.is_per_token()) {
            let mut bytes = Vec::new();
            let mut offsets = Vec::with_capacity(tokenizer.tokens().len() + 1);
            offsets.push(0);
            for token in tokenizer.tokens() {
                if let Some(token) = token {
                    bytes.extend(decoder.decode_token(token));
                }
                offsets.push(bytes.len() as u32);
            }
            tokenizer.decoded_bytes = bytes;
            tokenizer.decoded_offsets = offsets;
        }
        tokenizer
    }

    /// Loads a Hugging Face `tokenizer.json` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::load::tokenizer_json::from_file(path.as_ref())
    }

    /// Loads a Hugging Face tokenizer from the text of a `tokenizer.json`.
    pub fn from_json_str(json: &str) -> Result<Self> {
        crate::load::tokenizer_json::from_str(json, "tokenizer.json")
    }

    /// Builds a tiktoken-style tokenizer from token bytes with ranks, a split pattern and
    /// special tokens.
    pub fn from_ranks(
        ranks: Vec<(Vec<u8>, u32)>,
        pattern: &str,
        special_tokens: &[(String, u32)],
    ) -> Result<Self> {
        let ranks = Ranks::from_pairs(ranks.iter().map(|(bytes, rank)| (bytes, *rank))).map_err(
            |error| {
                Error::invalid(match error {
                    RanksError::TokenTwice { second, .. } => {
                        format!("the token {:?} is given two ranks", ranks[second].0)
                    }
                    RanksError::RankTwice { rank, .. } => {
                        format!("rank {rank} is given to two tokens")
                    }
                })
            },
        )?;
        crate::load::tiktoken_model::from_ranks(ranks, pattern, special_tokens)
    }

    /// Loads a `.tiktoken` rank file with its split pattern and special tokens.
    pub fn from_tiktoken_file(
        path: impl AsRef<Path>,
        pattern: &str,
        special_tokens: &[(String, u32)],
    ) -> Result<Self> {
        let ranks = crate::load::tiktoken::read_ranks_file(path.as_ref())?;
        crate::load::tiktoken_model::from_ranks(ranks, pattern, special_tokens)
    }

    /// One of the OpenAI encodings shipped with ferrotok (`o200k_base`, `cl100k_base`, ...).
    pub fn from_builtin(name: &str) -> Result<Self> {
        let spec = crate::load::builtin::builtin_spec(name)?;
        let ranks = crate::load::builtin::builtin_ranks(&spec)?;
        let specials: Vec<(String, u32)> = spec
            .special_tokens
            .iter()
            .map(|(s, id)| (s.to_string(), *id))
            .collect();
        crate::load::tiktoken_model::from_ranks(ranks, spec.pattern, &specials)
    }

    /// Encodes with Hugging Face semantics: added tokens are matched in the text, and
    /// `add_special_tokens` lets the post-processor add its tokens (BOS, CLS/SEP).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 2);
        self.encode_into(text, add_special_tokens, &mut out);
        out
    }

    /// Like [`Tokenizer::encode`], appending to `out`.
    pub fn encode_into(&self, text: &str, add_special_tokens: bool, out: &mut Vec<u32>) {
        let start = out.len();
        self.encode_with(text, SpecialTokens::Added, out);
        self.post_process_ids(add_special_tokens, out, start);
    }

    /// Encodes each of `texts` as [`Tokenizer::encode_with`] does (and with `add_special_tokens`
    /// the post-processor), appending their ids to `ids` one text after the other and each
    /// text's number of ids to `lengths`.
    ///
    /// When the texts are only split at added tokens, normalized, cut by a scanner and then go to
    /// a BPE model, as with every tiktoken encoding (and Qwen 2.5, with NFC), they share one ring
    /// of queued pieces ([`crate::models::bpe::ScannedBatch`]), which keeps the cache's look-ups
    /// ahead across the ends of documents. A text the normalizer rewrites is encoded from its
    /// copy, after what is queued.
    pub fn encode_batch_into(
        &self,
        texts: &[&str],
        specials: SpecialTokens<'_>,
        add_special_tokens: bool,
        ids: &mut Vec<u32>,
        lengths: &mut Vec<usize>,
    ) {
        let post_processes = add_special_tokens && self.post_processor.is_some();
        let matches_normalized = self.has_normalized_added
            && matches!(specials, SpecialTokens::Added | SpecialTokens::NonSpecial);
        match (&self.model, self.tiling) {
            (Model::Bpe(bpe), Some(scanner))
                if bpe.batches_scanned() && !post_processes && !matches_normalized =>
            {
                self.encode_scanned_batch(bpe, scanner, texts, specials, ids, lengths)
            }
            _ => for_each_prefetched(texts, |text| {
                let start = ids.len();
                self.encode_with(text, specials, ids);
                self.post_process_ids(add_special_tokens, ids, start);
                lengths.push(ids.len() - start);
            }),
        }
    }

    /// [`Tokenizer::encode_batch_into`] through a [`crate::models::bpe::ScannedBatch`].
    fn encode_scanned_batch(
        &self,
        bpe: &crate::models::bpe::Bpe,
        scanner: KnownPattern,
        texts: &[&str],
        specials: SpecialTokens<'_>,
        ids: &mut Vec<u32>,
        lengths: &mut Vec<usize>,
    ) {
        let mut previous = ids.len();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                segments,
                normalized,
                ..
            } = &mut *scratch;
            bpe.scanned_batch(scanner, |batch| {
                for_each_prefetched(texts, |&text| {
                    self.split_specials(text, specials, segments);
                    for segment in segments.iter() {
                        match segment {
                            Segment::Token { id, .. } => batch.token(*id, ids),
                            Segment::Text(range) => {
                                let raw = &text[range.clone()];
                                match &self.normalizer {
                                    Some(normalizer)
                                        if normalizer.normalize_or_keep(raw, normalized) =>
                                    {
                                        batch.text_now(normalized, ids)
                                    }
                                    _ => batch.text(raw, ids),
                                }
                            }
                        }
                    }
                    batch.end_document(ids.len());
                });
                for &end in batch.finish(ids) {
                    lengths.push(end - previous);
                    previous = end;
                }
            });
        });
    }

    /// Like [`Tokenizer::encode_with`] plus the post-processor when `add_special_tokens`, on up to
    /// `threads` threads for a long text: it is cut at line starts (see
    /// [`PreTokenizer::cuts_at_line_starts`]) and the parts are encoded in parallel. The ids are
    /// those of the whole text; tokenizers whose pipeline does not allow the cut, and texts with
    /// no line start to cut at, are encoded on one thread.
    pub fn encode_parallel(
        &self,
        text: &str,
        specials: SpecialTokens<'_>,
        add_special_tokens: bool,
        threads: Option<usize>,
    ) -> Vec<u32> {
        crate::models::begin_call();
        let mut out = Vec::with_capacity(text.len() / 4 + 2);
        let workers = parallel::thread_count(threads);
        let long = workers > 1 && text.len() >= LONG_TEXT_BYTES;
        // Line starts where they may follow blank lines; else before spaces, where the
        // pipeline allows (GPT-2's pattern gives no cut after a blank line, and English prose
        // separated by them was one part of megabytes; T5 and ALBERT have no line cuts); else
        // the line starts after text.
        let part_count = workers * PARTS_PER_THREAD;
        let cuts = if !long {
            Vec::new()
        } else if self.blank_line_cuts {
            line_starts(text, part_count, true)
        } else if self.space_cuts {
            space_starts(text, part_count)
        } else if self.line_cuts {
            line_starts(text, part_count, false)
        } else {
            Vec::new()
        };
        if cuts.is_empty() && self.model_cuts && long {
            self.encode_in_model_parts(text, specials, threads, part_count, &mut out);
        } else if cuts.is_empty() {
            self.encode_with(text, specials, &mut out);
        } else {
            let parts: Vec<&str> = cut_ranges(text.len(), &cuts)
                .map(|range| &text[range])
                .collect();
            let encoded = parallel::map(&parts, text.len(), threads, |part| {
                let mut ids = Vec::with_capacity(part.len() / 4 + 1);
                self.encode_with(part, specials, &mut ids);
                ids
            });
            for ids in encoded {
                out.extend_from_slice(&ids);
            }
        }
        self.post_process_ids(add_special_tokens, &mut out, 0);
        out
    }

    /// Lets the post-processor add its tokens (BOS, CLS/SEP) around `out[start..]`, when
    /// `add_special_tokens`.
    fn post_process_ids(&self, add_special_tokens: bool, out: &mut Vec<u32>, start: usize) {
        if add_special_tokens {
            if let Some(processor) = &self.post_processor {
                processor.apply(out, start);
            }
        }
    }

    /// Encodes all of `text` as text (tiktoken's `encode_ordinary`): no special-token matching and
    /// no post-processor.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.encode_with(text, SpecialTokens::Ignored, &mut out);
        out
    }

    /// Encodes with an explicit choice of which special-token strings are matched; appends to `out`.
    pub fn encode_with(&self, text: &str, specials: SpecialTokens<'_>, out: &mut Vec<u32>) {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                segments,
                normalized_segments,
                normalized,
                pieces,
            } = &mut *scratch;
            self.split_specials(text, specials, segments);
            let match_normalized = self.has_normalized_added
                && matches!(specials, SpecialTokens::Added | SpecialTokens::NonSpecial);
            for segment in segments.iter() {
                match segment {
                    Segment::Token { id, .. } => out.push(*id),
                    Segment::Text(range) => {
                        let raw = &text[range.clone()];
                        let text = match &self.normalizer {
                            Some(normalizer) if normalizer.normalize_or_keep(raw, normalized) => {
                                normalized.as_str()
                            }
                            _ => raw,
                        };
                        let at_origin =
                            self.needs_origin && range.start == 0 && self.keeps_first_char(raw);
                        if match_normalized {
                            normalized_segments.clear();
                            if matches!(specials, SpecialTokens::NonSpecial) {
                                self.added
                                    .split_normalized_except_special(text, normalized_segments);
                            } else {
                                self.added.split_normalized(text, normalized_segments);
                            }
                            for inner in normalized_segments.iter() {
                                match inner {
                                    Segment::Token { id, .. } => out.push(*id),
                                    Segment::Text(r) => self.encode_plain(
                                        &text[r.clone()],
                                        at_origin && r.start == 0,
                                        pieces,
                                        out,
                                    ),
                                }
                            }
                        } else {
                            self.encode_plain(text, at_origin, pieces, out);
                        }
                    }
                }
            }
        });
    }

    /// Cuts `text` into the special tokens that `specials` matches and the text between them
    /// (`segments` cleared first).
    fn split_specials(&self, text: &str, specials: SpecialTokens<'_>, segments: &mut Vec<Segment>) {
        segments.clear();
        match specials {
            SpecialTokens::Added if !self.added.is_empty() => self.added.split_raw(text, segments),
            SpecialTokens::NonSpecial if !self.added.is_empty() => {
                self.added.split_raw_except_special(text, segments)
            }
            SpecialTokens::Only(matcher) => split_on(matcher, text, &self.added_ids, segments),
            _ => segments.push(Segment::Text(0..text.len())),
        }
    }

    /// [`Tokenizer::encode_with`] for a tokenizer with [`Tokenizer::model_cuts`]: the added
    /// tokens are split off and the text between them normalized on this thread, then each
    /// normalized text is cut where the model allows ([`Model::part_cuts`]) into about `parts`
    /// parts in all, which the model encodes on up to `threads` threads.
    ///
    /// Why: such a tokenizer (Llama 2, Mistral) has no pre-tokenizer, and its normalizer adds a
    /// `▁` at the start of each text it is given, so the raw text has no place where it can be
    /// cut (the line starts of [`line_starts`] would each gain a `▁`), and `long_document.py`'s
    /// 10 MB document ran on one thread. The model already encodes its one long piece word by
    /// word, cut before each word marker that follows another character (see
    /// [`crate::models::Bpe::encode_pieces`]): parts cut at such places give the same words.
    fn encode_in_model_parts(
        &self,
        text: &str,
        specials: SpecialTokens<'_>,
        threads: Option<usize>,
        parts: usize,
        out: &mut Vec<u32>,
    ) {
        let mut segments = Vec::new();
        self.split_specials(text, specials, &mut segments);
        // Each text segment's normalized text (or the raw text, where the normalizer leaves it
        // as it is), then the jobs: added tokens' ids, and parts of those texts.
        let normalized: Vec<Option<String>> = segments
            .iter()
            .map(|segment| match (segment, &self.normalizer) {
                (Segment::Text(range), Some(normalizer)) => {
                    let mut buffer = String::new();
                    normalizer
                        .normalize_or_keep(&text[range.clone()], &mut buffer)
                        .then_some(buffer)
                }
                _ => None,
            })
            .collect();
        /// What one thread encodes: an added token, or a part of a normalized text.
        enum Job<'a> {
            Token(u32),
            Part(&'a [u8]),
        }
        let step = text.len().div_ceil(parts.max(1)).max(1);
        let mut jobs = Vec::new();
        let mut cuts = Vec::new();
        for (segment, normalized) in segments.iter().zip(&normalized) {
            match segment {
                Segment::Token { id, .. } => jobs.push(Job::Token(*id)),
                Segment::Text(range) => {
                    let piece = match normalized {
                        Some(normalized) => normalized.as_bytes(),
                        None => text[range.clone()].as_bytes(),
                    };
                    cuts.clear();
                    self.model.part_cuts(piece, step, &mut cuts);
                    jobs.extend(
                        cut_ranges(piece.len(), &cuts).map(|range| Job::Part(&piece[range])),
                    );
                }
            }
        }
        let encoded = parallel::map(&jobs, text.len(), threads, |job| match *job {
            Job::Token(id) => vec![id],
            Job::Part(piece) => {
                let mut ids = Vec::with_capacity(piece.len() / 3 + 1);
                self.model.encode_piece(piece, &mut ids);
                ids
            }
        });
        for ids in encoded {
            out.extend_from_slice(&ids);
        }
    }

    /// Whether the first character of a raw segment leaves something at the start of its
    /// normalized text: `tokenizers` gives a piece the original offset of its first normalized
    /// character, so a piece starts the input only when that character was not removed.
    fn keeps_first_char(&self, raw: &str) -> bool {
        let Some(first) = raw.chars().next() else {
            return false;
        };
        match &self.normalizer {
            None => true,
            Some(normalizer) => {
                let mut buffer = [0u8; 4];
                let mut out = String::new();
                normalizer.normalize(first.encode_utf8(&mut buffer), &mut out);
                !out.is_empty()
            }
        }
    }

    /// Pre-tokenizes normalized text and runs the model on each piece. `at_origin`: the text
    /// starts the input (original offset 0).
    fn encode_plain(&self, text: &str, at_origin: bool, pieces: &mut Pieces, out: &mut Vec<u32>) {
        if let Some(scanner) = self.tiling {
            return self.model.encode_scanned(text, scanner, out);
        }
        match &self.pre_tokenizer {
            Some(pre_tokenizer) => {
                pieces.reset_at(text, at_origin);
                pre_tokenizer.pre_tokenize(pieces);
                self.model
                    .encode_pieces(pieces.iter().map(str::as_bytes), out);
            }
            None if text.is_empty() => {}
            None => self.model.encode_piece(text.as_bytes(), out),
        }
    }

    /// Builds a matcher for tiktoken's `allowed_special`: `None` allows every special token.
    pub fn special_matcher(&self, allowed: Option<&[String]>) -> Result<AhoCorasick> {
        let patterns: Vec<&str> = match allowed {
            None => self.special_tokens().map(|(s, _)| s).collect(),
            Some(list) => {
                for s in list {
                    if !self.special_tokens().any(|(t, _)| t == s) {
                        return Err(Error::argument(format!("{s:?} is not a special token")));
                    }
                }
                list.iter().map(String::as_str).collect()
            }
        };
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("special-token matcher: {e}")))
    }

    /// The first special-token string found in `text` by `matcher`, with its byte offset.
    pub fn find_special<'t>(
        &self,
        text: &'t str,
        matcher: &AhoCorasick,
    ) -> Option<(usize, &'t str)> {
        matcher.find(text).map(|m| (m.start(), &text[m.range()]))
    }

    /// Decodes ids to text; invalid UTF-8 becomes U+FFFD, as in both references.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let bytes = self.decode_bytes(ids, skip_special_tokens)?;
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Decodes ids to raw bytes.
    pub fn decode_bytes(&self, ids: &[u32], skip_special_tokens: bool) -> Result<Vec<u8>> {
        self.check_ids(ids)?;
        let keep = |id: &&u32| !(skip_special_tokens && self.table.special[**id as usize]);
        if !self.decoded_offsets.is_empty() {
            let mut out = Vec::with_capacity(ids.len() * 4);
            for &id in ids.iter().filter(keep) {
                let id = id as usize;
                let (start, end) = (self.decoded_offsets[id], self.decoded_offsets[id + 1]);
                out.extend_from_slice(&self.decoded_bytes[start as usize..end as usize]);
            }
            return Ok(out);
        }
        let tokens = ids
            .iter()
            .filter(keep)
            .filter_map(|&id| self.tokens()[id as usize].as_deref());
        Ok(match &self.decoder {
            Some(decoder) => decoder
                .decode(tokens.map(str::to_owned).collect())
                .into_bytes(),
            None => decode::join_with_spaces(tokens),
        })
    }

    /// The raw bytes of one token: its decoded form.
    pub fn token_bytes(&self, id: u32) -> Result<Vec<u8>> {
        self.decode_bytes(&[id], false)
    }

    fn check_ids(&self, ids: &[u32]) -> Result<()> {
        for (position, &id) in ids.iter().enumerate() {
            let known = self
                .table
                .known
                .get(id as usize)
                .is_some_and(|&known| known);
            if !known {
                return Err(Error::new(
                    ErrorKind::UnknownId,
                    format!(
                        "token id {id} at position {position} is not in the vocabulary (ids go up to {})",
                        self.max_token_id()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// How many ids `encode` returns for `text`.
    pub fn count(&self, text: &str, add_special_tokens: bool) -> usize {
        self.encode(text, add_special_tokens).len()
    }

    /// The number of distinct tokens, added tokens included (HF's `get_vocab_size(True)`).
    pub fn vocab_size(&self) -> usize {
        self.ids().len()
    }

    /// The largest id that has a token.
    pub fn max_token_id(&self) -> u32 {
        self.table
            .known
            .iter()
            .rposition(|&known| known)
            .unwrap_or(0) as u32
    }

    /// The id of a token string, added tokens first (as HF).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.ids().get(token).copied()
    }

    /// The token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens().get(id as usize).and_then(Option::as_deref)
    }

    /// Every token string with its id.
    pub fn vocab(&self) -> impl Iterator<Item = (&str, u32)> {
        self.ids().iter().map(|(s, &id)| (s.as_str(), id))
    }

    /// id → token string, spelled now if the loader left that for later
    /// ([`TokenTable::spelled_later`]).
    pub(crate) fn tokens(&self) -> &[Option<String>] {
        self.table.tokens.get_or_init(|| {
            let mut tokens = vec![None; self.table.known.len()];
            for (id, token) in tokens.iter_mut().enumerate() {
                if self.table.known[id] && !self.table.special[id] {
                    let (start, end) = (self.decoded_offsets[id], self.decoded_offsets[id + 1]);
                    let bytes = &self.decoded_bytes[start as usize..end as usize];
                    *token = Some(byte_alphabet::encode_bytes(bytes));
                }
            }
            // Two special tokens may share an id (o200k_harmony); as in tiktoken, the later one
            // is what the id decodes to.
            for added in self.added.tokens() {
                tokens[added.id as usize] = Some(added.content.clone());
            }
            tokens
        })
    }

    /// token string → id, made now if the loader left that for later; added tokens take
    /// precedence, the later of two with the same text.
    fn ids(&self) -> &FxHashMap<String, u32> {
        self.table.ids.get_or_init(|| {
            let tokens = self.tokens();
            let mut ids = FxHashMap::default();
            ids.reserve(tokens.len());
            for (id, token) in tokens.iter().enumerate() {
                if let Some(token) = token.as_ref().filter(|_| !self.table.special[id]) {
                    ids.insert(token.clone(), id as u32);
                }
            }
            for added in self.added.tokens() {
                ids.insert(added.content.clone(), added.id);
            }
            ids
        })
    }

    /// The added tokens marked special, with their ids.
    pub fn special_tokens(&self) -> impl Iterator<Item = (&str, u32)> {
        self.added
            .tokens()
            .iter()
            .filter(|t| t.special)
            .map(|t| (t.content.as_str(), t.id))
    }

    /// The added tokens (special and normal).
    pub fn added_tokens(&self) -> &[AddedToken] {
        self.added.tokens()
    }
}

/// Texts at least this long are cut for [`Tokenizer::encode_parallel`]: below it the parts
/// would be too small for threads to pay.
pub const LONG_TEXT_BYTES: usize = 1 << 20;

/// Parts per thread: more parts than threads even out parts of unequal cost (Japanese costs
/// more per byte than English), since a thread done with its own share takes parts from the end
/// of another's ([`parallel::map`]).
///
/// Why 16: `long_document.py`'s 10 MB document (cl100k, two threads, timed per part) was cut
/// into 6 parts with 4 per thread (the English third and the Japanese end had no cut then, see
/// [`line_starts`]), and one thread encoded 36 ms of them while the other encoded 21 and waited.
/// With 16 per thread and the wider cuts: 32 parts of at most 2 ms, 32 and 33 ms of work per
/// thread.
const PARTS_PER_THREAD: usize = 16;

/// Up to `parts - 1` cut positions spreading `text` into parts of similar size, each a line start
/// (see [`PreTokenizer::cuts_at_line_starts`]): after a `\n` that follows a character that is
/// not whitespace (any character, `after_space`: [`PreTokenizer::cuts_after_blank_lines`]),
/// before a letter. A target with no line start before the next target gets no cut.
///
/// Why any letter: with ASCII letters only, a Japanese text (whose lines start with Japanese
/// letters and end with `。`) had no cut at all. In `long_document.py`'s 10 MB document its last
/// 3 MB were one part, which took a third of the one-thread time (cl100k, timed per part) and
/// left the other thread idle.
pub(crate) fn line_starts(text: &str, parts: usize, after_space: bool) -> Vec<usize> {
    let bytes = text.as_bytes();
    spread_cuts(text, parts, |from, limit| {
        memchr::memchr_iter(b'\n', &bytes[from..limit])
            .map(|i| from + i + 1)
            .find(|&at| {
                at >= 2 && letter_at(text, at) && (after_space || !space_before(text, at - 1))
            })
    })
}

/// The non-empty ranges of `0..len` between the increasing positions `cuts`.
fn cut_ranges(len: usize, cuts: &[usize]) -> impl Iterator<Item = Range<usize>> + '_ {
    let ends = cuts.iter().copied().chain([len]);
    let starts = [0].into_iter().chain(cuts.iter().copied());
    starts
        .zip(ends)
        .filter(|range| range.0 < range.1)
        .map(|(start, end)| start..end)
}

/// Up to `parts - 1` cut positions spreading `text` into parts of similar size: in each stretch
/// of `text.len() / parts` bytes after the first, the place `first_in(from, limit)` finds in
/// `from..limit`, if any.
fn spread_cuts(
    text: &str,
    parts: usize,
    first_in: impl Fn(usize, usize) -> Option<usize>,
) -> Vec<usize> {
    let step = text.len() / parts.max(1);
    let mut cuts = Vec::new();
    if step == 0 {
        return cuts;
    }
    let mut from = step;
    while from < text.len() {
        let limit = (from + step).min(text.len());
        cuts.extend(first_in(from, limit));
        from = limit;
    }
    cuts
}

/// Up to `parts - 1` cut positions spreading `text` into parts of similar size, each before a
/// space that follows a printable ASCII character other than a space (see
/// [`PreTokenizer::cuts_before_spaces`] and [`Normalizer::keeps_space_starts`]). For the
/// SentencePiece Unigram files (T5, ALBERT), whose `Metaspace` makes no piece boundary at a line
/// start but always one before a space, for CLIP, whose normalizer makes each line end a space,
/// and for GPT-2's pattern, which has no cut after a blank line.
pub(crate) fn space_starts(text: &str, parts: usize) -> Vec<usize> {
    let bytes = text.as_bytes();
    spread_cuts(text, parts, |from, limit| {
        memchr::memchr_iter(b' ', &bytes[from..limit])
            .map(|i| from + i)
            .find(|&at| at >= 1 && bytes[at - 1].is_ascii_graphic())
    })
}

/// Cuts `text` at the matches of `matcher` (special tokens' texts), as tiktoken does with its
/// special-token regex; `added_ids` maps an added token's text to its id.
fn split_on(
    matcher: &AhoCorasick,
    text: &str,
    added_ids: &FxHashMap<String, u32>,
    out: &mut Vec<Segment>,
) {
    let mut last = 0;
    for m in matcher.find_iter(text) {
        if m.start() > last {
            out.push(Segment::Text(last..m.start()));
        }
        match added_ids.get(&text[m.range()]) {
            Some(&id) => out.push(Segment::Token {
                id,
                range: m.range(),
            }),
            None => out.push(Segment::Text(m.range())),
        }
        last = m.end();
    }
    if last < text.len() {
        out.push(Segment::Text(last..text.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_starts_cut_only_after_a_printable_character_before_a_letter() {
        let text = "aa\nBb  \nCc.\nDd\u{3000}\nEe\r\nFf\n1g";
        let cuts = line_starts(text, text.len(), false);
        let at: Vec<&str> = cuts.iter().map(|&c| &text[c..c + 2]).collect();
        assert_eq!(at, ["Bb", "Dd"]);
        let cuts = line_starts(text, text.len(), true);
        let at: Vec<&str> = cuts.iter().map(|&c| &text[c..c + 2]).collect();
        assert_eq!(at, ["Bb", "Cc", "Dd", "Ee", "Ff"]);
        // Letters and non-space characters beyond ASCII; not before a mark, a digit or a space.
        let text = "。\nあい\u{3000}\nうえ。\n\u{301}x。\n٣x。\n Σα\nΣα";
        let cuts = line_starts(text, text.len(), false);
        let at: Vec<&str> = cuts.iter().map(|&c| &text[c..]).collect();
        assert_eq!(
            at,
            ["あい\u{3000}\nうえ。\n\u{301}x。\n٣x。\n Σα\nΣα", "Σα"]
        );
    }

    /// A built-in encoding (`…_base`) or a `tokenizer.json` of the shared data.
    fn loaded(name: &str) -> Tokenizer {
        match name.ends_with("_base") {
            true => Tokenizer::from_builtin(name).unwrap(),
            false => {
                let file = format!("tokenizers/{name}/tokenizer.json");
                Tokenizer::from_file(crate::testing::data_dir().join(file)).unwrap()
            }
        }
    }

    /// The ids of the parts of `text` cut at `cuts`, each encoded on its own, one after the other.
    fn encode_parts(
        tok: &Tokenizer,
        text: &str,
        cuts: &[usize],
        specials: SpecialTokens<'_>,
    ) -> Vec<u32> {
        let mut ids = Vec::new();
        for range in cut_ranges(text.len(), cuts) {
            tok.encode_with(&text[range], specials, &mut ids);
        }
        ids
    }

    #[test]
    fn parallel_parts_give_the_ids_of_the_whole() {
        // Every kind of line start, after blank lines and whitespace too, and before letters
        // beyond ASCII: r50k (GPT-2's pattern) cuts only after a character that is not
        // whitespace, the others after any line end.
        let line =
            "x  \nA.\nB \u{3000}\nC1\n2d\n\nE'\ns\ttab\nword<|endoftext|>\nZ\r\nq é\nÉ\n \n\n\
                    。\nあ\n漢\n字\n\u{301}x\n\n\nΣα\r\n\r\nß\n";
        // An odd number of lines, so that the cut targets fall at every offset in a line.
        let text = line.repeat((LONG_TEXT_BYTES / line.len()) * 2 + 1);
        for name in ["cl100k_base", "o200k_base", "r50k_base"] {
            let tok = Tokenizer::from_builtin(name).unwrap();
            assert_eq!(tok.blank_line_cuts, name != "r50k_base", "{name}");
            let whole = tok.encode_ordinary(&text);
            let cuts = line_starts(&text, 2000, tok.blank_line_cuts);
            assert!(cuts.len() > 1000, "{name}: {} cuts", cuts.len());
            let parts = encode_parts(&tok, &text, &cuts, SpecialTokens::Ignored);
            assert!(parts == whole, "{name}: the parts' ids differ");
            assert_eq!(
                tok.encode_parallel(&text, SpecialTokens::Ignored, false, Some(4)),
                whole,
                "{name}"
            );
        }
        // BERT's normalizer and pre-tokenizer (whitespace dropped), with its [CLS] and [SEP].
        let path = crate::testing::data_dir().join("tokenizers/bert-base-uncased/tokenizer.json");
        let tok = Tokenizer::from_file(&path).unwrap();
        assert!(tok.line_cuts && tok.blank_line_cuts);
        let mut whole = Vec::new();
        tok.encode_into(&text, true, &mut whole);
        let cuts = line_starts(&text, 2000, true);
        let mut parts = encode_parts(&tok, &text, &cuts, SpecialTokens::Added);
        tok.post_process_ids(true, &mut parts, 0);
        assert!(parts == whole, "bert: the parts' ids differ");
        assert!(tok.encode_parallel(&text, SpecialTokens::Added, true, Some(4)) == whole);
        let tok = Tokenizer::from_builtin("cl100k_base").unwrap();
        let mut with_specials = Vec::new();
        tok.encode_with(&text, SpecialTokens::Added, &mut with_specials);
        assert_eq!(
            tok.encode_parallel(&text, SpecialTokens::Added, false, Some(4)),
            with_specials
        );
    }

    #[test]
    fn model_parts_give_the_ids_of_the_whole() {
        // Runs of spaces (a `▁` after a `▁` is no cut), lines, text without spaces, characters
        // the vocabulary lacks (byte fallback), and special tokens' strings between the parts.
        let line =
            "The  cat sat.\n   Indented\tline</s> x<s>y\n日本語の文章です。\n\u{1F600}  z \n";
        let text = line.repeat((LONG_TEXT_BYTES / line.len()) * 2 + 1);
        for name in ["mistral-7b-v0.1", "llama-2-7b-reconstructed"] {
            let path = crate::testing::data_dir().join(format!("tokenizers/{name}/tokenizer.json"));
            let tok = Tokenizer::from_file(&path).unwrap();
            assert!(tok.model_cuts, "{name}");
            for specials in [SpecialTokens::Added, SpecialTokens::Ignored] {
                let mut whole = Vec::new();
                tok.encode_with(&text, specials, &mut whole);
                // Part counts whose cut targets fall at different places in a line.
                for count in [5000, 4999, 3001, 777] {
                    let mut parts = Vec::new();
                    tok.encode_in_model_parts(&text, specials, Some(4), count, &mut parts);
                    assert!(
                        parts == whole,
                        "{name}, {count} parts: the parts' ids differ"
                    );
                }
                tok.post_process_ids(true, &mut whole, 0);
                assert!(
                    tok.encode_parallel(&text, specials, true, Some(4)) == whole,
                    "{name}"
                );
            }
            // The cuts fall in the normalized text, whose spaces are `▁`.
            let normalized = text.replace(' ', "\u{2581}");
            let mut cuts = Vec::new();
            tok.model.part_cuts(normalized.as_bytes(), 500, &mut cuts);
            assert!(cuts.len() > 2000, "{name}: {} cuts", cuts.len());
        }
        for name in ["r50k_base", "cl100k_base"] {
            assert!(!Tokenizer::from_builtin(name).unwrap().model_cuts, "{name}");
        }
    }

    #[test]
    fn parts_cut_before_spaces_give_the_ids_of_the_whole() {
        // Runs of spaces, quotes ALBERT's normalizer rewrites, its added tokens (`[MASK]` takes
        // the whitespace before it), CLIP's (one matched in normalized text), spaces after
        // characters that are not printable ASCII (no cut there), lines, and text the
        // normalizers rewrite.
        let line = "a  b ``q'' [MASK] x.  (y) \u{3000} z\u{301} é \tTab\nLine \u{FF21}B \
                    日本 語  </s> <extra_id_0> end. It's <|startoftext|> <|endoftext|>x \r\n ";
        let text = line.repeat((LONG_TEXT_BYTES / line.len()) * 2 + 1);
        let files = [
            "t5-legal-small-fr-en",
            "albert-base-v2",
            "clip-vit-base-patch32",
            "gpt2",
        ];
        for name in files.iter().copied().chain(["r50k_base", "p50k_base"]) {
            let tok = loaded(name);
            assert!(tok.space_cuts, "{name}");
            let mut whole = Vec::new();
            tok.encode_with(&text, SpecialTokens::Added, &mut whole);
            for count in [5000, 4999, 3001, 777] {
                let cuts = space_starts(&text, count);
                assert!(cuts.len() > count / 2, "{name}: {} cuts", cuts.len());
                let parts = encode_parts(&tok, &text, &cuts, SpecialTokens::Added);
                assert!(
                    parts == whole,
                    "{name}, {count} parts: the parts' ids differ"
                );
            }
            tok.post_process_ids(true, &mut whole, 0);
            assert!(tok.encode_parallel(&text, SpecialTokens::Added, true, Some(4)) == whole);
        }
    }

    /// A batch through one ring of queued pieces (`encode_scanned_batch`) gives each text the
    /// ids it gets on its own: texts with no piece, with added tokens (which write the queued
    /// ids first), ending in one, of one piece or of pieces the cache has not seen, and files
    /// that take the per-text loop instead (a normalizer; a post-processor that adds tokens).
    #[test]
    fn a_batch_gives_each_text_its_own_ids() {
        let alphabet = [
            " the",
            "the",
            " quick",
            "ing",
            " ",
            "  ",
            "\n",
            "\n\n",
            "\r\n",
            ".",
            ", ",
            "'s",
            "42",
            "12345",
            "日本語",
            "の",
            " Привет",
            "é",
            "🙂",
            "<|endoftext|>",
            "<|fim_prefix|>",
            "<s>",
            "</s>",
            "qzxj",
            "HTMLParser",
            "\t",
            // NFC rewrites these (Qwen 2.5): a text holding one takes the copy's path.
            "e\u{301}",
            "\u{212b}",
        ];
        let mut rng = crate::testing::Rng(11);
        let mut texts: Vec<String> = (0..3000).map(|_| rng.text(&alphabet, 40)).collect();
        // Runs of texts with no piece, and texts that are one added token.
        texts[10..20].fill(String::new());
        texts[100] = "<|endoftext|>".to_string();
        texts[101] = "<|endoftext|><|endoftext|>".to_string();
        texts[102] = String::new();
        texts.push(String::new());
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        for name in [
            "o200k_base",
            "cl100k_base",
            "llama-3.1",
            "qwen2.5",
            "bert-base-uncased",
        ] {
            let tok = loaded(name);
            // All but BERT take the shared ring; Qwen 2.5 with its normalizer (NFC).
            assert_eq!(tok.tiling.is_some(), name != "bert-base-uncased", "{name}");
            assert_eq!(
                tok.normalizer.is_some(),
                name.starts_with("qwen") || name.starts_with("bert")
            );
            let matcher = tok.special_matcher(None).unwrap();
            let cases = [
                (SpecialTokens::Added, false),
                (SpecialTokens::Added, true),
                (SpecialTokens::Ignored, false),
                (SpecialTokens::Only(&matcher), false),
            ];
            for (specials, add_special_tokens) in cases {
                let mut expected = vec![7];
                let mut expected_lengths = Vec::new();
                for text in &texts {
                    let start = expected.len();
                    tok.encode_with(text, specials, &mut expected);
                    tok.post_process_ids(add_special_tokens, &mut expected, start);
                    expected_lengths.push(expected.len() - start);
                }
                let (mut ids, mut lengths) = (vec![7], Vec::new());
                tok.encode_batch_into(&texts, specials, add_special_tokens, &mut ids, &mut lengths);
                assert_eq!(lengths, expected_lengths, "{name}");
                assert!(ids == expected, "{name}: the ids differ");
            }
        }
    }

    #[test]
    fn tokenizer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tokenizer>();
    }
}
