//! Software prefetches: asking for memory a few steps before it is read.
//!
//! Only a hint: a prefetch reads nothing the program sees and never faults, and where the
//! target has no such instruction these do nothing.

/// Asks for the cache line of `item`, without waiting for it.
#[inline]
pub(crate) fn line<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and the address is
    // that of a live value anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (item as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// The most bytes [`text_start`] asks for.
const TEXT_START_BYTES: usize = 1024;

/// Asks for the first kilobyte of `text` (one request per cache line), without waiting for it.
///
/// Why: the batch loops call it on the next document while encoding the current one. A batch's
/// documents are separate Python strings scattered over the heap, so the first bytes of each
/// were a cache miss that the hardware prefetcher, which follows a stream once it has seen two
/// or three lines, cannot foresee; `perf` put 8% of a one-thread `encode_batch_numpy` (o200k,
/// `compare.py`'s batch: 8,537 documents, 470 bytes on average) on the scanner's first load of a
/// document. Timed in one process against the same build without it, alternating, 30–40 runs
/// each: 4–5% less time (o200k and cl100k). Asking for 256 bytes instead measured about the same.
#[inline]
pub(crate) fn text_start(text: &[u8]) {
    let start = &text[..text.len().min(TEXT_START_BYTES)];
    for cache_line in start.chunks(64) {
        line(&cache_line[0]);
    }
}

/// Calls `f` on each text in order, having asked for the next one's first bytes
/// ([`text_start`]) before each call: the batch loops' way through their documents.
#[inline]
pub(crate) fn for_each_prefetched<T: AsRef<str>>(texts: &[T], mut f: impl FnMut(&T)) {
    for (i, text) in texts.iter().enumerate() {
        if let Some(next) = texts.get(i + 1) {
            text_start(next.as_ref().as_bytes());
        }
        f(text);
    }
}
