"""Reading token shards: `TokenDataset` memory-maps what `ferrotok.prepare` wrote.

>>> import ferrotok, tempfile, os
>>> out = os.path.join(tempfile.mkdtemp(), "train")
>>> _ = ferrotok.prepare(iter(["one two three", "four"]), "o200k_base", out, progress=False)
>>> data = ferrotok.TokenDataset(out)
>>> len(data), data.num_tokens, data[1].tolist()
(2, 6, [61745, 199999])
>>> windows = data.windows(3)            # fixed-length training windows over all tokens
>>> len(windows), windows[0].tolist()
(2, [690, 1920, 3407])

It reads the three formats (`megatron`, `bin`, `npy`), sharded or not, through the manifest
`PREFIX.json`; a Megatron `.bin`/`.idx` pair written by another tool opens too.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ferrotok import _native

__all__ = ["TokenDataset", "TokenWindows"]

_MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
# Megatron's dtype codes (megatron/core/datasets/indexed_dataset.py, `DType`).
_MEGATRON_DTYPES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.float32,
    8: np.uint16,
}


def _invalid(message: str) -> _native.InvalidInputError:
    return _native.InvalidInputError(message)


def _read_megatron(base: str) -> tuple[np.ndarray, npt.NDArray[np.int64]]:
    """A Megatron shard's tokens (memory-mapped) and document boundaries in tokens."""
    index_path = base + ".idx"
    with open(index_path, "rb") as index:
        header = index.read(34)
    if len(header) < 34 or header[:9] != _MEGATRON_MAGIC:
        raise _invalid(f"{index_path}: not a Megatron index (bad header)")
    version, code, sequences, documents = struct.unpack("<QBQQ", header[9:34])
    if version != 1 or code not in _MEGATRON_DTYPES:
        raise _invalid(f"{index_path}: unsupported version {version} or dtype code {code}")
    dtype = np.dtype(_MEGATRON_DTYPES[code])
    index_map = np.memmap(index_path, dtype=np.uint8, mode="r")
    lengths = np.frombuffer(index_map, np.int32, sequences, 34)
    pointers = np.frombuffer(index_map, np.int64, sequences, 34 + lengths.nbytes)
    document_index = np.frombuffer(
        index_map, np.int64, documents, 34 + lengths.nbytes + pointers.nbytes
    )
    tokens = _memmap_tokens(base + ".bin", dtype, 0)
    # Sequences lie back to back in `.bin`; a document is a run of them (one, as prepare writes).
    starts = np.append(pointers // dtype.itemsize, len(tokens)).astype(np.int64)
    bounds = starts[document_index] if len(document_index) else np.zeros(1, np.int64)
    return tokens, bounds


def _memmap_tokens(path: str, dtype: np.dtype[Any], offset: int) -> np.ndarray:
    size = os.path.getsize(path) - offset
    if size % dtype.itemsize:
        raise _invalid(f"{path}: size is not a whole number of {dtype} tokens")
    if size == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset)


def _read_bounds(path: str) -> npt.NDArray[np.int64]:
    bounds = np.load(path, mmap_mode="r")
    if bounds.ndim != 1 or bounds.dtype != np.int64 or len(bounds) == 0 or bounds[0] != 0:
        raise _invalid(f"{path}: not a document-boundary array")
    return bounds


def _read_shard(base: str, format: str, dtype: str | None) -> tuple[np.ndarray, np.ndarray]:
    if format == "megatron":
        return _read_megatron(base)
    bounds = _read_bounds(base + ".docs.npy")
    if format == "npy":
        tokens = np.load(base + ".npy", mmap_mode="r")
    else:
        if dtype is None:
            raise _invalid(f"{base}.bin: the token dtype is unknown; pass dtype=")
        tokens = _memmap_tokens(base + ".bin", np.dtype(dtype), 0)
    if bounds[-1] != len(tokens):
        raise _invalid(f"{base}: the document boundaries do not match the tokens")
    return tokens, bounds


def _position(index: int, count: int, what: str) -> int:
    """`index` (negative from the end) as a position in `0..count`, or IndexError."""
    position = int(index)
    if position < 0:
        position += count
    if not 0 <= position < count:
        raise IndexError(f"{what} {index} out of range ({count} {what}s)")
    return position


def _strip_suffix(prefix: str) -> str:
    for suffix in (".docs.npy", ".json", ".idx", ".bin", ".npy"):
        if prefix.endswith(suffix):
            return prefix[: -len(suffix)]
    return prefix


