//! Unigram (SentencePiece's unigram language model), exactly as Hugging Face `tokenizers`
//! segments with it.
//!
//! The best segmentation of a piece maximises the sum of the token scores (log probabilities),
//! found by Viterbi over the piece's character positions. At each position (a character start)
//! every vocabulary token that starts there extends the best path ending at this position; a
//! position where no token covers exactly the next character also gets the unknown token over
//! that character, scored `min_score - 10`. Ties keep the first candidate seen (positions are
//! visited left to right, shorter tokens first), as the reference's strict `>` does. Walking back
//! from the end gives the tokens; adjacent unknown tokens (any node whose id is `unk_id`) are
//! fused into one string, which is then looked up in the vocabulary again, else spelled with
//! `<0xXX>` tokens when `byte_fallback` holds them all, else the unknown token. Scores are `f64`
//! and summed in the reference's order, so ties break the same way.
//!
//! Costs: O(n · L) for a piece of n bytes and tokens of at most L bytes. The tokens starting at a
//! position come from one walk over a [`Trie`] (one array step per byte), not from hashing every
//! candidate. The lattice lives in per-thread scratch vectors that only grow, so a piece allocates
//! nothing once they are large enough. Words repeat (`▁the`, `▁of`): the per-thread word cache
//! that BPE uses ([`super::word_cache`]) answers most of them with one cache line. The first
//! cache here was a hash map of boxed keys emptied every 32,768 pieces; the mixed corpus has
//! about 110k distinct pieces, so it never warmed up and Viterbi stayed 22% of the time on
//! repeated text. With the shared cache, `encode_corpus` with T5 (one core, repeated text): 9.6
//! → 17.5 MB/s.

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::trie::{Trie, ROOT};
use super::utf8_len;
use super::word_cache::{self, Ahead};
use crate::error::{Error, Result};

/// The reference's penalty for an unknown character, below the lowest score.
const UNKNOWN_PENALTY: f64 = 10.0;

/// The best path ending at one byte position of the piece.
#[derive(Clone, Copy)]
struct BestPath {
    score: f64,
    /// Where the last token of the path starts; `u32::MAX` when no path ends here yet.
    start: u32,
    /// The last token's id.
    id: u32,
}

const UNREACHED: BestPath = BestPath {
    score: 0.0,
    start: u32::MAX,
    id: 0,
};

/// Per-thread scratch: the lattice and the tokens found walking back.
struct Scratch {
    best: Vec<BestPath>,
    /// (start, end, id) of the tokens, last first.
    tokens: Vec<(u32, u32, u32)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch {
            best: Vec::new(),
            tokens: Vec::new(),
        })
    };
}

/// A Unigram model.
#[derive(Debug, Clone)]
pub struct Unigram {
    /// This model's identity in the per-thread piece caches.
    cache_id: u64,
    trie: Trie,
    /// Score of each id.
    scores: Vec<f64>,
    /// Token bytes → id (the last id of a token listed twice, as the reference's map).
    ids: FxHashMap<Box<[u8]>, u32>,
    unk_id: u32,
    unk_score: f64,
    /// The `<0xXX>` token ids, when byte fallback is on.
    byte_fallback_ids: Option<[Option<u32>; 256]>,
}

impl Unigram {
    /// Builds the model from `(token, score)` pairs (the id is the position), the unknown token's
    /// id and the byte-fallback flag.
    pub fn new(vocab: &[(String, f64)], unk_id: usize, byte_fallback: bool) -> Result<Self> {
        if unk_id >= vocab.len() {
            return Err(Error::invalid(format!(
                "model.unk_id: {unk_id} is not an id of the vocabulary ({} tokens)",
                vocab.len()
            )));
        }
        let mut ids: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        ids.reserve(vocab.len());
        let mut min_score = f64::INFINITY;
        for (id, (token, score)) in vocab.iter().enumerate() {
            ids.insert(token.as_bytes().into(), id as u32);
            if *score < min_score {
                min_score = *score;
            }
        }
        // The trie answers with the same id as the map: the last one of a repeated token.
        let keys: Vec<(&[u8], u32)> = ids.iter().map(|(t, &id)| (&t[..], id)).collect();
        let trie = Trie::build(&keys);
        let byte_fallback_ids = byte_fallback.then(|| {
            let mut table = [None; 256];
            for (byte, slot) in table.iter_mut().enumerate() {
                *slot = ids.get(format!("<0x{byte:02X}>").as_bytes()).copied();
            }
            table
        });
        Ok(Unigram {
            cache_id: word_cache::new_model_id(),
            trie,
            scores: vocab.iter().map(|(_, s)| *s).collect(),
            ids,
            unk_id: unk_id as u32,
            unk_score: min_score - UNKNOWN_PENALTY,
            byte_fallback_ids,
        })
    }

