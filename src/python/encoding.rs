//! `ferrotok._native.Encoding` and the rich encode calls: encodings with offsets, pairs,
//! truncation and padding, one by one, as a list, or as padded numpy matrices.

use numpy::{IntoPyArray, PyArray2, PyArray3, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

use super::errors::guard;
use crate::encoding::pipeline::pad_encodings;
use crate::encoding::{
    Encoding, PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection,
    TruncationParams, TruncationStrategy,
};
use crate::error::Error;
use crate::parallel;
use crate::tokenizer::{SpecialTokens, Tokenizer};

/// One encoded sequence or pair, with every per-token field of `tokenizers`' `Encoding`.
#[pyclass(name = "Encoding", module = "ferrotok._native", frozen)]
pub struct PyEncoding {
    pub(super) inner: Encoding,
}

#[pymethods]
impl PyEncoding {
    #[getter]
    fn ids(&self) -> Vec<u32> {
        self.inner.ids.clone()
    }
    #[getter]
    fn type_ids(&self) -> Vec<u32> {
        self.inner.type_ids.clone()
    }
    #[getter]
    fn tokens(&self) -> Vec<String> {
        self.inner.tokens.clone()
    }
    #[getter]
    fn offsets(&self) -> Vec<(usize, usize)> {
        self.inner.offsets.clone()
    }
    #[getter]
    fn word_ids(&self) -> Vec<Option<u32>> {
        self.inner.words.clone()
    }
    /// The old name of `word_ids`, kept by `tokenizers`.
    #[getter]
    fn words(&self) -> Vec<Option<u32>> {
        self.inner.words.clone()
    }
    #[getter]
    fn sequence_ids(&self) -> Vec<Option<usize>> {
        self.inner.sequence_ids()
    }
    #[getter]
    fn special_tokens_mask(&self) -> Vec<u32> {
        self.inner.special_tokens_mask.clone()
    }
    #[getter]
    fn attention_mask(&self) -> Vec<u32> {
        self.inner.attention_mask.clone()
    }
    #[getter]
    fn n_sequences(&self) -> usize {
        self.inner.sequence_ranges.len().max(1)
    }
    #[getter]
    fn overflowing(&self) -> Vec<PyEncoding> {
        self.inner
            .overflowing
            .iter()
            .map(|e| PyEncoding { inner: e.clone() })
            .collect()
    }
    #[pyo3(signature = (position, sequence_index=0))]
    fn char_to_token(&self, position: usize, sequence_index: usize) -> Option<usize> {
        self.inner.char_to_token(position, sequence_index)
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "Encoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, \
             special_tokens_mask, overflowing])",
            self.inner.len()
        )
    }
}

/// Truncation settings from Python: `(max_length, stride, strategy, direction)`.
pub type TruncationArgs = (usize, usize, String, String);
/// Padding settings from Python: `(length or None, direction, pad_to_multiple_of, pad_id,
/// pad_type_id, pad_token)`.
pub type PaddingArgs = (Option<usize>, String, Option<usize>, u32, u32, String);

pub fn truncation_params(args: Option<TruncationArgs>) -> Result<Option<TruncationParams>, Error> {
    let Some((max_length, stride, strategy, direction)) = args else {
        return Ok(None);
    };
    let strategy = match strategy.as_str() {
        "longest_first" => TruncationStrategy::LongestFirst,
        "only_first" => TruncationStrategy::OnlyFirst,
        "only_second" => TruncationStrategy::OnlySecond,
        other => {
            return Err(Error::argument(format!(
            "truncation strategy must be longest_first, only_first or only_second, not {other:?}"
        )))
        }
    };
    let direction = match direction.as_str() {
        "right" => TruncationDirection::Right,
        "left" => TruncationDirection::Left,
        other => {
            return Err(Error::argument(format!(
                "truncation direction must be left or right, not {other:?}"
            )))
        }
    };
    Ok(Some(TruncationParams {
        max_length,
        stride,
        strategy,
        direction,
    }))
}

pub fn padding_params(args: Option<PaddingArgs>) -> Result<Option<PaddingParams>, Error> {
    let Some((length, direction, pad_to_multiple_of, pad_id, pad_type_id, pad_token)) = args else {
        return Ok(None);
    };
    let direction = match direction.as_str() {
        "right" => PaddingDirection::Right,
        "left" => PaddingDirection::Left,
        other => {
            return Err(Error::argument(format!(
                "padding direction must be left or right, not {other:?}"
            )))
        }
    };
    Ok(Some(PaddingParams {
        strategy: length.map_or(PaddingStrategy::BatchLongest, PaddingStrategy::Fixed),
        direction,
        pad_to_multiple_of,
        pad_id,
        pad_type_id,
        pad_token,
    }))
}

