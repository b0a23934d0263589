//! `ferrotok._native.Tokenizer`: a loaded pipeline, shared by Python threads and rayon workers.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use super::encoding::{
    encode_rich_batch, padded_arrays, padding_args, padding_params, truncation_args,
    truncation_params, PaddingArgs, PyEncoding, RichOptions, TruncationArgs,
};
use super::errors::guard;
use super::lists::{ids_list, IntTable, ListSink, ID_TABLE_MIN_IDS};
use super::texts::TextBatch;
use crate::error::{Error, ErrorKind};
use crate::parallel;
use crate::prepare::{encode_document, DocumentTokens};
use crate::tokenizer::{Batched, SpecialTokens, Tokenizer};

/// The most ids a batch's output buffer is reserved for up front (1 GiB): above it, the buffer
/// grows as it fills (in place, by `mremap`, at that size), so that a huge batch does not ask
/// the kernel for more address space than it may grant.
const MAX_RESERVED_IDS: usize = 1 << 28;

/// A flat numpy batch: all ids, and document boundaries.
type NumpyBatch<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// A loaded tokenizer.
#[pyclass(name = "Tokenizer", module = "ferrotok._native", frozen)]
pub struct PyTokenizer {
    pub(super) inner: Arc<Tokenizer>,
    /// One Python int per token id, made by the first large conversion to lists.
    id_objects: OnceLock<IntTable>,
}

fn wrap(tokenizer: Tokenizer) -> PyTokenizer {
    PyTokenizer {
        inner: Arc::new(tokenizer),
        id_objects: OnceLock::new(),
    }
}

/// Converts Python ids (any int) to token ids; a negative or too large id is an unknown id.
fn to_ids(ids: Vec<i64>) -> Result<Vec<u32>, Error> {
    ids.iter()
        .enumerate()
        .map(|(position, &id)| {
            u32::try_from(id).map_err(|_| {
                Error::new(
                    ErrorKind::UnknownId,
                    format!("token id {id} at position {position} is not in the vocabulary"),
                )
            })
        })
        .collect()
}

/// Special tokens in the dict's own order (it decides which of two tokens sharing an id decodes).
fn specials_vec(special_tokens: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, u32)>> {
    let mut specials = Vec::new();
    if let Some(dict) = special_tokens {
        for (token, id) in dict.iter() {
            specials.push((token.extract::<String>()?, id.extract::<u32>()?));
        }
    }
    Ok(specials)
}

/// Encodes `texts` into one flat buffer and document offsets, in GIL-free slices with a Ctrl-C
/// check between them (see [`TextBatch::in_slices`]).
///
/// Each slice appends to the same buffer, reserved up front for one id per character of text
/// (more than the tokenizers of the shared data give for the corpus; pages reserved and never
/// written are never resident), up to [`MAX_RESERVED_IDS`]. Concatenating the slices' own
/// buffers at the end held the whole output twice at the peak, and a buffer grown by doubling
/// below glibc's `mmap` threshold leaves its earlier copies in the heap.
fn encode_flat_in_slices(
    py: Python<'_>,
    texts: Vec<Bound<'_, PyString>>,
    num_threads: Option<usize>,
    encode: &impl parallel::EncodeTexts,
) -> PyResult<(Vec<u32>, Vec<i64>)> {
    let texts = TextBatch::new(texts)?;
    let mut ids = Vec::with_capacity(texts.total_chars().min(MAX_RESERVED_IDS));
    let mut offsets = Vec::with_capacity(texts.len() + 1);
    offsets.push(0);
    texts.in_slices(py, |slice| {
        let (ids, offsets) = (&mut ids, &mut offsets);
        let bytes = slice.iter().map(|text| text.len()).sum();
        parallel::encode_flat_into(slice, bytes, num_threads, encode, ids, offsets);
        Ok(())
    })?;
    ids.shrink_to_fit();
    Ok((ids, offsets))
}

impl PyTokenizer {
    /// Encodes one text without the GIL, a long one cut at line starts and its parts encoded
    /// on up to `threads` threads (`Tokenizer::encode_parallel`).
    fn encode_one(
        &self,
        py: Python<'_>,
        text: &str,
        add_special_tokens: bool,
        threads: Option<usize>,
    ) -> PyResult<Vec<u32>> {
        let tok = &*self.inner;
        let specials = SpecialTokens::Added;
        Ok(py.detach(|| {
            guard(|| Ok(tok.encode_parallel(text, specials, add_special_tokens, threads)))
        })?)
    }

