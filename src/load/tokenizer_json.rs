//! Loads a Hugging Face `tokenizer.json` into the pipeline.
//!
//! Every component is read by its own `from_json`, which names the JSON path in its errors; this
//! module reads the model and the added tokens and decides whether the pipeline is byte-level
//! (a `ByteLevel` pre-tokenizer), in which case the vocabulary's GPT-2 alphabet is undone here once.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::added::{AddedToken, AddedVocabulary};
use crate::byte_alphabet;
use crate::decode::Decoder;
use crate::encoding::{PaddingParams, TruncationParams};
use crate::error::{Error, ErrorKind, Result};
use crate::load::json::{as_id, field_id, field_str, kind, opt_bool, opt_str, opt_usize, type_of};
use crate::models::bpe::merge_ids;
use crate::models::{Bpe, BpeOptions, Model, Unigram, Units, Vocab, WordLevel, WordPiece};
use crate::normalize::Normalizer;
use crate::postprocess::PostProcessor;
use crate::pretokenize::PreTokenizer;
use crate::tokenizer::{TokenTable, Tokenizer};

/// Reads and loads a tokenizer.json file; errors name the file.
pub fn from_file(path: &Path) -> Result<Tokenizer> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("{name}: cannot read: {e}")))?;
    // Parsed from bytes: the parser checks UTF-8 inside strings as it goes, which saves a whole
    // validation pass over the file (4% of loading o200k).
    let root: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid_json(&e).context(&name))?;
    build(&root).map_err(|e| e.context(&name))
}

fn invalid_json(e: &serde_json::Error) -> Error {
    Error::invalid(format!(
        "invalid JSON at line {} column {}: {e}",
        e.line(),
        e.column()
    ))
}

/// Loads a tokenizer from tokenizer.json text; `source` names it in errors.
pub fn from_str(json: &str, source: &str) -> Result<Tokenizer> {
    let root: Value = serde_json::from_str(json).map_err(|e| invalid_json(&e).context(source))?;
    build(&root).map_err(|e| e.context(source))
}

fn component<'a>(root: &'a Value, name: &str) -> Option<&'a Value> {
    root.get(name).filter(|v| !v.is_null())
}

fn build(root: &Value) -> Result<Tokenizer> {
    if !root.is_object() {
        return Err(Error::invalid(format!(
            "expected a JSON object at the top, found {}",
            kind(root)
        )));
    }
    let normalizer = component(root, "normalizer")
        .map(|v| Normalizer::from_json(v, "normalizer"))
        .transpose()?;
    let pre_tokenizer = component(root, "pre_tokenizer")
        .map(|v| PreTokenizer::from_json(v, "pre_tokenizer"))
        .transpose()?;
    let post_processor = component(root, "post_processor")
        .map(|v| PostProcessor::from_json(v, "post_processor"))
        .transpose()?;
    let decoder = component(root, "decoder")
        .map(|v| Decoder::from_json(v, "decoder"))
        .transpose()?;
    let byte_level = pre_tokenizer
        .as_ref()
        .is_some_and(PreTokenizer::is_byte_level);

    let model_json = root
        .get("model")
        .ok_or_else(|| Error::invalid("model: missing field"))?;
    let (model, mut tokens) = match type_of(model_json, "model")? {
        "BPE" => load_bpe(model_json, byte_level)?,
        "WordPiece" => load_wordpiece(model_json)?,
        "WordLevel" => load_wordlevel(model_json)?,
        "Unigram" => load_unigram(model_json)?,
        other => {
            return Err(Error::unsupported(format!(
                "model: model type {other:?} is not supported"
            )))
        }
    };

    let mut ids: FxHashMap<String, u32> = FxHashMap::default();
    ids.reserve(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        if let Some(token) = token {
            ids.insert(token.clone(), id as u32);
        }
    }
    // HF ignores the ids written in `added_tokens` and assigns them itself (see `assign_ids`).
    // HF's `get_vocab_size` of the model: Unigram counts its list (a repeated token twice).
    let model_vocab_size = match model {
        Model::Unigram(_) => tokens.len() as u32,
        _ => ids.len() as u32,
    };
    let added = crate::added::assign_ids(
        load_added_tokens(root)?,
        &|content: &str| ids.get(content).copied(),
        model_vocab_size,
    );
    let max_id = added
        .iter()
        .map(|t| t.id as usize + 1)
        .max()
        .unwrap_or(0)
        .max(tokens.len());
    tokens.resize(max_id, None);
    let mut special = vec![false; max_id];
    for token in &added {
        tokens[token.id as usize] = Some(token.content.clone());
        ids.insert(token.content.clone(), token.id);
        special[token.id as usize] = token.special;
    }
    // Normalized added tokens are matched by their normalized content, as in HF.
    let added = match &normalizer {
        Some(normalizer) => AddedVocabulary::with_normalizer(added, &|content: &str| {
            let mut out = String::new();
            normalizer.normalize(content, &mut out);
            out
        }),
        None => AddedVocabulary::new(added),
    };
    let table = TokenTable::new(tokens, ids, special);
    let mut tokenizer = Tokenizer::assemble(
        added,
        normalizer,
        pre_tokenizer,
        model,
        post_processor,
        decoder,
        table,
    );
    tokenizer.truncation = component(root, "truncation")
        .map(|v| TruncationParams::from_json(v, "truncation"))
        .transpose()?;
    tokenizer.padding = component(root, "padding")
        .map(|v| PaddingParams::from_json(v, "padding"))
        .transpose()?;
    Ok(tokenizer)
}

