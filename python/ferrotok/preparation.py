"""Training-data preparation: a corpus in, token shards out, in one call.

>>> import ferrotok, tempfile, os
>>> out = os.path.join(tempfile.mkdtemp(), "train")
>>> summary = ferrotok.prepare(iter(["Hello, world!", "Bonjour"]), tokenizer="o200k_base",
...                            output=out, format="bin", progress=False)
>>> summary.documents, summary.tokens
(2, 7)
>>> ferrotok.TokenDataset(out)[0].tolist()          # each document ends with <|endoftext|>
[13225, 11, 2375, 0, 199999]

The work happens in the Rust core (`src/prepare/`): a reader thread decompresses and parses the
files, the batch is encoded on every core, and a writer thread writes the shards; this module
resolves the inputs and the tokenizer, shows progress, decides about resuming, and turns Ctrl-C
into a clean stop (the shard being written is removed; complete shards stay for `resume=True`).
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

from ferrotok import _native
from ferrotok.encoding import Encoding, get_encoding, list_encoding_names
from ferrotok.tokenizer import Tokenizer

__all__ = ["PrepareSummary", "batched_tokenize", "prepare"]

TokenizerLike = Union[str, "os.PathLike[str]", Tokenizer, Encoding]
Format = Literal["megatron", "bin", "npy"]

#: Text handed to the core per batch: large enough to keep every core busy, small enough that a
#: Ctrl-C is answered within a fraction of a second and memory stays flat.
BATCH_BYTES = 8 * 1024 * 1024

#: End-of-text tokens, most specific first, looked up among a tokenizer's special tokens.
EOS_CANDIDATES = (
    "<|endoftext|>",
    "<|end_of_text|>",
    "</s>",
    "<eos>",
    "<|eos|>",
    "<|im_end|>",
    "[SEP]",
)
#: Beginning-of-text tokens, for `bos=True`.
BOS_CANDIDATES = ("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "[CLS]")

_TEXT_SUFFIXES = {".txt", ".text", ".md"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_COMPRESSION_SUFFIXES = {".gz", ".zst", ".zstd"}
_KNOWN_SUFFIXES = _TEXT_SUFFIXES | _JSONL_SUFFIXES | {".parquet"}


@dataclass(frozen=True)
class PrepareSummary:
    """What a `prepare` run wrote."""

    output: str
    format: str
    dtype: str
    documents: int
    tokens: int
    text_bytes: int
    records: int
    empty_skipped: int
    bad_skipped: int
    shards: int
    resumed_shards: int
    seconds: float

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes of text per token (of this run's new documents)."""
        new_tokens = self.tokens if self.resumed_shards == 0 else 0
        return self.text_bytes / new_tokens if new_tokens else float("nan")

    def __str__(self) -> str:
        parts = [
            f"{self.documents:,} documents, {self.tokens:,} tokens",
            f"in {self.shards} shard{'s' if self.shards != 1 else ''} "
            f"({self.format}, {self.dtype}) at {self.output}",
        ]
        if self.text_bytes and self.resumed_shards == 0:
            parts.append(f"{self.bytes_per_token:.2f} bytes/token")
        skipped = []
        if self.empty_skipped:
            skipped.append(f"{self.empty_skipped:,} empty")
        if self.bad_skipped:
            skipped.append(f"{self.bad_skipped:,} malformed")
        if skipped:
            parts.append("skipped " + " and ".join(skipped))
        if self.resumed_shards:
            parts.append(f"resumed after {self.resumed_shards} complete shards")
        parts.append(f"{self.seconds:.1f} s")
        return "prepared " + "; ".join(parts)


# ---------------------------------------------------------------------------- tokenizer