    /// Encodes `texts` into `list[list[int]]` (see the `lists` module for how, and why).
    fn encode_lists<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        num_threads: Option<usize>,
        encode: &impl parallel::EncodeTexts,
    ) -> PyResult<Bound<'py, PyList>> {
        let texts = TextBatch::new(texts)?;
        // About four characters per id: the table pays off on batches that large.
        let table = self.id_table(py, texts.total_chars() / 4);
        let mut sink = ListSink::new(py, table, texts.len());
        texts.in_slices_holding_gil(py, |slice| {
            guard(|| {
                Ok(parallel::encode_in_order(
                    slice,
                    num_threads,
                    encode,
                    &mut sink,
                ))
            })?
        })?;
        sink.finish()
    }

    /// The table of int objects, made now if `ids` (about to be converted) are enough to pay
    /// for it; `None` for a small conversion before any large one.
    fn id_table(&self, py: Python<'_>, ids: usize) -> Option<&IntTable> {
        if let Some(table) = self.id_objects.get() {
            return Some(table);
        }
        if ids < ID_TABLE_MIN_IDS {
            return None;
        }
        let table = IntTable::new(py, self.inner.max_token_id());
        Some(self.id_objects.get_or_init(|| table))
    }

    /// One document's ids as a list.
    fn ids_list<'py>(&self, py: Python<'py>, ids: &[u32]) -> PyResult<Bound<'py, PyList>> {
        ids_list(py, self.id_table(py, ids.len()), ids)
    }
}