/// The tokenizer.json's own truncation settings, as the Python tuple.
pub fn truncation_args(params: &TruncationParams) -> TruncationArgs {
    let strategy = match params.strategy {
        TruncationStrategy::LongestFirst => "longest_first",
        TruncationStrategy::OnlyFirst => "only_first",
        TruncationStrategy::OnlySecond => "only_second",
    };
    let direction = match params.direction {
        TruncationDirection::Right => "right",
        TruncationDirection::Left => "left",
    };
    (
        params.max_length,
        params.stride,
        strategy.to_owned(),
        direction.to_owned(),
    )
}

/// The tokenizer.json's own padding settings, as the Python tuple.
pub fn padding_args(params: &PaddingParams) -> PaddingArgs {
    let length = match params.strategy {
        PaddingStrategy::BatchLongest => None,
        PaddingStrategy::Fixed(n) => Some(n),
    };
    let direction = match params.direction {
        PaddingDirection::Right => "right",
        PaddingDirection::Left => "left",
    };
    (
        length,
        direction.to_owned(),
        params.pad_to_multiple_of,
        params.pad_id,
        params.pad_type_id,
        params.pad_token.clone(),
    )
}

/// Everything one rich encode call needs besides the texts.
pub struct RichOptions {
    pub add_special_tokens: bool,
    pub encode_special_tokens: bool,
    pub truncation: Option<TruncationParams>,
    pub padding: Option<PaddingParams>,
}

impl RichOptions {
    /// The options from the Python arguments.
    pub fn new(
        add_special_tokens: bool,
        encode_special_tokens: bool,
        truncation: Option<TruncationArgs>,
        padding: Option<PaddingArgs>,
    ) -> Result<Self, Error> {
        Ok(RichOptions {
            add_special_tokens,
            encode_special_tokens,
            truncation: truncation_params(truncation)?,
            padding: padding_params(padding)?,
        })
    }
}

/// Encodes a batch of sequences or pairs (in parallel), then pads the batch.
pub fn encode_rich_batch(
    py: Python<'_>,
    tokenizer: &Tokenizer,
    inputs: &[(PyBackedStr, Option<PyBackedStr>)],
    options: &RichOptions,
    num_threads: Option<usize>,
) -> PyResult<Vec<Encoding>> {
    let total: usize = inputs
        .iter()
        .map(|(a, b)| a.len() + b.as_ref().map_or(0, |b| b.len()))
        .sum();
    let specials = if options.encode_special_tokens {
        SpecialTokens::NonSpecial
    } else {
        SpecialTokens::Added
    };
    let encodings = py.detach(|| {
        guard(|| {
            let results = parallel::map(inputs, total, num_threads, |(first, second)| {
                tokenizer.encode_full(
                    first,
                    second.as_deref(),
                    options.add_special_tokens,
                    specials,
                    options.truncation.as_ref(),
                    None,
                )
            });
            let mut encodings = results.into_iter().collect::<Result<Vec<_>, Error>>()?;
            if let Some(padding) = &options.padding {
                pad_encodings(&mut encodings, padding);
            }
            Ok(encodings)
        })
    })?;
    py.check_signals()?;
    Ok(encodings)
}

/// Padded matrices of a batch: `input_ids`, `attention_mask`, `token_type_ids`,
/// `special_tokens_mask`, and `offset_mapping` `[n, L, 2]` when asked. Every encoding must have
/// the same length (the batch is padded first).
pub fn padded_arrays<'py>(
    py: Python<'py>,
    encodings: &[Encoding],
    offsets: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let rows = encodings.len();
    let width = encodings.first().map_or(0, Encoding::len);
    if let Some(bad) = encodings.iter().find(|e| e.len() != width) {
        return Err(Error::argument(format!(
            "the encodings have different lengths ({width} and {}): pass padding to get matrices",
            bad.len()
        ))
        .into());
    }
    let flat = |field: fn(&Encoding) -> &[u32]| -> Vec<i64> {
        encodings
            .iter()
            .flat_map(|e| field(e).iter().map(|&v| i64::from(v)))
            .collect()
    };
    let matrix = |values: Vec<i64>| -> PyResult<Bound<'py, PyArray2<i64>>> {
        values.into_pyarray(py).reshape([rows, width])
    };
    let dict = PyDict::new(py);
    dict.set_item("input_ids", matrix(flat(|e| &e.ids))?)?;
    dict.set_item("token_type_ids", matrix(flat(|e| &e.type_ids))?)?;
    dict.set_item("attention_mask", matrix(flat(|e| &e.attention_mask))?)?;
    dict.set_item(
        "special_tokens_mask",
        matrix(flat(|e| &e.special_tokens_mask))?,
    )?;
    if offsets {
        let values: Vec<i64> = encodings
            .iter()
            .flat_map(|e| {
                e.offsets
                    .iter()
                    .flat_map(|&(s, end)| [s as i64, end as i64])
            })
            .collect();
        let array: Bound<'py, PyArray3<i64>> = values.into_pyarray(py).reshape([rows, width, 2])?;
        dict.set_item("offset_mapping", array)?;
    }
    Ok(dict)
}