/// Reads a `BPE` model. Returns the model and the id → token string table of its vocabulary.
fn load_bpe(model: &Value, byte_level: bool) -> Result<(Model, Vec<Option<String>>)> {
    let path = "model";
    let dropout = match model.get("dropout") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => Some(p as f32),
            _ => {
                return Err(Error::invalid(format!(
                    "{path}.dropout: expected a probability between 0 and 1, found {n}"
                )))
            }
        },
        Some(other) => {
            return Err(Error::invalid(format!(
                "{path}.dropout: expected a number or null, found {}",
                kind(other)
            )))
        }
    };
    let vocab_json = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(format!("{path}.vocab: missing or not an object")))?;
    // In a byte-level pipeline the model sees raw bytes: undo the GPT-2 alphabet in the keys.
    // Tokens with characters outside the alphabet can never be produced and are only kept as names.
    fn spelled(token: &str, byte_level: bool) -> Option<std::borrow::Cow<'_, [u8]>> {
        if byte_level {
            byte_alphabet::decode_token(token).map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(token.as_bytes()))
        }
    }
    let to_bytes = |token| spelled(token, byte_level);
    let mut vocab = Vocab::with_capacity(vocab_json.len());
    let mut tokens: Vec<Option<String>> = Vec::new();
    for (token, id) in vocab_json {
        // The path is formatted only for an error: formatting it for each of 200k entries was a
        // seventh of the loading time.
        let id = match id.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(id) => id,
            None => as_id(id, &format!("{path}.vocab[{token:?}]"))?,
        };
        if tokens.len() <= id as usize {
            tokens.resize(id as usize + 1, None);
        }
        tokens[id as usize] = Some(token.clone());
        if let Some(bytes) = to_bytes(token) {
            vocab.insert(&bytes, id);
        }
    }

    let merges_json = match model.get("merges") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(other) => {
            return Err(Error::invalid(format!(
                "{path}.merges: expected a list, found {}",
                kind(other)
            )))
        }
    };
    // Each merge is resolved to ids right away, its parts spelled into reused buffers: building
    // a pair of byte vectors per merge was a sixth of loading a 200k-merge file (callgrind).
    let prefix_len = match opt_str(model, "continuing_subword_prefix", path)? {
        Some(prefix) => to_bytes(prefix).map_or(0, |p| p.len()),
        None => 0,
    };
    let mut merges = Vec::with_capacity(merges_json.len());
    let (mut left_bytes, mut right_bytes, mut merged) = (Vec::new(), Vec::new(), Vec::new());
    for (i, merge) in merges_json.iter().enumerate() {
        let (left, right) = match merge {
            Value::String(s) => s.split_once(' ').ok_or_else(|| {
                Error::invalid(format!(
                    "{path}.merges[{i}]: expected \"left right\", found {s:?}"
                ))
            })?,
            Value::Array(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
                (Value::String(l), Value::String(r)) => (l.as_str(), r.as_str()),
                _ => {
                    return Err(Error::invalid(format!(
                        "{path}.merges[{i}]: expected two strings"
                    )))
                }
            },
            other => {
                return Err(Error::invalid(format!(
                    "{path}.merges[{i}]: expected \"left right\" or [left, right], found {}",
                    kind(other)
                )))
            }
        };
        let spelled = if byte_level {
            byte_alphabet::decode_token_into(left, &mut left_bytes)
                && byte_alphabet::decode_token_into(right, &mut right_bytes)
        } else {
            left_bytes.clear();
            left_bytes.extend_from_slice(left.as_bytes());
            right_bytes.clear();
            right_bytes.extend_from_slice(right.as_bytes());
            true
        };
        // A merge of tokens outside the byte alphabet can never apply in a byte-level model.
        if !spelled {
            continue;
        }
        merged.clear();
        merged.extend_from_slice(&left_bytes);
        merged.extend_from_slice(&right_bytes[prefix_len.min(right_bytes.len())..]);
        merges.push(merge_ids(&vocab, i, &left_bytes, &right_bytes, &merged)?);
    }

    let bytes_option = |name: &str| -> Result<Option<Vec<u8>>> {
        match opt_str(model, name, path)? {
            None => Ok(None),
            Some(s) => to_bytes(s).map(|b| Some(b.into_owned())).ok_or_else(|| {
                Error::unsupported(format!(
                    "{path}.{name}: {s:?} has characters outside the byte-level alphabet"
                ))
            }),
        }
    };
    let options = BpeOptions {
        unk_token: bytes_option("unk_token")?,
        fuse_unk: opt_bool(model, "fuse_unk", path, false)?,
        byte_fallback: opt_bool(model, "byte_fallback", path, false)?,
        continuing_subword_prefix: bytes_option("continuing_subword_prefix")?,
        end_of_word_suffix: bytes_option("end_of_word_suffix")?,
        ignore_merges: opt_bool(model, "ignore_merges", path, false)?,
        dropout,
    };
    let units = if byte_level {
        Units::Bytes
    } else {
        Units::Chars
    };
    let bpe = Bpe::from_merge_ids(vocab, &merges, units, &options)?;
    Ok((Model::Bpe(bpe), tokens))
}

