//! Token ids as Python lists of ints: `encode_batch`, `encode_ordinary_batch` and the other calls
//! that return `list[int]` or `list[list[int]]`.
//!
//! Building lists holds the GIL, so it runs on one thread, and it used to cost as much as the
//! encoding itself. What it costs, and what is done about it (o200k, `compare.py`'s 4 MB batch,
//! one thread, `perf`):
//!
//! - **One int object per id.** Python caches only the small ints; every other id made a new
//!   int. Ids repeat, so [`IntTable`] makes each id's int once per tokenizer, and a list holds
//!   shared references: 13 → 30 MB/s on two threads, when it came in.
//! - **A cache miss per id.** Sharing turned each id into a reference-count increment on an int
//!   somewhere in the table's 6.4 MB of objects (o200k), and a load from its 1.6 MB array of
//!   pointers: `_Py_IncRef` and that load were 20% of `encode_batch`, 16 ns per id. So the
//!   references are counted, in an array of 4 bytes per id, and each distinct int's count is
//!   raised once ([`IntTable::add_references`]): the conversion went from 34 to 16 ms (numpy
//!   output took 38 ms for the whole encoding, in the same runs). They are raised once per
//!   batch, not once per chunk ([`References`]).
//! - **The garbage collector.** Every list is a tracked container, so a batch of thousands of
//!   documents set off collections that walked the lists already built (10% of
//!   `encode_ordinary_batch`); [`GcPause`] stops it meanwhile. Lists of ints hold no cycles.
//! - **Waiting for the whole batch.** On several threads, the calling thread converts each
//!   chunk while the others encode ([`crate::parallel::encode_in_order`]).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::parallel::{Chunk, ChunkSink};
use crate::prefetch;

/// How many ids ahead the conversion asks for the table entries it will read: the pointer to an
/// id's int and the id's reference count are each a random read in arrays of megabytes (o200k:
/// 1.6 MB and 800 kB), and `perf annotate` put 56% and 28% of `lists_of_owned`'s samples on those
/// two loads (o200k, `compare.py`'s batch of lists, two threads). Asked for 16 ids ahead, the
/// function's share of the samples fell from 0.49–0.54 of the scanner's to 0.40 (one thread, two
/// runs of each build in turns, 60 calls a run).
const PREFETCH_AHEAD: usize = 16;

/// Batches with fewer ids than this are converted the plain way: making the int table (a few
/// milliseconds for 200k ids) pays off only on larger batches.
pub(super) const ID_TABLE_MIN_IDS: usize = 1 << 16;

/// Chunks with fewer ids than this add their references one at a time ([`IntTable::list`]):
/// counting them first needs an array of 4 bytes per vocabulary id (800 kB for o200k), which a
/// small batch, once the table exists, would allocate for a handful of ids.
const COUNTED_MIN_IDS: usize = 1 << 12;

/// One Python int per token id, made once per tokenizer.
pub(super) struct IntTable {
    ints: Box<[Py<PyAny>]>,
    /// Ids below this got one of Python's cached small ints (which are immortal from 3.12 on, and
    /// shared with everything else); their references are added one by one through the API.
    cached_below: u32,
}

impl IntTable {
    pub(super) fn new(py: Python<'_>, max_id: u32) -> IntTable {
        let ints: Box<[Py<PyAny>]> = (0..=max_id).map(|id| int_object(py, id).unbind()).collect();
        // The small-int cache is a prefix of the non-negative ints (0..=256 in CPython 3.10 to
        // 3.14); asking twice for the same int tells whether it is cached, whatever its size.
        let cached_below = (0..=max_id)
            .find(|&id| !int_object(py, id).is(int_object(py, id)))
            .unwrap_or(max_id + 1);
        IntTable { ints, cached_below }
    }

    /// Asks for the pointer to id `id`'s int, without waiting for it.
    fn prefetch(&self, id: u32) {
        if let Some(int) = self.ints.get(id as usize) {
            prefetch::line(int);
        }
    }

    /// `ids` as a list.
    fn list<'py>(&self, py: Python<'py>, ids: &[u32]) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            ids.iter().map(|&id| match self.ints.get(id as usize) {
                Some(int) => int.clone_ref(py).into_bound(py),
                None => int_object(py, id),
            }),
        )
    }

    /// Adds `count` references to id `id`'s int, for lists about to take them.
    ///
    /// A table int of its own (not a cached small int) is never immortal, so adding to its
    /// reference count directly is what `Py_INCREF` does to it `count` times: the field is part
    /// of the stable ABI, and `Py_INCREF` was that very addition in the limited API of 3.10 and
    /// 3.11 (there is no abi3 build for free-threaded Python). A count above 2^30 (a batch of
    /// 8 GB of list items for one id) goes through the API instead, so the count's 32 bits, which
    /// Python 3.14 keeps apart from the flags above them, cannot overflow.
    fn add_references(&self, id: u32, count: u32) {
        let int = self.ints[id as usize].as_ptr();
        if id >= self.cached_below && count <= 1 << 30 {
            // SAFETY: the GIL is held (a `ChunkSink` takes chunks on the calling thread) and
            // `int` is alive (the table holds a reference).
            unsafe { (*int).ob_refcnt += count as ffi::Py_ssize_t };
        } else {
            for _ in 0..count {
                // SAFETY: as above.
                unsafe { ffi::Py_IncRef(int) };
            }
        }
    }
}

