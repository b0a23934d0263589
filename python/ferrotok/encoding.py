"""`Encoding`: a drop-in replacement for `tiktoken.Encoding`, on the Rust core.

Every method has tiktoken's name, signature and semantics, so that `import ferrotok as tiktoken`
(or `ferrotok.get_encoding("o200k_base")` in place of `tiktoken.get_encoding`) is enough to
switch. In particular `encode` raises (`DisallowedSpecialTokenError`, a `ValueError`) when the
text holds a special token that is not allowed, strings with lone surrogates are repaired the way
tiktoken repairs them, and unknown tokens raise `KeyError` where tiktoken raises it.

Built-in encodings ship inside ferrotok (no download) and are cached per name, like tiktoken's
registry: `get_encoding` returns the same object every time, from any thread.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Literal, NoReturn

from ferrotok import _native
from ferrotok.tokenizer import _id_list, _text_list

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Encoding",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
]

# A separator for checking a whole batch for disallowed special tokens in one native call:
# a match cannot cross from one text into the next unless a token contains the separator.
_BATCH_SEPARATOR = "\x00"


class _UnknownTokenKeyError(_native.UnknownTokenIdError, KeyError):
    """An unknown token id, raised as both `ferrotok.UnknownTokenIdError` and `KeyError`.

    tiktoken raises `KeyError` for ids it cannot decode; code written for it catches that.
    """

    def __str__(self) -> str:
        return ValueError.__str__(self)


# Tracebacks show the name users catch, not this private subclass.
_UnknownTokenKeyError.__module__ = "ferrotok"
_UnknownTokenKeyError.__name__ = _UnknownTokenKeyError.__qualname__ = "UnknownTokenIdError"


def _repair_surrogates(text: str) -> str:
    """tiktoken's repair of a `str` that is not valid Unicode (lone or paired surrogates).

    Surrogate pairs become the character they encode, lone surrogates become U+FFFD. A valid
    string is returned unchanged.
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _raise_disallowed_special_token(token: str) -> NoReturn:
    # The same message as tiktoken's.
    raise _native.DisallowedSpecialTokenError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


