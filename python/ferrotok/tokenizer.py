"""`Tokenizer`: a Hugging Face `tokenizer.json` (or a `.tiktoken` file) loaded into the Rust core.

The class is a thin, typed wrapper of `ferrotok._native.Tokenizer`: every method extracts its
arguments, runs the core without the GIL, and converts the result. It follows the semantics of
Hugging Face `tokenizers`: added and special tokens written in the text are matched, and
`add_special_tokens=True` applies the file's post-processor (e.g. a BOS token). For the
`tiktoken` semantics (special-token text raises unless allowed) use `ferrotok.get_encoding`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ferrotok import _native
from ferrotok._native import Encoding as RichEncoding
from ferrotok._native import Tokenizer as _NativeTokenizer
from ferrotok.batch import EncodedBatch
from ferrotok.batch_encoding import BatchEncoding, call

__all__ = ["Tokenizer"]


def _id_list(ids: Iterable[int]) -> Sequence[int]:
    """`ids` in a form the native module extracts: a list or tuple (numpy arrays via `tolist`)."""
    if isinstance(ids, (list, tuple)):
        return ids
    tolist = getattr(ids, "tolist", None)
    if tolist is not None:
        converted = tolist()
        if isinstance(converted, list):
            return converted
    return list(ids)


def _id_lists(batch: Iterable[Iterable[int]]) -> list[Sequence[int]]:
    """A batch of id sequences in a form the native module extracts."""
    if isinstance(batch, EncodedBatch):
        return list(batch.tolist())  # a new list of lists: nothing to convert
    return [_id_list(ids) for ids in batch]


def _text_list(texts: Iterable[str]) -> Sequence[str]:
    """`texts` as a list or tuple, so that generators and other iterables work too."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of strings, got a single str")
    if isinstance(texts, (list, tuple)):
        return texts
    return list(texts)


