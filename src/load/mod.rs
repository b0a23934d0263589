//! Loading: turning files into a [`crate::Tokenizer`] once.
//!
//! - `tokenizer_json`: Hugging Face `tokenizer.json`.
//! - `tiktoken`: OpenAI `.tiktoken` rank files; `tiktoken_model` assembles them into a pipeline.
//! - `builtin`: the OpenAI encodings shipped inside ferrotok.
//! - `json`: helpers whose errors name the JSON path.

pub mod builtin;
pub mod json;
pub mod tiktoken;
pub mod tiktoken_model;
pub mod tokenizer_json;
