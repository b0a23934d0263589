//! `ferrotok._native.Preparer`: one `prepare` run, driven a batch at a time by
//! `ferrotok.prepare` (which owns progress display, Ctrl-C and resume decisions).

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use serde_json::Value;

use super::errors::guard;
use super::tokenizer::PyTokenizer;
use crate::error::{Error, ErrorKind};
use crate::prepare::input::{Compression, InputFile, ReadOptions, RecordFormat, Utf8Policy};
use crate::prepare::output::{Format, OutputSpec, ShardInfo, TokenType, Totals};
use crate::prepare::{DocumentTokens, Preparer, Progress};

/// A run in progress. `finish` completes it; `abort` (or garbage collection) abandons it and
/// removes the partial shard.
#[pyclass(name = "Preparer", module = "ferrotok._native")]
pub struct PyPreparer {
    inner: Mutex<Option<Preparer>>,
}

fn progress_dict<'py>(py: Python<'py>, progress: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("input_bytes", progress.input_bytes)?;
    dict.set_item("text_bytes", progress.text_bytes)?;
    dict.set_item("documents", progress.documents)?;
    dict.set_item("tokens", progress.tokens)?;
    dict.set_item("records", progress.position.records)?;
    dict.set_item("empty_skipped", progress.position.empty)?;
    dict.set_item("bad_skipped", progress.position.bad)?;
    Ok(dict)
}

fn totals_dict<'py>(py: Python<'py>, totals: &Totals) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("documents", totals.documents)?;
    dict.set_item("tokens", totals.tokens)?;
    dict.set_item("records", totals.end.records)?;
    dict.set_item("empty_skipped", totals.end.empty)?;
    dict.set_item("bad_skipped", totals.end.bad)?;
    dict.set_item("shards", totals.shards)?;
    Ok(dict)
}

fn finished() -> PyErr {
    Error::argument("this prepare run is already finished or aborted").into()
}

impl PyPreparer {
    /// Runs `f` on the run with the GIL released and panics caught.
    fn with_run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Preparer) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        let inner = &self.inner;
        py.detach(|| {
            let mut guard_ = inner.lock().unwrap_or_else(|p| p.into_inner());
            match guard_.as_mut() {
                Some(run) => guard(|| f(run)).map_err(PyErr::from),
                None => Err(finished()),
            }
        })
    }
}

