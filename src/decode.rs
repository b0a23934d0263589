//! Decoders: turn token strings back into text.
//!
//! HF decodes by looking every id up as a token string and handing the list to the decoder, each
//! decoder mapping a list of strings to a new list (`decode_chain`) that is finally concatenated.
//! A decoder that works token by token (ByteLevel) can be precomputed per id, which the tokenizer
//! does: its decode path is then one table look-up and a copy per id.

use serde_json::Value;

use crate::byte_alphabet;
use crate::error::{Error, Result};
use crate::load::json::{field_str, opt_usize, type_of};
use crate::normalize::ReplacePattern;
use crate::pretokenize::Metaspace;

/// A decoder, as a tokenizer.json names it.
#[derive(Debug)]
pub enum Decoder {
    /// Undo GPT-2's byte alphabet (tokens with characters outside it are kept as their UTF-8).
    ByteLevel,
    /// Replace a pattern in every token (SentencePiece's `▁` → space).
    Replace {
        /// What to replace.
        pattern: ReplacePattern,
        /// What to put in its place.
        content: String,
    },
    /// Runs of `<0xXX>` tokens become the text their bytes spell, or one U+FFFD per byte when
    /// the run is not valid UTF-8.
    ByteFallback,
    /// All tokens joined into one.
    Fuse,
    /// Up to `start` leading and `stop` trailing `content` characters removed from every token.
    Strip {
        /// The character to strip.
        content: char,
        /// How many to strip at most from the start.
        start: usize,
        /// How many to strip at most from the end.
        stop: usize,
    },
    /// SentencePiece's `▁` back to spaces (see [`Metaspace::decode_token`]).
    Metaspace(Metaspace),
    /// WordPiece: tokens joined with spaces except continuations, whose prefix is removed; then
    /// optionally BERT's clean-up of spaces before punctuation and contractions.
    WordPiece {
        /// The continuing-subword prefix (`##`).
        prefix: String,
        /// Apply the clean-up.
        cleanup: bool,
    },
    /// Classic BPE: the end-of-word suffix becomes a space (nothing after the last token).
    Bpe {
        /// The end-of-word suffix (`</w>`).
        suffix: String,
    },
    /// CTC (speech models): repeated tokens collapsed, the pad token removed, the word delimiter
    /// turned into a space and the clean-up applied (with `cleanup`).
    Ctc {
        /// The blank token.
        pad_token: String,
        /// The token between words.
        word_delimiter_token: String,
        /// Apply the clean-up and the delimiter replacement.
        cleanup: bool,
    },
    /// Each decoder in turn.
    Sequence(Vec<Decoder>),
}

