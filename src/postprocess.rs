//! Post-processors: add the special tokens a model expects around a sequence (BOS, CLS/SEP).
//!
//! For the ids-only path the tokens a post-processor adds around one sequence are fixed, so they
//! are computed once at load time as a prefix and a suffix. The rich path ([`Encoding`]s with
//! offsets, pairs) runs the components themselves, in [`PostProcessor::process`], as the
//! reference's `PostProcessor::process` does: each sequence gets its sequence id and type id, each
//! component rewrites the list of encodings, and the list is merged.

use serde_json::Value;

use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::load::json::type_of;

/// The special tokens added around a single sequence, and the components for the rich path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostProcessor {
    /// Ids placed before the sequence.
    pub prefix: Vec<u32>,
    /// Ids placed after the sequence.
    pub suffix: Vec<u32>,
    /// The components in order (a `Sequence` flattened).
    steps: Vec<Step>,
}

/// One post-processing component.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Trims the offsets of tokens to leave out their spaces (when `trim_offsets`).
    ByteLevel {
        trim_offsets: bool,
        add_prefix_space: bool,
    },
    /// `<s> A </s>` and `</s> B </s>`, type ids all 0, optional offset trimming.
    Roberta {
        cls: (String, u32),
        sep: (String, u32),
        trim_offsets: bool,
        add_prefix_space: bool,
    },
    /// `[CLS] A [SEP]` and `B [SEP]`.
    Bert {
        cls: (String, u32),
        sep: (String, u32),
    },
    /// A template for one sequence and one for a pair.
    Template {
        single: Vec<Piece>,
        pair: Vec<Piece>,
    },
}

/// One element of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Sequence A (`second == false`) or B.
    Sequence { second: bool, type_id: u32 },
    /// Special tokens, with their ids and strings.
    Special {
        ids: Vec<u32>,
        tokens: Vec<String>,
        type_id: u32,
    },
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
            "ByteLevel" => self.steps.push(Step::ByteLevel {
                trim_offsets: flag(value, "trim_offsets", path, true)?,
                add_prefix_space: flag(value, "add_prefix_space", path, true)?,
            }),
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
            kind @ ("RobertaProcessing" | "BertProcessing") => {
                let token_of = |field: &str| {
                    let pair = value.get(field).and_then(Value::as_array);
                    let token = pair.and_then(|p| p.first()).and_then(Value::as_str);
                    let id = pair.and_then(|p| p.get(1)).and_then(Value::as_u64);
                    match (token, id) {
                        (Some(token), Some(id)) => Ok((token.to_owned(), id as u32)),
                        _ => Err(Error::invalid(format!(
                            "{path}.{field}: expected [token, id]"
                        ))),
                    }
                };
                let (cls, sep) = (token_of("cls")?, token_of("sep")?);
                self.prefix.push(cls.1);
                self.suffix.push(sep.1);
                self.steps.push(if kind == "BertProcessing" {
                    Step::Bert { cls, sep }
                } else {
                    Step::Roberta {
                        cls,
                        sep,
                        trim_offsets: flag(value, "trim_offsets", path, true)?,
                        add_prefix_space: flag(value, "add_prefix_space", path, true)?,
                    }
                });
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
        let single = template_pieces(value, "single", path)?;
        let pair = template_pieces(value, "pair", path)?;
        let mut seen_sequence = false;
        for piece in &single {
            match piece {
                Piece::Sequence { .. } => seen_sequence = true,
                Piece::Special { ids, .. } if seen_sequence => self.suffix.extend(ids),
                Piece::Special { ids, .. } => self.prefix.extend(ids),
            }
        }
        self.steps.push(Step::Template { single, pair });
        Ok(())
    }

    /// The number of tokens added to one sequence or a pair (HF's `added_tokens`).
    pub fn added_tokens(&self, is_pair: bool) -> usize {
        self.steps
            .iter()
            .map(|step| match step {
                Step::ByteLevel { .. } => 0,
                Step::Roberta { .. } => 2 + 2 * usize::from(is_pair),
                Step::Bert { .. } => 2 + usize::from(is_pair),
                Step::Template { single, pair } => if is_pair { pair } else { single }
                    .iter()
                    .map(|piece| match piece {
                        Piece::Special { ids, .. } => ids.len(),
                        Piece::Sequence { .. } => 0,
                    })
                    .sum(),
            })
            .sum()
    }

    /// Post-processes one sequence or a pair into one encoding (HF's `PostProcessor::process`).
    pub fn process(
        &self,
        first: Encoding,
        second: Option<Encoding>,
        add_special_tokens: bool,
    ) -> Encoding {
        let mut encodings: Vec<Encoding> = std::iter::once(first).chain(second).collect();
        for (i, encoding) in encodings.iter_mut().enumerate() {
            encoding.set_sequence_id(i);
            for part in &mut encoding.overflowing {
                part.set_sequence_id(i);
            }
            encoding.set_type_ids(i as u32);
        }
        for step in &self.steps {
            encodings = step.process(encodings, add_special_tokens);
        }
        Encoding::merge(encodings, false)
    }

    /// Wraps the ids of one sequence, `ids[start..]`, with the prefix and suffix.
    pub fn apply(&self, ids: &mut Vec<u32>, start: usize) {
        if !self.prefix.is_empty() {
            ids.splice(start..start, self.prefix.iter().copied());
        }
        ids.extend_from_slice(&self.suffix);
    }
}

