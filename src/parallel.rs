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

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;

use crate::prefetch;

/// Batches with less input than this run on the calling thread.
pub const MIN_PARALLEL_BYTES: usize = 32 * 1024;

/// The environment variable that sets the default number of threads.
pub const THREADS_ENV: &str = "FERROTOK_NUM_THREADS";

/// How a batch's texts are encoded: a run of them at a time, appended to one buffer of ids,
/// with each text's number of ids.
///
/// A function that encodes one text is one (text after text, each one's first bytes asked for
/// while the one before it is encoded: [`prefetch::for_each_prefetched`]); a tokenizer may do better
/// with the whole run ([`crate::tokenizer::Batched`]).
pub trait EncodeTexts: Sync {
    /// Appends the ids of `texts`, one after the other, to `ids`, and each one's number of ids
    /// to `lengths`.
    fn encode_texts(&self, texts: &[&str], ids: &mut Vec<u32>, lengths: &mut Vec<usize>);
}

impl<F: Fn(&str, &mut Vec<u32>) + Sync> EncodeTexts for F {
    fn encode_texts(&self, texts: &[&str], ids: &mut Vec<u32>, lengths: &mut Vec<usize>) {
        prefetch::for_each_prefetched(texts, |text| {
            let before = ids.len();
            self(text, ids);
            lengths.push(ids.len() - before);
        });
    }
}

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
/// keeping order. Each thread begins on a part of `items` of its own, and a thread done with its
/// part takes single items from the others' (see [`map_in_parts`]): items may cost very
/// differently.
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
    map_in_parts(items, threads, f)
}

/// Encodes documents into one flat buffer plus document boundaries (`offsets[i]..offsets[i+1]`),
/// in order, with `encode`.
pub fn encode_flat<T, E>(
    items: &[T],
    total_bytes: usize,
    threads: Option<usize>,
    encode: &E,
) -> (Vec<u32>, Vec<i64>)
where
    T: Sync + AsRef<str>,
    E: EncodeTexts,
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
/// appending slice after slice does not hold two copies either. `encode` gets runs of
/// documents (a chunk, or the whole batch on one thread), see [`EncodeTexts`].
pub fn encode_flat_into<T, E>(
    items: &[T],
    total_bytes: usize,
    threads: Option<usize>,
    encode: &E,
    ids: &mut Vec<u32>,
    offsets: &mut Vec<i64>,
) where
    T: Sync + AsRef<str>,
    E: EncodeTexts,
{
    debug_assert_eq!(offsets.last(), Some(&(ids.len() as i64)));
    let workers = thread_count(threads);
    if workers <= 1 || total_bytes < MIN_PARALLEL_BYTES {
        let texts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        let mut lengths = Vec::with_capacity(texts.len());
        encode.encode_texts(&texts, ids, &mut lengths);
        offsets.reserve(lengths.len());
        for len in lengths {
            offsets.push(offsets[offsets.len() - 1] + len as i64);
        }
        return;
    }
    // Chunks of about equal bytes, not of equal numbers of documents: documents differ in size
    // by orders of magnitude. `compare.py`'s 4 MB batch in 16 chunks of as many documents had
    // two chunks of 1.1 MB (long Japanese and multilingual documents) among fourteen of
    // 80-190 kB, so whichever thread took the last big one worked alone for a quarter of the
    // call.
    let chunks = chunks_by_bytes(items, total_bytes.div_ceil(workers * CHUNKS_PER_THREAD));
    let encoded = map(&chunks, total_bytes, Some(workers), |chunk| {
        encode_texts(chunk, encode)
    });
    append_in_parallel(&encoded, workers, ids);
    offsets.reserve(items.len());
    for chunk in encoded {
        for len in chunk.lengths {
            offsets.push(offsets[offsets.len() - 1] + len as i64);
        }
    }
}

/// How many chunks of about equal bytes [`encode_flat_into`] cuts a batch into per thread: the
/// thread that finishes its part first then takes chunks from the end of another's part, so the
/// two finish at most about a chunk apart.
///
/// Why this many: a chunk taken from another's part may be text the taker's word cache has not
/// seen, encoded at the speed of new text (five to seven times slower). With 16 per thread
/// (125 kB each for `compare.py`'s batch on two threads), timed inside the call, the calling
/// thread of a slow call often finished 3–5 ms after the other, on such a chunk; with 64 (31 kB)
/// the two finished within about a millisecond of each other in most calls. Timed whole, in
/// turns in one process, the two counts were within the noise of this machine.
const CHUNKS_PER_THREAD: usize = 64;