#[pymethods]
impl PyPreparer {
    #[new]
    #[pyo3(signature = (tokenizer, output, format, dtype, settings_json, shard_tokens=None, bos=None, eos=None, num_threads=None, resumed_json=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tokenizer: &PyTokenizer,
        output: PathBuf,
        format: &str,
        dtype: &str,
        settings_json: &str,
        shard_tokens: Option<u64>,
        bos: Option<u32>,
        eos: Option<u32>,
        num_threads: Option<usize>,
        resumed_json: Option<&str>,
    ) -> PyResult<Self> {
        let format = Format::from_name(format)?;
        let dtype = TokenType::from_name(dtype)?;
        let settings: Value = serde_json::from_str(settings_json)
            .map_err(|e| Error::argument(format!("settings are not JSON: {e}")))?;
        let resumed = match resumed_json {
            None => Vec::new(),
            Some(text) => {
                let shards: Value = serde_json::from_str(text)
                    .map_err(|e| Error::argument(format!("resumed shards are not JSON: {e}")))?;
                shards
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|shard| {
                        ShardInfo::from_json(shard).ok_or_else(|| {
                            Error::new(
                                ErrorKind::InvalidInput,
                                format!("a manifest shard entry is malformed: {shard}"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        if shard_tokens == Some(0) {
            return Err(Error::argument("shard_tokens must be positive").into());
        }
        let spec = OutputSpec {
            prefix: output,
            format,
            dtype,
            shard_tokens,
            settings,
        };
        let tokenizer = tokenizer.inner.clone();
        let run = py.detach(|| {
            guard(|| {
                Preparer::new(
                    tokenizer,
                    DocumentTokens { bos, eos },
                    num_threads,
                    spec,
                    resumed,
                )
            })
        })?;
        Ok(PyPreparer {
            inner: Mutex::new(Some(run)),
        })
    }

    /// Starts reading files: `(path, kind, argument)` with kind "text" (argument: a separator, or
    /// None for one document per file) or "jsonl" (argument: the dotted field).
    #[pyo3(signature = (files, errors="strict", skip_bad_lines=false, batch_bytes=8388608))]
    fn read_files(
        &self,
        py: Python<'_>,
        files: Vec<(PathBuf, String, Option<String>)>,
        errors: &str,
        skip_bad_lines: bool,
        batch_bytes: usize,
    ) -> PyResult<()> {
        let utf8 = match errors {
            "strict" => Utf8Policy::Strict,
            "replace" => Utf8Policy::Replace,
            other => {
                return Err(Error::argument(format!(
                    "unknown errors policy {other:?} (expected \"strict\" or \"replace\")"
                ))
                .into())
            }
        };
        let mut inputs = Vec::with_capacity(files.len());
        for (path, kind, argument) in files {
            let format = match (kind.as_str(), argument) {
                ("text", None) => RecordFormat::WholeFile,
                ("text", Some(separator)) if !separator.is_empty() => {
                    RecordFormat::Separated(separator)
                }
                ("text", Some(_)) => {
                    return Err(Error::argument("the document separator is empty").into())
                }
                ("jsonl", Some(field)) if !field.is_empty() => {
                    RecordFormat::JsonLines(field.split('.').map(str::to_string).collect())
                }
                (kind, _) => {
                    return Err(Error::argument(format!(
                        "{}: unknown input kind {kind:?} or missing field",
                        path.display()
                    ))
                    .into())
                }
            };
            inputs.push(InputFile {
                compression: Compression::from_path(&path),
                path,
                format,
            });
        }
        let options = ReadOptions {
            utf8,
            skip_bad_records: skip_bad_lines,
            batch_bytes: batch_bytes.max(1),
        };
        self.with_run(py, move |run| run.read_files(inputs, options))
    }

    /// Encodes and writes the next batch of the files; None when they are all read.
    fn step<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.with_run(py, |run| run.step())? {
            Some(progress) => Ok(Some(progress_dict(py, &progress)?)),
            None => Ok(None),
        }
    }

    /// Encodes and writes documents read by the caller (one record each).
    fn feed<'py>(&self, py: Python<'py>, texts: Vec<PyBackedStr>) -> PyResult<Bound<'py, PyDict>> {
        let progress = self.with_run(py, |run| {
            let texts: Vec<&str> = texts.iter().map(|t| &**t).collect();
            run.feed(&texts)
        })?;
        progress_dict(py, &progress)
    }

    /// Drops up to `count` records that the resumed shards already hold; returns how many.
    fn skip_records(&self, py: Python<'_>, count: u64) -> PyResult<u64> {
        self.with_run(py, |run| Ok(run.skip_records(count)))
    }

    /// Records still to drop before new documents start (a resumed run).
    fn records_to_skip(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_run(py, |run| Ok(run.records_to_skip()))
    }

    /// The counts so far.
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let progress = self.with_run(py, |run| Ok(run.progress()))?;
        progress_dict(py, &progress)
    }

    /// Completes the run and returns its totals.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let totals = py.detach(|| {
            let run = inner.lock().unwrap_or_else(|p| p.into_inner()).take();
            match run {
                Some(run) => guard(|| run.finish()).map_err(PyErr::from),
                None => Err(finished()),
            }
        })?;
        totals_dict(py, &totals)
    }

    /// Abandons the run: the partial shard is removed; complete shards stay for a resume.
    fn abort(&self, py: Python<'_>) {
        let inner = &self.inner;
        py.detach(|| {
            let run = inner.lock().unwrap_or_else(|p| p.into_inner()).take();
            drop(run);
        });
    }
}