/// An optional boolean field.
fn flag(value: &Value, name: &str, path: &str, default: bool) -> Result<bool> {
    crate::load::json::opt_bool(value, name, path, default)
}

/// The `single` or `pair` template of a TemplateProcessing, with its special tokens resolved.
fn template_pieces(value: &Value, field: &str, path: &str) -> Result<Vec<Piece>> {
    let list = value
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(format!("{path}.{field}: missing or not a list")))?;
    let specials = value.get("special_tokens").and_then(Value::as_object);
    let type_id_of = |entry: &Value, here: &str| -> Result<u32> {
        match entry.get("type_id") {
            None => Ok(0),
            Some(v) => v.as_u64().map(|t| t as u32).ok_or_else(|| {
                Error::invalid(format!("{here}.type_id: expected a non-negative integer"))
            }),
        }
    };
    let mut pieces = Vec::with_capacity(list.len());
    for (i, piece) in list.iter().enumerate() {
        let here = format!("{path}.{field}[{i}]");
        if let Some(sequence) = piece.get("Sequence") {
            let second = match sequence.get("id").and_then(Value::as_str) {
                Some("A") => false,
                Some("B") => true,
                _ => {
                    return Err(Error::invalid(format!(
                        "{here}.Sequence.id: expected \"A\" or \"B\""
                    )))
                }
            };
            pieces.push(Piece::Sequence {
                second,
                type_id: type_id_of(sequence, &format!("{here}.Sequence"))?,
            });
        } else if let Some(special) = piece.get("SpecialToken") {
            let name = special.get("id").and_then(Value::as_str).ok_or_else(|| {
                Error::invalid(format!("{here}.SpecialToken.id: missing or not a string"))
            })?;
            let entry = specials.and_then(|map| map.get(name)).ok_or_else(|| {
                Error::invalid(format!(
                    "{path}.special_tokens: no entry for {name:?} (used at {here})"
                ))
            })?;
            let ids = entry
                .get("ids")
                .and_then(Value::as_array)
                .and_then(|ids| {
                    ids.iter()
                        .map(|id| id.as_u64().map(|id| id as u32))
                        .collect::<Option<Vec<u32>>>()
                })
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{path}.special_tokens.{name}.ids: expected a list of ids"
                    ))
                })?;
            let tokens = entry
                .get("tokens")
                .and_then(Value::as_array)
                .and_then(|tokens| {
                    tokens
                        .iter()
                        .map(|t| t.as_str().map(str::to_owned))
                        .collect::<Option<Vec<String>>>()
                })
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{path}.special_tokens.{name}.tokens: expected a list of strings"
                    ))
                })?;
            if tokens.len() != ids.len() {
                return Err(Error::invalid(format!(
                    "{path}.special_tokens.{name}: ids and tokens differ in length"
                )));
            }
            pieces.push(Piece::Special {
                ids,
                tokens,
                type_id: type_id_of(special, &format!("{here}.SpecialToken"))?,
            });
        } else {
            return Err(Error::invalid(format!(
                "{here}: expected a Sequence or SpecialToken entry"
            )));
        }
    }
    Ok(pieces)
}

