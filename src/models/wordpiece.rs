//! WordPiece, as Hugging Face `tokenizers` defines it (BERT and its descendants).
//!
//! A word longer than `max_input_chars_per_word` characters is the unknown token. Otherwise it is
//! cut greedily from the left: at each position the longest vocabulary token that starts there
//! (spelled with `continuing_subword_prefix` in front when the position is not the word's start)
//! is taken; if some position has none, the whole word is the unknown token.
//!
//! Costs: the reference tries every candidate end from the longest down, building a new string
//! with the prefix and hashing it each time (O(n²) hashing per word). Here one walk over a
//! [`Trie`] of the vocabulary gives the longest match at a position in O(its length): the
//! continuation tokens are found by walking the prefix bytes once at load time and starting every
//! continuation walk from that node. Ids go straight into the caller's buffer; a word that turns
//! out unknown is rolled back by truncating it. No allocation per word or token.

use rustc_hash::FxHashMap;

use super::trie::{Trie, ROOT};
use crate::error::{Error, Result};

/// A WordPiece model.
#[derive(Debug, Clone)]
pub struct WordPiece {
    trie: Trie,
    /// The trie node after the continuing-subword prefix, when some token starts with it.
    continuation: Option<u32>,
    unk_id: u32,
    max_input_chars_per_word: usize,
    /// The continuing-subword prefix (`##`), stripped from a token's spelling for its span.
    prefix: String,
}

impl WordPiece {
    /// Builds the model from its vocabulary (token → id), unknown token, prefix and word limit.
    ///
    /// The unknown token must be in the vocabulary: `tokenizers` loads such a file but fails on
    /// the first word it cannot cut, so ferrotok refuses it up front.
    pub fn new(
        vocab: &FxHashMap<String, u32>,
        unk_token: &str,
        continuing_subword_prefix: &str,
        max_input_chars_per_word: usize,
    ) -> Result<Self> {
        let unk_id = *vocab.get(unk_token).ok_or_else(|| {
            Error::invalid(format!(
                "model.unk_token: {unk_token:?} is not in the vocabulary"
            ))
        })?;
        let keys: Vec<(&[u8], u32)> = vocab.iter().map(|(t, &id)| (t.as_bytes(), id)).collect();
        let trie = Trie::build(&keys);
        let continuation = trie.walk(ROOT, continuing_subword_prefix.as_bytes());
        Ok(WordPiece {
            trie,
            continuation,
            unk_id,
            max_input_chars_per_word,
            prefix: continuing_subword_prefix.to_owned(),
        })
    }

    /// Encodes one pre-tokenized word, appending its ids to `out`.
    pub fn encode_piece(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.len() > self.max_input_chars_per_word
            && char_count(word) > self.max_input_chars_per_word
        {
            out.push(self.unk_id);
            return;
        }
        let rollback = out.len();
        let mut start = 0;
        while start < word.len() {
            let from = if start == 0 {
                Some(ROOT)
            } else {
                self.continuation
            };
            let Some((id, end)) = from.and_then(|node| self.longest_match(node, &word[start..]))
            else {
                out.truncate(rollback);
                out.push(self.unk_id);
                return;
            };
            out.push(id);
            start += end;
        }
    }

    /// The byte range of `word` that each of `ids` (its encoding) covers: the unknown token
    /// covers the whole word, as in the reference.
    pub fn piece_spans(
        &self,
        word: &[u8],
        ids: &[u32],
        tokens: &[Option<String>],
        out: &mut Vec<(usize, usize)>,
    ) {
        if ids == [self.unk_id] {
            out.push((0, word.len()));
            return;
        }
        let mut at = 0;
        for (i, &id) in ids.iter().enumerate() {
            let token = tokens
                .get(id as usize)
                .and_then(Option::as_deref)
                .unwrap_or("");
            let spelled = if i > 0 {
                token.strip_prefix(self.prefix.as_str()).unwrap_or(token)
            } else {
                token
            };
            let end = (at + spelled.len()).min(word.len());
            out.push((at, end));
            at = end;
        }
    }

    /// The id and length of the longest token spelled by a prefix of `text`, walking from `node`.
    /// Token strings are valid UTF-8, so a match always ends on a character boundary.
    #[inline]
    fn longest_match(&self, mut node: u32, text: &[u8]) -> Option<(u32, usize)> {
        let mut best = None;
        for (i, &b) in text.iter().enumerate() {
            match self.trie.step(node, b) {
                Some(next) => node = next,
                None => break,
            }
            if let Some(id) = self.trie.value(node) {
                best = Some((id, i + 1));
            }
        }
        best
    }
}

/// The number of characters in UTF-8 `bytes`.
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(max: usize) -> WordPiece {
        let vocab: FxHashMap<String, u32> =
            ["[UNK]", "un", "##aff", "##able", "a", "##a", "é", "##é"]
                .iter()
                .enumerate()
                .map(|(i, t)| (t.to_string(), i as u32))
                .collect();
        WordPiece::new(&vocab, "[UNK]", "##", max).unwrap()
    }

    #[test]
    fn greedy_longest_match_first() {
        // (word, expected ids); expectations follow tokenizers' WordPiece on the same vocabulary.
        let cases: &[(&str, &[u32])] = &[
            ("unaffable", &[1, 2, 3]),
            ("a", &[4]),
            ("aaa", &[4, 5, 5]),
            ("éé", &[6, 7]),
            ("unx", &[0]),
            ("x", &[0]),
            ("", &[]),
            ("aff", &[0]),
        ];
        let m = model(100);
        for (word, want) in cases {
            let mut out = vec![99];
            m.encode_piece(word.as_bytes(), &mut out);
            assert_eq!(&out[1..], *want, "{word}");
        }
    }

    #[test]
    fn long_words_are_unknown() {
        let m = model(3);
        let mut out = Vec::new();
        m.encode_piece("aaa".as_bytes(), &mut out);
        assert_eq!(out, [4, 5, 5]);
        out.clear();
        m.encode_piece("aaaa".as_bytes(), &mut out);
        assert_eq!(out, [0]);
        out.clear();
        // Three characters, six bytes: not too long.
        m.encode_piece("ééé".as_bytes(), &mut out);
        assert_eq!(out, [6, 7, 7]);
    }

    #[test]
    fn missing_unk_is_an_error() {
        let vocab: FxHashMap<String, u32> = [("a".to_string(), 0)].into_iter().collect();
        let err = WordPiece::new(&vocab, "[UNK]", "##", 100).unwrap_err();
        assert!(err.message().contains("model.unk_token"), "{err}");
    }
}