def _resolve_tokenizer(tokenizer: TokenizerLike) -> tuple[_native.Tokenizer, str]:
    """The native tokenizer and a name for the manifest."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer._native, tokenizer._builtin_name or repr(tokenizer)
    if isinstance(tokenizer, Encoding):
        return tokenizer._native, tokenizer.name
    name = os.fspath(tokenizer)
    if name in list_encoding_names():
        return get_encoding(name)._native, name
    path = Path(name)
    if path.is_dir() and (path / "tokenizer.json").is_file():
        path = path / "tokenizer.json"
    if path.suffix == ".tiktoken" and path.is_file():
        return Tokenizer.from_tiktoken(path)._native, str(path.resolve())
    if path.is_file():
        return Tokenizer.from_file(path)._native, str(path.resolve())
    raise _native.TokenizerFileError(
        f"{name}: not a built-in encoding ({', '.join(list_encoding_names())}) "
        "nor a tokenizer.json, .tiktoken file or directory holding a tokenizer.json"
    )


def _special_id(
    native: _native.Tokenizer, requested: bool | str | None, candidates: Sequence[str], what: str
) -> int | None:
    """The id of the BOS / EOS token: `False`/`None` none, `True` the tokenizer's own, a string
    that token."""
    if requested is None or requested is False:
        return None
    if isinstance(requested, str):
        token_id = native.token_to_id(requested)
        if token_id is None:
            raise _native.TokenizerError(f"the {what} token {requested!r} is not in the vocabulary")
        return token_id
    specials = native.special_tokens()
    for candidate in candidates:
        if candidate in specials:
            return specials[candidate]
    raise _native.TokenizerError(
        f"this tokenizer has no known {what} token (looked for {', '.join(candidates)}); "
        f"name one (eos=/bos=, --eos/--bos TOKEN) or turn it off"
    )


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Files:
    """Consecutive text / JSON Lines files, read by the core."""

    files: list[tuple[str, str, str | None]]
    size: int


@dataclass(frozen=True)
class _Parquet:
    path: str
    size: int


@dataclass(frozen=True)
class _Documents:
    """Documents from Python: an Arrow array or table, a `datasets` dataset, an iterable."""

    source: Any
    description: str


_Source = _Files | _Parquet | _Documents


def _is_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike))


def _expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files, directories (recursively, known extensions only) and globs, each group sorted."""
    found: list[Path] = []
    for entry in paths:
        text = os.fspath(entry)
        path = Path(text)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _data_suffix(p))
            if not files:
                raise _native.InvalidInputError(f"{text}: the directory holds no input files")
            found.extend(files)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise _native.InvalidInputError(f"{text}: no file matches")
            found.extend(files)
        else:
            raise _native.InvalidInputError(f"{text}: no such file or directory")
    return found