impl Decoder {
    /// Builds a decoder from its tokenizer.json object; `path` names it in errors.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        Ok(match type_of(value, path)? {
            "ByteLevel" => Decoder::ByteLevel,
            "ByteFallback" => Decoder::ByteFallback,
            "Fuse" => Decoder::Fuse,
            "Metaspace" => Decoder::Metaspace(Metaspace::from_json(value, path)?),
            "WordPiece" => Decoder::WordPiece {
                prefix: field_str(value, "prefix", path)?.to_owned(),
                cleanup: field_bool(value, "cleanup", path)?,
            },
            "BPEDecoder" => Decoder::Bpe {
                suffix: field_str(value, "suffix", path)?.to_owned(),
            },
            "CTC" => Decoder::Ctc {
                pad_token: field_str(value, "pad_token", path)?.to_owned(),
                word_delimiter_token: field_str(value, "word_delimiter_token", path)?.to_owned(),
                cleanup: field_bool(value, "cleanup", path)?,
            },
            "Replace" => Decoder::Replace {
                pattern: ReplacePattern::from_json(value, path)?,
                content: field_str(value, "content", path)?.to_owned(),
            },
            "Strip" => {
                let content = field_str(value, "content", path)?;
                let mut chars = content.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err(Error::invalid(format!(
                        "{path}.content: expected one character, found {content:?}"
                    )));
                };
                Decoder::Strip {
                    content: c,
                    start: opt_usize(value, "start", path)?.unwrap_or(0),
                    stop: opt_usize(value, "stop", path)?.unwrap_or(0),
                }
            }
            "Sequence" => {
                let items = value
                    .get("decoders")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::invalid(format!("{path}.decoders: missing or not a list"))
                    })?;
                Decoder::Sequence(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, d)| Decoder::from_json(d, &format!("{path}.decoders[{i}]")))
                        .collect::<Result<_>>()?,
                )
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{path}: decoder type {other:?} is not supported"
                )))
            }
        })
    }

    /// Whether the decoder treats each token on its own, so its output can be precomputed per id.
    pub fn is_per_token(&self) -> bool {
        matches!(self, Decoder::ByteLevel)
    }

    /// The bytes one token decodes to, for per-token decoders.
    pub fn decode_token(&self, token: &str) -> Vec<u8> {
        match self {
            Decoder::ByteLevel => {
                byte_alphabet::decode_token(token).unwrap_or_else(|| token.as_bytes().to_vec())
            }
            _ => self.decode(vec![token.to_owned()]).into_bytes(),
        }
    }

    /// Decodes token strings to text: the chain, then the pieces concatenated.
    pub fn decode(&self, tokens: Vec<String>) -> String {
        self.decode_chain(tokens).concat()
    }

    /// One decoder step: a list of strings to a new list, as HF's `decode_chain`.
    pub fn decode_chain(&self, tokens: Vec<String>) -> Vec<String> {
        match self {
            Decoder::ByteLevel => {
                let mut bytes = Vec::new();
                for token in &tokens {
                    match byte_alphabet::decode_token(token) {
                        Some(b) => bytes.extend(b),
                        None => bytes.extend_from_slice(token.as_bytes()),
                    }
                }
                vec![String::from_utf8_lossy(&bytes).into_owned()]
            }
            Decoder::Replace { pattern, content } => tokens
                .iter()
                .map(|token| {
                    let mut out = String::with_capacity(token.len());
                    pattern.replace_all(token, content, &mut out);
                    out
                })
                .collect(),
            Decoder::ByteFallback => byte_fallback(tokens),
            Decoder::Fuse => vec![tokens.concat()],
            Decoder::Metaspace(metaspace) => tokens
                .iter()
                .enumerate()
                .map(|(i, token)| metaspace.decode_token(i, token))
                .collect(),
            Decoder::WordPiece { prefix, cleanup } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, token)| {
                    let token = if i == 0 {
                        token
                    } else if let Some(rest) = token.strip_prefix(prefix.as_str()) {
                        rest.to_owned()
                    } else {
                        format!(" {token}")
                    };
                    if *cleanup {
                        wordpiece_cleanup(&token)
                    } else {
                        token
                    }
                })
                .collect(),
            Decoder::Bpe { suffix } => {
                let last = tokens.len().wrapping_sub(1);
                tokens
                    .iter()
                    .enumerate()
                    .map(|(i, token)| {
                        // `str::replace` with an empty pattern inserts between characters, as the
                        // reference does.
                        token.replace(suffix.as_str(), if i == last { "" } else { " " })
                    })
                    .collect()
            }
            Decoder::Ctc {
                pad_token,
                word_delimiter_token,
                cleanup,
            } => {
                let mut out = Vec::with_capacity(tokens.len());
                let mut previous: Option<&str> = None;
                for token in &tokens {
                    if previous == Some(token.as_str()) {
                        continue;
                    }
                    previous = Some(token);
                    let mut text = token.replace(pad_token.as_str(), "");
                    if *cleanup {
                        text = wordpiece_cleanup(&text).replace(word_delimiter_token.as_str(), " ");
                    }
                    if !text.is_empty() {
                        out.push(text);
                    }
                }
                out
            }
            Decoder::Strip {
                content,
                start,
                stop,
            } => tokens
                .iter()
                .map(|token| strip(token, *content, *start, *stop))
                .collect(),
            Decoder::Sequence(steps) => steps
                .iter()
                .fold(tokens, |tokens, step| step.decode_chain(tokens)),
        }
    }
}

/// BERT's clean-up of decoded text: no space before `.`, `?`, `!`, `,` and in contractions.
fn wordpiece_cleanup(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// A required boolean field.
fn field_bool(value: &Value, name: &str, path: &str) -> Result<bool> {
    match value.get(name) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::invalid(format!(
            "{path}.{name}: expected true or false"
        ))),
        None => Err(Error::invalid(format!("{path}.{name}: missing field"))),
    }
}

