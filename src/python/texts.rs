//! A batch of Python `str` objects, read as UTF-8 one slice at a time.
//!
//! Why not `Vec<PyBackedStr>`: borrowing a `str`'s UTF-8 (`PyUnicode_AsUTF8AndSize`, the only way
//! the stable ABI gives) makes CPython encode a non-ASCII string and keep that copy inside the
//! string for as long as it lives. Extracted up front, a whole batch's copies stay alive through
//! the call and after it: `peak_memory.py`'s 26 MB corpus (o200k, one thread) left 15.5 MB of
//! them, a sixth of the call's peak above its baseline.
//!
//! So a batch larger than [`BORROWED_CHARS`], a corpus job that encodes each string once, has
//! its non-ASCII strings encoded to temporary `bytes` a slice of [`COPIED_SLICE_CHARS`] at a
//! time, dropped with the slice: the encoding is the one CPython would have made anyway, and what
//! it holds is bounded by a slice. (An ASCII string's UTF-8 is its own data, borrowed without a
//! copy; `str.isascii` tells which, as the stable ABI has no access to the string's kind.)
//! `peak_memory.py`, o200k, one thread: 98 MB above the baseline when borrowing, 88 with copied
//! slices of 1M characters, 85 with slices of 256k; on two threads 133 → 104.
//!
//! A smaller batch still borrows: the copies then make the next call on the same strings (a
//! notebook cell run again, a benchmark's repeated batch) skip the encoding, which costs about a
//! fifth of an o200k encoding of `compare.py`'s 4 MB batch (5.7 ms of Python's UTF-8 encoder for
//! its 2.5 MB of non-ASCII documents).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::errors::guard;
use crate::error::Error;

/// Batches are encoded in slices of about this many characters, with a check for Ctrl-C between
/// them, so a long job answers KeyboardInterrupt within a fraction of a second. Characters, not
/// bytes: a `str`'s length is known without encoding it.
const SLICE_CHARS: usize = 16 * 1024 * 1024;

/// The largest batch, in characters, whose strings are borrowed (see the module docs).
const BORROWED_CHARS: usize = SLICE_CHARS;

/// The slices of a batch whose non-ASCII strings are copied: at most about a megabyte of copies
/// alive at once. A slice costs a GIL hand-off and, on several threads, one parallel batch (of
/// at least 8 times [`crate::parallel::MIN_PARALLEL_BYTES`]): encoding the 26 MB corpus on two
/// threads was no slower with slices of 256k characters than with 1M (41–59 MB/s for both, on
/// the shared machine).
const COPIED_SLICE_CHARS: usize = 256 * 1024;

/// A batch's strings and their lengths in characters.
pub(super) struct TextBatch<'py> {
    texts: Vec<Bound<'py, PyString>>,
    chars: Vec<usize>,
}

impl<'py> TextBatch<'py> {
    /// The batch of one call (which [`crate::models::begin_call`] is told of).
    pub(super) fn new(texts: Vec<Bound<'py, PyString>>) -> PyResult<TextBatch<'py>> {
        crate::models::begin_call();
        let chars = texts
            .iter()
            .map(|text| text.len())
            .collect::<PyResult<Vec<usize>>>()?;
        Ok(TextBatch { texts, chars })
    }

    pub(super) fn len(&self) -> usize {
        self.texts.len()
    }

    /// The characters of the batch: a size known before any text is encoded (for ASCII text,
    /// its UTF-8 bytes).
    pub(super) fn total_chars(&self) -> usize {
        self.chars.iter().sum()
    }

    /// Runs `encode` over the texts in slices of about [`SLICE_CHARS`] (or
    /// [`COPIED_SLICE_CHARS`]), releasing the GIL for each and checking for Ctrl-C between
    /// slices. `encode` gets each slice's texts as UTF-8, in order.
    pub(super) fn in_slices(
        &self,
        py: Python<'_>,
        mut encode: impl FnMut(&[&str]) -> Result<(), Error> + Send,
    ) -> PyResult<()> {
        self.in_slices_holding_gil(py, |slice| {
            py.detach(|| guard(|| encode(slice)))?;
            py.check_signals()
        })
    }

    /// Like [`TextBatch::in_slices`], but `each` runs with the GIL held: it releases the GIL
    /// itself where it encodes, and checks for Ctrl-C.
    pub(super) fn in_slices_holding_gil(
        &self,
        py: Python<'_>,
        mut each: impl FnMut(&[&str]) -> PyResult<()>,
    ) -> PyResult<()> {
        let borrow = self.total_chars() <= BORROWED_CHARS;
        let slice_chars_max = if borrow {
            SLICE_CHARS
        } else {
            COPIED_SLICE_CHARS
        };
        let isascii = intern!(py, "isascii");
        let mut start = 0;
        while start < self.texts.len() {
            let mut end = start;
            let mut slice_chars = 0;
            while end < self.texts.len() && (end == start || slice_chars < slice_chars_max) {
                slice_chars += self.chars[end];
                end += 1;
            }
            let slice = &self.texts[start..end];
            // The temporary UTF-8 of the slice's non-ASCII strings (none when borrowing).
            let copies = slice
                .iter()
                .map(|text| match borrow {
                    true => Ok(None),
                    false => non_ascii_copy(text, isascii),
                })
                .collect::<PyResult<Vec<Option<Bound<'_, PyBytes>>>>>()?;
            let utf8 = slice
                .iter()
                .zip(&copies)
                .map(|(text, copy)| match copy {
                    None => text.to_str(),
                    // SAFETY: `str.encode` with the strict error handler (what `encode_utf8`
                    // asks for: a lone surrogate raises instead) produces well-formed UTF-8.
                    Some(bytes) => Ok(unsafe { std::str::from_utf8_unchecked(bytes.as_bytes()) }),
                })
                .collect::<PyResult<Vec<&str>>>()?;
            each(&utf8)?;
            start = end;
        }
        Ok(())
    }
}

/// A temporary UTF-8 copy of `text` if it is not ASCII (an ASCII string is borrowed as it is).
fn non_ascii_copy<'py>(
    text: &Bound<'py, PyString>,
    isascii: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if text.call_method0(isascii)?.is_truthy()? {
        return Ok(None);
    }
    text.encode_utf8().map(Some)
}