/// `ids` as a list, with ints from `table` if there is one.
///
/// A long list (one long document: `encode`) counts its references first, as a batch's chunks
/// do ([`References`]). o200k, 10 MB of the corpus in one list (2.4M ids), one thread, the
/// list's time less the array's, median of 15 runs: 26 ms before (a reference added per id),
/// 10 to 17 ms after (two processes each).
pub(super) fn ids_list<'py>(
    py: Python<'py>,
    table: Option<&IntTable>,
    ids: &[u32],
) -> PyResult<Bound<'py, PyList>> {
    match table {
        Some(table) if ids.len() >= COUNTED_MIN_IDS => {
            let mut lists = Vec::with_capacity(1);
            let mut references = References::default();
            let filled = lists_of_owned(py, table, ids, &[ids.len()], &mut lists, &mut references);
            references.add_to(table);
            filled?;
            Ok(lists.swap_remove(0))
        }
        Some(table) => table.list(py, ids),
        None => PyList::new(py, ids),
    }
}

/// The references that lists hold to the table's ints and that the ints do not count yet: counted
/// here per id, and added to each distinct int at once ([`References::add_to`]).
///
/// Why not per chunk: adding a chunk's references touches the int object of each distinct id of
/// the chunk, somewhere in the table's megabytes of objects, and an id of middling frequency
/// is in many chunks. Counted over the whole batch, each int is touched once. `perf`, o200k,
/// `compare.py`'s 4 MB batch of lists on two threads: the counting and adding was a fifth of the
/// calling thread's samples. Callgrind of three such calls (two threads, a simulated 1 MB last
/// level), this module's functions: 106M → 90M instructions, 957k → 777k last-level misses;
/// timed in turns in one process, within the noise (−3% to +6%).
///
/// Until they are added, the ints' counts are lower than their references: safe because the
/// table holds a reference to each int of its own (so none is freed meanwhile), and no Python
/// code sees the lists before the call returns. Every way out of a conversion adds them first:
/// [`ListSink`]'s drop, and [`ids_list`].
#[derive(Default)]
struct References {
    /// Per id, the references counted and not yet added (zero after [`References::add_to`]);
    /// allocated by the first count.
    counts: Vec<u32>,
    /// The ids whose count is not zero.
    counted: Vec<u32>,
}

impl References {
    /// Counts one reference for each of `ids` that is in the table.
    fn count(&mut self, table: &IntTable, ids: &[u32]) {
        if self.counts.is_empty() {
            self.counts = vec![0; table.ints.len()];
        }
        for (index, &id) in ids.iter().enumerate() {
            if let Some(&ahead) = ids.get(index + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            if let Some(count) = self.counts.get_mut(id as usize) {
                if *count == 0 {
                    self.counted.push(id);
                }
                *count += 1;
            }
        }
    }

    /// Asks for id `id`'s count, without waiting for it.
    fn prefetch(&self, id: u32) {
        if let Some(count) = self.counts.get(id as usize) {
            prefetch::line(count);
        }
    }

    /// Adds the references counted to the table's ints.
    ///
    /// When many ids were counted (a sixteenth of the table or more), in the order of the ids
    /// rather than of their first appearance: the table made the ints in id order, so they lie
    /// in memory mostly in that order, and walking them forwards lets the hardware prefetcher
    /// fetch the next ones. This runs after the last chunk, while the other threads have nothing
    /// left to do. `compare.py`'s batch, o200k, two threads, timed inside the call: 2.8–3.0 ms
    /// in the order of appearance, 1.8–2.3 ms in id order (of 33 ms in all); the same build
    /// switched between the two in turns in one process, 25 calls each: 96.8 → 99.2 MB/s on two
    /// threads, 60.9 → 62.1 on one (a slow hour of the machine).
    fn add_to(&mut self, table: &IntTable) {
        if self.counted.len() * 16 >= self.counts.len() {
            for (id, count) in self.counts.iter_mut().enumerate() {
                if *count != 0 {
                    table.add_references(id as u32, std::mem::take(count));
                }
            }
            self.counted.clear();
            return;
        }
        for id in self.counted.drain(..) {
            table.add_references(id, std::mem::take(&mut self.counts[id as usize]));
        }
    }
}

/// Appends to `lists` one list per length in `lengths` of consecutive `ids`, with the table's
/// ints; the references the lists take are counted in `references`, to be added later.
fn lists_of_owned<'py>(
    py: Python<'py>,
    table: &IntTable,
    ids: &[u32],
    lengths: &[usize],
    lists: &mut Vec<Bound<'py, PyList>>,
    references: &mut References,
) -> PyResult<()> {
    let mut start = 0;
    for &len in lengths {
        let list_ids = &ids[start..start + len];
        start += len;
        // SAFETY: the GIL is held; `PyList_New` returns a new list or null with an error set.
        let list = unsafe { ffi::PyList_New(len as ffi::Py_ssize_t) };
        if list.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (index, &id) in list_ids.iter().enumerate() {
            if let Some(&ahead) = list_ids.get(index + PREFETCH_AHEAD) {
                table.prefetch(ahead);
            }
            let int = match table.ints.get(id as usize) {
                Some(int) => int.as_ptr(),
                None => int_object(py, id).into_ptr(),
            };
            // SAFETY: `list` is a new list of `len` empty items; `PyList_SetItem` takes over a
            // reference to `int` (a table int's is counted just below, see `References`; a new
            // int's is its own), and cannot fail for an index in range.
            unsafe { ffi::PyList_SetItem(list, index as ffi::Py_ssize_t, int) };
        }
        references.count(table, list_ids);
        // SAFETY: `list` is a new reference to a list.
        lists.push(unsafe { Bound::from_owned_ptr(py, list).cast_into_unchecked() });
    }
    Ok(())
}

