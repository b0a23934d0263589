//! The only module that touches rayon.
//!
//! - Thread count: an explicit argument, else `FERROTOK_NUM_THREADS`, else all cores.
//! - Small jobs run on the calling thread: below [`MIN_PARALLEL_BYTES`] of input a thread hand-off
//!   costs more than it saves.
//! - Fork safety: data loaders `fork()` after a tokenizer has been used. A child inherits the pool's
//!   bookkeeping but not its threads, so a job sent to it would wait forever. Pools are therefore
//!   owned here, keyed by thread count and tagged with the process id that built them; a forked
//!   child sees another pid and builds fresh pools (the parent's are leaked in the child on purpose:
//!   dropping them would try to join threads that do not exist there).

use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;

/// Batches with less input than this run on the calling thread.
pub const MIN_PARALLEL_BYTES: usize = 32 * 1024;

/// The environment variable that sets the default number of threads.
pub const THREADS_ENV: &str = "FERROTOK_NUM_THREADS";

struct Pools {
    pid: u32,
    by_threads: FxHashMap<usize, Arc<ThreadPool>>,
}

fn pools() -> &'static Mutex<Pools> {
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    POOLS.get_or_init(|| {
        Mutex::new(Pools {
            pid: std::process::id(),
            by_threads: FxHashMap::default(),
        })
    })
}

/// The number of threads a call asking for `requested` gets.
pub fn thread_count(requested: Option<usize>) -> usize {
    requested
        .filter(|&n| n > 0)
        .or_else(|| {
            std::env::var(THREADS_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n| n > 0)
        })
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool(threads: usize) -> Option<Arc<ThreadPool>> {
    let mut pools = pools()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    if pools.pid != pid {
        // Forked child: forget the parent's pools without dropping them.
        let inherited = std::mem::take(&mut pools.by_threads);
        std::mem::forget(inherited);
        pools.pid = pid;
    }
    if let Some(pool) = pools.by_threads.get(&threads) {
        return Some(pool.clone());
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ferrotok-{i}"))
            .build()
            .ok()?,
    );
    pools.by_threads.insert(threads, pool.clone());
    Some(pool)
}

/// Maps `f` over `items` (whose total input size is `total_bytes`) on up to `threads` threads,
/// keeping order.
pub fn map<T, R, F>(items: &[T], total_bytes: usize, threads: Option<usize>, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync + Send,
{
    let threads = thread_count(threads);
    if threads <= 1 || items.len() < 2 || total_bytes < MIN_PARALLEL_BYTES {
        return items.iter().map(f).collect();
    }
    match pool(threads) {
        Some(pool) => pool.install(|| items.par_iter().map(f).collect()),
        None => items.iter().map(f).collect(),
    }
}

/// Encodes documents into one flat buffer plus document boundaries (`offsets[i]..offsets[i+1]`),
/// in order, using `encode` to append each document's ids to a buffer.
pub fn encode_flat<T, F>(
    items: &[T],
    total_bytes: usize,
    threads: Option<usize>,
    encode: F,
) -> (Vec<u32>, Vec<i64>)
where
    T: Sync,
    F: Fn(&T, &mut Vec<u32>) + Sync + Send,
{
    let (mut ids, mut offsets) = (Vec::new(), vec![0]);
    encode_flat_into(items, total_bytes, threads, encode, &mut ids, &mut offsets);
    (ids, offsets)
}

/// [`encode_flat`] appending to `ids` and `offsets` (which ends with `ids.len()`): one batch
/// encoded in slices grows one buffer.
///
/// The batch is cut into contiguous chunks, one flat buffer each, which are then appended: one
/// copy of the ids in all, and no allocation per document. On one thread (or for a small batch)
/// the documents are encoded straight into `ids`, with no copy: a copy held the output twice at
/// the peak, and glibc may keep the freed buffer. A large `ids` grows in place (`mremap`), so
/// appending slice after slice does not hold two copies either.
pub fn encode_flat_into<T, F>(
    items: &[T],
    total_bytes: usize,
    threads: Option<usize>,
    encode: F,
    ids: &mut Vec<u32>,
    offsets: &mut Vec<i64>,
) where
    T: Sync,
    F: Fn(&T, &mut Vec<u32>) + Sync + Send,
{
    debug_assert_eq!(offsets.last(), Some(&(ids.len() as i64)));
    let workers = thread_count(threads);
    if workers <= 1 || total_bytes < MIN_PARALLEL_BYTES {
        offsets.reserve(items.len());
        for item in items {
            encode(item, ids);
            offsets.push(ids.len() as i64);
        }
        return;
    }
    let chunk_len = items.len().div_ceil(workers * 8).max(1);
    let chunks: Vec<&[T]> = items.chunks(chunk_len).collect();
    // Each chunk's buffer reserved as the caller's is (see `encode_flat_in_slices` in the
    // bindings): one id per two bytes of text, so that it is not grown by copying.
    let chunk_capacity = total_bytes / chunks.len() / 2;
    let encoded: Vec<(Vec<u32>, Vec<usize>)> = map(&chunks, total_bytes, Some(workers), |chunk| {
        let mut ids = Vec::with_capacity(chunk_capacity);
        let mut lengths = Vec::with_capacity(chunk.len());
        for item in chunk.iter() {
            let before = ids.len();
            encode(item, &mut ids);
            lengths.push(ids.len() - before);
        }
        (ids, lengths)
    });
    ids.reserve(encoded.iter().map(|(chunk_ids, _)| chunk_ids.len()).sum());
    offsets.reserve(items.len());
    for (chunk_ids, lengths) in encoded {
        ids.extend_from_slice(&chunk_ids);
        for len in lengths {
            offsets.push(offsets[offsets.len() - 1] + len as i64);
        }
    }
}