#[pymethods]
impl PyTokenizer {
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(wrap(py.detach(|| guard(|| Tokenizer::from_file(&path)))?))
    }

    #[staticmethod]
    fn from_str(py: Python<'_>, json: &str) -> PyResult<Self> {
        let json = json.to_owned();
        Ok(wrap(
            py.detach(|| guard(|| Tokenizer::from_json_str(&json)))?,
        ))
    }

    #[staticmethod]
    #[pyo3(signature = (path, pattern, special_tokens=None))]
    fn from_tiktoken(
        py: Python<'_>,
        path: PathBuf,
        pattern: String,
        special_tokens: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let specials = specials_vec(special_tokens)?;
        Ok(wrap(py.detach(|| {
            guard(|| Tokenizer::from_tiktoken_file(&path, &pattern, &specials))
        })?))
    }

    #[staticmethod]
    #[pyo3(signature = (ranks, pattern, special_tokens=None))]
    fn from_ranks(
        py: Python<'_>,
        ranks: std::collections::HashMap<Vec<u8>, u32>,
        pattern: String,
        special_tokens: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let specials = specials_vec(special_tokens)?;
        let mut ranks: Vec<(Vec<u8>, u32)> = ranks.into_iter().collect();
        ranks.sort_by_key(|(_, rank)| *rank);
        Ok(wrap(py.detach(|| {
            guard(|| Tokenizer::from_ranks(ranks, &pattern, &specials))
        })?))
    }

    #[staticmethod]
    fn from_builtin(py: Python<'_>, name: String) -> PyResult<Self> {
        Ok(wrap(
            py.detach(|| guard(|| Tokenizer::from_builtin(&name)))?,
        ))
    }

    #[staticmethod]
    fn builtin_info<'py>(
        py: Python<'py>,
        name: String,
    ) -> PyResult<(String, Bound<'py, PyDict>, Option<usize>)> {
        let encoding = crate::load::builtin::builtin_spec(&name).map_err(PyErr::from)?;
        let specials = PyDict::new(py);
        for (token, id) in &encoding.special_tokens {
            specials.set_item(token, id)?;
        }
        Ok((
            encoding.pattern.to_string(),
            specials,
            encoding.explicit_n_vocab,
        ))
    }

    #[pyo3(signature = (text, add_special_tokens=true, num_threads=None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = self.encode_one(py, &text, add_special_tokens, num_threads)?;
        self.ids_list(py, &ids)
    }

    #[pyo3(signature = (texts, add_special_tokens=true, num_threads=None))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let batched = Batched {
            tokenizer: &self.inner,
            specials: SpecialTokens::Added,
            add_special_tokens,
        };
        self.encode_lists(py, texts, num_threads, &batched)
    }

    #[pyo3(signature = (texts, add_special_tokens=true, num_threads=None))]
    fn encode_batch_numpy<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<NumpyBatch<'py>> {
        let tok = &*self.inner;
        if let [text] = &texts[..] {
            if parallel::thread_count(num_threads) > 1 {
                // One document: the batch loop would give it one thread, so it goes where
                // `encode` sends a long text (the same ids).
                let text: PyBackedStr = text.extract()?;
                let ids = self.encode_one(py, &text, add_special_tokens, num_threads)?;
                let offsets = vec![0i64, ids.len() as i64];
                return Ok((ids.into_pyarray(py), offsets.into_pyarray(py)));
            }
        }
        let batched = Batched {
            tokenizer: tok,
            specials: SpecialTokens::Added,
            add_special_tokens,
        };
        let (ids, offsets) = encode_flat_in_slices(py, texts, num_threads, &batched)?;
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    /// Training documents as `ferrotok.prepare` writes them: `bos`, the text with special-token
    /// strings as text, `eos`; flat ids and document offsets.
    #[pyo3(signature = (texts, bos=None, eos=None, num_threads=None))]
    fn encode_documents_numpy<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        bos: Option<u32>,
        eos: Option<u32>,
        num_threads: Option<usize>,
    ) -> PyResult<NumpyBatch<'py>> {
        let tok = &*self.inner;
        let extra = DocumentTokens { bos, eos };
        let (ids, offsets) =
            encode_flat_in_slices(py, texts, num_threads, &|t: &str, out: &mut Vec<u32>| {
                encode_document(tok, t, extra, out)
            })?;
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    /// Encodes sequences or pairs with everything `tokenizers` reports (offsets, masks, word
    /// and sequence ids, overflowing parts); truncation and padding as given (`None`: none).
    #[pyo3(signature = (inputs, add_special_tokens=true, encode_special_tokens=false, truncation=None, padding=None, num_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_rich(
        &self,
        py: Python<'_>,
        inputs: Vec<(PyBackedStr, Option<PyBackedStr>)>,
        add_special_tokens: bool,
        encode_special_tokens: bool,
        truncation: Option<TruncationArgs>,
        padding: Option<PaddingArgs>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<PyEncoding>> {
        let options = RichOptions::new(
            add_special_tokens,
            encode_special_tokens,
            truncation,
            padding,
        )?;
        let encodings = encode_rich_batch(py, &self.inner, &inputs, &options, num_threads)?;
        Ok(encodings
            .into_iter()
            .map(|inner| PyEncoding { inner })
            .collect())
    }

    /// Like `encode_rich`, returning padded numpy matrices (`input_ids`, `attention_mask`,
    /// `token_type_ids`, `special_tokens_mask`, and `offset_mapping` if asked).
    #[pyo3(signature = (inputs, add_special_tokens=true, encode_special_tokens=false, truncation=None, padding=None, return_offsets=false, num_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_padded_numpy<'py>(
        &self,
        py: Python<'py>,
        inputs: Vec<(PyBackedStr, Option<PyBackedStr>)>,
        add_special_tokens: bool,
        encode_special_tokens: bool,
        truncation: Option<TruncationArgs>,
        padding: Option<PaddingArgs>,
        return_offsets: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = RichOptions::new(
            add_special_tokens,
            encode_special_tokens,
            truncation,
            padding,
        )?;
        let encodings = encode_rich_batch(py, &self.inner, &inputs, &options, num_threads)?;
        padded_arrays(py, &encodings, return_offsets)
    }

    /// Truncation, the post-processor and padding applied to encodings made without them (the
    /// reference's `post_process`).
    #[pyo3(signature = (encoding, pair=None, add_special_tokens=true, truncation=None, padding=None))]
    fn post_process(
        &self,
        py: Python<'_>,
        encoding: PyRef<'_, PyEncoding>,
        pair: Option<PyRef<'_, PyEncoding>>,
        add_special_tokens: bool,
        truncation: Option<TruncationArgs>,
        padding: Option<PaddingArgs>,
    ) -> PyResult<PyEncoding> {
        let truncation = truncation_params(truncation)?;
        let padding = padding_params(padding)?;
        let first = encoding.inner.clone();
        let second = pair.map(|p| p.inner.clone());
        let tok = &*self.inner;
        let inner = py.detach(|| {
            guard(|| {
                let mut encoding =
                    tok.post_process(first, second, add_special_tokens, truncation.as_ref())?;
                if let Some(padding) = &padding {
                    let length = padding.target_length(encoding.len());
                    encoding.pad(length, padding);
                }
                Ok(encoding)
            })
        })?;
        Ok(PyEncoding { inner })
    }

    /// The tokenizer.json's `truncation` and `padding` settings (`None` when absent).
    fn file_settings(&self) -> (Option<TruncationArgs>, Option<PaddingArgs>) {
        (
            self.inner.truncation.as_ref().map(truncation_args),
            self.inner.padding.as_ref().map(padding_args),
        )
    }

    /// The number of special tokens the post-processor adds to one sequence or a pair.
    fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.inner.num_special_tokens_to_add(is_pair)
    }

    #[pyo3(signature = (text, add_special_tokens=true))]
    fn count(
        &self,
        py: Python<'_>,
        text: PyBackedStr,
        add_special_tokens: bool,
    ) -> PyResult<usize> {
        let tok = &*self.inner;
        Ok(py.detach(|| {
            guard(|| {
                Ok(tok
                    .encode_parallel(&text, SpecialTokens::Added, add_special_tokens, None)
                    .len())
            })
        })?)
    }

    fn encode_ordinary<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
    ) -> PyResult<Bound<'py, PyList>> {
        let tok = &*self.inner;
        let ids = py.detach(|| {
            guard(|| Ok(tok.encode_parallel(&text, SpecialTokens::Ignored, false, None)))
        })?;
        self.ids_list(py, &ids)
    }

    #[pyo3(signature = (texts, num_threads=None))]
    fn encode_ordinary_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let batched = Batched {
            tokenizer: &self.inner,
            specials: SpecialTokens::Ignored,
            add_special_tokens: false,
        };
        self.encode_lists(py, texts, num_threads, &batched)
    }

    #[pyo3(signature = (text, allowed))]
    fn encode_with_special<'py>(
        &self,
        py: Python<'py>,
        text: PyBackedStr,
        allowed: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = py.detach(|| {
            guard(|| {
                let matcher = self.inner.special_matcher(allowed.as_deref())?;
                Ok(self
                    .inner
                    .encode_parallel(&text, SpecialTokens::Only(&matcher), false, None))
            })
        })?;
        self.ids_list(py, &ids)
    }

    #[pyo3(signature = (texts, allowed, num_threads=None))]
    fn encode_with_special_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Bound<'py, PyString>>,
        allowed: Option<Vec<String>>,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let tok = &*self.inner;
        let matcher = guard(|| tok.special_matcher(allowed.as_deref()))?;
        let batched = Batched {
            tokenizer: tok,
            specials: SpecialTokens::Only(&matcher),
            add_special_tokens: false,
        };
        self.encode_lists(py, texts, num_threads, &batched)
    }

    #[pyo3(signature = (text, among=None))]
    fn find_special(
        &self,
        py: Python<'_>,
        text: PyBackedStr,
        among: Option<Vec<String>>,
    ) -> PyResult<Option<String>> {
        Ok(py.detach(|| {
            guard(|| {
                let matcher = self.inner.special_matcher(among.as_deref())?;
                Ok(self
                    .inner
                    .find_special(&text, &matcher)
                    .map(|(_, s)| s.to_owned()))
            })
        })?)
    }

    #[pyo3(signature = (ids, skip_special_tokens=false))]
    fn decode(&self, py: Python<'_>, ids: Vec<i64>, skip_special_tokens: bool) -> PyResult<String> {
        Ok(py.detach(|| guard(|| self.inner.decode(&to_ids(ids)?, skip_special_tokens)))?)
    }

    #[pyo3(signature = (ids, skip_special_tokens=false))]
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<i64>,
        skip_special_tokens: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes =
            py.detach(|| guard(|| self.inner.decode_bytes(&to_ids(ids)?, skip_special_tokens)))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[pyo3(signature = (batch, skip_special_tokens=false))]
    fn decode_batch(
        &self,
        py: Python<'_>,
        batch: Vec<Vec<i64>>,
        skip_special_tokens: bool,
    ) -> PyResult<Vec<String>> {
        Ok(py.detach(|| {
            guard(|| {
                batch
                    .into_iter()
                    .map(|ids| self.inner.decode(&to_ids(ids)?, skip_special_tokens))
                    .collect::<Result<Vec<_>, Error>>()
            })
        })?)
    }

    fn token_bytes<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = guard(|| self.inner.token_bytes(to_ids(vec![id])?[0]))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    #[getter]
    fn max_token_id(&self) -> u32 {
        self.inner.max_token_id()
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    fn id_to_token(&self, id: i64) -> Option<String> {
        u32::try_from(id)
            .ok()
            .and_then(|id| self.inner.id_to_token(id))
            .map(str::to_owned)
    }

    fn get_vocab<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (token, id) in self.inner.vocab() {
            dict.set_item(token, id)?;
        }
        Ok(dict)
    }

    fn special_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (token, id) in self.inner.special_tokens() {
            dict.set_item(token, id)?;
        }
        Ok(dict)
    }
}