/// Maps `f` over `items` on `workers` threads (`workers - 1` of the pool's, and the calling
/// thread, which takes the last part), keeping order.
///
/// Each thread begins with a contiguous part of `items` (an equal share of them) and works
/// through it from the front; a thread done with its part takes items from the back of the part
/// with the most items left.
///
/// Why not rayon's own split: each thread keeps its own word cache (see
/// `models::word_cache`), and a repeated batch (a benchmark, an epoch, a long text encoded
/// again) is fast only where a thread meets text it has met before. Rayon's split gives each
/// thread about the same half every call, but its threads steal whatever is left at the time, so
/// which thread encodes the items near the middle changes from call to call; a document encoded
/// by a thread that had not seen it runs at the speed of new text, five to seven times slower.
/// Here the owner of a part always starts from its front, and only the end of a part goes to a
/// thread that finished early, about the same items every call. Measured with the change to
/// chunks of equal bytes in [`encode_flat_into`] (`compare.py`'s 4 MB batch, arrays, two
/// threads, median of 15 calls, three runs in turns with the build before): gpt2
/// 14.4 / 10.2 / 12.3 → 9.3 / 9.4 / 11.4 ms, llama-3.1 12.8 / 11.4 / 11.3 → 10.4 / 8.3 / 10.1,
/// o200k 12.8 / 9.5 / 11.4 → 10.5 / 8.0 / 10.1. The process's CPU time per call on two threads
/// fell the same way, to about that of one thread: the time had gone to merges, not to waiting.
///
/// Why the calling thread takes a part itself, rather than wait for the pool: it is
/// running already, while a pool thread asleep may take milliseconds to run again on this
/// shared machine (its core idle, the virtual CPU given up to the host). o200k, `compare.py`'s
/// batch on two threads: 308–334 MB/s when called back to back, 211 after a pause of 0.3 s and
/// 250 after 64 MB written by one thread, when the pool's threads did all the encoding; one
/// thread lost 7% to the same pause. A late helper now costs only what it would have encoded
/// meanwhile, which the calling thread takes from the back of its part.
///
/// Why the last part: [`encode_in_order`] (lists) has the calling thread encode from the batch's
/// end too, so that a tokenizer asked for arrays and for lists of the same batch finds the same
/// documents in each thread's word cache.
fn map_in_parts<T, R, F>(items: &[T], workers: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync + Send,
{
    let per_part = items.len().div_ceil(workers);
    let parts: Vec<Claims> = (0..workers)
        .map(|part| {
            let start = (part * per_part).min(items.len());
            Claims::new(start..(start + per_part).min(items.len()))
        })
        .collect();
    // A mutex per item rather than a `OnceLock`, which would need `R: Sync`; each is locked once.
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let (parts, results_ref, f) = (&parts, &results, &f);
    let work = move |own: &Claims| {
        while let Some(index) = own.claim(End::Front).or_else(|| steal(parts)) {
            let result = f(&items[index]);
            *lock(&results_ref[index]) = Some(result);
        }
    };
    match pool(workers - 1) {
        Some(helpers) => helpers.in_place_scope(|scope| {
            for _ in 1..workers {
                scope.spawn(move |_| {
                    // A pool's thread index is the same from call to call; a job that runs on
                    // a thread that already ran one finds its part empty and helps the others.
                    let thread = rayon::current_thread_index().unwrap_or(0);
                    work(&parts[thread % (workers - 1)]);
                });
            }
            work(&parts[workers - 1]);
        }),
        None => work(&parts[workers - 1]),
    }
    results
        .into_iter()
        .map(|result| {
            let result = result
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            result.expect("every item was claimed and mapped")
        })
        .collect()
}

/// `mutex` locked, whether or not a panic poisoned it (nothing here panics while holding one).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An item from the back of the part with the most items left; `None` when all are claimed.
fn steal(parts: &[Claims]) -> Option<usize> {
    loop {
        let busiest = parts.iter().max_by_key(|part| part.left())?;
        if busiest.left() == 0 {
            return None;
        }
        if let Some(index) = busiest.claim(End::Back) {
            return Some(index);
        }
    }
}

/// Indices (of chunks, of items) not claimed yet, `first..end` as `end << 32 | first` in one
/// atomic, claimed one at a time from either end.
struct Claims(AtomicU64);

impl Claims {
    fn new(range: std::ops::Range<usize>) -> Claims {
        Claims(AtomicU64::new(
            (range.end as u64) << 32 | range.start as u64,
        ))
    }

    /// How many are left (at the moment of asking).
    fn left(&self) -> usize {
        let unclaimed = self.0.load(Ordering::Relaxed);
        (unclaimed >> 32).saturating_sub(unclaimed & 0xFFFF_FFFF) as usize
    }

    /// The index at `end` of the unclaimed ones, now claimed.
    fn claim(&self, end: End) -> Option<usize> {
        let mut unclaimed = self.0.load(Ordering::Relaxed);
        loop {
            let (first, last) = (unclaimed & 0xFFFF_FFFF, unclaimed >> 32);
            if first >= last {
                return None;
            }
            let (claimed, rest) = match end {
                End::Front => (first, last << 32 | (first + 1)),
                End::Back => (last - 1, (last - 1) << 32 | first),
            };
            match self.0.compare_exchange_weak(
                unclaimed,
                rest,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(claimed as usize),
                Err(now) => unclaimed = now,
            }
        }
    }
}

/// Appends the ids of `chunks` to `ids`, in order, each chunk copied by one of `workers` threads
/// into its own part of `ids`'s new length.
///
/// Why: copied on the calling thread, while the pool's threads wait, the copy (and the first
/// touch of the output's new pages) was the one serial step of a batch's array output:
/// `compare.py`'s 4 MB batch, o200k, two threads, 0.7–0.9 ms of 12–17 ms. Copied in parallel,
/// against the same build copying serially, in turns in one process, 31 calls each (two
/// processes): 192.5 → 198.4 and 199.5 → 204.3 MB/s.
fn append_in_parallel(chunks: &[Chunk], workers: usize, ids: &mut Vec<u32>) {
    let total = chunks.iter().map(|chunk| chunk.ids.len()).sum();
    ids.reserve(total);
    let mut rest = &mut ids.spare_capacity_mut()[..total];
    // Each part in a mutex, so that the one thread that copies it can take it from a shared
    // slice (an exclusive borrow cannot be handed out through one).
    let mut parts = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let (part, after) = rest.split_at_mut(chunk.ids.len());
        parts.push(Mutex::new(Some((part, &chunk.ids[..]))));
        rest = after;
    }
    let copy = |(part, chunk_ids): (&mut [std::mem::MaybeUninit<u32>], &[u32])| {
        debug_assert_eq!(part.len(), chunk_ids.len());
        // SAFETY: `part` has room for exactly `chunk_ids.len()` elements (it was split off at
        // that length), and a chunk's ids and the output's spare capacity cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                chunk_ids.as_ptr(),
                part.as_mut_ptr().cast::<u32>(),
                chunk_ids.len(),
            )
        };
    };
    map_in_parts(&parts, workers, |part| {
        if let Some(part) = lock(part).take() {
            copy(part);
        }
    });
    // SAFETY: the `total` elements after the old length were all written just above (the
    // parts tile them), and `reserve` made room for them.
    unsafe { ids.set_len(ids.len() + total) };
}