/// A vocabulary as a map (token → id) and as a table (id → token).
type VocabTables = (FxHashMap<String, u32>, Vec<Option<String>>);

/// Reads a `{token: id}` vocabulary object; returns the map and the id → token table.
fn load_vocab_object(model: &Value, path: &str) -> Result<VocabTables> {
    let vocab_json = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(format!("{path}.vocab: missing or not an object")))?;
    let mut vocab: FxHashMap<String, u32> = FxHashMap::default();
    vocab.reserve(vocab_json.len());
    let mut tokens: Vec<Option<String>> = Vec::new();
    for (token, id) in vocab_json {
        // The path is formatted only for an error (as in `load_bpe`).
        let id = match id.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(id) => id,
            None => as_id(id, &format!("{path}.vocab[{token:?}]"))?,
        };
        if tokens.len() <= id as usize {
            tokens.resize(id as usize + 1, None);
        }
        tokens[id as usize] = Some(token.clone());
        vocab.insert(token.clone(), id);
    }
    Ok((vocab, tokens))
}

/// Reads a `WordPiece` model; every field is required, as in `tokenizers`.
fn load_wordpiece(model: &Value) -> Result<(Model, Vec<Option<String>>)> {
    let path = "model";
    let (vocab, tokens) = load_vocab_object(model, path)?;
    let unk_token = field_str(model, "unk_token", path)?;
    let prefix = field_str(model, "continuing_subword_prefix", path)?;
    let max_chars = opt_usize(model, "max_input_chars_per_word", path)?
        .ok_or_else(|| Error::invalid(format!("{path}.max_input_chars_per_word: missing field")))?;
    let wordpiece = WordPiece::new(&vocab, unk_token, prefix, max_chars)?;
    Ok((Model::WordPiece(wordpiece), tokens))
}

/// Reads a `WordLevel` model.
fn load_wordlevel(model: &Value) -> Result<(Model, Vec<Option<String>>)> {
    let path = "model";
    let (vocab, tokens) = load_vocab_object(model, path)?;
    let unk_token = field_str(model, "unk_token", path)?;
    let wordlevel = WordLevel::new(&vocab, unk_token)?;
    Ok((Model::WordLevel(wordlevel), tokens))
}

/// Reads a `Unigram` model: `vocab` is a list of `[token, score]`, the id is the position.
fn load_unigram(model: &Value) -> Result<(Model, Vec<Option<String>>)> {
    let path = "model";
    let list = model
        .get("vocab")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(format!("{path}.vocab: missing or not a list")))?;
    let mut vocab = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let pair = entry.as_array().filter(|p| p.len() == 2);
        let parsed = pair.and_then(|p| Some((p[0].as_str()?.to_owned(), p[1].as_f64()?)));
        let Some(pair) = parsed else {
            return Err(Error::invalid(format!(
                "{path}.vocab[{i}]: expected [token, score]"
            )));
        };
        vocab.push(pair);
    }
    if vocab.is_empty() {
        return Err(Error::invalid(format!(
            "{path}.vocab: the vocabulary is empty"
        )));
    }
    let unk_id = opt_usize(model, "unk_id", path)?.ok_or_else(|| {
        Error::unsupported(format!(
            "{path}.unk_id: a Unigram model without unk_id is not supported \
             (tokenizers fails on the first unknown character)"
        ))
    })?;
    let byte_fallback = opt_bool(model, "byte_fallback", path, false)?;
    let unigram = Unigram::new(&vocab, unk_id, byte_fallback)?;
    // The id → token table keeps the first spelling of each id (ids are positions).
    let tokens = vocab.into_iter().map(|(t, _)| Some(t)).collect();
    Ok((Model::Unigram(unigram), tokens))
}

/// Reads `added_tokens`.
fn load_added_tokens(root: &Value) -> Result<Vec<AddedToken>> {
    let list = match root.get("added_tokens") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(Error::invalid(format!(
                "added_tokens: expected a list, found {}",
                kind(other)
            )))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, token)| {
            let path = format!("added_tokens[{i}]");
            let special = opt_bool(token, "special", &path, false)?;
            Ok(AddedToken {
                id: field_id(token, "id", &path)?,
                content: field_str(token, "content", &path)?.to_owned(),
                special,
                single_word: opt_bool(token, "single_word", &path, false)?,
                lstrip: opt_bool(token, "lstrip", &path, false)?,
                rstrip: opt_bool(token, "rstrip", &path, false)?,
                // HF's default: special tokens match the raw text, others the normalized text.
                normalized: opt_bool(token, "normalized", &path, !special)?,
            })
        })
        .collect()
}
