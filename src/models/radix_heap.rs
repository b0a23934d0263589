//! A min-queue of `u64` keys built for BPE's long merges: a radix heap, with a binary heap on the
//! side for the keys that come in below the last key popped.
//!
//! Why: the worst inputs are single pieces of megabytes (10 MB of one letter is one piece of
//! 10M units). A binary heap of millions of entries pops by walking a root-to-leaf path whose
//! lower levels are cache misses: 71% of the time of 10 MB of `a` (o200k) was one compare in
//! the sift-down, and 10 MB took about 20 times as long as 1 MB. In a radix heap a key sits in
//! the bucket of the highest bit in which it differs from the last key popped; a pop takes from
//! bucket 0 (keys equal to the last), and when that is empty, the lowest non-empty bucket is
//! scanned for its minimum and its keys are dealt out again, all into lower buckets. Every
//! access is a sequential walk or an append, and a key moves down at most 64 times.
//!
//! A radix heap needs keys that never go below the last one popped. BPE merges nearly always
//! make pairs of higher priority than their own, but not always: o200k lists 71k of its 446k
//! pairs with a lower rank than a merge that makes one of their tokens (`"    "` has rank 257,
//! `"   "` a higher one, yet `(" ", "   ")` is a pair). Such keys go to `side`, a binary heap.
//! Every key in `side` is below `last`, and every key in the buckets is at or above it, so a
//! pop takes from `side` first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The queue.
pub(crate) struct RadixHeap {
    /// `buckets[b]` holds keys whose highest bit differing from `last` is bit `b - 1` (bucket 0:
    /// keys equal to `last`). Every key of a bucket is below every key of a higher bucket.
    buckets: Vec<Vec<u64>>,
    /// No key in the buckets is below it (0 at first).
    last: u64,
    /// Keys pushed below `last`.
    side: BinaryHeap<Reverse<u64>>,
    /// A bucket that was in order when its turn came, popped front to back from `cursor`: all
    /// its keys are at or below `last`.
    run: Vec<u64>,
    cursor: usize,
}

impl RadixHeap {
    pub(crate) fn new() -> Self {
        RadixHeap {
            buckets: (0..=64).map(|_| Vec::new()).collect(),
            last: 0,
            side: BinaryHeap::new(),
            run: Vec::new(),
            cursor: 0,
        }
    }

    #[inline]
    fn bucket(key: u64, last: u64) -> usize {
        (64 - (key ^ last).leading_zeros()) as usize
    }

    /// Adds `key`.
    #[inline]
    pub(crate) fn push(&mut self, key: u64) {
        if key < self.last {
            self.side.push(Reverse(key));
        } else {
            self.buckets[Self::bucket(key, self.last)].push(key);
        }
    }

    /// Takes the smallest key.
    pub(crate) fn pop(&mut self) -> Option<u64> {
        loop {
            // Keys below `last` (the run and `side`) come before every key in the buckets.
            let run = self.run.get(self.cursor).copied();
            match (run, self.side.peek()) {
                (Some(key), Some(&Reverse(side))) if side < key => {
                    self.side.pop();
                    return Some(side);
                }
                (Some(key), _) => {
                    self.cursor += 1;
                    return Some(key);
                }
                (None, Some(&Reverse(side))) => {
                    self.side.pop();
                    return Some(side);
                }
                (None, None) => {}
            }
            if let Some(key) = self.buckets[0].pop() {
                return Some(key);
            }
            let lowest = self.buckets.iter().position(|bucket| !bucket.is_empty())?;
            self.refill(lowest);
        }
    }

    /// Makes the keys of bucket `lowest` (the lowest non-empty one, not 0) ready to pop.
    ///
    /// When they are already in order (the common case on the worst inputs: a piece of one
    /// repeated character pushes one priority at rising positions), the bucket becomes the run
    /// and `last` its largest key. The keys in higher buckets keep their buckets: they differ
    /// from the old `last` first at a bit above the one where this bucket's keys do, and the
    /// new `last` has the old one's bits there. Dealt out by bits instead, a run of n keys of
    /// one priority would move each key once per bit of its position: O(n log n).
    ///
    /// Otherwise its keys are dealt out again below their minimum, which becomes `last`: every
    /// key of the bucket shares the old `last`'s bits above bit `lowest - 1` and has that bit
    /// set, as the minimum does, so each goes to a lower bucket.
    fn refill(&mut self, lowest: usize) {
        let mut keys = std::mem::take(&mut self.buckets[lowest]);
        if keys.is_sorted() {
            self.last = *keys.last().expect("a non-empty bucket");
            self.run.clear();
            self.buckets[lowest] = std::mem::replace(&mut self.run, keys);
            self.cursor = 0;
            return;
        }
        let min = keys.iter().copied().min().expect("a non-empty bucket");
        for &key in &keys {
            self.buckets[Self::bucket(key, min)].push(key);
        }
        self.last = min;
        keys.clear();
        self.buckets[lowest] = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pops `radix` against a binary heap while pushing keys around the last one popped: at it,
    /// just above, far above, and (when `below`) below it.
    fn pops_like_a_binary_heap(below: bool) {
        let mut radix = RadixHeap::new();
        let mut reference = BinaryHeap::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..1000 {
            let key = random() % 5000;
            radix.push(key);
            reference.push(Reverse(key));
        }
        let mut popped = 0;
        for _ in 0..50_000 {
            let Some(Reverse(expected)) = reference.pop() else {
                break;
            };
            assert_eq!(radix.pop(), Some(expected));
            popped += 1;
            for _ in 0..random() % 3 {
                let key = match random() % 5 {
                    0 => expected,
                    1 => expected + random() % 3,
                    2 => expected + (random() >> 20),
                    3 if below => expected.saturating_sub(random() % 100),
                    _ => expected + random() % 10_000,
                };
                radix.push(key);
                reference.push(Reverse(key));
            }
        }
        while let Some(Reverse(expected)) = reference.pop() {
            assert_eq!(radix.pop(), Some(expected));
            popped += 1;
        }
        assert_eq!(radix.pop(), None);
        assert!(popped > 1000);
    }

    #[test]
    fn rising_runs_pop_in_order_with_keys_pushed_inside_and_after_them() {
        let mut radix = RadixHeap::new();
        let mut reference = BinaryHeap::new();
        let mut push = |radix: &mut RadixHeap, key: u64| {
            radix.push(key);
            reference.push(Reverse(key));
        };
        // One priority at rising positions, as a piece of one repeated character pushes.
        for at in 0..10_000u64 {
            push(&mut radix, 7 << 32 | at);
        }
        let mut popped = Vec::new();
        while let Some(key) = radix.pop() {
            popped.push(key);
            let at = key & 0xFFFF_FFFF;
            if key >> 32 == 7 && at % 2 == 0 {
                // A higher priority at the same position (the next run), and now and then a
                // key inside the current run, for the side heap.
                push(&mut radix, 9 << 32 | at);
                if at % 1000 == 0 {
                    push(&mut radix, 7 << 32 | (at + 3));
                }
            }
        }
        let expected: Vec<u64> =
            std::iter::from_fn(|| reference.pop().map(|Reverse(k)| k)).collect();
        assert_eq!(popped, expected);
        assert_eq!(popped.len(), 10_000 + 5_000 + 10);
    }

    #[test]
    fn pops_in_order_when_keys_never_go_below_the_last_popped() {
        pops_like_a_binary_heap(false);
    }

    #[test]
    fn pops_in_order_when_some_keys_go_below_the_last_popped() {
        pops_like_a_binary_heap(true);
    }
}