/// One chunk of a batch encoded by [`encode_in_order`]: its ids, and each document's id count.
pub struct Chunk {
    /// The chunk's ids, document after document.
    pub ids: Vec<u32>,
    /// Each document's number of ids, in order.
    pub lengths: Vec<usize>,
}

/// What consumes the chunks of [`encode_in_order`] on the calling thread.
pub trait ChunkSink {
    /// What [`ChunkSink::take`] may fail with.
    type Error;
    /// Runs `work` (encoding, or waiting for the threads) with whatever the calling thread holds
    /// released: the bindings let go of the GIL here, so that other Python threads run.
    fn unlocked(&mut self, work: &mut (dyn FnMut() + Send));
    /// The next chunk, in the batch's order. An error stops the batch: no chunk is taken after it.
    fn take(&mut self, chunk: Chunk) -> Result<(), Self::Error>;
}

/// The size of [`encode_in_order`]'s chunks (at most; a batch gets at least four per thread).
/// Each chunk costs a hand-off of the GIL and a wake-up, while the first chunk's encoding and the
/// last one's conversion run alone: on `compare.py`'s 4 MB batch (o200k, lists, two threads)
/// chunks of 32k to 128k took 36–38 ms at best and 256k took 41–44.
pub const ORDERED_CHUNK_BYTES: usize = 64 * 1024;

