//! ferrotok: exact, fast tokenization for language models.
//!
//! ferrotok loads Hugging Face `tokenizer.json` files and OpenAI `.tiktoken` rank files and gives
//! exactly the token ids of the reference implementations (`tokenizers`, `tiktoken`).
//!
//! ```no_run
//! let tok = ferrotok::Tokenizer::from_builtin("o200k_base").unwrap();
//! let ids = tok.encode_ordinary("Hello, world!");
//! assert_eq!(tok.decode(&ids, false).unwrap(), "Hello, world!");
//! ```
//!
//! The pipeline (see `DESIGN.md`): added-token split → normalizer → pre-tokenizer → model →
//! post-processor; and ids → decoder → text. Each stage is an enum of components.
#![deny(missing_docs)]

pub mod added;
pub mod byte_alphabet;
pub mod decode;
pub mod encoding;
pub mod error;
pub mod load;
pub mod models;
pub mod normalize;
pub mod parallel;
pub mod postprocess;
mod prefetch;
pub mod prepare;
pub mod pretokenize;
mod swar;
#[cfg(test)]
mod testing;
pub mod tokenizer;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, ErrorKind, Result};
pub use tokenizer::Tokenizer;
