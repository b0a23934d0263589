//! Post-processors: add the special tokens a model expects around a sequence (BOS, CLS/SEP).
//!
//! For the ids-only path the tokens a post-processor adds around one sequence are fixed, so they
//! are computed once at load time as a prefix and a suffix.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::load::json::type_of;

/// The special tokens added around a single sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostProcessor {
    /// Ids placed before the sequence.
    pub prefix: Vec<u32>,
    /// Ids placed after the sequence.
    pub suffix: Vec<u32>,
}

impl PostProcessor {
    /// Builds the post-processor from its tokenizer.json object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let mut processor = PostProcessor::default();
        processor.add_json(value, path)?;
        Ok(processor)
    }

    fn add_json(&mut self, value: &Value, path: &str) -> Result<()> {
        match type_of(value, path)? {
            // ByteLevel only trims offsets; it adds no token.
            "ByteLevel" => {}
            "Sequence" => {
                let items = value
                    .get("processors")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::invalid(format!("{path}.processors: missing or not a list"))
                    })?;
                for (i, item) in items.iter().enumerate() {
                    self.add_json(item, &format!("{path}.processors[{i}]"))?;
                }
            }
            "TemplateProcessing" => self.add_template(value, path)?,
            "RobertaProcessing" | "BertProcessing" => {
                let id_of = |field: &str| {
                    value
                        .get(field)
                        .and_then(Value::as_array)
                        .and_then(|pair| pair.get(1))
                        .and_then(Value::as_u64)
                        .map(|id| id as u32)
                        .ok_or_else(|| {
                            Error::invalid(format!("{path}.{field}: expected [token, id]"))
                        })
                };
                self.prefix.push(id_of("cls")?);
                self.suffix.push(id_of("sep")?);
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{path}: post-processor type {other:?} is not supported"
                )))
            }
        }
        Ok(())
    }

    fn add_template(&mut self, value: &Value, path: &str) -> Result<()> {
        let single = value
            .get("single")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::invalid(format!("{path}.single: missing or not a list")))?;
        let specials = value.get("special_tokens").and_then(Value::as_object);
        let mut seen_sequence = false;
        for (i, piece) in single.iter().enumerate() {
            let here = format!("{path}.single[{i}]");
            if piece.get("Sequence").is_some() {
                seen_sequence = true;
            } else if let Some(special) = piece.get("SpecialToken") {
                let name = special.get("id").and_then(Value::as_str).ok_or_else(|| {
                    Error::invalid(format!("{here}.SpecialToken.id: missing or not a string"))
                })?;
                let ids = specials
                    .and_then(|map| map.get(name))
                    .and_then(|entry| entry.get("ids"))
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "{path}.special_tokens: no entry with ids for {name:?} (used at {here})"
                        ))
                    })?;
                let target = if seen_sequence {
                    &mut self.suffix
                } else {
                    &mut self.prefix
                };
                for (j, id) in ids.iter().enumerate() {
                    let id = id.as_u64().ok_or_else(|| {
                        Error::invalid(format!("{path}.special_tokens.{name}.ids[{j}]: not an id"))
                    })?;
                    target.push(id as u32);
                }
            } else {
                return Err(Error::invalid(format!(
                    "{here}: expected a Sequence or SpecialToken entry"
                )));
            }
        }
        Ok(())
    }

    /// Wraps the ids of one sequence, `ids[start..]`, with the prefix and suffix.
    pub fn apply(&self, ids: &mut Vec<u32>, start: usize) {
        if !self.prefix.is_empty() {
            ids.splice(start..start, self.prefix.iter().copied());
        }
        ids.extend_from_slice(&self.suffix);
    }
}
