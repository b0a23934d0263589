//! Assembles a tiktoken-style pipeline: special tokens, a regex split (tiktoken keeps only the
//! matches), and BPE over ranks.

use crate::added::{AddedToken, AddedVocabulary};
use crate::decode::Decoder;
use crate::error::{Error, Result};
use crate::models::ranks::Ranks;
use crate::models::{Bpe, Model};
use crate::pretokenize::{PreTokenizer, Regex, Split, SplitBehavior};
use crate::tokenizer::{TokenTable, Tokenizer};

/// Builds a tokenizer from ranks (rank = id), a split pattern and special tokens.
pub fn from_ranks(
    ranks: Ranks,
    pattern: &str,
    special_tokens: &[(String, u32)],
) -> Result<Tokenizer> {
    // tiktoken runs fancy-regex and keeps only the matches: Removed + invert keeps exactly those.
    let regex = Regex::fancy(pattern).map_err(|e| e.context("pattern"))?;
    let split = Split::with_regex(regex, SplitBehavior::Removed, true);
    let pre_tokenizer = PreTokenizer::Split(split);

    let max_id = ranks
        .iter()
        .map(|(_, r)| r)
        .chain(special_tokens.iter().map(|(_, id)| *id))
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut known = vec![false; max_id];
    for (_, rank) in ranks.iter() {
        known[rank as usize] = true;
    }
    let mut special = vec![false; max_id];
    let mut added = Vec::with_capacity(special_tokens.len());
    for (content, id) in special_tokens {
        if known[*id as usize] && !special[*id as usize] {
            return Err(Error::argument(format!(
                "special token {content:?} has id {id}, which a regular token already has"
            )));
        }
        known[*id as usize] = true;
        special[*id as usize] = true;
        added.push(AddedToken {
            id: *id,
            content: content.clone(),
            special: true,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
        });
    }
    // Each id's decoded bytes: the ranks' bytes, and the special tokens' through the decoder
    // (two special tokens may share an id, as in o200k_harmony; as in tiktoken, the later one is
    // what the id decodes to).
    let mut special_texts: Vec<Option<&str>> = vec![None; max_id];
    for (content, id) in special_tokens {
        special_texts[*id as usize] = Some(content);
    }
    let decoder = Decoder::ByteLevel;
    let mut decoded_bytes = Vec::with_capacity(ranks.iter().map(|(b, _)| b.len()).sum());
    let mut offsets = Vec::with_capacity(max_id + 1);
    offsets.push(0u32);
    let mut regular = ranks.iter().peekable();
    for (id, special_text) in special_texts.iter().enumerate() {
        if let Some(content) = special_text {
            decoded_bytes.extend(decoder.decode_token(content));
        } else if let Some((bytes, _)) = regular.next_if(|&(_, rank)| rank as usize == id) {
            decoded_bytes.extend_from_slice(bytes);
        }
        offsets.push(decoded_bytes.len() as u32);
    }
    drop((special_texts, regular));
    let model = Bpe::from_ranks(ranks)?;
    // The token strings and their map are made on first use (see `TokenTable`).
    let table = TokenTable::spelled_later(known, special, (decoded_bytes, offsets));
    Ok(Tokenizer::assemble(
        AddedVocabulary::new(added),
        None,
        Some(pre_tokenizer),
        Model::Bpe(model),
        None,
        Some(decoder),
        table,
    ))
}