@functools.lru_cache(maxsize=128)
def _literal_regex(strings: frozenset[str]) -> re.Pattern[str]:
    """A regex matching any of `strings` (used only for strings that are not special tokens)."""
    return re.compile("|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True)))


class Encoding:
    """A byte-level BPE encoding with tiktoken's API: `ferrotok.get_encoding("o200k_base")`.

    >>> enc = get_encoding("o200k_base")
    >>> enc.encode("hello world")
    [24912, 2375]
    >>> enc.decode([24912, 2375])
    'hello world'
    >>> enc.encode("<|endoftext|>", allowed_special="all")
    [199999]
    >>> enc.encode("<|endoftext|>", disallowed_special=())
    [27, 91, 419, 1440, 919, 91, 29]
    >>> enc.encode("<|endoftext|>")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ferrotok.DisallowedSpecialTokenError: Encountered text corresponding to disallowed special...
    """

    name: str
    max_token_value: int
    _mergeable_ranks_cache: dict[bytes, int] | None

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> None:
        """Builds an encoding from its parts, like `tiktoken.Encoding(...)`.

        Args:
            name: the encoding's name; encodings with different special tokens should have
                different names.
            pat_str: the regex that splits text into pieces before BPE.
            mergeable_ranks: token bytes → rank; the ranks are the merge priorities.
            special_tokens: special token string → id.
            explicit_n_vocab: if given, checked to equal the number of tokens, and the largest
                id plus one.

        >>> ranks = {bytes([b]): b for b in range(256)}
        >>> ranks[b"ab"] = 256
        >>> enc = Encoding("tiny", pat_str=r"\\S+|\\s+", mergeable_ranks=ranks,
        ...                special_tokens={"<|end|>": 257})
        >>> enc.encode("abc ab<|end|>", allowed_special="all")
        [256, 99, 32, 256, 257]
        """
        max_token_value = max(
            max(mergeable_ranks.values()), max(special_tokens.values(), default=0)
        )
        if explicit_n_vocab:
            if len(mergeable_ranks) + len(special_tokens) != explicit_n_vocab:
                raise _native.TokenizerError(
                    f"encoding {name!r}: explicit_n_vocab={explicit_n_vocab} but there are "
                    f"{len(mergeable_ranks)} mergeable and {len(special_tokens)} special tokens"
                )
            if max_token_value != explicit_n_vocab - 1:
                raise _native.TokenizerError(
                    f"encoding {name!r}: explicit_n_vocab={explicit_n_vocab} but the largest "
                    f"token id is {max_token_value}"
                )
        native = _native.Tokenizer.from_ranks(mergeable_ranks, pat_str, special_tokens)
        self._setup(name, native, pat_str, special_tokens, max_token_value)
        self._mergeable_ranks_cache = mergeable_ranks

    def _setup(
        self,
        name: str,
        native: _native.Tokenizer,
        pat_str: str,
        special_tokens: dict[str, int],
        max_token_value: int,
    ) -> None:
        self.name = name
        self.max_token_value = max_token_value
        self._native = native
        self._pat_str = pat_str
        self._special_tokens = special_tokens
        self._special_token_values = frozenset(special_tokens.values())
        # Text without this prefix of every special token holds none of them: a C substring
        # search rules that out far faster than a full search for each special token.
        self._special_prefix = os.path.commonprefix(list(special_tokens))
        self._mergeable_ranks_cache = None
        self._lock = threading.Lock()

    @classmethod
    def _from_native(
        cls, name: str, native: _native.Tokenizer, pat_str: str, special_tokens: dict[str, int]
    ) -> Encoding:
        """An encoding over an already loaded native tokenizer (its ranks are read lazily)."""
        encoding = cls.__new__(cls)
        encoding._setup(name, native, pat_str, special_tokens, native.max_token_id)
        return encoding

    @classmethod
    def _from_builtin(cls, name: str) -> Encoding:
        """A built-in encoding, loaded from the tables inside the native module."""
        pat_str, special_tokens, _explicit_n_vocab = _native.Tokenizer.builtin_info(name)
        return cls._from_native(name, _native.Tokenizer.from_builtin(name), pat_str, special_tokens)

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ---------------------------------------------------------------- encoding

    def encode_ordinary(self, text: str) -> list[int]:
        """The tokens of `text`, with special-token text encoded as ordinary text.

        Equivalent to `encode(text, disallowed_special=())`, but faster.

        >>> get_encoding("o200k_base").encode_ordinary("hello world")
        [24912, 2375]
        """
        try:
            return self._native.encode_ordinary(text)
        except UnicodeEncodeError:
            return self._native.encode_ordinary(_repair_surrogates(text))

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """The tokens of `text`; special-token text raises unless it is allowed.

        Special tokens can make a model do what its user did not intend, so by default text
        that spells one raises `DisallowedSpecialTokenError` (a `ValueError`):
        - `allowed_special` (a set of strings, or `"all"`) are encoded as special tokens;
        - `disallowed_special` (default `"all"`: every special token not allowed) raise;
          `disallowed_special=()` encodes them as ordinary text instead.

        >>> enc = get_encoding("o200k_base")
        >>> enc.encode("hello world")
        [24912, 2375]
        >>> enc.encode("<|endoftext|>", allowed_special={"<|endoftext|>"})
        [199999]
        >>> enc.encode("<|endoftext|>", allowed_special="all")
        [199999]
        >>> enc.encode("<|endoftext|>", disallowed_special=())
        [27, 91, 419, 1440, 919, 91, 29]
        """
        allowed_special, disallowed_special = self._special_sets(
            allowed_special, disallowed_special
        )
        if disallowed_special:
            self._check_disallowed(text, disallowed_special)
        self._require_set(allowed_special)
        allowed = self._allowed_argument(allowed_special)
        try:
            return self._encode_allowing(text, allowed)
        except UnicodeEncodeError:
            return self._encode_allowing(_repair_surrogates(text), allowed)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> npt.NDArray[np.uint32]:
        """`encode`, returning a `numpy.uint32` array.

        >>> get_encoding("o200k_base").encode_to_numpy("hello world")
        array([24912,  2375], dtype=uint32)
        """
        import numpy as np

        ids = self.encode(
            text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
        return np.array(ids, dtype=np.uint32)

    def encode_ordinary_batch(
        self, text: Iterable[str], *, num_threads: int | None = None
    ) -> list[list[int]]:
        """`encode_ordinary` of each text, in parallel without the GIL.

        `num_threads=None` uses `FERROTOK_NUM_THREADS` if set, else every core.

        >>> get_encoding("o200k_base").encode_ordinary_batch(["hello world", "goodbye world"])
        [[24912, 2375], [30744, 43571, 2375]]
        """
        texts = _text_list(text)
        try:
            return self._native.encode_ordinary_batch(texts, num_threads)
        except UnicodeEncodeError:
            repaired = [_repair_surrogates(t) for t in texts]
            return self._native.encode_ordinary_batch(repaired, num_threads)

    def encode_batch(
        self,
        text: Iterable[str],
        *,
        num_threads: int | None = None,
        allowed_special: Literal["all"] | AbstractSet[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[list[int]]:
        """`encode` of each text, in parallel without the GIL.

        Raises for the first text (in order) that holds disallowed special-token text.

        >>> get_encoding("o200k_base").encode_batch(["hello world", "goodbye world"])
        [[24912, 2375], [30744, 43571, 2375]]
        """
        texts = _text_list(text)
        allowed_special, disallowed_special = self._special_sets(
            allowed_special, disallowed_special
        )
        if not texts:
            return []
        if not isinstance(allowed_special, (set, frozenset)):
            # tiktoken encodes text by text: the first one fails, after its own check.
            texts = texts[:1]
        if disallowed_special:
            self._check_disallowed_batch(texts, disallowed_special)
        self._require_set(allowed_special)
        allowed = self._allowed_argument(allowed_special)
        try:
            return self._encode_batch_allowing(texts, allowed, num_threads)
        except UnicodeEncodeError:
            repaired = [_repair_surrogates(t) for t in texts]
            return self._encode_batch_allowing(repaired, allowed, num_threads)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of the one token whose text or bytes is `text_or_bytes` (special tokens too).

        Raises `KeyError` if there is no such token.

        >>> get_encoding("o200k_base").encode_single_token("hello")
        24912
        """
        piece = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
        rank = self._mergeable_ranks.get(bytes(piece))
        if rank is not None:
            return rank
        try:
            special = self._special_tokens.get(bytes(piece).decode("utf-8"))
        except UnicodeDecodeError:
            special = None
        if special is not None:
            return special
        raise KeyError(bytes(piece))

    # ---------------------------------------------------------------- decoding

    def decode_bytes(self, tokens: Iterable[int]) -> bytes:
        """The bytes of `tokens`, concatenated.

        >>> get_encoding("o200k_base").decode_bytes([24912, 2375])
        b'hello world'
        """
        return self._decode_bytes(_id_list(tokens))

    def decode(self, tokens: Iterable[int], errors: str = "replace") -> str:
        """The text of `tokens`; `errors` is the policy for bytes that are not valid UTF-8.

        The default `"replace"` is lossy (U+FFFD); `errors="strict"` raises instead.

        >>> enc = get_encoding("o200k_base")
        >>> enc.decode([24912, 2375])
        'hello world'
        >>> enc.decode([50378]) == "\\N{REPLACEMENT CHARACTER}"
        True
        """
        return self._decode_bytes(_id_list(tokens)).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token (special tokens too). Raises `KeyError` if there is none.

        >>> get_encoding("o200k_base").decode_single_token_bytes(24912)
        b'hello'
        """
        try:
            return self._native.token_bytes(token)
        except _native.UnknownTokenIdError as error:
            raise _UnknownTokenKeyError(str(error)) from None

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        """The bytes of each token: useful to see where the token boundaries are.

        >>> get_encoding("o200k_base").decode_tokens_bytes([13225, 11, 2375, 0])
        [b'Hello', b',', b' world', b'!']
        """
        token_bytes = self._native.token_bytes
        try:
            return [token_bytes(token) for token in _id_list(tokens)]
        except _native.UnknownTokenIdError as error:
            raise _UnknownTokenKeyError(str(error)) from None

    def decode_with_offsets(self, tokens: Iterable[int]) -> tuple[str, list[int]]:
        """The text of `tokens` and the character offset at which each token starts.

        A token that starts inside a character gets the offset of that character. Raises
        `UnicodeDecodeError` if the tokens do not decode to valid UTF-8 (as tiktoken does).

        >>> get_encoding("o200k_base").decode_with_offsets([13225, 11, 2375, 0])
        ('Hello, world!', [0, 5, 6, 12])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        offsets = []
        characters = 0
        for piece in token_bytes:
            starts_inside = bool(piece) and 0x80 <= piece[0] < 0xC0
            offsets.append(max(0, characters - starts_inside))
            # Every byte that is not a UTF-8 continuation byte starts a character.
            characters += sum(1 for byte in piece if not 0x80 <= byte < 0xC0)
        return b"".join(token_bytes).decode("utf-8", errors="strict"), offsets

    def decode_batch(
        self,
        batch: Iterable[Iterable[int]],
        *,
        errors: str = "replace",
        num_threads: int | None = None,
    ) -> list[str]:
        """`decode` of each token sequence.

        >>> get_encoding("o200k_base").decode_batch([[24912, 2375], [30744, 43571, 2375]])
        ['hello world', 'goodbye world']
        """
        return [self.decode(tokens, errors=errors) for tokens in batch]

    def decode_bytes_batch(
        self, batch: Iterable[Iterable[int]], *, num_threads: int | None = None
    ) -> list[bytes]:
        """`decode_bytes` of each token sequence."""
        return [self.decode_bytes(tokens) for tokens in batch]

    # ---------------------------------------------------------------- vocabulary

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every mergeable (non-special) token, sorted."""
        return sorted(self._mergeable_ranks)

    @property
    def eot_token(self) -> int:
        """The id of `<|endoftext|>`."""
        return self._special_tokens["<|endoftext|>"]

    @functools.cached_property
    def special_tokens_set(self) -> set[str]:
        """The special token strings.

        >>> sorted(get_encoding("o200k_base").special_tokens_set)
        ['<|endofprompt|>', '<|endoftext|>']
        """
        return set(self._special_tokens)

    def is_special_token(self, token: int) -> bool:
        """Whether the id `token` is a special token.

        >>> enc = get_encoding("o200k_base")
        >>> enc.is_special_token(enc.eot_token), enc.is_special_token(24912)
        (True, False)
        """
        if not isinstance(token, int):
            raise TypeError(f"is_special_token takes an int, got {type(token).__name__}")
        return token in self._special_token_values

    @property
    def n_vocab(self) -> int:
        """`max_token_value + 1` (tiktoken's name; there may be unused ids below it).

        >>> get_encoding("o200k_base").n_vocab
        200019
        """
        return self.max_token_value + 1

    @property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        """Token bytes → rank, as given to the constructor (for built-ins, read on first use).

        tiktoken users read `enc._mergeable_ranks` to build derived encodings; it works here too.
        """
        ranks = self._mergeable_ranks_cache
        if ranks is None:
            with self._lock:
                ranks = self._mergeable_ranks_cache
                if ranks is None:
                    ranks = self._read_mergeable_ranks()
                    self._mergeable_ranks_cache = ranks
        return ranks

    def _read_mergeable_ranks(self) -> dict[bytes, int]:
        token_bytes = self._native.token_bytes
        ranks: dict[bytes, int] = {}
        for token in range(self.max_token_value + 1):
            if token in self._special_token_values:
                continue
            try:
                ranks[token_bytes(token)] = token
            except _native.UnknownTokenIdError:
                continue  # an unused id between the ranks and the special tokens
        return ranks

    # ---------------------------------------------------------------- pickling

    def __getstate__(self) -> object:
        # Registered encodings pickle by name, like tiktoken's.
        if _ENCODINGS.get(self.name) is self:
            return self.name
        return {
            "name": self.name,
            "pat_str": self._pat_str,
            "mergeable_ranks": self._mergeable_ranks,
            "special_tokens": self._special_tokens,
        }

    def __setstate__(self, value: object) -> None:
        if isinstance(value, str):
            self.__dict__ = get_encoding(value).__dict__
            return
        if not isinstance(value, dict):
            raise TypeError(f"cannot unpickle an Encoding from {type(value).__name__}")
        self.__init__(**value)  # type: ignore[misc]

    # ---------------------------------------------------------------- private

    def _special_sets(
        self,
        allowed_special: Literal["all"] | AbstractSet[str],
        disallowed_special: Literal["all"] | Collection[str],
    ) -> tuple[AbstractSet[str], Collection[str]]:
        """tiktoken's resolution of `"all"` in `allowed_special` and `disallowed_special`."""
        if allowed_special == "all":
            allowed_special = self.special_tokens_set
        if disallowed_special == "all":
            disallowed_special = self.special_tokens_set - allowed_special
        return allowed_special, disallowed_special

    @staticmethod
    def _require_set(allowed_special: AbstractSet[str]) -> None:
        # tiktoken's core takes only a set or frozenset, and checks it after the
        # disallowed-special check: the same order gives the same exception on the same input.
        if not isinstance(allowed_special, (set, frozenset)):
            raise TypeError(
                f"{type(allowed_special).__name__!r} object is not an instance of 'set'"
            )

    def _allowed_argument(self, allowed_special: AbstractSet[str]) -> list[str] | None:
        """The special tokens to match, for the native module: `None` means all of them."""
        allowed = [token for token in allowed_special if token in self._special_tokens]
        if len(allowed) == len(self._special_tokens):
            return None
        return allowed

    def _encode_allowing(self, text: str, allowed: list[str] | None) -> list[int]:
        if allowed is not None and not allowed:
            return self._native.encode_ordinary(text)
        return self._native.encode_with_special(text, allowed)

    def _encode_batch_allowing(
        self, texts: Sequence[str], allowed: list[str] | None, num_threads: int | None
    ) -> list[list[int]]:
        if allowed is not None and not allowed:
            return self._native.encode_ordinary_batch(texts, num_threads)
        return self._native.encode_with_special_batch(texts, allowed, num_threads)

    def _find_disallowed(self, text: str, disallowed: frozenset[str]) -> str | None:
        """The first string of `disallowed` occurring in `text`, or `None`."""
        if not disallowed.issubset(self._special_tokens):
            # Strings that are not special tokens (tiktoken checks any string it is given):
            # a regex over all of them. Rare, so not worth a native path.
            match = _literal_regex(disallowed).search(text)
            return None if match is None else match.group()
        if self._special_prefix and self._special_prefix not in text:
            return None
        among = None if len(disallowed) == len(self._special_tokens) else sorted(disallowed)
        try:
            return self._native.find_special(text, among)
        except UnicodeEncodeError:
            return self._native.find_special(_repair_surrogates(text), among)

    def _check_disallowed(self, text: str, disallowed_special: Collection[str]) -> None:
        disallowed = frozenset(disallowed_special)
        found = self._find_disallowed(text, disallowed)
        if found is not None:
            _raise_disallowed_special_token(found)

    def _check_disallowed_batch(
        self, texts: Sequence[str], disallowed_special: Collection[str]
    ) -> None:
        disallowed = frozenset(disallowed_special)
        if not texts:
            return
        if any(_BATCH_SEPARATOR in token for token in disallowed):
            for text in texts:
                self._check_disallowed(text, disallowed)
            return
        # One native search over all texts joined: the first match is in the first text that
        # holds a disallowed token, and is the first one in it, as a text-by-text check finds.
        found = self._find_disallowed(_BATCH_SEPARATOR.join(texts), disallowed)
        if found is not None:
            _raise_disallowed_special_token(found)

    def _decode_bytes(self, ids: Sequence[int]) -> bytes:
        try:
            return self._native.decode_bytes(ids)
        except _native.UnknownTokenIdError as error:
            raise _UnknownTokenKeyError(str(error)) from None


# ---------------------------------------------------------------- the registry

_ENCODINGS: dict[str, Encoding] = {}
_ENCODINGS_LOCK = threading.Lock()


def list_encoding_names() -> list[str]:
    """The names of the built-in encodings.

    >>> "o200k_base" in list_encoding_names()
    True
    """
    return list(_native.BUILTIN_ENCODINGS)


def get_encoding(encoding_name: str) -> Encoding:
    """The built-in encoding `encoding_name`, loaded once and shared (thread-safe).

    Works offline: the tables ship inside ferrotok. Raises `TokenizerError` (a `ValueError`)
    for an unknown name.

    >>> enc = get_encoding("o200k_base")
    >>> enc is get_encoding("o200k_base")
    True
    >>> enc.name, enc.n_vocab
    ('o200k_base', 200019)
    """
    if not isinstance(encoding_name, str):
        raise ValueError(f"Expected a string in get_encoding, got {type(encoding_name)}")
    encoding = _ENCODINGS.get(encoding_name)
    if encoding is not None:
        return encoding
    with _ENCODINGS_LOCK:
        encoding = _ENCODINGS.get(encoding_name)
        if encoding is None:
            if encoding_name not in _native.BUILTIN_ENCODINGS:
                raise _native.TokenizerError(
                    f"Unknown encoding {encoding_name!r}. "
                    f"Built-in encodings: {', '.join(_native.BUILTIN_ENCODINGS)}"
                )
            encoding = Encoding._from_builtin(encoding_name)
            _ENCODINGS[encoding_name] = encoding
    return encoding


# Which encoding each OpenAI model uses: exact names first, then name prefixes in order.
_MODEL_TO_ENCODING: dict[str, str] = {
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
    "text-davinci-003": "p50k_base",
    "text-davinci-002": "p50k_base",
    "text-davinci-001": "r50k_base",
    "text-curie-001": "r50k_base",
    "text-babbage-001": "r50k_base",
    "text-ada-001": "r50k_base",
    "davinci": "r50k_base",
    "curie": "r50k_base",
    "babbage": "r50k_base",
    "ada": "r50k_base",
    "code-davinci-002": "p50k_base",
    "code-davinci-001": "p50k_base",
    "code-cushman-002": "p50k_base",
    "code-cushman-001": "p50k_base",
    "davinci-codex": "p50k_base",
    "cushman-codex": "p50k_base",
    "text-davinci-edit-001": "p50k_edit",
    "code-davinci-edit-001": "p50k_edit",
    "gpt2": "gpt2",
    "gpt-2": "gpt2",
}
_MODEL_PREFIX_TO_ENCODING: dict[str, str] = {
    "o1-": "o200k_base",
    "o3-": "o200k_base",
    "o4-mini-": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.5-": "o200k_base",
    "gpt-4.1-": "o200k_base",
    "chatgpt-4o-": "o200k_base",
    "gpt-4o-": "o200k_base",
    "gpt-4-": "cl100k_base",
    "gpt-3.5-turbo-": "cl100k_base",
    "gpt-35-turbo-": "cl100k_base",
    "gpt-oss-": "o200k_harmony",
    "ft:gpt-4o": "o200k_base",
    "ft:gpt-4": "cl100k_base",
    "ft:gpt-3.5-turbo": "cl100k_base",
    "ft:davinci-002": "cl100k_base",
    "ft:babbage-002": "cl100k_base",
}


def encoding_name_for_model(model_name: str) -> str:
    """The name of the encoding an OpenAI model uses.

    >>> encoding_name_for_model("gpt-4o-mini")
    'o200k_base'
    """
    encoding_name = _MODEL_TO_ENCODING.get(model_name)
    if encoding_name is not None:
        return encoding_name
    for prefix, name in _MODEL_PREFIX_TO_ENCODING.items():
        if model_name.startswith(prefix):
            return name
    raise KeyError(
        f"Could not automatically map {model_name} to a tokeniser. "
        "Please use `ferrotok.get_encoding` to explicitly get the tokeniser you expect."
    )


def encoding_for_model(model_name: str) -> Encoding:
    """The encoding an OpenAI model uses, e.g. `encoding_for_model("gpt-4o")`."""
    return get_encoding(encoding_name_for_model(model_name))
