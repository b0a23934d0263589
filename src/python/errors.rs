//! The one mapping from [`crate::Error`] to Python exceptions, and the panic guard.
//!
//! Python sees `TokenizerError(ValueError)` and one subclass per error kind; a panic in the core is
//! caught here and raised as a `TokenizerError`, never as pyo3's `PanicException` (which would
//! escape `except Exception`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::{Error, ErrorKind};

pyo3::create_exception!(
    ferrotok,
    TokenizerError,
    PyValueError,
    "Base class of every ferrotok error."
);
pyo3::create_exception!(
    ferrotok,
    TokenizerFileError,
    TokenizerError,
    "A tokenizer file could not be read or is malformed (the message names the file and the place)."
);
pyo3::create_exception!(
    ferrotok,
    UnsupportedComponentError,
    TokenizerError,
    "A tokenizer file names a component or option that ferrotok does not implement."
);
pyo3::create_exception!(
    ferrotok,
    DisallowedSpecialTokenError,
    TokenizerError,
    "The text contains a special token that was not allowed."
);
pyo3::create_exception!(
    ferrotok,
    UnknownTokenIdError,
    TokenizerError,
    "A token id is not in the vocabulary."
);
pyo3::create_exception!(
    ferrotok,
    InvalidUtf8Error,
    TokenizerError,
    "Bytes are not valid UTF-8 under the strict policy."
);

pyo3::create_exception!(
    ferrotok,
    InvalidInputError,
    TokenizerError,
    "A corpus input is malformed: a bad JSON line, a missing field or column (the message says where)."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TokenizerError", py.get_type::<TokenizerError>())?;
    m.add("TokenizerFileError", py.get_type::<TokenizerFileError>())?;
    m.add(
        "UnsupportedComponentError",
        py.get_type::<UnsupportedComponentError>(),
    )?;
    m.add(
        "DisallowedSpecialTokenError",
        py.get_type::<DisallowedSpecialTokenError>(),
    )?;
    m.add("UnknownTokenIdError", py.get_type::<UnknownTokenIdError>())?;
    m.add("InvalidUtf8Error", py.get_type::<InvalidUtf8Error>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    Ok(())
}

impl From<Error> for PyErr {
    fn from(error: Error) -> PyErr {
        let message = error.to_string();
        match error.kind() {
            ErrorKind::Io | ErrorKind::InvalidFile => TokenizerFileError::new_err(message),
            ErrorKind::Unsupported => UnsupportedComponentError::new_err(message),
            ErrorKind::DisallowedSpecial => DisallowedSpecialTokenError::new_err(message),
            ErrorKind::UnknownId => UnknownTokenIdError::new_err(message),
            ErrorKind::InvalidUtf8 => InvalidUtf8Error::new_err(message),
            ErrorKind::InvalidInput => InvalidInputError::new_err(message),
            _ => TokenizerError::new_err(message),
        }
    }
}

/// Runs `f`, turning a panic into an internal [`Error`].
pub fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(Error::new(
            ErrorKind::Internal,
            format!("internal error in ferrotok (a bug; please report it): {what}"),
        ))
    })
}