/// Encodes `texts` on up to `threads` threads and hands the ids to `sink` on the calling thread,
/// chunk by chunk in order, while the other threads go on encoding.
///
/// Why: turning ids into Python lists holds the GIL, so it runs on one thread. Done after the
/// whole batch was encoded (as [`encode_flat_into`] would have it), it added its full time to the
/// parallel encoding's: o200k's `encode_batch` on two threads gained 1.2× over one thread. Here
/// the calling thread converts each chunk as soon as it is ready and, when the next one is not,
/// encodes a chunk itself (with the GIL released, from the batch's end: see [`End`]) rather than
/// wait; the pool's threads (one fewer than `threads`, so that the call uses `threads` threads in
/// all) only encode. On the shared 2-core machine this brought less than hoped: `compare.py`'s
/// lists on two threads ran at 0.99–1.57× their one-thread speed after it, because the
/// conversion itself ran 2–3 times slower while the other core encoded (see
/// `benches/results.md`).
///
/// On one thread, or for a small batch, the calling thread encodes everything and hands it over
/// as one chunk. A panic while encoding reaches the caller after the other threads stopped.
pub fn encode_in_order<E, S>(
    texts: &[&str],
    threads: Option<usize>,
    encode: &E,
    sink: &mut S,
) -> Result<(), S::Error>
where
    E: EncodeTexts,
    S: ChunkSink,
{
    let total_bytes: usize = texts.iter().map(|text| text.len()).sum();
    let workers = thread_count(threads);
    let pool = match workers > 1 && total_bytes >= MIN_PARALLEL_BYTES && texts.len() > 1 {
        // The pool's threads besides the calling one, the same as `map_in_parts` takes, so
        // that a batch of arrays and one of lists are encoded by the same threads, with the
        // same word caches.
        true => pool(workers - 1),
        false => None,
    };
    let Some(pool) = pool else {
        let mut chunk = None;
        sink.unlocked(&mut || chunk = Some(encode_texts(texts, encode)));
        return match chunk {
            Some(chunk) => sink.take(chunk),
            None => unreachable!("`unlocked` runs its work"),
        };
    };
    let chunk_bytes = ORDERED_CHUNK_BYTES.min(total_bytes / (workers * 4)).max(1);
    let chunks = chunks_by_bytes(texts, chunk_bytes);
    let shared = Ordered {
        unclaimed: Claims::new(0..chunks.len()),
        stop: AtomicBool::new(false),
        done: Mutex::new((0..chunks.len()).map(|_| None).collect()),
        ready: Condvar::new(),
    };
    let (chunks, shared) = (&chunks, &shared);
    pool.in_place_scope(|scope| {
        for _ in 1..workers {
            scope.spawn(move |_| while shared.encode_one(chunks, encode, End::Front) {});
        }
        let outcome = (0..chunks.len()).try_for_each(|index| {
            let chunk = shared.wait_for(index, sink, chunks, encode);
            sink.take(chunk)
        });
        shared.stop.store(true, Ordering::Relaxed);
        outcome
    })
}

/// The state [`encode_in_order`]'s threads share.
struct Ordered {
    /// The chunks no thread has claimed yet: the pool's threads claim from the front, the calling
    /// thread from the back (see [`End`]).
    unclaimed: Claims,
    /// Set when the calling thread gives up (its sink failed, or a chunk panicked).
    stop: AtomicBool,
    /// Each chunk's outcome, from when it is encoded until the calling thread takes it.
    done: Mutex<Vec<Option<std::thread::Result<Chunk>>>>,
    /// Signalled whenever a chunk is stored in `done`.
    ready: Condvar,
}

