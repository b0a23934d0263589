//! The pyo3 bindings: the private module `ferrotok._native`.
//!
//! Every binding has one shape: extract what is needed from Python objects while holding the GIL,
//! run the core inside `py.detach` (the GIL released) and behind a panic guard, convert the result.
//! No Python object enters the core or a rayon thread. The batch calls that return lists are the
//! one variation: the core (`parallel::encode_in_order`) hands each encoded chunk back to the
//! bindings' `ChunkSink` on the calling thread, which holds the GIL only while it converts.

mod encoding;
mod errors;
mod lists;
mod prepare;
mod texts;
mod tokenizer;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<tokenizer::PyTokenizer>()?;
    m.add_class::<encoding::PyEncoding>()?;
    m.add_class::<prepare::PyPreparer>()?;
    m.add(
        "BUILTIN_ENCODINGS",
        crate::load::builtin::BUILTIN_ENCODINGS.to_vec(),
    )?;
    Ok(())
}
