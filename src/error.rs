//! The one error type of ferrotok.
//!
//! An opaque [`Error`] over a private-to-read [`ErrorKind`]: callers match on the kind, the
//! message says what was wrong and where (file, JSON path, byte offset). The Python bindings map
//! each kind to one exception class in exactly one place (`src/python/errors.rs`).

use std::fmt;

/// What kind of failure an [`Error`] is. Each kind maps to one Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read (missing, permissions, I/O).
    Io,
    /// A tokenizer file is malformed: bad JSON, a missing or mistyped field, bad base64, bad ranks.
    InvalidFile,
    /// A well-formed file names a component or option ferrotok does not implement.
    Unsupported,
    /// Text holds a special token the caller did not allow (tiktoken semantics).
    DisallowedSpecial,
    /// A token id outside the vocabulary was given to decode.
    UnknownId,
    /// Bytes that are not valid UTF-8 under the `strict` policy.
    InvalidUtf8,
    /// A corpus input is malformed: a bad JSON line, a missing field or column (`prepare`).
    InvalidInput,
    /// A caller passed an argument the operation cannot use (unknown encoding name, bad option).
    InvalidArgument,
    /// A bug: a panic in the core caught at the boundary.
    Internal,
}

/// A ferrotok error: a kind plus a message that names the file, JSON path or byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The result type of every fallible operation in ferrotok.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a full message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A malformed file or field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidFile, message)
    }

    /// A component or option that is not implemented.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// A bad argument from the caller.
    pub fn argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with where it happened, e.g. a file name.
    pub fn context(mut self, place: impl fmt::Display) -> Self {
        self.message = format!("{place}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