/// A Python int.
pub(super) fn int_object(py: Python<'_>, id: u32) -> Bound<'_, PyAny> {
    match id.into_pyobject(py) {
        Ok(int) => int.into_any(),
        Err(never) => match never {},
    }
}

/// Turns the chunks of [`crate::parallel::encode_in_order`] into one list per document, on the
/// thread holding the GIL.
pub(super) struct ListSink<'py, 't> {
    py: Python<'py>,
    table: Option<&'t IntTable>,
    /// Used by chunks of at least [`COUNTED_MIN_IDS`] ids.
    references: References,
    lists: Vec<Bound<'py, PyList>>,
    _paused: GcPause<'py>,
}

impl<'py, 't> ListSink<'py, 't> {
    /// A sink for `documents` lists, with ints from `table` if there is one.
    pub(super) fn new(
        py: Python<'py>,
        table: Option<&'t IntTable>,
        documents: usize,
    ) -> ListSink<'py, 't> {
        ListSink {
            py,
            table,
            references: References::default(),
            lists: Vec::with_capacity(documents),
            _paused: GcPause::new(py),
        }
    }

    /// The lists, one per document taken.
    pub(super) fn finish(mut self) -> PyResult<Bound<'py, PyList>> {
        // Before the lists are given away: if making the outer list fails, they are dropped.
        self.add_references();
        PyList::new(self.py, std::mem::take(&mut self.lists))
    }

    /// Adds the references the lists took so far (see [`References`]).
    fn add_references(&mut self) {
        if let Some(table) = self.table {
            self.references.add_to(table);
        }
    }

    /// Converts `chunk` with ints from `table` (see the module docs): fills the lists, and
    /// counts the references they take, which [`ListSink::finish`] adds (or the sink's drop,
    /// when the batch stops early).
    fn take_from_table(&mut self, table: &IntTable, chunk: &Chunk) -> PyResult<()> {
        lists_of_owned(
            self.py,
            table,
            &chunk.ids,
            &chunk.lengths,
            &mut self.lists,
            &mut self.references,
        )
    }
}

impl Drop for ListSink<'_, '_> {
    /// Adds the references the lists took (see [`References`]), before the lists can be dropped
    /// (on an error, with the sink) or reach Python (after [`ListSink::finish`]).
    fn drop(&mut self) {
        self.add_references();
    }
}

impl ChunkSink for ListSink<'_, '_> {
    type Error = PyErr;

    fn unlocked(&mut self, work: &mut (dyn FnMut() + Send)) {
        self.py.detach(work)
    }

    fn take(&mut self, chunk: Chunk) -> PyResult<()> {
        match self.table {
            Some(table) if chunk.ids.len() >= COUNTED_MIN_IDS => {
                self.take_from_table(table, &chunk)?
            }
            table => {
                let mut start = 0;
                for &len in &chunk.lengths {
                    let ids = &chunk.ids[start..start + len];
                    self.lists.push(ids_list(self.py, table, ids)?);
                    start += len;
                }
            }
        }
        self.py.check_signals()
    }
}

/// Python's cyclic garbage collector, off while this lives (and back on after, if it was on).
///
/// A [`ListSink`] holds one for the whole call, also while the GIL is released: re-enabled
/// between chunks, the collector would walk the young lists once per chunk.
struct GcPause<'py> {
    was_enabled: bool,
    _gil: Python<'py>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Self {
        // SAFETY: the `Python` token proves the GIL is held; `PyGC_Disable` only clears the
        // collector's enabled flag and returns its previous value.
        let was_enabled = unsafe { ffi::PyGC_Disable() } == 1;
        GcPause {
            was_enabled,
            _gil: py,
        }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if self.was_enabled {
            // SAFETY: the GIL is held: the guard is dropped on the thread that made it, after
            // any `detach` it was alive across has returned.
            unsafe { ffi::PyGC_Enable() };
        }
    }
}
