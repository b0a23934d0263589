"""The result of `Tokenizer.encode_batch_numpy`: many documents' ids in two flat numpy arrays.

Returning one `list[int]` per document costs a Python int object per token, which is slower than
the tokenization itself. An `EncodedBatch` is instead built in Rust as one flat `uint32` array of
every token id plus an `int64` array of document boundaries (the CSR layout): document `i` is
`ids[offsets[i]:offsets[i + 1]]`. Indexing and iteration give numpy views, not copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import SupportsIndex, overload

import numpy as np
import numpy.typing as npt

__all__ = ["EncodedBatch"]


class EncodedBatch:
    """Token ids of a batch of documents, as a flat `ids` array plus document `offsets`.

    Attributes:
        ids: every token id of every document, in order (`numpy.uint32`, one dimension).
        offsets: document boundaries (`numpy.int64`, length `len(batch) + 1`, starting at 0);
            document `i` is `ids[offsets[i]:offsets[i + 1]]`.

    >>> import ferrotok
    >>> tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    >>> batch = tok.encode_batch_numpy(["Hello, world!", "", "hello world"])
    >>> len(batch)
    3
    >>> batch.ids.dtype, batch.offsets.dtype
    (dtype('uint32'), dtype('int64'))
    >>> batch.offsets.tolist()
    [0, 4, 4, 6]
    >>> batch[2].tolist()
    [24912, 2375]
    >>> batch.tolist()
    [[13225, 11, 2375, 0], [], [24912, 2375]]
    >>> batch.lengths.tolist()
    [4, 0, 2]
    """

    __slots__ = ("ids", "offsets")

    ids: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]

    def __init__(self, ids: npt.ArrayLike, offsets: npt.ArrayLike) -> None:
        """Wraps `ids` and `offsets` (converted to `uint32`/`int64` without copying if they are)."""
        ids_array = np.asarray(ids, dtype=np.uint32)
        offsets_array = np.asarray(offsets, dtype=np.int64)
        if ids_array.ndim != 1 or offsets_array.ndim != 1:
            raise ValueError("EncodedBatch: ids and offsets must be one-dimensional arrays")
        if len(offsets_array) == 0 or offsets_array[0] != 0:
            raise ValueError("EncodedBatch: offsets must start with 0")
        if offsets_array[-1] != len(ids_array):
            raise ValueError(
                f"EncodedBatch: the last offset ({offsets_array[-1]}) must equal "
                f"the number of ids ({len(ids_array)})"
            )
        self.ids = ids_array
        self.offsets = offsets_array

    @classmethod
    def from_lists(cls, documents: list[list[int]]) -> EncodedBatch:
        """Builds a batch from one list of ids per document.

        >>> EncodedBatch.from_lists([[1, 2], [], [3]]).offsets.tolist()
        [0, 2, 2, 3]
        """
        lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=len(documents))
        offsets = np.zeros(len(documents) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.fromiter(
            (token for doc in documents for token in doc), dtype=np.uint32, count=int(offsets[-1])
        )
        return cls(ids, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: SupportsIndex) -> npt.NDArray[np.uint32]: ...

    @overload
    def __getitem__(self, index: slice) -> EncodedBatch: ...

    def __getitem__(self, index: SupportsIndex | slice) -> npt.NDArray[np.uint32] | EncodedBatch:
        """`batch[i]` is a view of document `i`'s ids; `batch[a:b]` is a smaller `EncodedBatch`."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                stop = max(start, stop)
                first = self.offsets[start]
                return EncodedBatch(
                    self.ids[first : self.offsets[stop]], self.offsets[start : stop + 1] - first
                )
            return EncodedBatch.from_lists([self[i].tolist() for i in range(start, stop, step)])
        n = len(self)
        position = index.__index__()
        if position < 0:
            position += n
        if not 0 <= position < n:
            raise IndexError(f"document index {index} out of range for a batch of {n}")
        return self.ids[self.offsets[position] : self.offsets[position + 1]]

    def __iter__(self) -> Iterator[npt.NDArray[np.uint32]]:
        ids = self.ids
        bounds = self.offsets.tolist()
        for start, stop in zip(bounds, bounds[1:], strict=False):
            yield ids[start:stop]

    def __repr__(self) -> str:
        return f"EncodedBatch(documents={len(self)}, tokens={len(self.ids)})"

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        """The number of tokens of each document (`numpy.int64`, length `len(batch)`)."""
        return np.diff(self.offsets)

    def tolist(self) -> list[list[int]]:
        """One Python list of ids per document, like `Tokenizer.encode_batch` returns."""
        flat = self.ids.tolist()
        bounds = self.offsets.tolist()
        return [flat[start:stop] for start, stop in zip(bounds, bounds[1:], strict=False)]

    def to_padded(
        self, pad_id: int = 0, length: int | None = None
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
        """A `(len(batch), length)` matrix of ids padded on the right with `pad_id`, and its mask.

        `length` defaults to the longest document; longer documents are truncated to it. The
        mask is `True` where the matrix holds a real token.

        >>> matrix, mask = EncodedBatch.from_lists([[5, 6, 7], [8]]).to_padded(pad_id=0)
        >>> matrix.tolist()
        [[5, 6, 7], [8, 0, 0]]
        >>> mask.astype(int).tolist()
        [[1, 1, 1], [1, 0, 0]]
        """
        lengths = self.lengths
        if length is None:
            length = int(lengths.max()) if len(lengths) else 0
        if length < 0:
            raise ValueError(f"to_padded: length must be >= 0, got {length}")
        columns = np.arange(length, dtype=np.int64)
        mask = columns[None, :] < lengths[:, None]
        matrix = np.full((len(self), length), pad_id, dtype=np.uint32)
        matrix[mask] = self.ids[(self.offsets[:-1, None] + columns[None, :])[mask]]
        return matrix, mask