    /// Encodes one pre-tokenized piece, appending its ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        self.encode_pieces(std::iter::once(piece), out);
    }

    /// Encodes pre-tokenized pieces in order, appending their ids to `out`, through the
    /// per-thread word cache shared with BPE ([`word_cache`]): words repeat (`▁the`, `▁of`), and a
    /// hit is one cache line where segmenting walks the trie from every character.
    pub fn encode_pieces<'p>(
        &self,
        pieces: impl IntoIterator<Item = &'p [u8]>,
        out: &mut Vec<u32>,
    ) {
        word_cache::with_cache(self.cache_id, |cache| {
            let mut ahead = Ahead::default();
            let mut segment = |piece: &[u8], out: &mut Vec<u32>| self.segment(piece, out);
            for piece in pieces {
                if !piece.is_empty() {
                    cache.encode_ahead(&mut ahead, piece, out, &mut segment);
                }
            }
            cache.finish(&mut ahead, out, &mut segment);
        });
    }

    /// Segments one piece without the cache, appending its ids to `out`.
    fn segment(&self, piece: &[u8], out: &mut Vec<u32>) {
        SCRATCH.with(|scratch| {
            let Scratch { best, tokens } = &mut *scratch.borrow_mut();
            self.viterbi(piece, best);
            tokens.clear();
            let mut end = piece.len();
            while end > 0 {
                let node = best[end];
                tokens.push((node.start, end as u32, node.id));
                end = node.start as usize;
            }
            self.emit(piece, tokens, out);
        });
    }

    /// Encodes one piece with each token's byte range and, for unknown runs, its text (the
    /// reference's Encoding shows the run itself, not `<unk>`; its byte-fallback tokens each
    /// cover the whole run). The slow path for offsets: no cache.
    pub fn encode_piece_tokens(&self, piece: &[u8], out: &mut Vec<super::PieceToken>) {
        if piece.is_empty() {
            return;
        }
        // The best-path buffers of the ids-only path, reused.
        let path: Vec<(usize, usize, u32)> = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            self.viterbi(piece, &mut scratch.best);
            let mut path = Vec::new();
            let mut end = piece.len();
            while end > 0 {
                let node = scratch.best[end];
                path.push((node.start as usize, end, node.id));
                end = node.start as usize;
            }
            path
        });
        let mut i = path.len();
        while i > 0 {
            i -= 1;
            let (start, end, id) = path[i];
            if id != self.unk_id {
                out.push(super::PieceToken::new(id, start, end));
                continue;
            }
            let mut run_end = end;
            while i > 0 && path[i - 1].2 == self.unk_id {
                i -= 1;
                run_end = path[i].1;
            }
            let text = &piece[start..run_end];
            let spelled = String::from_utf8_lossy(text).into_owned();
            if let Some(&id) = self.ids.get(text) {
                out.push(super::PieceToken::new(id, start, run_end));
                continue;
            }
            if let Some(fallback) = &self.byte_fallback_ids {
                if text.iter().all(|&b| fallback[b as usize].is_some()) {
                    for &b in text {
                        let id = fallback[b as usize].unwrap_or(self.unk_id);
                        out.push(super::PieceToken::new(id, start, run_end));
                    }
                    continue;
                }
            }
            out.push(super::PieceToken {
                text: Some(spelled),
                ..super::PieceToken::new(self.unk_id, start, run_end)
            });
        }
    }

    /// Fills `best[i]` with the best path over `piece[..i]` for every character boundary `i`.
    fn viterbi(&self, piece: &[u8], best: &mut Vec<BestPath>) {
        best.clear();
        best.resize(piece.len() + 1, UNREACHED);
        let mut start = 0;
        while start < piece.len() {
            let here = best[start].score;
            let char_len = utf8_len(piece[start]).min(piece.len() - start);
            let mut has_single_char = false;
            let mut node = ROOT;
            for (i, &b) in piece[start..].iter().enumerate() {
                match self.trie.step(node, b) {
                    Some(next) => node = next,
                    None => break,
                }
                if let Some(id) = self.trie.value(node) {
                    let end = start + i + 1;
                    let candidate = self.scores[id as usize] + here;
                    let target = &mut best[end];
                    if target.start == u32::MAX || candidate > target.score {
                        *target = BestPath {
                            score: candidate,
                            start: start as u32,
                            id,
                        };
                    }
                    if i + 1 == char_len {
                        has_single_char = true;
                    }
                }
            }
            if !has_single_char {
                let candidate = self.unk_score + here;
                let target = &mut best[start + char_len];
                if target.start == u32::MAX || candidate > target.score {
                    *target = BestPath {
                        score: candidate,
                        start: start as u32,
                        id: self.unk_id,
                    };
                }
            }
            start += char_len;
        }
    }

    /// Appends the ids of the path in `tokens` (last token first), fusing unknown runs.
    fn emit(&self, piece: &[u8], tokens: &[(u32, u32, u32)], out: &mut Vec<u32>) {
        let mut i = tokens.len();
        while i > 0 {
            i -= 1;
            let (start, end, id) = tokens[i];
            if id != self.unk_id {
                out.push(id);
                continue;
            }
            // A run of unknown nodes, fused into one string.
            let mut run_end = end;
            while i > 0 && tokens[i - 1].2 == self.unk_id {
                i -= 1;
                run_end = tokens[i].1;
            }
            let text = &piece[start as usize..run_end as usize];
            // The reference looks the fused string up again (a single `<unk>` matched as text
            // is found; a run of unknown characters normally is not).
            if let Some(&id) = self.ids.get(text) {
                out.push(id);
                continue;
            }
            if let Some(fallback) = &self.byte_fallback_ids {
                if text.iter().all(|&b| fallback[b as usize].is_some()) {
                    out.extend(text.iter().filter_map(|&b| fallback[b as usize]));
                    continue;
                }
            }
            out.push(self.unk_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(pieces: &[(&str, f64)], byte_fallback: bool) -> Unigram {
        let vocab: Vec<(String, f64)> = pieces.iter().map(|(t, s)| (t.to_string(), *s)).collect();
        Unigram::new(&vocab, 0, byte_fallback).unwrap()
    }

    fn encode(m: &Unigram, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        m.encode_piece(text.as_bytes(), &mut out);
        out
    }

    #[test]
    fn best_segmentation() {
        // The reference's own unit-test vocabulary (tokenizers' unigram model tests).
        let m = model(
            &[
                ("<unk>", 0.0),
                ("a", 0.0),
                ("b", 0.0),
                ("c", 0.0),
                ("d", 0.0),
                ("cd", 1.0),
                ("ab", 2.0),
                ("abc", 5.0),
                ("abcd", 10.0),
            ],
            false,
        );
        let cases: &[(&str, &[u32])] = &[
            ("", &[]),
            ("abc", &[7]),
            ("abcd", &[8]),
            ("abcdx", &[8, 0]),
            ("xyabc", &[0, 7]),
            ("cd", &[5]),
            ("ac", &[1, 3]),
            ("<unk>", &[0]),
            ("x<unk>", &[0]),
        ];
        for (text, want) in cases {
            assert_eq!(encode(&m, text), *want, "{text}");
        }
    }

    #[test]
    fn unknown_runs_fuse_or_fall_back_to_bytes() {
        let m = model(
            &[
                ("<unk>", 0.0),
                ("a", -1.0),
                ("<0xC3>", -2.0),
                ("<0xA9>", -2.0),
            ],
            true,
        );
        // "é" is unknown and spelled by its two byte tokens; "xy" has no byte tokens: one unk.
        assert_eq!(encode(&m, "aéa"), [1, 2, 3, 1]);
        assert_eq!(encode(&m, "xya"), [0, 1]);
        let m = model(&[("<unk>", 0.0), ("a", -1.0)], false);
        assert_eq!(encode(&m, "aéxa"), [1, 0, 1]);
    }

    #[test]
    fn unk_id_must_exist() {
        let vocab = vec![("a".to_string(), 0.0)];
        assert!(Unigram::new(&vocab, 1, false).is_err());
    }
}