def _data_suffix(path: Path) -> str | None:
    """The data suffix under any compression suffix (`a.jsonl.gz` → `.jsonl`), if known."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in _KNOWN_SUFFIXES:
        return suffixes[-1]
    return None


def _file_kind(path: Path, input_format: str) -> str:
    if input_format != "auto":
        return input_format
    suffix = _data_suffix(path)
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    return "text"


def _sources(
    inputs: Any, field: str, separator: str | None, input_format: str
) -> tuple[list[_Source], list[str]]:
    """The inputs as sources in order, and their descriptions for the manifest."""
    if input_format not in ("auto", "text", "jsonl", "parquet"):
        raise _native.TokenizerError(
            f"unknown input_format {input_format!r} (expected auto, text, jsonl or parquet)"
        )
    if _is_path(inputs):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and all(_is_path(i) for i in inputs):
        sources: list[_Source] = []
        described: list[str] = []
        for path in _expand_paths(inputs):
            kind = _file_kind(path, input_format)
            size = path.stat().st_size
            described.append(f"{kind}:{path.resolve()}:{size}")
            if kind == "parquet":
                if path.suffix.lower() in _COMPRESSION_SUFFIXES:
                    raise _native.InvalidInputError(
                        f"{path}: a Parquet file compresses itself; decompress it first"
                    )
                sources.append(_Parquet(str(path), size))
                continue
            argument = field if kind == "jsonl" else separator
            entry = (str(path), kind, argument)
            last = sources[-1] if sources else None
            if isinstance(last, _Files):
                sources[-1] = _Files([*last.files, entry], last.size + size)
            else:
                sources.append(_Files([entry], size))
        return sources, described
    if isinstance(inputs, (list, tuple)) and not inputs:
        raise _native.InvalidInputError("no inputs were given")
    # Documents from Python cannot be identified; a resumed run trusts the caller to give the
    # same ones again (the manifest only records that they came from Python).
    description = f"documents from a {type(inputs).__name__}"
    return [_Documents(inputs, description)], ["python"]


def _arrow_texts(array: Any) -> list[str]:
    """A string Arrow array as Python strings (a null is an empty document)."""
    return ["" if text is None else text for text in array.to_pylist()]


def _column(table: Any, field: str, where: str) -> Any:
    names = list(table.column_names)
    if field not in names:
        raise _native.InvalidInputError(
            f"{where}: no column {field!r} (columns: {', '.join(names) or 'none'})"
        )
    return table.column(field)


def _document_batches(source: Any, field: str, description: str) -> Iterator[list[str]]:
    """Lists of documents from an Arrow array/table, a `datasets` dataset or an iterable."""
    module = type(source).__module__
    if module.startswith("pyarrow"):
        if hasattr(source, "column_names"):  # Table or RecordBatch
            source = _column(source, field, description)
        chunks = source.chunks if hasattr(source, "chunks") else [source]
        for chunk in chunks:
            for start in range(0, len(chunk), 4096):
                yield _arrow_texts(chunk.slice(start, 4096))
        return
    if module.startswith("datasets") and hasattr(source, "column_names"):
        names = list(source.column_names or [])
        if names and field not in names:
            raise _native.InvalidInputError(
                f"{description}: no column {field!r} (columns: {', '.join(names)})"
            )
        if hasattr(source, "with_format") and hasattr(source, "__len__"):
            for table in source.with_format("arrow").iter(batch_size=4096):
                yield _arrow_texts(table.column(field))
        else:  # an IterableDataset: batches of Python values
            for rows in source.iter(batch_size=4096):
                yield ["" if text is None else text for text in rows[field]]
        return
    if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
        raise _native.InvalidInputError(
            f"cannot read documents from {type(source).__name__}: give paths, an Arrow array or "
            "table, a datasets Dataset or column, or an iterable of strings"
        )
    # Batches of about BATCH_BYTES: documents can be large, and memory must stay bounded.
    batch: list[str] = []
    size = 0
    for text in source:
        if not isinstance(text, str):
            raise _native.InvalidInputError(f"documents must be strings, got {type(text).__name__}")
        batch.append(text)
        size += len(text)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _parquet_batches(path: str, field: str) -> Iterator[list[str]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the environment
        raise _native.InvalidInputError(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow)"
        ) from None
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    if field not in names:
        raise _native.InvalidInputError(
            f"{path}: no column {field!r} (columns: {', '.join(names) or 'none'})"
        )
    for batch in parquet.iter_batches(batch_size=4096, columns=[field]):
        yield _arrow_texts(batch.column(0))


# ---------------------------------------------------------------------------- progress


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ipython = shell.get_ipython()  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - a broken IPython
        return False
    return ipython is not None and hasattr(ipython, "kernel")


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    return f"{count:.1f} TB"  # pragma: no cover


def _count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{int(value)}"


class _ProgressBar:
    """One status line (bytes, documents, tokens, MB/s, ETA) on a terminal or in a notebook."""

    def __init__(self, enabled: bool, total_bytes: int | None) -> None:
        self.total = total_bytes
        self.start = time.monotonic()
        self.last = 0.0
        self.mode: str | None = None
        self.handle: Any = None
        if not enabled:
            return
        if _in_notebook():
            self.mode = "notebook"
        elif sys.stderr is not None and sys.stderr.isatty():
            self.mode = "terminal"

    def line(self, done_bytes: int, progress: Mapping[str, int]) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = progress["text_bytes"] / elapsed
        parts = []
        if self.total:
            fraction = min(done_bytes / self.total, 1.0)
            parts.append(f"{fraction:6.1%} of {_size(self.total)}")
        else:
            parts.append(_size(progress["text_bytes"]))
        parts.append(f"{progress['documents']:,} docs")
        parts.append(f"{_count(progress['tokens'])} tokens")
        parts.append(f"{rate / 1e6:.1f} MB/s")
        if self.total and done_bytes:
            remaining = elapsed * (self.total - done_bytes) / done_bytes
            parts.append(f"ETA {int(remaining) // 60}:{int(remaining) % 60:02d}")
        return "prepare: " + " | ".join(parts)

    def update(self, done_bytes: int, progress: Mapping[str, int], force: bool = False) -> None:
        if self.mode is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        text = self.line(done_bytes, progress)
        if self.mode == "terminal":
            sys.stderr.write("\r\x1b[2K" + text)
            sys.stderr.flush()
        else:
            from IPython.display import display  # type: ignore[import-not-found]

            if self.handle is None:
                self.handle = display({"text/plain": text}, raw=True, display_id=True)
            else:
                self.handle.update({"text/plain": text}, raw=True)

    def close(self) -> None:
        if self.mode == "terminal":
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------- prepare


def _manifest_path(output: str) -> Path:
    return Path(output + ".json")


def _read_manifest(output: str) -> dict[str, Any] | None:
    path = _manifest_path(output)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _native.InvalidInputError(f"{path}: unreadable manifest: {error}") from None
    if not isinstance(manifest, dict) or "shards" not in manifest:
        raise _native.InvalidInputError(f"{path}: not a ferrotok prepare manifest")
    return manifest


def prepare(
    inputs: Any,
    tokenizer: TokenizerLike = "o200k_base",
    output: str | os.PathLike[str] = "tokens",
    format: Format = "megatron",
    *,
    field: str = "text",
    separator: str | None = None,
    input_format: Literal["auto", "text", "jsonl", "parquet"] = "auto",
    append_eos: bool = True,
    eos: str | None = None,
    bos: bool | str = False,
    dtype: Literal["uint16", "uint32"] | None = None,
    shard_tokens: int | None = None,
    errors: Literal["strict", "replace"] = "strict",
    skip_bad_lines: bool = False,
    num_threads: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> PrepareSummary:
    """Tokenizes a corpus into training shards on disk; returns what was written.

    Args:
        inputs: paths (a path, or a list or tuple of them: files, directories, globs), read in
            order: plain text (`.txt` and anything unknown), JSON Lines (`.jsonl`, `.ndjson`,
            `.json`) and Parquet (`.parquet`), each text format also `.gz` or `.zst`. Or
            documents from Python: a pyarrow Array, ChunkedArray or Table, a `datasets`
            Dataset (or IterableDataset, or a column), or any other iterable of strings.
            A list of strings is a list of paths; pass documents as e.g. `iter(texts)`.
        tokenizer: a built-in encoding name, a tokenizer.json or .tiktoken path, or a
            `Tokenizer` / `Encoding`.
        output: the output prefix: `PREFIX.bin` + `PREFIX.idx` (megatron), `PREFIX.bin` +
            `PREFIX.docs.npy` (bin) or `PREFIX.npy` + `PREFIX.docs.npy` (npy), and the manifest
            `PREFIX.json`; with `shard_tokens`, shards `PREFIX-00000...`.
        format: "megatron" (Megatron-LM / NeMo indexed dataset), "bin" (nanoGPT) or "npy".
        field: the JSON Lines key (dotted for nested objects), Parquet or table column.
        separator: plain text only: the string between documents (e.g. "\\n\\n"); by default
            each file is one document.
        input_format: force the reading of files instead of going by their extension.
        append_eos: end every document with the end-of-text token.
        eos: that token's text, if the tokenizer's own is not found or not wanted.
        bos: start every document with the tokenizer's beginning-of-text token (True) or with
            the token given as text.
        dtype: the token type on disk; by default the smallest that holds the vocabulary.
        shard_tokens: start a new shard once one holds this many tokens (after a whole document).
        errors: invalid UTF-8: "strict" raises `InvalidUtf8Error` naming the file and byte
            offset; "replace" substitutes U+FFFD.
        skip_bad_lines: skip and count malformed JSON lines (or lines without the field)
            instead of raising `InvalidInputError` naming the file and line.
        num_threads: encoding threads (default: `FERROTOK_NUM_THREADS`, else all cores). The
            output is the same, byte for byte, for any number.
        resume: continue an interrupted run with the same settings after its last complete
            shard (sharded runs; an unsharded run starts over). A complete run is not redone.
        progress: show a progress line on a terminal or in a notebook.

    Special-token text inside documents (e.g. "<|endoftext|>") is encoded as text. Empty
    documents are skipped and counted. Files are written under temporary names and renamed
    when complete; Ctrl-C removes the shard being written.
    """
    started = time.monotonic()
    output = os.fspath(output)
    native, tokenizer_name = _resolve_tokenizer(tokenizer)
    eos_id = _special_id(native, eos if eos is not None else append_eos, EOS_CANDIDATES, "EOS")
    if not append_eos:
        eos_id = None
    bos_id = _special_id(native, bos, BOS_CANDIDATES, "BOS")
    if dtype is None:
        dtype = "uint16" if native.max_token_id <= 0xFFFF else "uint32"
    sources, described = _sources(inputs, field, separator, input_format)
    settings = {
        "tokenizer": tokenizer_name,
        "vocab_size": native.vocab_size,
        "inputs": described,
        "input_format": input_format,
        "field": field,
        "separator": separator,
        "bos": bos_id,
        "eos": eos_id,
        "shard_tokens": shard_tokens,
        "errors": errors,
        "skip_bad_lines": skip_bad_lines,
    }

    resumed: list[dict[str, Any]] = []
    if resume:
        manifest = _read_manifest(output)
        if manifest is not None:
            differences = [
                key
                for key in sorted(set(settings) | set(manifest.get("settings", {})))
                if manifest.get("settings", {}).get(key) != settings.get(key)
            ]
            for key, value in (("format", format), ("dtype", _stored_dtype(format, dtype))):
                if manifest.get(key) != value:
                    differences.append(key)
            if differences:
                raise _native.TokenizerError(
                    f"{_manifest_path(output)}: cannot resume: the run had other settings "
                    f"({', '.join(differences)}); use the same ones, or resume=False to start over"
                )
            if manifest.get("complete"):
                return _summary_from_manifest(output, manifest, time.monotonic() - started)
            resumed = list(manifest["shards"]) if shard_tokens else []

    if not resumed:
        # A fresh run: the old manifest must not describe the shards this run replaces, and the
        # partial files of a killed run go (a resumed run replaces its own).
        _manifest_path(output).unlink(missing_ok=True)
        for stale in glob.glob(glob.escape(output) + "*.partial"):
            os.remove(stale)
    run = _native.Preparer(
        native,
        output,
        format,
        dtype,
        json.dumps(settings),
        shard_tokens=shard_tokens,
        bos=bos_id,
        eos=eos_id,
        num_threads=num_threads,
        resumed_json=json.dumps(resumed) if resumed else None,
    )
    total_bytes = sum(s.size for s in sources if not isinstance(s, _Documents)) or None
    bar = _ProgressBar(progress, total_bytes)
    done_bytes = 0
    current = run.progress()
    try:
        for source in sources:
            if isinstance(source, _Files):
                run.read_files(
                    source.files,
                    errors=errors,
                    skip_bad_lines=skip_bad_lines,
                    batch_bytes=BATCH_BYTES,
                )
                while (step := run.step()) is not None:
                    current = step
                    bar.update(done_bytes + step["input_bytes"], step)
                done_bytes += source.size
            else:
                batches = (
                    _parquet_batches(source.path, field)
                    if isinstance(source, _Parquet)
                    else _document_batches(source.source, field, source.description)
                )
                for texts in batches:
                    current = run.feed(texts)
                    bar.update(done_bytes, current)
                if isinstance(source, _Parquet):
                    done_bytes += source.size
        bar.update(done_bytes, current, force=True)
        totals = run.finish()
    except BaseException:
        run.abort()
        bar.close()
        raise
    bar.close()
    summary = PrepareSummary(
        output=output,
        format=format,
        dtype=_stored_dtype(format, dtype),
        documents=totals["documents"],
        tokens=totals["tokens"],
        text_bytes=current["text_bytes"],
        records=totals["records"],
        empty_skipped=totals["empty_skipped"],
        bad_skipped=totals["bad_skipped"],
        shards=totals["shards"],
        resumed_shards=len(resumed),
        seconds=time.monotonic() - started,
    )
    return summary


def _stored_dtype(format: str, dtype: str) -> str:
    # Megatron has no uint32 code: 4-byte tokens are stored as int32 there.
    return "int32" if format == "megatron" and dtype == "uint32" else dtype


def _summary_from_manifest(output: str, manifest: dict[str, Any], seconds: float) -> PrepareSummary:
    shards = manifest.get("shards", [])
    return PrepareSummary(
        output=output,
        format=manifest.get("format", "?"),
        dtype=manifest.get("dtype", "?"),
        documents=int(manifest.get("documents", 0)),
        tokens=int(manifest.get("tokens", 0)),
        text_bytes=0,
        records=int(manifest.get("records", 0)),
        empty_skipped=int(manifest.get("empty_skipped", 0)),
        bad_skipped=int(manifest.get("bad_skipped", 0)),
        shards=len(shards),
        resumed_shards=len(shards),
        seconds=seconds,
    )


# ---------------------------------------------------------------------------- datasets.map


def batched_tokenize(
    tokenizer: TokenizerLike = "o200k_base",
    *,
    column: str = "text",
    output_column: str = "input_ids",
    append_eos: bool = True,
    eos: str | None = None,
    bos: bool | str = False,
    num_threads: int | None = None,
) -> Callable[[Mapping[str, Sequence[Any]]], dict[str, list[npt.NDArray[np.uint32]]]]:
    """A function for `datasets.Dataset.map(..., batched=True)` that tokenizes a column.

    Each document becomes a numpy array of ids (uint32), encoded exactly as `prepare` writes it:
    BOS if asked, the text with special-token strings as text, EOS. All cores are used per batch.

    >>> fn = batched_tokenize("o200k_base")
    >>> [ids.tolist() for ids in fn({"text": ["Hello, world!", ""]})["input_ids"]]
    [[13225, 11, 2375, 0, 199999], [199999]]
    """
    native, _ = _resolve_tokenizer(tokenizer)
    eos_id = None
    if append_eos:
        eos_id = _special_id(native, eos if eos is not None else True, EOS_CANDIDATES, "EOS")
    bos_id = _special_id(native, bos, BOS_CANDIDATES, "BOS")

    def tokenize(batch: Mapping[str, Sequence[Any]]) -> dict[str, list[npt.NDArray[np.uint32]]]:
        if column not in batch:
            raise _native.InvalidInputError(
                f"no column {column!r} in the batch (columns: {', '.join(batch) or 'none'})"
            )
        texts = ["" if text is None else text for text in batch[column]]
        ids, offsets = native.encode_documents_numpy(texts, bos_id, eos_id, num_threads)
        return {output_column: np.split(ids, offsets[1:-1])}

    return tokenize