impl Ordered {
    /// Claims and encodes the chunk at `end` of the unclaimed ones; false when there is none left
    /// (or the batch stopped).
    fn encode_one<E: EncodeTexts>(&self, chunks: &[&[&str]], encode: &E, end: End) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let Some(index) = self.unclaimed.claim(end) else {
            return false;
        };
        let texts = chunks[index];
        // Caught so that the calling thread, waiting for this chunk, hears of it.
        let outcome = catch_unwind(AssertUnwindSafe(|| encode_texts(texts, encode)));
        self.lock()[index] = Some(outcome);
        self.ready.notify_all();
        true
    }

    /// Chunk `index`, once encoded. Meanwhile the calling thread (with `sink`'s lock released)
    /// encodes chunks nobody has claimed, then sleeps until the chunk is stored.
    fn wait_for<E, S>(&self, index: usize, sink: &mut S, chunks: &[&[&str]], encode: &E) -> Chunk
    where
        E: EncodeTexts,
        S: ChunkSink,
    {
        loop {
            if let Some(outcome) = self.lock()[index].take() {
                match outcome {
                    Ok(chunk) => return chunk,
                    Err(panic) => {
                        self.stop.store(true, Ordering::Relaxed);
                        resume_unwind(panic)
                    }
                }
            }
            sink.unlocked(&mut || {
                if !self.encode_one(chunks, encode, End::Back) {
                    let mut done = self.lock();
                    while done[index].is_none() {
                        done = self
                            .ready
                            .wait(done)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                }
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<std::thread::Result<Chunk>>>> {
        // Nothing panics while holding the lock (encoding is caught outside it).
        lock(&self.done)
    }
}

/// Which end of the unclaimed chunks a thread of [`encode_in_order`] takes from.
///
/// Why two ends: each thread keeps its own word cache, so a batch encoded again (a benchmark's
/// repeated batch, an epoch) is fast only where each thread meets documents it has met before.
/// With one counter, which chunks the calling thread encoded between its conversions changed
/// from call to call, so each thread kept meeting pieces only another had cached. Claimed from
/// two ends, the pool takes the batch's start and the calling thread its end, each about the
/// same share every time. (`compare.py`'s lists on two threads: 1.05–1.3× their one-thread
/// speed before, on gpt-4o-o200k and llama-3.1 1.24× and 1.61× after; the machine's noise is of
/// the size of that difference.)
#[derive(Clone, Copy)]
enum End {
    Front,
    Back,
}

/// `texts` cut into runs of whole documents of about `chunk_bytes` each.
fn chunks_by_bytes<T: AsRef<str>>(texts: &[T], chunk_bytes: usize) -> Vec<&[T]> {
    let mut chunks = Vec::with_capacity(texts.len().min(1024));
    let (mut start, mut bytes) = (0, 0);
    for (index, text) in texts.iter().enumerate() {
        bytes += text.as_ref().len();
        if bytes >= chunk_bytes {
            chunks.push(&texts[start..=index]);
            (start, bytes) = (index + 1, 0);
        }
    }
    if start < texts.len() {
        chunks.push(&texts[start..]);
    }
    chunks
}

/// Encodes `items` into one chunk, its ids reserved for one per two bytes as
/// `encode_flat_in_slices` in the bindings reserves (so that they are not grown by copying).
fn encode_texts<T: AsRef<str>, E: EncodeTexts>(items: &[T], encode: &E) -> Chunk {
    let texts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    let bytes: usize = texts.iter().map(|text| text.len()).sum();
    let mut ids = Vec::with_capacity(bytes / 2 + texts.len());
    let mut lengths = Vec::with_capacity(texts.len());
    encode.encode_texts(&texts, &mut ids, &mut lengths);
    Chunk { ids, lengths }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    /// A sink that keeps what it is given, and can be told to fail at a chunk.
    #[derive(Default)]
    struct Collect {
        ids: Vec<u32>,
        lengths: Vec<usize>,
        chunks: usize,
        fail_at: Option<usize>,
    }

    impl ChunkSink for Collect {
        type Error = usize;

        fn unlocked(&mut self, work: &mut (dyn FnMut() + Send)) {
            work()
        }

        fn take(&mut self, chunk: Chunk) -> Result<(), usize> {
            if self.fail_at == Some(self.chunks) {
                return Err(self.chunks);
            }
            assert_eq!(chunk.ids.len(), chunk.lengths.iter().sum::<usize>());
            self.chunks += 1;
            self.ids.extend(chunk.ids);
            self.lengths.extend(chunk.lengths);
            Ok(())
        }
    }

    /// Documents of very different lengths (empty ones, and a few far above a chunk).
    fn documents(rng: &mut Rng) -> Vec<String> {
        (0..2000)
            .map(|index| {
                let len = match rng.below(20) {
                    0 => 0,
                    1 => 200_000 + rng.below(100_000),
                    _ => rng.below(3000),
                };
                let letter = char::from(b'a' + (index % 26) as u8);
                std::iter::repeat_n(letter, len).collect()
            })
            .collect()
    }

    /// Stands for a tokenizer: one id per byte.
    fn encode(text: &str, out: &mut Vec<u32>) {
        out.extend(text.bytes().map(u32::from));
    }

    #[test]
    fn chunks_come_in_order_whatever_the_thread_count() {
        let documents = documents(&mut Rng(7));
        let texts: Vec<&str> = documents.iter().map(String::as_str).collect();
        let expected_ids: Vec<u32> = texts
            .iter()
            .flat_map(|t| t.bytes().map(u32::from))
            .collect();
        let expected_lengths: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        for threads in [1, 2, 3, 8] {
            let mut sink = Collect::default();
            encode_in_order(&texts, Some(threads), &encode, &mut sink).unwrap();
            assert_eq!(sink.lengths, expected_lengths, "{threads} threads");
            assert!(sink.ids == expected_ids, "{threads} threads");
            // One chunk on one thread; many on more.
            assert_eq!(sink.chunks > 1, threads > 1, "{threads} threads");
        }
    }

    #[test]
    fn flat_batches_append_in_order_whatever_the_thread_count() {
        let documents = documents(&mut Rng(10));
        let texts: Vec<&str> = documents.iter().map(String::as_str).collect();
        // Two slices appended after what the buffers held already (as the bindings encode a
        // batch slice by slice).
        let (first, second) = texts.split_at(texts.len() / 3);
        let mut expected_ids = vec![7, 7, 7];
        let mut expected_offsets = vec![0, 3];
        for text in &texts {
            encode(text, &mut expected_ids);
            expected_offsets.push(expected_ids.len() as i64);
        }
        for threads in [1, 2, 3, 8] {
            let (mut ids, mut offsets) = (vec![7, 7, 7], vec![0, 3]);
            for slice in [first, second] {
                let bytes = slice.iter().map(|text| text.len()).sum();
                encode_flat_into(slice, bytes, Some(threads), &encode, &mut ids, &mut offsets);
            }
            assert_eq!(offsets, expected_offsets, "{threads} threads");
            assert!(ids == expected_ids, "{threads} threads");
        }
    }

    #[test]
    fn map_keeps_order_whatever_the_thread_count() {
        let documents = documents(&mut Rng(11));
        let expected: Vec<usize> = documents.iter().map(|d| d.len() * 3 + 1).collect();
        let total = documents.iter().map(String::len).sum();
        for threads in [1, 2, 3, 8] {
            let mapped = map(&documents, total, Some(threads), |d| d.len() * 3 + 1);
            assert_eq!(mapped, expected, "{threads} threads");
        }
    }

    #[test]
    fn a_panic_in_map_reaches_the_caller() {
        let items: Vec<usize> = (0..100).collect();
        let outcome = catch_unwind(|| {
            map(&items, MIN_PARALLEL_BYTES, Some(2), |&item| {
                assert_ne!(item, 70, "item 70");
                item
            })
        });
        let panic = outcome.expect_err("the panic must reach the caller");
        let message = panic.downcast_ref::<String>().map(String::as_str);
        assert!(
            message.is_some_and(|m| m.contains("item 70")),
            "{message:?}"
        );
    }

    #[test]
    fn a_failing_sink_stops_the_batch() {
        let documents = documents(&mut Rng(8));
        let texts: Vec<&str> = documents.iter().map(String::as_str).collect();
        let mut sink = Collect {
            fail_at: Some(3),
            ..Collect::default()
        };
        assert_eq!(encode_in_order(&texts, Some(2), &encode, &mut sink), Err(3));
        assert_eq!(sink.chunks, 3);
    }

    #[test]
    fn a_panic_while_encoding_reaches_the_caller() {
        let documents = documents(&mut Rng(9));
        let texts: Vec<&str> = documents.iter().map(String::as_str).collect();
        let poisoned = texts.len() * 2 / 3;
        for threads in [1, 2] {
            let encode = |text: &str, out: &mut Vec<u32>| {
                if std::ptr::eq(text, texts[poisoned]) {
                    panic!("document {poisoned}");
                }
                encode(text, out)
            };
            let mut sink = Collect::default();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                encode_in_order(&texts, Some(threads), &encode, &mut sink)
            }));
            let panic = outcome.expect_err("the panic must reach the caller");
            assert_eq!(
                panic.downcast_ref::<String>().map(String::as_str),
                Some(format!("document {poisoned}").as_str())
            );
        }
    }
}
