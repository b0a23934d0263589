//! The merge table of a BPE model: a pair of adjacent ids → the priority of merging them (lower
//! merges first).
//!
//! Why this layout: on text the word cache has not seen, merging is a chain of pair lookups
//! (each merge step needs the new pairs' priorities before the next step can be chosen), and a
//! lookup that misses the CPU caches waits for memory. On this machine a dependent load at a
//! random place in 8 MB takes about 190 ns, against 19 ns in 1 MB and 49 ns in 2 MB (a pointer
//! chase, huge pages or not): the table (o200k lists 446k pairs) is effectively in memory, so
//! what counts is how many lookups land on lines already in the caches.
//!
//! - **Grouped by left id.** Each left id has its own small open-addressed group of slots, and
//!   the groups lie one after the other, found by an array of starts. Text uses few left ids
//!   over and over (a script's lead bytes, its frequent characters and word starts), and all the
//!   pairs of one left id share a few lines, so those lines stay in the caches. Callgrind on the
//!   new-text pass of `encode_corpus` (o200k, 0.5 MB from each folder, a simulated 1 MB last
//!   level), misses of that level in the whole pass, against one table hashed on the whole pair:
//!   Japanese 193k → 61k (the byte → character → word merges of one script), multilingual 154k →
//!   138k, English and code the same (81k, 65k; their new pairs are rare ones). It is 9.5 MB
//!   for o200k, against 8 MB.
//! - **One `u64` per slot**, `right << 32 | priority`, groups at most half full: a lookup reads
//!   the two starts (one line, shared by neighbouring ids) and then usually one slot. A
//!   hashbrown map touched two places per lookup, the control bytes and then the entry; the
//!   first packed table, hashed on the whole pair, was one line per lookup (1.38 probes on
//!   average for o200k) with the same instruction count as hashbrown and 27% fewer L1 misses.
//! - A per-thread memo of the last 32k answers in front of the table (256 kB, in L2) was tried
//!   and dropped: with the whole-pair table it took the simulated misses only from 193k to 156k
//!   on Japanese and left English's unchanged, and the wall-clock difference was within the
//!   noise; the pairs that miss are the rare ones, which a memo does not hold either.

use rustc_hash::FxHashMap;

/// Left ids below this are grouped (the array of starts has one entry per left id); a model
/// with merges of larger ids (none of the shared data's) uses a map.
const MAX_GROUPED_LEFT: u32 = 1 << 22;
/// An empty slot. Its right part, `u32::MAX`, is no right id of a grouped table (checked at
/// build time).
const EMPTY: u64 = u64::MAX;

/// Pair of ids → merge priority.
#[derive(Debug, Clone)]
pub(crate) struct PairTable(Repr);

#[derive(Debug, Clone)]
enum Repr {
    /// Left id `l`'s group is `slots[starts[l]..starts[l + 1]]`: empty, or a power of two of
    /// at least twice its pair count, with linear probing from the right id's hash.
    Grouped {
        starts: Box<[u32]>,
        slots: Box<[u64]>,
    },
    /// For ids too large to group (vocabularies of millions of tokens).
    Wide(FxHashMap<u64, u32>),
}

impl PairTable {
    /// The table of `pairs`: `(left, right, priority)`, each pair listed once.
    pub(crate) fn new(pairs: &[(u32, u32, u32)]) -> Self {
        let groupable = pairs
            .iter()
            .all(|&(left, right, _)| left < MAX_GROUPED_LEFT && right != u32::MAX);
        if groupable {
            if let Some(table) = Self::grouped(pairs) {
                return table;
            }
        }
        let map = pairs
            .iter()
            .map(|&(left, right, priority)| (u64::from(left) << 32 | u64::from(right), priority))
            .collect();
        PairTable(Repr::Wide(map))
    }

