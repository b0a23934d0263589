//! Truncation and padding settings, as tokenizer.json stores them (`"truncation"`, `"padding"`)
//! and as callers pass them.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::load::json::{kind, opt_str};

/// Which end truncation cuts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TruncationDirection {
    /// Cut from the left, keeping the end.
    Left,
    /// Cut from the right, keeping the start (the default).
    #[default]
    Right,
}

/// How a pair shares `max_length`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TruncationStrategy {
    /// Cut the longer sequence first.
    #[default]
    LongestFirst,
    /// Cut only the first sequence.
    OnlyFirst,
    /// Cut only the second sequence.
    OnlySecond,
}

/// Truncation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncationParams {
    /// The most tokens kept, special tokens included.
    pub max_length: usize,
    /// Tokens shared by consecutive overflowing parts.
    pub stride: usize,
    /// How a pair is cut.
    pub strategy: TruncationStrategy,
    /// Which end is cut.
    pub direction: TruncationDirection,
}

impl Default for TruncationParams {
    fn default() -> Self {
        TruncationParams {
            max_length: 512,
            stride: 0,
            strategy: TruncationStrategy::LongestFirst,
            direction: TruncationDirection::Right,
        }
    }
}

/// Which side padding goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaddingDirection {
    /// Before the tokens.
    Left,
    /// After the tokens (the default).
    #[default]
    Right,
}

/// To what length a batch is padded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaddingStrategy {
    /// The longest encoding of the batch.
    #[default]
    BatchLongest,
    /// A fixed length.
    Fixed(usize),
}

/// Padding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddingParams {
    /// The target length.
    pub strategy: PaddingStrategy,
    /// Which side.
    pub direction: PaddingDirection,
    /// Round the length up to a multiple of this.
    pub pad_to_multiple_of: Option<usize>,
    /// The padding id.
    pub pad_id: u32,
    /// The type id of padding.
    pub pad_type_id: u32,
    /// The padding token string.
    pub pad_token: String,
}

impl Default for PaddingParams {
    fn default() -> Self {
        PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id: 0,
            pad_type_id: 0,
            pad_token: "[PAD]".to_owned(),
        }
    }
}

impl PaddingParams {
    /// The length a batch whose longest encoding has `longest` tokens is padded to.
    pub fn target_length(&self, longest: usize) -> usize {
        let mut length = match self.strategy {
            PaddingStrategy::Fixed(n) => n,
            PaddingStrategy::BatchLongest => longest,
        };
        if let Some(multiple) = self.pad_to_multiple_of.filter(|&m| m > 0) {
            if length % multiple > 0 {
                length += multiple - length % multiple;
            }
        }
        length
    }
}

fn usize_field(value: &Value, name: &str, path: &str, default: Option<usize>) -> Result<usize> {
    match (value.get(name), default) {
        (Some(Value::Number(n)), _) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0) as usize),
        (None, Some(d)) => Ok(d),
        (Some(other), _) => Err(Error::invalid(format!(
            "{path}.{name}: expected a non-negative integer, found {}",
            kind(other)
        ))),
        (None, None) => Err(Error::invalid(format!("{path}.{name}: missing field"))),
    }
}

impl TruncationParams {
    /// Reads tokenizer.json's `"truncation"` object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let strategy = match opt_str(value, "strategy", path)? {
            None | Some("LongestFirst") => TruncationStrategy::LongestFirst,
            Some("OnlyFirst") => TruncationStrategy::OnlyFirst,
            Some("OnlySecond") => TruncationStrategy::OnlySecond,
            Some(other) => {
                return Err(Error::invalid(format!(
                "{path}.strategy: expected LongestFirst, OnlyFirst or OnlySecond, found {other:?}"
            )))
            }
        };
        let direction = match opt_str(value, "direction", path)? {
            None | Some("Right") => TruncationDirection::Right,
            Some("Left") => TruncationDirection::Left,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.direction: expected Left or Right, found {other:?}"
                )))
            }
        };
        Ok(TruncationParams {
            max_length: usize_field(value, "max_length", path, None)?,
            stride: usize_field(value, "stride", path, Some(0))?,
            strategy,
            direction,
        })
    }
}

impl PaddingParams {
    /// Reads tokenizer.json's `"padding"` object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let strategy = match value.get("strategy") {
            None | Some(Value::Null) => PaddingStrategy::BatchLongest,
            Some(Value::String(s)) if s == "BatchLongest" => PaddingStrategy::BatchLongest,
            Some(fixed @ Value::Object(map)) if map.contains_key("Fixed") => {
                PaddingStrategy::Fixed(usize_field(
                    fixed,
                    "Fixed",
                    &format!("{path}.strategy"),
                    None,
                )?)
            }
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.strategy: expected \"BatchLongest\" or {{\"Fixed\": n}}, found {}",
                    kind(other)
                )))
            }
        };
        let direction = match opt_str(value, "direction", path)? {
            None | Some("Right") => PaddingDirection::Right,
            Some("Left") => PaddingDirection::Left,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{path}.direction: expected Left or Right, found {other:?}"
                )))
            }
        };
        let pad_to_multiple_of = match value.get("pad_to_multiple_of") {
            None | Some(Value::Null) => None,
            Some(_) => Some(usize_field(value, "pad_to_multiple_of", path, None)?),
        };
        Ok(PaddingParams {
            strategy,
            direction,
            pad_to_multiple_of,
            pad_id: usize_field(value, "pad_id", path, Some(0))? as u32,
            pad_type_id: usize_field(value, "pad_type_id", path, Some(0))? as u32,
            pad_token: opt_str(value, "pad_token", path)?
                .unwrap_or("[PAD]")
                .to_owned(),
        })
    }
}