impl Step {
    /// Rewrites the list of encodings (one, or two for a pair), as the reference's
    /// `process_encodings` of this component.
    fn process(&self, mut encodings: Vec<Encoding>, add_special_tokens: bool) -> Vec<Encoding> {
        match self {
            Step::ByteLevel {
                trim_offsets,
                add_prefix_space,
            } => {
                if *trim_offsets {
                    for encoding in &mut encodings {
                        trim_encoding_offsets(encoding, *add_prefix_space);
                    }
                }
                for (i, encoding) in encodings.iter_mut().enumerate() {
                    encoding.set_sequence_id(i);
                }
                encodings
            }
            Step::Roberta {
                cls,
                sep,
                trim_offsets,
                add_prefix_space,
            } => {
                if *trim_offsets {
                    for encoding in &mut encodings {
                        trim_encoding_offsets(encoding, *add_prefix_space);
                    }
                }
                for encoding in &mut encodings {
                    encoding.set_type_ids(0);
                }
                if !add_special_tokens {
                    return encodings;
                }
                let wrap = |encoding: &Encoding, i: usize| {
                    let before = if i == 0 { cls } else { sep };
                    // RoBERTa has no segments: type ids are 0, overflowing parts included.
                    let mut inner = strip(encoding);
                    inner.set_type_ids(0);
                    let mut wrapped = Encoding::merge(
                        [
                            Encoding::special(&[before.1], std::slice::from_ref(&before.0), 0),
                            inner,
                            Encoding::special(&[sep.1], std::slice::from_ref(&sep.0), 0),
                        ],
                        false,
                    );
                    wrapped.sequence_ranges = vec![(i, 1..wrapped.len() - 1)];
                    wrapped
                };
                wrap_each(&encodings, wrap)
            }
            Step::Bert { cls, sep } => {
                if !add_special_tokens {
                    return encodings;
                }
                let wrap = |encoding: &Encoding, i: usize| {
                    let mut parts = Vec::with_capacity(3);
                    if i == 0 {
                        parts.push(Encoding::special(&[cls.1], std::slice::from_ref(&cls.0), 0));
                    }
                    parts.push(strip(encoding));
                    let sep_type = if i == 0 { 0 } else { 1 };
                    parts.push(Encoding::special(
                        &[sep.1],
                        std::slice::from_ref(&sep.0),
                        sep_type,
                    ));
                    let mut wrapped = Encoding::merge(parts, false);
                    let start = usize::from(i == 0);
                    wrapped.sequence_ranges = vec![(i, start..wrapped.len() - 1)];
                    wrapped
                };
                wrap_each(&encodings, wrap)
            }
            Step::Template { single, pair } => {
                let template = if encodings.len() == 2 { pair } else { single };
                let mut out = Vec::with_capacity(template.len());
                for piece in template {
                    match piece {
                        Piece::Sequence { second, type_id } => {
                            let i = usize::from(*second).min(encodings.len() - 1);
                            let encoding = &mut encodings[i];
                            encoding.set_type_ids(*type_id);
                            encoding.set_sequence_id(i);
                            out.push(encoding.clone());
                        }
                        Piece::Special {
                            ids,
                            tokens,
                            type_id,
                        } => {
                            if add_special_tokens {
                                out.push(Encoding::special(ids, tokens, *type_id));
                            }
                        }
                    }
                }
                out
            }
        }
    }
}

/// `wrap(encoding, sequence index)` applied to each encoding and to each of its overflowing parts.
fn wrap_each(encodings: &[Encoding], wrap: impl Fn(&Encoding, usize) -> Encoding) -> Vec<Encoding> {
    encodings
        .iter()
        .enumerate()
        .map(|(i, encoding)| {
            let mut wrapped = wrap(encoding, i);
            wrapped.overflowing = encoding
                .overflowing
                .iter()
                .map(|part| wrap(part, i))
                .collect();
            wrapped
        })
        .collect()
}

/// An encoding without its overflowing parts and sequence ranges (what the wrapping processors
/// put between their special tokens).
fn strip(encoding: &Encoding) -> Encoding {
    Encoding {
        overflowing: Vec::new(),
        sequence_ranges: Vec::new(),
        ..encoding.clone()
    }
}

/// `trim_offsets`: offsets leave out the leading and trailing spaces of each token (`Ġ` or
/// whitespace), except the one space `add_prefix_space` put before the first token.
fn trim_encoding_offsets(encoding: &mut Encoding, add_prefix_space: bool) {
    let space = crate::byte_alphabet::byte_to_char(b' ');
    let is_space = |c: &char| *c == space || c.is_whitespace();
    for (i, (token, offsets)) in encoding
        .tokens
        .iter()
        .zip(encoding.offsets.iter_mut())
        .enumerate()
    {
        let mut leading = token.chars().take_while(is_space).count();
        let trailing = token.chars().rev().take_while(is_space).count();
        if leading > 0 {
            let is_first = i == 0 || offsets.0 == 0;
            if is_first && add_prefix_space && leading == 1 {
                leading = 0;
            }
            offsets.0 = (offsets.0 + leading).min(offsets.1);
        }
        if trailing > 0 && offsets.1 >= trailing {
            offsets.1 = (offsets.1 - trailing).max(offsets.0);
        }
    }
    for part in &mut encoding.overflowing {
        trim_encoding_offsets(part, add_prefix_space);
    }
}