    /// The grouped table of `pairs`, or `None` if its slots would not be counted by a `u32`.
    fn grouped(pairs: &[(u32, u32, u32)]) -> Option<Self> {
        let lefts = pairs
            .iter()
            .map(|&(left, _, _)| left as usize + 1)
            .max()
            .unwrap_or(0);
        let mut counts = vec![0usize; lefts];
        for &(left, _, _) in pairs {
            counts[left as usize] += 1;
        }
        let mut starts = Vec::with_capacity(lefts + 1);
        let mut total = 0usize;
        for count in counts {
            starts.push(u32::try_from(total).ok()?);
            if count > 0 {
                total += (count * 2).next_power_of_two();
            }
        }
        starts.push(u32::try_from(total).ok()?);
        let mut slots = vec![EMPTY; total].into_boxed_slice();
        // The pairs come in rank order, so each goes to a group far from the last one's: a
        // cache miss in the table's megabytes (perf: an eighth of loading o200k). Asking for
        // the home slot of the pair `PREFETCH_AHEAD` places on lets those misses overlap.
        const PREFETCH_AHEAD: usize = 16;
        let home = |(left, right, _): (u32, u32, u32)| {
            let start = starts[left as usize] as usize;
            let len = starts[left as usize + 1] as usize - start;
            start + (group_home(right) & (len - 1))
        };
        for (i, &(left, right, priority)) in pairs.iter().enumerate() {
            if let Some(&ahead) = pairs.get(i + PREFETCH_AHEAD) {
                crate::prefetch::line(&slots[home(ahead)]);
            }
            let group =
                &mut slots[starts[left as usize] as usize..starts[left as usize + 1] as usize];
            let mask = group.len() - 1;
            let mut at = group_home(right) & mask;
            while group[at] != EMPTY {
                debug_assert_ne!((group[at] >> 32) as u32, right, "pair listed twice");
                at = (at + 1) & mask;
            }
            group[at] = u64::from(right) << 32 | u64::from(priority);
        }
        Some(PairTable(Repr::Grouped {
            starts: starts.into_boxed_slice(),
            slots,
        }))
    }

    /// The priority of merging `left` and `right`, if they merge.
    ///
    /// Always inlined: merging calls it twice per merge, and as a call (LLVM did not inline it
    /// into `merge_short`) it cost a fifth of Mistral's new-text instructions. Callgrind, the
    /// new-text pass of `encode_corpus` (0.5 MB each of en, multilingual, ja): Mistral 94.5M →
    /// 87.8M instructions, o200k 105.8M → 99.7M.
    #[inline(always)]
    pub(crate) fn get(&self, left: u32, right: u32) -> Option<u32> {
        match &self.0 {
            Repr::Grouped { starts, slots } => {
                // Ids beyond the starts are in no pair; a right id of `u32::MAX` is in none
                // either and stops at the first empty slot, as any absent one does.
                let left = left as usize;
                let (&start, &end) = (starts.get(left)?, starts.get(left + 1)?);
                let group = &slots[start as usize..end as usize];
                let mask = group.len().checked_sub(1)?;
                let mut at = group_home(right) & mask;
                loop {
                    let slot = group[at];
                    if slot == EMPTY {
                        return None;
                    }
                    if (slot >> 32) as u32 == right {
                        return Some(slot as u32);
                    }
                    at = (at + 1) & mask;
                }
            }
            Repr::Wide(map) => map
                .get(&(u64::from(left) << 32 | u64::from(right)))
                .copied(),
        }
    }
}

/// Where a right id's probe starts in its group (before the group's mask): Fibonacci hashing,
/// the high half of the product.
#[inline]
fn group_home(right: u32) -> usize {
    (u64::from(right).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(u32, u32, u32)], absent: &[(u32, u32)]) {
        let table = PairTable::new(pairs);
        for &(left, right, priority) in pairs {
            assert_eq!(table.get(left, right), Some(priority), "({left}, {right})");
        }
        for &(left, right) in absent {
            assert_eq!(table.get(left, right), None, "({left}, {right})");
        }
    }

    #[test]
    fn grouped_tables_find_every_pair_and_no_other() {
        // Groups of one to a few thousand pairs (left 0 has 2,000), ids with no group between.
        let pairs: Vec<(u32, u32, u32)> = (0..50_000u32)
            .map(|i| match i {
                0..2_000 => (0, i * 7 + 1, i),
                _ => (i % 977 * 3 + 3, i / 977 * 31 + 5, i * 3),
            })
            .collect();
        let table = PairTable::new(&pairs);
        assert!(matches!(table.0, Repr::Grouped { .. }));
        // Swapped pairs, a left id with no group, left ids past the last group, the empty
        // slot's own right id, every priority bit.
        let absent = [
            (5, 0),
            (1, 5),
            (0, 0),
            (0, 2),
            (977 * 3, 5),
            (MAX_GROUPED_LEFT, 5),
            (u32::MAX, 0),
            (3, u32::MAX),
        ];
        check(&pairs, &absent);
        check(&[], &absent);
        check(&[(4, 5, u32::MAX), (4, 6, 0)], &[(4, 7), (5, 4), (0, 0)]);
    }

    #[test]
    fn ids_too_large_to_group_use_a_map() {
        for pairs in [
            vec![(1, 2, 3), (MAX_GROUPED_LEFT, 4, 5)],
            vec![(1, 2, 3), (4, u32::MAX, 5)],
        ] {
            assert!(matches!(PairTable::new(&pairs).0, Repr::Wide(_)));
            check(&pairs, &[(2, 1), (0, 0)]);
        }
    }
}
