//! Tokens with ranks, as a tiktoken rank file lists them: what [`Bpe::from_ranks`] is built from.
//!
//! The tokens' bytes lie one after another in one buffer, in rank order, beside the
//! [`Vocab`] made from them: a rank file's 200k tokens are not 200k allocations (with a `Vec`
//! per token, `malloc` and `free` were a fifth of loading o200k), and [`Bpe::from_ranks`] reads
//! them in order.
//!
//! [`Bpe::from_ranks`]: super::Bpe::from_ranks

use rustc_hash::FxHashMap;

use super::Vocab;

/// How far ahead of the token it inserts [`Ranks::new`] asks for the slot of the next ones: a
/// slot is a cache miss of about 190 ns here, and the misses of eight tokens overlap.
const PREFETCH_AHEAD: usize = 8;

/// Tokens and their ranks, in rank order; no token and no rank twice.
#[derive(Debug, Clone)]
pub struct Ranks {
    /// Every token's bytes, one after another.
    bytes: Vec<u8>,
    /// Token `i` is `bytes[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    /// Rising strictly.
    ranks: Vec<u32>,
    vocab: Vocab,
}

/// Why tokens and ranks do not make [`Ranks`]; entries are counted from 0 in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RanksError {
    /// Entry `second` has the same bytes as entry `first`.
    TokenTwice {
        /// The earlier entry.
        first: usize,
        /// The entry that repeats it.
        second: usize,
    },
    /// Entry `second` has the same rank as entry `first`.
    RankTwice {
        /// The earlier entry.
        first: usize,
        /// The entry that repeats it.
        second: usize,
        /// The rank they share.
        rank: u32,
    },
}

impl Ranks {
    /// Tokens given as one buffer and the start of each (`starts` has one more entry, the end),
    /// with their ranks, in any order.
    ///
    /// # Errors
    ///
    /// The first entry, in the order given, that repeats the bytes or the rank of an earlier
    /// one.
    pub fn new(bytes: Vec<u8>, starts: Vec<usize>, ranks: Vec<u32>) -> Result<Ranks, RanksError> {
        assert_eq!(
            starts.len(),
            ranks.len() + 1,
            "one start per token and the end"
        );
        let token = |i: usize| &bytes[starts[i]..starts[i + 1]];
        let mut vocab = Vocab::with_capacity(ranks.len());
        // Which entry has each rank, once an entry's rank is not its position (never, in the
        // OpenAI files): until then no rank can repeat.
        let mut rank_entries: Option<FxHashMap<u32, usize>> = None;
        for (entry, &rank) in ranks.iter().enumerate() {
            if let Some(ahead) = starts.get(entry + PREFETCH_AHEAD + 1) {
                vocab.prefetch(&bytes[starts[entry + PREFETCH_AHEAD]..*ahead]);
            }
            if vocab.insert(token(entry), rank).is_some() {
                // Only on this error: a scan for the entry it repeats.
                let first = (0..entry).find(|&e| token(e) == token(entry)).unwrap_or(0);
                return Err(RanksError::TokenTwice {
                    first,
                    second: entry,
                });
            }
            if rank_entries.is_none() && rank as usize != entry {
                rank_entries = Some((0..entry).map(|seen| (seen as u32, seen)).collect());
            }
            if let Some(entries) = rank_entries.as_mut() {
                if let Some(first) = entries.insert(rank, entry) {
                    return Err(RanksError::RankTwice {
                        first,
                        second: entry,
                        rank,
                    });
                }
            }
        }
        let mut ranked = Ranks {
            bytes,
            starts,
            ranks,
            vocab,
        };
        if !ranked.ranks.is_sorted() {
            ranked.sort();
        }
        Ok(ranked)
    }

    /// Tokens as `(bytes, rank)` pairs, in any order.
    ///
    /// # Errors
    ///
    /// As [`Ranks::new`].
    pub fn from_pairs<B: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (B, u32)>,
    ) -> Result<Ranks, RanksError> {
        let mut bytes = Vec::new();
        let mut starts = vec![0];
        let mut ranks = Vec::new();
        for (token, rank) in pairs {
            bytes.extend_from_slice(token.as_ref());
            starts.push(bytes.len());
            ranks.push(rank);
        }
        Ranks::new(bytes, starts, ranks)
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.ranks.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ranks.is_empty()
    }

    /// Each token's bytes and rank, in rank order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], u32)> + '_ {
        (0..self.ranks.len()).map(|i| (self.token(i), self.ranks[i]))
    }

    /// Each token's bytes, copied, and rank, in rank order.
    pub fn to_pairs(&self) -> Vec<(Vec<u8>, u32)> {
        self.iter()
            .map(|(token, rank)| (token.to_vec(), rank))
            .collect()
    }

    /// Token `i` in rank order.
    pub fn token(&self, i: usize) -> &[u8] {
        &self.bytes[self.starts[i]..self.starts[i + 1]]
    }

    /// The vocabulary: bytes → rank.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The vocabulary, without the rest.
    pub fn into_vocab(self) -> Vocab {
        self.vocab
    }

    /// Puts the entries in rank order.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.ranks.len()).collect();
        order.sort_unstable_by_key(|&i| self.ranks[i]);
        let mut bytes = Vec::with_capacity(self.bytes.len());
        let mut starts = Vec::with_capacity(self.starts.len());
        starts.push(0);
        for &i in &order {
            bytes.extend_from_slice(self.token(i));
            starts.push(bytes.len());
        }
        self.ranks = order.iter().map(|&i| self.ranks[i]).collect();
        self.bytes = bytes;
        self.starts = starts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_rank_and_finds_every_token() {
        let ranks = Ranks::from_pairs([("b", 2), ("a", 0), ("hello world!", 1), ("", 3)]).unwrap();
        let listed: Vec<(&[u8], u32)> = ranks.iter().collect();
        let expected: Vec<(&[u8], u32)> =
            vec![(b"a", 0), (b"hello world!", 1), (b"b", 2), (b"", 3)];
        assert_eq!(listed, expected);
        for (token, rank) in expected {
            assert_eq!(ranks.vocab().get(token), Some(rank));
        }
        assert_eq!(ranks.vocab().get(b"c"), None);
    }

    #[test]
    fn names_the_first_entry_that_repeats_a_token_or_a_rank() {
        let token_twice = Ranks::from_pairs([("a", 0), ("b", 1), ("c", 2), ("b", 3), ("d", 2)]);
        assert_eq!(
            token_twice.unwrap_err(),
            RanksError::TokenTwice {
                first: 1,
                second: 3
            }
        );
        let rank_twice = Ranks::from_pairs([("a", 0), ("b", 5), ("c", 5), ("a", 3)]);
        assert_eq!(
            rank_twice.unwrap_err(),
            RanksError::RankTwice {
                first: 1,
                second: 2,
                rank: 5
            }
        );
        // A rank equal to an earlier entry's position, while the ranks were positions.
        let rank_twice = Ranks::from_pairs([("a", 0), ("b", 1), ("c", 0)]);
        assert_eq!(
            rank_twice.unwrap_err(),
            RanksError::RankTwice {
                first: 0,
                second: 2,
                rank: 0
            }
        );
    }
}
