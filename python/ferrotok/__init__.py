"""ferrotok: exact, fast tokenization for language models.

ferrotok loads Hugging Face `tokenizer.json` files and OpenAI `.tiktoken` rank files and gives
exactly the token ids of `tokenizers` and `tiktoken`, several times faster.

>>> import ferrotok
>>> enc = ferrotok.get_encoding("o200k_base")      # tiktoken's API, built in, offline
>>> enc.encode("Hello, world!")
[13225, 11, 2375, 0]
>>> tok = ferrotok.Tokenizer.from_builtin("o200k_base")  # or Tokenizer.from_file("tokenizer.json")
>>> tok.encode_batch_numpy(["Hello, world!", "hello world"]).tolist()
[[13225, 11, 2375, 0], [24912, 2375]]

Every error is a `ferrotok.TokenizerError`, a `ValueError`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ferrotok._native import (
    DisallowedSpecialTokenError,
    InvalidInputError,
    InvalidUtf8Error,
    TokenizerError,
    TokenizerFileError,
    UnknownTokenIdError,
    UnsupportedComponentError,
)
from ferrotok.batch import EncodedBatch
from ferrotok.encoding import (
    Encoding,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
    list_encoding_names,
)
from ferrotok.tokenizer import Tokenizer

if TYPE_CHECKING:
    from ferrotok.dataset import TokenDataset, TokenWindows
    from ferrotok.preparation import PrepareSummary, batched_tokenize, prepare

# Training-data preparation is imported on first use: its two modules doubled the time of
# `import ferrotok` (about 45 ms) for every user, most of whom only tokenize.
_LAZY = {
    "PrepareSummary": "ferrotok.preparation",
    "batched_tokenize": "ferrotok.preparation",
    "prepare": "ferrotok.preparation",
    "TokenDataset": "ferrotok.dataset",
    "TokenWindows": "ferrotok.dataset",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    # `__version__` is read from the installed metadata on first use: importing
    # importlib.metadata costs more than the rest of `import ferrotok` without numpy.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("ferrotok")
        except PackageNotFoundError:  # pragma: no cover - a source tree, not installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'ferrotok' has no attribute {name!r}")


__all__ = [
    "DisallowedSpecialTokenError",
    "EncodedBatch",
    "Encoding",
    "InvalidInputError",
    "InvalidUtf8Error",
    "PrepareSummary",
    "TokenDataset",
    "TokenWindows",
    "Tokenizer",
    "TokenizerError",
    "TokenizerFileError",
    "UnknownTokenIdError",
    "UnsupportedComponentError",
    "__version__",
    "batched_tokenize",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
    "prepare",
]