class TokenDataset(Sequence[np.ndarray]):
    """The documents of a prepared dataset, memory-mapped: `len()`, `[i]`, tokens, windows.

    `TokenDataset(prefix)` opens what `ferrotok.prepare(..., output=prefix)` wrote, in any
    format, sharded or not. `[i]` is document `i`'s tokens as a read-only numpy view;
    `.tokens` the whole token stream of a single-shard dataset; `.windows(n)` fixed-length
    training windows.
    """

    def __init__(self, prefix: str | os.PathLike[str], dtype: str | None = None) -> None:
        prefix = _strip_suffix(os.fspath(prefix))
        self.prefix = prefix
        manifest_path = Path(prefix + ".json")
        self._shards: list[tuple[np.ndarray, np.ndarray]] = []
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                shard_names = [shard["name"] for shard in manifest["shards"]]
                self.format: str = manifest["format"]
                stored = manifest["dtype"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise _invalid(f"{manifest_path}: unreadable manifest ({error})") from None
            if not manifest.get("complete"):
                raise _invalid(
                    f"{manifest_path}: the run is incomplete ({len(shard_names)} complete "
                    "shards); finish it with prepare(..., resume=True)"
                )
            directory = os.path.dirname(prefix)
            for name in shard_names:
                self._shards.append(_read_shard(os.path.join(directory, name), self.format, stored))
        elif os.path.isfile(prefix + ".idx"):
            self.format = "megatron"
            self._shards.append(_read_megatron(prefix))
        elif os.path.isfile(prefix + ".npy") and os.path.isfile(prefix + ".docs.npy"):
            self.format = "npy"
            self._shards.append(_read_shard(prefix, "npy", None))
        elif os.path.isfile(prefix + ".bin") and os.path.isfile(prefix + ".docs.npy"):
            self.format = "bin"
            self._shards.append(_read_shard(prefix, "bin", dtype))
        else:
            raise _invalid(f"{prefix}: no prepared dataset here (no {prefix}.json or .idx)")
        documents = [len(bounds) - 1 for _, bounds in self._shards]
        self._first_document = np.cumsum([0, *documents])
        token_counts = [int(bounds[-1]) for _, bounds in self._shards]
        self._first_token = np.cumsum([0, *token_counts])

    @property
    def dtype(self) -> np.dtype[Any]:
        """The token type on disk."""
        return self._shards[0][0].dtype if self._shards else np.dtype(np.uint16)

    @property
    def num_tokens(self) -> int:
        """Tokens in all documents."""
        return int(self._first_token[-1])

    @property
    def num_shards(self) -> int:
        """Shards (files) the dataset is made of."""
        return len(self._shards)

    @property
    def tokens(self) -> np.ndarray:
        """All tokens as one array: a memory-mapped view for one shard, a copy for several."""
        if len(self._shards) == 1:
            tokens, bounds = self._shards[0]
            return tokens[: int(bounds[-1])]
        return np.concatenate([tokens[: int(bounds[-1])] for tokens, bounds in self._shards])

    def __len__(self) -> int:
        return int(self._first_document[-1])

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = _position(index, len(self), "document")
        shard = int(np.searchsorted(self._first_document, position, side="right")) - 1
        tokens, bounds = self._shards[shard]
        local = position - int(self._first_document[shard])
        return tokens[int(bounds[local]) : int(bounds[local + 1])]

    def __iter__(self) -> Iterator[np.ndarray]:
        for tokens, bounds in self._shards:
            for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=False):
                yield tokens[start:end]

    def __repr__(self) -> str:
        return (
            f"<TokenDataset {self.prefix!r}: {len(self):,} documents, "
            f"{self.num_tokens:,} tokens, {self.format}, {self.dtype}, {self.num_shards} shards>"
        )

    def token_slice(self, start: int, stop: int) -> np.ndarray:
        """Tokens `start:stop` of the whole stream (across documents and shards)."""
        if not 0 <= start <= stop <= self.num_tokens:
            raise IndexError(f"tokens {start}:{stop} out of range ({self.num_tokens} tokens)")
        parts = []
        shard = int(np.searchsorted(self._first_token, start, side="right")) - 1
        while start < stop:
            tokens, _ = self._shards[shard]
            base = int(self._first_token[shard])
            end = min(stop, int(self._first_token[shard + 1]))
            parts.append(tokens[start - base : end - base])
            start = end
            shard += 1
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)

    def windows(self, length: int, stride: int | None = None) -> TokenWindows:
        """Fixed-length windows over the token stream (documents end with EOS, so a window may
        span documents, as GPT pre-training does): window `j` is tokens
        `j * stride : j * stride + length`. For inputs and next-token targets, ask for
        `length = context + 1` and split each window. `stride` defaults to `length`."""
        return TokenWindows(self, length, stride if stride is not None else length)


class TokenWindows(Sequence[np.ndarray]):
    """Fixed-length token windows: a map-style dataset for a training loop or a torch
    `DataLoader`. Items are int64 arrays (what embedding layers take)."""

    def __init__(self, dataset: TokenDataset, length: int, stride: int) -> None:
        if length <= 0 or stride <= 0:
            raise ValueError("window length and stride must be positive")
        self.dataset = dataset
        self.length = length
        self.stride = stride
        total = dataset.num_tokens
        self._count = 0 if total < length else (total - length) // stride + 1

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = _position(index, self._count, "window")
        start = position * self.stride
        return self.dataset.token_slice(start, start + self.length).astype(np.int64)

    def sample(self, batch_size: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """A `(batch_size, length)` int64 batch of windows at random token positions (not only
        multiples of the stride), as nanoGPT's `get_batch` draws them."""
        generator = np.random.default_rng(rng)
        limit = self.dataset.num_tokens - self.length
        if limit < 0:
            raise ValueError(f"the dataset has fewer than {self.length} tokens")
        starts = generator.integers(0, limit + 1, size=batch_size)
        return np.stack(
            [self.dataset.token_slice(int(s), int(s) + self.length) for s in starts]
        ).astype(np.int64)