/// The byte of a `<0xXX>` token.
fn fallback_byte(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn byte_fallback(tokens: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut pending: Vec<u8> = Vec::new();
    let flush = |pending: &mut Vec<u8>, out: &mut Vec<String>| {
        if pending.is_empty() {
            return;
        }
        match String::from_utf8(std::mem::take(pending)) {
            Ok(text) => out.push(text),
            Err(e) => out.extend(std::iter::repeat_n(
                "\u{FFFD}".to_string(),
                e.as_bytes().len(),
            )),
        }
    };
    for token in tokens {
        match fallback_byte(&token) {
            Some(byte) => pending.push(byte),
            None => {
                flush(&mut pending, &mut out);
                out.push(token);
            }
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn strip(token: &str, content: char, start: usize, stop: usize) -> String {
    let leading = token
        .chars()
        .take(start)
        .take_while(|&c| c == content)
        .count();
    let trailing = token
        .chars()
        .rev()
        .take(stop)
        .take_while(|&c| c == content)
        .count();
    let total = token.chars().count();
    token
        .chars()
        .skip(leading)
        .take(total.saturating_sub(leading + trailing))
        .collect()
}

/// What HF does without a decoder: the token strings joined by spaces.
pub fn join_with_spaces<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, token) in tokens.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(token.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn byte_level_tokens() {
        let d = Decoder::ByteLevel;
        assert_eq!(d.decode_token("Ġhello"), b" hello");
        assert_eq!(d.decode_token("Ċ"), b"\n");
        // A character outside the alphabet keeps the whole token as UTF-8, as HF does.
        assert_eq!(d.decode_token("Ġ中"), "Ġ中".as_bytes());
    }

    #[test]
    fn sentencepiece_chain() {
        // The Llama 2 / Mistral decoder.
        let decoder = Decoder::Sequence(vec![
            Decoder::Replace {
                pattern: ReplacePattern::String("▁".into()),
                content: " ".into(),
            },
            Decoder::ByteFallback,
            Decoder::Fuse,
            Decoder::Strip {
                content: ' ',
                start: 1,
                stop: 0,
            },
        ]);
        // Expectations from tokenizers 0.23.3: a run of byte tokens decodes as a whole, and an
        // invalid run gives one U+FFFD per byte.
        let tokens = strings(&["▁Hello", "▁w", "<0xC3>", "<0xA9>", "x", "<0xFF>"]);
        assert_eq!(decoder.decode(tokens.clone()), "Hello wéx\u{FFFD}");
        let tokens = strings(&["▁Hello", "▁w", "<0xC3>", "<0xA9>", "<0xFF>", "x"]);
        assert_eq!(decoder.decode(tokens), "Hello w\u{FFFD}\u{FFFD}\u{FFFD}x");
    }

    #[test]
    fn word_level_decoders_match_tokenizers() {
        let parse = |json: &str| {
            Decoder::from_json(&serde_json::from_str(json).unwrap(), "decoder").unwrap()
        };
        let wordpiece_tokens =
            strings(&["hello", "##ing", "world", ".", "don", "'", "t", "##s", "!"]);
        // (decoder, tokens, expected); expectations from tokenizers 0.23.3's `decode`.
        let cases: &[(&str, Vec<String>, &str)] = &[
            (
                r###"{"type": "WordPiece", "prefix": "##", "cleanup": true}"###,
                wordpiece_tokens.clone(),
                "helloing world. don ' ts!",
            ),
            (
                r###"{"type": "WordPiece", "prefix": "##", "cleanup": false}"###,
                wordpiece_tokens,
                "helloing world . don ' ts !",
            ),
            (
                r###"{"type": "BPEDecoder", "suffix": "</w>"}"###,
                strings(&["hel", "lo</w>", "wor", "ld</w>"]),
                "hello world",
            ),
            (
                r###"{"type": "BPEDecoder", "suffix": "</w>"}"###,
                strings(&[]),
                "",
            ),
            (
                r###"{"type": "CTC", "pad_token": "<pad>", "word_delimiter_token": "|", "cleanup": true}"###,
                strings(&[
                    "<pad>", "h", "h", "e", "<pad>", "l", "l", "<pad>", "l", "o", "|", "w", "o",
                    "r", "l", "d", "|", "'", "s",
                ]),
                "hello world 's",
            ),
            (
                r###"{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"}"###,
                strings(&[
                    "\u{2581}Hey",
                    "\u{2581}my",
                    "\u{2581}friend",
                    "\u{2581}",
                    "\u{2581}\u{2581}x",
                ]),
                "Hey my friend   x",
            ),
            (
                r###"{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never"}"###,
                strings(&["\u{2581}Hey", "\u{2581}my"]),
                " Hey my",
            ),
        ];
        for (json, tokens, expected) in cases {
            assert_eq!(parse(json).decode(tokens.clone()), *expected, "{json}");
        }
        let err = Decoder::from_json(
            &serde_json::from_str(r###"{"type": "CTC", "pad_token": "<pad>"}"###).unwrap(),
            "decoder",
        )
        .unwrap_err();
        assert!(
            err.message().contains("decoder.word_delimiter_token"),
            "{err}"
        );
    }

    #[test]
    fn strip_counts_characters() {
        assert_eq!(strip("  a  ", ' ', 1, 0), " a  ");
        assert_eq!(strip("  a  ", ' ', 5, 5), "a");
        // tokenizers 0.23.3 panics here (its cuts overlap); ferrotok gives the empty string.
        assert_eq!(strip("xx", 'x', 2, 2), "");
    }
}
