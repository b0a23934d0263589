"""A drop-in for the `tokenizers` package: change one import, keep the code.

    from ferrotok.compat.tokenizers import Tokenizer   # was: from tokenizers import Tokenizer

`Tokenizer` and `Encoding` have the methods, arguments and attributes of `tokenizers`' classes for
loading, encoding (single texts and pairs, batches), decoding, the vocabulary, padding and
truncation, added tokens and saving, and give the same results (ids, tokens, offsets, masks,
word and sequence ids, overflowing parts). Training and the component classes
(`tokenizers.models`, `normalizers`, ...) are not provided; pre-tokenized input
(`is_pretokenized=True`) is not supported yet and raises `NotImplementedError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from ferrotok import _native
from ferrotok._native import Encoding

__all__ = ["AddedToken", "Encoding", "Tokenizer"]

#: One input of `encode_batch`: a text, or a pair as a tuple or list of two texts.
InputSequence = str | tuple[str, str] | list[str]


class AddedToken:
    """A token added to the vocabulary, with the options of `tokenizers.AddedToken`."""

    __slots__ = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")

    def __init__(
        self,
        content: str,
        single_word: bool = False,
        lstrip: bool = False,
        rstrip: bool = False,
        normalized: bool = True,
        special: bool = False,
    ) -> None:
        self.content = content
        self.single_word = single_word
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special

    def __repr__(self) -> str:
        return (
            f"AddedToken({self.content!r}, rstrip={self.rstrip}, lstrip={self.lstrip}, "
            f"single_word={self.single_word}, normalized={self.normalized}, "
            f"special={self.special})"
        )

    def __str__(self) -> str:
        return self.content


def _pair(item: object) -> tuple[str, str | None]:
    """One input of `encode_batch` as `(text, pair)`: a text, a pair of texts as a tuple or a
    list, or `(text, None)` as `encode` passes a single text."""
    if isinstance(item, str):
        return (item, None)
    if isinstance(item, (tuple, list)) and len(item) == 2:
        first, second = item
        if isinstance(first, str) and (
            isinstance(second, str) or (second is None and isinstance(item, tuple))
        ):
            return (first, second)
    raise TypeError(f"expected a str or a pair of str, got {item!r}")


class Tokenizer:
    """A `tokenizer.json`, with the interface of `tokenizers.Tokenizer`.

    The padding and truncation settings start as the file's own and change with
    `enable_padding`, `enable_truncation`, `no_padding` and `no_truncation`, as in `tokenizers`.
    Adding tokens rebuilds the tokenizer from its JSON with the new entries (ids assigned as
    `tokenizers` assigns them).
    """

    def __init__(
        self, document: dict[str, Any], *, _loaded: _native.Tokenizer | None = None
    ) -> None:
        """Builds a tokenizer from the parsed JSON of a `tokenizer.json`; use `from_file` or
        `from_str` instead (they pass the native tokenizer they already loaded as `_loaded`,
        so that a file is not loaded twice)."""
        self._document = document
        self._native = (
            _loaded
            if _loaded is not None
            else _native.Tokenizer.from_str(json.dumps(document, ensure_ascii=False))
        )
        truncation, padding = self._native.file_settings()
        # As the native encode takes them: (max_length, stride, strategy, direction) and
        # (length, direction, pad_to_multiple_of, pad_id, pad_type_id, pad_token).
        self._truncation: tuple[int, int, str, str] | None = truncation
        self._padding: tuple[int | None, str, int | None, int, int, str] | None = padding
        self._encode_special_tokens = False

    # ------------------------------------------------------------------ loading and saving

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Loads a `tokenizer.json` file."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as error:
            raise _native.TokenizerFileError(f"{os.fspath(path)}: {error.strerror}") from error
        loaded = _native.Tokenizer.from_file(os.fspath(path))  # errors name the file
        return cls(json.loads(text), _loaded=loaded)

    @classmethod
    def from_str(cls, json_text: str) -> Tokenizer:
        """Loads a tokenizer from the text of a `tokenizer.json`."""
        loaded = _native.Tokenizer.from_str(json_text)  # errors name the JSON path
        return cls(json.loads(json_text), _loaded=loaded)

    @classmethod
    def from_buffer(cls, buffer: bytes) -> Tokenizer:
        """Loads a tokenizer from the bytes of a `tokenizer.json`."""
        return cls.from_str(buffer.decode("utf-8"))

    def to_str(self, pretty: bool = False) -> str:
        """The `tokenizer.json` text, with the current padding, truncation and added tokens."""
        document = dict(self._document)
        document["truncation"] = self.truncation and {
            "direction": self.truncation["direction"].capitalize(),
            "max_length": self.truncation["max_length"],
            "strategy": "".join(
                part.capitalize() for part in self.truncation["strategy"].split("_")
            ),
            "stride": self.truncation["stride"],
        }
        padding = self.padding
        document["padding"] = padding and {
            "strategy": "BatchLongest"
            if padding["length"] is None
            else {"Fixed": padding["length"]},
            "direction": padding["direction"].capitalize(),
            "pad_to_multiple_of": padding["pad_to_multiple_of"],
            "pad_id": padding["pad_id"],
            "pad_type_id": padding["pad_type_id"],
            "pad_token": padding["pad_token"],
        }
        return json.dumps(document, ensure_ascii=False, indent=2 if pretty else None)

    def save(self, path: str | os.PathLike[str], pretty: bool = True) -> None:
        """Writes the `tokenizer.json` (complete or not at all: written aside, then renamed)."""
        target = os.fspath(path)
        partial = target + ".partial"
        with open(partial, "w", encoding="utf-8") as f:
            f.write(self.to_str(pretty))
        os.replace(partial, target)

    # ------------------------------------------------------------------ encoding

    def encode(
        self,
        sequence: str,
        pair: str | None = None,
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
    ) -> Encoding:
        """Encodes a text, or a pair of texts, into an `Encoding`."""
        return self.encode_batch([(sequence, pair)], is_pretokenized, add_special_tokens)[0]

    def encode_batch(
        self,
        input: Iterable[InputSequence | tuple[str, str | None]],
        is_pretokenized: bool = False,
        add_special_tokens: bool = True,
    ) -> list[Encoding]:
        """Encodes texts or pairs in parallel; the batch is padded together."""
        if is_pretokenized:
            raise NotImplementedError("ferrotok does not support pre-tokenized input yet")
        inputs = [_pair(item) for item in input]
        return self._native.encode_rich(
            inputs,
            add_special_tokens,
            self._encode_special_tokens,
            self._truncation,
            self._padding,
        )

    encode_batch_fast = encode_batch

    def post_process(
        self,
        encoding: Encoding,
        pair: Encoding | None = None,
        add_special_tokens: bool = True,
    ) -> Encoding:
        """Truncation, the post-processor and padding, applied to encodings made with
        `add_special_tokens=False` and no truncation or padding."""
        return self._native.post_process(
            encoding, pair, add_special_tokens, self._truncation, self._padding
        )

    @property
    def encode_special_tokens(self) -> bool:
        """When true, the text of special tokens is encoded as text (added tokens that are not
        special are still matched), as in `tokenizers`."""
        return self._encode_special_tokens

    @encode_special_tokens.setter
    def encode_special_tokens(self, value: bool) -> None:
        self._encode_special_tokens = bool(value)

    def num_special_tokens_to_add(self, is_pair: bool) -> int:
        """How many special tokens the post-processor adds to one sequence or a pair."""
        return self._native.num_special_tokens_to_add(is_pair)

    # ------------------------------------------------------------------ decoding

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """The text of `ids`. As in `tokenizers`, special tokens are skipped by default."""
        return self._native.decode(list(ids), skip_special_tokens)

    def decode_batch(
        self, sequences: Sequence[Sequence[int]], skip_special_tokens: bool = True
    ) -> list[str]:
        """`decode` of each id sequence."""
        return self._native.decode_batch([list(s) for s in sequences], skip_special_tokens)

    # ------------------------------------------------------------------ vocabulary

    def token_to_id(self, token: str) -> int | None:
        return self._native.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        return self._native.id_to_token(id)

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        vocab = self._native.get_vocab()
        if not with_added_tokens:
            added = {entry["content"] for entry in self._document.get("added_tokens") or []}
            model_vocab = self._model_vocab()
            vocab = {t: i for t, i in vocab.items() if t not in added or t in model_vocab}
        return vocab

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return len(self.get_vocab(with_added_tokens))

    def _model_vocab(self) -> set[str]:
        vocab = self._document.get("model", {}).get("vocab", {})
        if isinstance(vocab, dict):
            return set(vocab)
        return {entry[0] for entry in vocab}

    def add_tokens(self, tokens: Sequence[str | AddedToken]) -> int:
        """Adds tokens (not special); returns how many were not added tokens already."""
        return self._add([self._added(t, special=False) for t in tokens])

    def add_special_tokens(self, tokens: Sequence[str | AddedToken]) -> int:
        """Adds special tokens; returns how many were not already added tokens."""
        return self._add([self._added(t, special=True) for t in tokens])

    @staticmethod
    def _added(token: str | AddedToken, special: bool) -> AddedToken:
        if isinstance(token, AddedToken):
            if special:
                token.special = True
            return token
        return AddedToken(token, normalized=not special, special=special)

    def _add(self, tokens: list[AddedToken]) -> int:
        entries = list(self._document.get("added_tokens") or [])
        known = {entry["content"]: entry for entry in entries}
        next_id = max(self._native.max_token_id + 1, self._native.vocab_size)
        added = 0
        for token in tokens:
            if not token.content:
                continue
            entry = {
                "content": token.content,
                "single_word": token.single_word,
                "lstrip": token.lstrip,
                "rstrip": token.rstrip,
                "normalized": token.normalized,
                "special": token.special,
            }
            if token.content in known:
                # As in `tokenizers`: an added token is not added again (its options stay), but
                # `add_special_tokens` still makes it special.
                if token.special:
                    known[token.content]["special"] = True
                continue
            # A token of the model's vocabulary keeps its id; it still counts as added.
            existing = self._native.token_to_id(token.content)
            entry["id"] = existing if existing is not None else next_id
            if existing is None:
                next_id += 1
            added += 1
            entries.append(entry)
            known[token.content] = entry
        document = dict(self._document)
        document["added_tokens"] = entries
        settings = self._truncation, self._padding, self._encode_special_tokens
        self.__init__(document)  # type: ignore[misc]
        self._truncation, self._padding, self._encode_special_tokens = settings
        return added

    # ------------------------------------------------------------------ padding and truncation

    def enable_padding(
        self,
        direction: str = "right",
        pad_id: int = 0,
        pad_type_id: int = 0,
        pad_token: str = "[PAD]",
        length: int | None = None,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        """Pads every encoding (to `length`, or to the longest of the batch)."""
        if direction not in ("left", "right"):
            raise ValueError(f"direction must be 'left' or 'right', not {direction!r}")
        self._padding = (length, direction, pad_to_multiple_of, pad_id, pad_type_id, pad_token)

    def no_padding(self) -> None:
        self._padding = None

    @property
    def padding(self) -> dict[str, Any] | None:
        """The padding settings, as `tokenizers` shows them, or `None`."""
        if self._padding is None:
            return None
        length, direction, multiple, pad_id, pad_type_id, pad_token = self._padding
        return {
            "length": length,
            "pad_to_multiple_of": multiple,
            "pad_id": pad_id,
            "pad_token": pad_token,
            "pad_type_id": pad_type_id,
            "direction": direction,
        }

    def enable_truncation(
        self,
        max_length: int,
        stride: int = 0,
        strategy: str = "longest_first",
        direction: str = "right",
    ) -> None:
        """Truncates every encoding to `max_length` tokens, special tokens included."""
        if strategy not in ("longest_first", "only_first", "only_second"):
            raise ValueError(
                f"strategy must be 'longest_first', 'only_first' or 'only_second', not {strategy!r}"
            )
        if direction not in ("left", "right"):
            raise ValueError(f"direction must be 'left' or 'right', not {direction!r}")
        self._truncation = (max_length, stride, strategy, direction)

    def no_truncation(self) -> None:
        self._truncation = None

    @property
    def truncation(self) -> dict[str, Any] | None:
        """The truncation settings, as `tokenizers` shows them, or `None`."""
        if self._truncation is None:
            return None
        max_length, stride, strategy, direction = self._truncation
        return {
            "max_length": max_length,
            "stride": stride,
            "strategy": strategy,
            "direction": direction,
        }

    def __repr__(self) -> str:
        return f"<ferrotok.compat.tokenizers.Tokenizer vocab_size={self._native.vocab_size}>"
