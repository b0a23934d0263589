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
//!   pointers: `_Py_IncRef` and that load were 20% of `encode_batch`, 16 ns per id. So a chunk's
//!   references are counted first, in an array of 4 bytes per id, and each distinct int's count
//!   is raised once ([`IntTable::add_references`]): the conversion went from 34 to 16 ms
//!   (numpy output took 38 ms for the whole encoding, in the same runs).
//! - **The garbage collector.** Every list is a tracked container, so a batch of thousands of
//!   documents set off collections that walked the lists already built (10% of
//!   `encode_ordinary_batch`); [`GcPause`] stops it meanwhile. Lists of ints hold no cycles.
//! - **Waiting for the whole batch.** On several threads, the calling thread converts each
//!   chunk while the others encode ([`crate::parallel::encode_in_order`]).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::parallel::{Chunk, ChunkSink};

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
            References::default().add(table, ids);
            lists_of_owned(py, table, ids, &[ids.len()], &mut lists)?;
            Ok(lists.swap_remove(0))
        }
        Some(table) => table.list(py, ids),
        None => PyList::new(py, ids),
    }
}

/// Adds the references a conversion is about to hand to lists, one addition per distinct id
/// (see the module docs).
#[derive(Default)]
struct References {
    /// Per id, its references among the ids counted (zero between calls); allocated by the first
    /// call.
    counts: Vec<u32>,
    /// The ids whose count is not zero.
    counted: Vec<u32>,
}

impl References {
    /// Adds one reference to the table's int for each of `ids` that is in the table.
    fn add(&mut self, table: &IntTable, ids: &[u32]) {
        if self.counts.is_empty() {
            self.counts = vec![0; table.ints.len()];
        }
        for &id in ids {
            if let Some(count) = self.counts.get_mut(id as usize) {
                if *count == 0 {
                    self.counted.push(id);
                }
                *count += 1;
            }
        }
        for id in self.counted.drain(..) {
            table.add_references(id, std::mem::take(&mut self.counts[id as usize]));
        }
    }
}

/// Appends to `lists` one list per length in `lengths` of consecutive `ids`, with the table's
/// ints, whose references were added already ([`References::add`]).
fn lists_of_owned<'py>(
    py: Python<'py>,
    table: &IntTable,
    ids: &[u32],
    lengths: &[usize],
    lists: &mut Vec<Bound<'py, PyList>>,
) -> PyResult<()> {
    let in_table = |id: u32| (id as usize) < table.ints.len();
    let mut start = 0;
    for &len in lengths {
        let list_ids = &ids[start..start + len];
        start += len;
        // SAFETY: the GIL is held; `PyList_New` returns a new list or null with an error set.
        let list = unsafe { ffi::PyList_New(len as ffi::Py_ssize_t) };
        if list.is_null() {
            // Give back the references added for this list and the ones after it.
            for &id in ids[start - len..].iter().filter(|&&id| in_table(id)) {
                // SAFETY: each was added and not yet handed to a list.
                unsafe { ffi::Py_DecRef(table.ints[id as usize].as_ptr()) };
            }
            return Err(PyErr::fetch(py));
        }
        for (index, &id) in list_ids.iter().enumerate() {
            let int = match table.ints.get(id as usize) {
                Some(int) => int.as_ptr(),
                None => int_object(py, id).into_ptr(),
            };
            // SAFETY: `list` is a new list of `len` empty items; `PyList_SetItem` takes over
            // `int`'s reference (added before, or new), and cannot fail for an index in range.
            unsafe { ffi::PyList_SetItem(list, index as ffi::Py_ssize_t, int) };
        }
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
    pub(super) fn finish(self) -> PyResult<Bound<'py, PyList>> {
        PyList::new(self.py, self.lists)
    }

    /// Converts `chunk` with ints from `table` (see the module docs): counts each id's references,
    /// adds them to its int at once, then fills the lists with references already owned.
    fn take_from_table(&mut self, table: &IntTable, chunk: &Chunk) -> PyResult<()> {
        self.references.add(table, &chunk.ids);
        lists_of_owned(self.py, table, &chunk.ids, &chunk.lengths, &mut self.lists)
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