class Tokenizer:
    """A tokenizer with the semantics of Hugging Face `tokenizers`, several times faster.

    Load one with `Tokenizer.from_file` (a `tokenizer.json`), `Tokenizer.from_str`,
    `Tokenizer.from_tiktoken` (a `.tiktoken` rank file) or `Tokenizer.from_builtin` (an OpenAI
    encoding shipped with ferrotok, no download). A tokenizer is immutable and thread-safe:
    share one between threads, the work runs in parallel without the GIL.

    >>> tok = Tokenizer.from_builtin("o200k_base")
    >>> tok.encode("Hello, world!")
    [13225, 11, 2375, 0]
    >>> tok.decode([13225, 11, 2375, 0])
    'Hello, world!'
    >>> tok.count("Hello, world!")
    4
    """

    __slots__ = ("_native", "_builtin_name", "__weakref__")

    _native: _NativeTokenizer
    _builtin_name: str | None

    def __init__(self, native: _NativeTokenizer) -> None:
        """Wraps a native tokenizer; use the `from_*` constructors instead."""
        if not isinstance(native, _NativeTokenizer):
            raise TypeError(
                "Tokenizer() takes a native tokenizer; use Tokenizer.from_file, from_str, "
                "from_tiktoken or from_builtin"
            )
        self._native = native
        self._builtin_name = None

    # ---------------------------------------------------------------- loading

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Loads a Hugging Face `tokenizer.json` file.

        Raises `TokenizerFileError` if the file is unreadable or malformed (the message names
        the file and the JSON path) and `UnsupportedComponentError` for a component ferrotok
        does not implement.
        """
        return cls(_native.Tokenizer.from_file(os.fspath(path)))

    @classmethod
    def from_str(cls, json: str) -> Tokenizer:
        """Loads a tokenizer from the text of a `tokenizer.json` file."""
        return cls(_native.Tokenizer.from_str(json))

    @classmethod
    def from_tiktoken(
        cls,
        path: str | os.PathLike[str],
        pattern: str | None = None,
        special_tokens: dict[str, int] | None = None,
    ) -> Tokenizer:
        """Loads an OpenAI `.tiktoken` rank file (one `base64 rank` pair a line).

        `pattern` is the regex that splits text before BPE, and `special_tokens` maps special
        token strings to ids. If `pattern` is omitted and the file is named after a built-in
        encoding (e.g. `o200k_base.tiktoken`), that encoding's pattern is used, and its special
        tokens too when `special_tokens` is omitted.

        Raises `TokenizerFileError` naming the file and line for a malformed line.
        """
        if pattern is None:
            name = Path(os.fspath(path)).name
            stem = name[: -len(".tiktoken")] if name.endswith(".tiktoken") else name
            if stem not in _native.BUILTIN_ENCODINGS:
                raise _native.TokenizerError(
                    f"{os.fspath(path)}: pass pattern= (the regex that splits text before BPE); "
                    f"it can only be inferred for files named after a built-in encoding "
                    f"({', '.join(_native.BUILTIN_ENCODINGS)})"
                )
            pattern, builtin_specials, _ = _native.Tokenizer.builtin_info(stem)
            if special_tokens is None:
                special_tokens = builtin_specials
        return cls(_native.Tokenizer.from_tiktoken(os.fspath(path), pattern, special_tokens))

    @classmethod
    def from_builtin(cls, name: str) -> Tokenizer:
        """One of the OpenAI encodings shipped inside ferrotok (`ferrotok.list_encoding_names()`).

        Works offline. The tokenizer shares its tables with `ferrotok.get_encoding(name)`.

        >>> Tokenizer.from_builtin("o200k_base").vocab_size
        200000
        """
        from ferrotok.encoding import get_encoding

        tokenizer = cls(get_encoding(name)._native)
        tokenizer._builtin_name = name
        return tokenizer

    @classmethod
    def from_hf(cls, tokenizer: Any) -> Tokenizer:
        """Converts a live `tokenizers.Tokenizer` or a transformers fast tokenizer.

        Its current state (added tokens, padding and truncation settings) is carried over
        through its JSON form; nothing is downloaded.
        """
        backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
        to_str = getattr(backend, "to_str", None)
        if not callable(to_str):
            raise TypeError(
                "from_hf expects a tokenizers.Tokenizer or a transformers fast tokenizer, "
                f"got {type(tokenizer).__name__}"
            )
        return cls.from_str(to_str())

    # ---------------------------------------------------------------- encoding

    def encode(
        self, text: str, add_special_tokens: bool = True, *, num_threads: int | None = None
    ) -> list[int]:
        """The token ids of `text`.

        Added and special tokens written in the text are matched as tokens. With
        `add_special_tokens=True` the post-processor of the file runs (e.g. adds BOS).
        A long text (1 MB or more) is cut at line starts where no piece can cross them and its
        parts are encoded in parallel without the GIL (the same ids); `num_threads` as in
        `encode_batch`.
        A `str` holding lone surrogates is not Unicode text and raises `UnicodeEncodeError`
        (`tokenizers` refuses it too; `Encoding` repairs it the way tiktoken does).

        >>> tok = Tokenizer.from_builtin("o200k_base")
        >>> tok.encode("hello world")
        [24912, 2375]
        >>> tok.encode("Hello<|endoftext|>")
        [13225, 199999]
        """
        return self._native.encode(text, add_special_tokens, num_threads)

    def encode_batch(
        self,
        texts: Iterable[str],
        add_special_tokens: bool = True,
        *,
        num_threads: int | None = None,
    ) -> list[list[int]]:
        """The ids of each text, computed in parallel without the GIL.

        `num_threads=None` uses the environment variable `FERROTOK_NUM_THREADS` if set, else
        every core; small batches run on the calling thread.

        >>> Tokenizer.from_builtin("o200k_base").encode_batch(["hello world", "goodbye world"])
        [[24912, 2375], [30744, 43571, 2375]]
        """
        return self._native.encode_batch(_text_list(texts), add_special_tokens, num_threads)

    def encode_batch_numpy(
        self,
        texts: Iterable[str],
        add_special_tokens: bool = True,
        *,
        num_threads: int | None = None,
    ) -> EncodedBatch:
        """The ids of each text as one flat numpy array plus offsets (an `EncodedBatch`).

        The arrays are built in Rust, with no Python int per token: the fastest way to turn a
        corpus into training data. Document `i` is `batch[i]`, a view into `batch.ids`.

        >>> batch = Tokenizer.from_builtin("o200k_base").encode_batch_numpy(["hello world", ""])
        >>> batch.ids.tolist(), batch.offsets.tolist()
        ([24912, 2375], [0, 2, 2])
        """
        ids, offsets = self._native.encode_batch_numpy(
            _text_list(texts), add_special_tokens, num_threads
        )
        return EncodedBatch(ids, offsets)

    def __call__(
        self,
        text: str | Sequence[str],
        text_pair: str | Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        padding_side: str = "right",
        pad_id: int | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool = True,
        return_attention_mask: bool = True,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        num_threads: int | None = None,
    ) -> BatchEncoding:
        """Model inputs, as a transformers tokenizer call gives them.

        `text` is one text or a list (a batch); `text_pair` the second texts of pairs.
        `padding`: `True`/`"longest"` or `"max_length"`; `truncation`: `True` or a strategy
        (`"longest_first"`, `"only_first"`, `"only_second"`), on by default when `max_length`
        is given. `return_tensors="np"` gives int64 matrices built in Rust, `"pt"` torch
        tensors, `None` lists. The padding token is the file's, else a usual one of the
        vocabulary (`[PAD]`, `<pad>`, ...), else `pad_id`.

        >>> tok = Tokenizer.from_builtin("o200k_base")
        >>> batch = tok(["hello world", "hi"], padding=True, pad_id=0, return_tensors="np")
        >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
        ([[24912, 2375], [3686, 0]], [[1, 1], [1, 0]])
        """
        return call(
            self,
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            pad_id=pad_id,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_special_tokens_mask=return_special_tokens_mask,
            num_threads=num_threads,
        )

    def encode_rich(
        self,
        text: str,
        text_pair: str | None = None,
        add_special_tokens: bool = True,
    ) -> RichEncoding:
        """The full `Encoding` of a text or pair (ids, tokens, character offsets, masks, word
        and sequence ids), with the file's own truncation and padding settings, exactly as
        `tokenizers.Tokenizer.encode` gives it.

        >>> enc = Tokenizer.from_builtin("o200k_base").encode_rich("Hello, world!")
        >>> enc.tokens, enc.offsets
        (['Hello', ',', 'Ġworld', '!'], [(0, 5), (5, 6), (6, 12), (12, 13)])
        """
        truncation, padding = self._native.file_settings()
        return self._native.encode_rich(
            [(text, text_pair)], add_special_tokens, False, truncation, padding
        )[0]

    def count(self, text: str, add_special_tokens: bool = True) -> int:
        """The number of tokens of `text`: `len(encode(text))` without building the list.

        >>> Tokenizer.from_builtin("o200k_base").count("Hello, world!")
        4
        """
        return self._native.count(text, add_special_tokens)

    # ---------------------------------------------------------------- decoding

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """The text of `ids` (a list, tuple or numpy array), through the file's decoder.

        Bytes that do not form valid UTF-8 become U+FFFD, as in both reference libraries.
        Raises `UnknownTokenIdError` for an id outside the vocabulary.

        >>> tok = Tokenizer.from_builtin("o200k_base")
        >>> tok.decode([24912, 2375])
        'hello world'
        >>> tok.decode([13225, 199999], skip_special_tokens=True)
        'Hello'
        """
        return self._native.decode(_id_list(ids), skip_special_tokens)

    def decode_bytes(self, ids: Iterable[int], skip_special_tokens: bool = False) -> bytes:
        """The decoded bytes of `ids`, without the lossy UTF-8 conversion of `decode`.

        >>> Tokenizer.from_builtin("o200k_base").decode_bytes([50378])
        b'\\xf0\\x9f\\xa4'
        """
        return self._native.decode_bytes(_id_list(ids), skip_special_tokens)

    def decode_batch(
        self, batch: Iterable[Iterable[int]], skip_special_tokens: bool = False
    ) -> list[str]:
        """`decode` of each id sequence (lists, numpy arrays or an `EncodedBatch`).

        >>> Tokenizer.from_builtin("o200k_base").decode_batch([[24912, 2375], []])
        ['hello world', '']
        """
        return self._native.decode_batch(_id_lists(batch), skip_special_tokens)

    # ---------------------------------------------------------------- vocabulary

    @property
    def vocab_size(self) -> int:
        """The number of distinct ids, added tokens included (`get_vocab_size()` in `tokenizers`).

        >>> Tokenizer.from_builtin("o200k_base").vocab_size
        200000
        """
        return self._native.vocab_size

    @property
    def max_token_id(self) -> int:
        """The largest id this tokenizer can produce.

        >>> Tokenizer.from_builtin("o200k_base").max_token_id
        200018
        """
        return self._native.max_token_id

    @property
    def special_tokens(self) -> dict[str, int]:
        """The special tokens (added tokens marked special) and their ids.

        >>> sorted(Tokenizer.from_builtin("o200k_base").special_tokens.items())
        [('<|endofprompt|>', 200018), ('<|endoftext|>', 199999)]
        """
        return self._native.special_tokens()

    def token_to_id(self, token: str) -> int | None:
        """The id of a vocabulary entry (in the vocabulary's own spelling), or `None`.

        >>> Tokenizer.from_builtin("o200k_base").token_to_id("<|endoftext|>")
        199999
        """
        return self._native.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        """The vocabulary entry of an id, or `None` if the id is not in the vocabulary.

        >>> Tokenizer.from_builtin("o200k_base").id_to_token(199999)
        '<|endoftext|>'
        """
        return self._native.id_to_token(id)

    def get_vocab(self) -> dict[str, int]:
        """The whole vocabulary, added tokens included, as `{token: id}`."""
        return self._native.get_vocab()

    def get_vocab_size(self) -> int:
        """`vocab_size`, under the name `tokenizers` uses."""
        return self._native.vocab_size

    def __repr__(self) -> str:
        return f"<ferrotok.Tokenizer vocab_size={self._native.vocab_size}>"

    def __copy__(self) -> Tokenizer:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Tokenizer:
        return self  # immutable

    def __reduce__(self) -> Any:
        # Built-in encodings pickle by name (like tiktoken's registered encodings); a tokenizer
        # loaded from a file would have to carry its whole file, so it does not pickle.
        if self._builtin_name is not None:
            return (type(self).from_builtin, (self._builtin_name,))
        raise TypeError(
            "a ferrotok.Tokenizer loaded from a file cannot be pickled; pickle the path and load "
            "it again with Tokenizer.from_file (built-in encodings and ferrotok.Encoding pickle)"
        )
