"""The public Python API of ferrotok, on the real tokenizers of the shared data folder.

`ferrotok.Tokenizer` is compared with Hugging Face `tokenizers` and `ferrotok.Encoding` with
`tiktoken.Encoding`, method by method, including the rules for special-token text, lone
surrogates, unknown ids, pickling and use from many threads. (The docstring examples of the
package run as `pytest --doctest-modules python/ferrotok`, as scripts/test.sh does.)

Everything is offline: tiktoken's references are built from the local rank files through a
`TIKTOKEN_CACHE_DIR` filled as the data folder's MANIFEST.md describes.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ferrotok
import numpy as np
import pytest
from conftest import HF_TOKENIZERS

REPO = Path(__file__).resolve().parent.parent

#: Byte-level tokenizers without a normalizer: decode(encode(text)) gives the text back.
HF_ROUND_TRIP = ("gpt2", "gpt-4-cl100k", "gpt-4o-o200k", "llama-3.1")

#: The OpenAI encodings tiktoken 0.14 can build from the local files.
TIKTOKEN_NAMES = ("r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "gpt2")
#: Where tiktoken looks for each downloaded file in its cache: the sha1 of its URL.
TIKTOKEN_CACHE_FILES = {
    "9b5ad71b2ce5302211f9c61530b329a4922fc6a4": "tiktoken/cl100k_base.tiktoken",
    "fb374d419588a4632f3f557e76b4b70aebbca790": "tiktoken/o200k_base.tiktoken",
    "ec7223a39ce59f226a68acc30dc1af2788490e15": "tiktoken/p50k_base.tiktoken",
    "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4": "tiktoken/r50k_base.tiktoken",
    "6d1cbeee0f20b3d9449abfede4726ed8212e3aee": "gpt2_original/vocab.bpe",
    "6c7ea1a7e38e3a7f062df639a5b80947f075ffe6": "gpt2_original/encoder.json",
}

SPECIAL_TEXTS = (
    "<|endoftext|>",
    "hello <|endoftext|> world",
    "a<|endoftext|>b<|fim_prefix|>c<|endofprompt|>",
    "<|endofprompt|>x",
    "<|endoftext",
    "<|endoftext|><|endoftext|>",
    "<|im_start|>user\nhi<|im_end|>",
    "no specials here",
    "",
)
SURROGATE_TEXTS = (
    "\ud800",
    "a\ud800b",
    "\udfff",
    "\ud83d\ude00",  # a surrogate pair written as two code units
    "x \ud83d\ude00 y \ud800 z",
    "\ud800<|endoftext|>",
)


# --- data and references -----------------------------------------------------------------------


def find_data_dir() -> Path:
    configured = os.environ.get("FERROTOK_DATA")
    return (Path(configured) if configured else REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = find_data_dir()
    if not (path / "MANIFEST.md").is_file():
        pytest.fail(f"shared test data not found at {path}: set FERROTOK_DATA", pytrace=False)
    return path


def read_text(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


@pytest.fixture(scope="session")
def texts(shared_data: Path) -> list[str]:
    """Edge cases plus real lines and paragraphs from several corpus files."""
    cases = json.loads(read_text(shared_data / "corpus" / "unicode" / "edge_cases.json"))
    result = list(cases["cases"].values())
    for relative in (
        "en/moby_dick_pg2701.txt",
        "ja/wagahaiwa_nekodearu.txt",
        "code/python_stdlib_3.11.7.py.txt",
        "multilingual/udhr_532_translations.txt",
    ):
        text = read_text(shared_data / "corpus" / relative)
        lines = text.splitlines(keepends=True)
        result.extend(lines[1000:1040])
        result.append(text[20_000:24_000])
    return result


@pytest.fixture(scope="session")
def tiktoken_reference(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Any]:
    """`tiktoken.get_encoding`, working offline from a cache filled with the local files."""
    tiktoken = pytest.importorskip("tiktoken")
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for key, relative in TIKTOKEN_CACHE_FILES.items():
        shutil.copyfile(shared_data / relative, cache / key)
    lock = threading.Lock()

    def reference(name: str) -> Any:
        with lock, pytest.MonkeyPatch.context() as patch:
            patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
            return tiktoken.get_encoding(name)

    return reference


@functools.cache
def hf_tokenizer(path: str) -> Any:
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(path)
    # bert-base-uncased and t5-legal set padding/truncation in their files; ferrotok's ids API
    # does not apply them (see MANIFEST.md: compare without them).
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@functools.cache
def ferro_tokenizer(path: str) -> ferrotok.Tokenizer:
    return ferrotok.Tokenizer.from_file(path)


def tokenizer_path(shared_data: Path, name: str) -> str:
    return str(shared_data / "tokenizers" / name / "tokenizer.json")


def ferro_encoding(name: str) -> ferrotok.Encoding:
    if name not in ferrotok.list_encoding_names():
        pytest.fail(f"{name} is not a built-in encoding of ferrotok", pytrace=False)
    return ferrotok.get_encoding(name)


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """('ok', result) or ('raises', the exception) — to compare two libraries' behaviour."""
    try:
        result = function(*args, **kwargs)
    except Exception as error:  # any exception is an outcome to compare
        return "raises", error
    if isinstance(result, np.ndarray):
        result = result.tolist()
    return "ok", result


# --- the package ------------------------------------------------------------------------------


def test_public_names() -> None:
    for name in ferrotok.__all__:
        assert hasattr(ferrotok, name), name
    assert isinstance(ferrotok.__version__, str) and ferrotok.__version__
    for error in (
        ferrotok.TokenizerFileError,
        ferrotok.UnsupportedComponentError,
        ferrotok.DisallowedSpecialTokenError,
        ferrotok.UnknownTokenIdError,
        ferrotok.InvalidUtf8Error,
    ):
        assert issubclass(error, ferrotok.TokenizerError)
    assert issubclass(ferrotok.TokenizerError, ValueError)


# --- Tokenizer against tokenizers ---------------------------------------------------------------


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_encode_matches_tokenizers(shared_data: Path, texts: list[str], name: str) -> None:
    path = tokenizer_path(shared_data, name)
    reference, tok = hf_tokenizer(path), ferro_tokenizer(path)
    for add_special_tokens in (False, True):
        expected = [reference.encode(t, add_special_tokens=add_special_tokens).ids for t in texts]
        got = [tok.encode(t, add_special_tokens=add_special_tokens) for t in texts]
        mismatches = [i for i, (e, g) in enumerate(zip(expected, got, strict=False)) if e != g]
        assert not mismatches, (
            f"{name} add_special_tokens={add_special_tokens}: {len(mismatches)} texts differ, "
            f"first {texts[mismatches[0]][:80]!r}: expected {expected[mismatches[0]][:20]}, "
            f"got {got[mismatches[0]][:20]}"
        )


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_encode_batch_equals_encode(shared_data: Path, texts: list[str], name: str) -> None:
    tok = ferro_tokenizer(tokenizer_path(shared_data, name))
    for add_special_tokens in (False, True):
        singles = [tok.encode(t, add_special_tokens) for t in texts]
        assert tok.encode_batch(texts, add_special_tokens) == singles
        assert tok.encode_batch(texts, add_special_tokens, num_threads=1) == singles
        assert tok.encode_batch(iter(texts), add_special_tokens, num_threads=2) == singles
        assert [tok.count(t, add_special_tokens) for t in texts] == [len(s) for s in singles]


def test_batch_lists_leave_the_garbage_collector_as_they_found_it(texts: list[str]) -> None:
    # The lists are built with the collector paused; it must come back on, and stay off when
    # the caller had turned it off.
    import gc

    enc = ferrotok.get_encoding("o200k_base")
    expected = [enc.encode_ordinary(t) for t in texts]
    assert gc.isenabled()
    assert enc.encode_ordinary_batch(texts) == expected
    assert gc.isenabled()
    gc.disable()
    try:
        assert enc.encode_ordinary_batch(texts) == expected
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_encode_batch_numpy_equals_encode_batch(
    shared_data: Path, texts: list[str], name: str
) -> None:
    tok = ferro_tokenizer(tokenizer_path(shared_data, name))
    for add_special_tokens in (False, True):
        lists = tok.encode_batch(texts, add_special_tokens)
        batch = tok.encode_batch_numpy(texts, add_special_tokens)
        assert isinstance(batch, ferrotok.EncodedBatch)
        assert batch.ids.dtype == np.uint32 and batch.ids.ndim == 1
        assert batch.offsets.dtype == np.int64 and batch.offsets.shape == (len(texts) + 1,)
        assert batch.offsets[0] == 0 and batch.offsets[-1] == len(batch.ids)
        assert len(batch) == len(texts)
        assert batch.tolist() == lists
        assert [doc.tolist() for doc in batch] == lists
        assert batch[0].tolist() == lists[0] and batch[-1].tolist() == lists[-1]
        assert batch.lengths.tolist() == [len(ids) for ids in lists]


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_decode_matches_tokenizers(shared_data: Path, texts: list[str], name: str) -> None:
    path = tokenizer_path(shared_data, name)
    reference, tok = hf_tokenizer(path), ferro_tokenizer(path)
    id_lists = [reference.encode(t, add_special_tokens=True).ids for t in texts]
    for skip in (False, True):
        expected = reference.decode_batch(id_lists, skip_special_tokens=skip)
        assert tok.decode_batch(id_lists, skip) == expected
        assert [tok.decode(ids, skip) for ids in id_lists] == expected
        assert [tok.decode(np.array(ids, dtype=np.uint32), skip) for ids in id_lists] == expected


@pytest.mark.parametrize("name", HF_ROUND_TRIP)
def test_decode_round_trip(shared_data: Path, texts: list[str], name: str) -> None:
    tok = ferro_tokenizer(tokenizer_path(shared_data, name))
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
        assert tok.decode_bytes(ids) == text.encode("utf-8")
    batch = tok.encode_batch_numpy(texts, add_special_tokens=False)
    assert tok.decode_batch(batch) == texts


@pytest.mark.parametrize(
    ("hf_name", "rank_file"),
    [("gpt-4o-o200k", "o200k_base"), ("gpt-4-cl100k", "cl100k_base"), ("gpt2", "r50k_base")],
)
def test_rank_file_vocabulary_matches_tokenizers(
    shared_data: Path, hf_name: str, rank_file: str
) -> None:
    # A rank file's token strings are spelled on first use: whichever call comes first, they
    # must be the strings of the same vocabulary converted to tokenizer.json.
    reference = hf_tokenizer(tokenizer_path(shared_data, hf_name))
    vocab = reference.get_vocab(with_added_tokens=True)
    specials = {a.content: i for i, a in reference.get_added_tokens_decoder().items()}
    path = shared_data / "tiktoken" / f"{rank_file}.tiktoken"

    def load() -> ferrotok.Tokenizer:
        return ferrotok.Tokenizer.from_tiktoken(path, special_tokens=specials)

    sample = list(vocab.items())[::499] + list(specials.items())
    assert [load().id_to_token(i) for _, i in sample[:1]] == [reference.id_to_token(sample[0][1])]
    assert load().token_to_id(sample[0][0]) == sample[0][1]
    assert load().vocab_size == reference.get_vocab_size(with_added_tokens=True)
    tok = load()
    assert tok.max_token_id == max(vocab.values())
    for token, token_id in sample:
        assert tok.id_to_token(token_id) == reference.id_to_token(token_id)
        assert tok.token_to_id(token) == token_id
    assert tok.get_vocab() == vocab


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_vocabulary_matches_tokenizers(shared_data: Path, name: str) -> None:
    path = tokenizer_path(shared_data, name)
    reference, tok = hf_tokenizer(path), ferro_tokenizer(path)
    assert tok.vocab_size == reference.get_vocab_size(with_added_tokens=True)
    vocab = reference.get_vocab(with_added_tokens=True)
    assert tok.get_vocab() == vocab
    assert tok.max_token_id == max(vocab.values())
    for token, token_id in list(vocab.items())[::997]:
        assert tok.token_to_id(token) == reference.token_to_id(token) == token_id
        assert tok.id_to_token(token_id) == reference.id_to_token(token_id)
    for added in reference.get_added_tokens_decoder().values():
        assert tok.token_to_id(added.content) == reference.token_to_id(added.content)
    assert tok.token_to_id("\u0000no such token\u0000") is None
    assert tok.id_to_token(tok.max_token_id + 1000) is None
    special = {
        added.content: token_id
        for token_id, added in reference.get_added_tokens_decoder().items()
        if added.special
    }
    assert tok.special_tokens == special


def test_tokenizer_refuses_lone_surrogates(shared_data: Path) -> None:
    tok = ferro_tokenizer(tokenizer_path(shared_data, "gpt2"))
    for text in SURROGATE_TEXTS:
        with pytest.raises(UnicodeEncodeError):
            tok.encode(text)
    with pytest.raises(UnicodeEncodeError):
        tok.encode_batch(["fine", "a\ud800b"])


def test_from_str_equals_from_file(shared_data: Path, texts: list[str]) -> None:
    path = tokenizer_path(shared_data, "gpt2")
    from_str = ferrotok.Tokenizer.from_str(read_text(Path(path)))
    from_path = ferrotok.Tokenizer.from_file(Path(path))  # a PathLike works too
    assert from_str.encode_batch(texts) == ferro_tokenizer(path).encode_batch(texts)
    assert from_path.vocab_size == from_str.vocab_size


def test_from_tiktoken(
    shared_data: Path, texts: list[str], tiktoken_reference: Callable[[str], Any]
) -> None:
    reference = tiktoken_reference("cl100k_base")
    path = shared_data / "tiktoken" / "cl100k_base.tiktoken"
    explicit = ferrotok.Tokenizer.from_tiktoken(
        path, pattern=reference._pat_str, special_tokens=reference._special_tokens
    )
    inferred = ferrotok.Tokenizer.from_tiktoken(str(path))  # named after a built-in encoding
    for tok in (explicit, inferred):
        # Tokenizer semantics: special-token text is matched; no post-processor.
        expected = [reference.encode(t, allowed_special="all") for t in texts + list(SPECIAL_TEXTS)]
        assert tok.encode_batch(texts + list(SPECIAL_TEXTS)) == expected
        assert tok.decode_batch(expected) == reference.decode_batch(expected)
        assert tok.special_tokens == reference._special_tokens
    no_specials = ferrotok.Tokenizer.from_tiktoken(path, pattern=reference._pat_str)
    assert no_specials.encode("<|endoftext|>") == reference.encode_ordinary("<|endoftext|>")


def test_from_tiktoken_needs_a_pattern_for_unknown_files(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "my_ranks.tiktoken"
    shutil.copyfile(shared_data / "tiktoken" / "r50k_base.tiktoken", path)
    with pytest.raises(ferrotok.TokenizerError, match="pattern"):
        ferrotok.Tokenizer.from_tiktoken(path)


# --- EncodedBatch -----------------------------------------------------------------------------


def test_encoded_batch_shapes_and_views() -> None:
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    docs = ["Hello, world!", "", "hello world", "", "goodbye world"]
    batch = tok.encode_batch_numpy(docs)
    expected = tok.encode_batch(docs)
    assert batch.tolist() == expected
    assert batch[1].tolist() == [] and batch[1].dtype == np.uint32
    assert batch[-1].tolist() == expected[-1]
    assert np.shares_memory(batch[0], batch.ids)  # a view, not a copy
    with pytest.raises(IndexError):
        batch[len(docs)]
    with pytest.raises(IndexError):
        batch[-len(docs) - 1]
    assert batch[1:3].tolist() == expected[1:3]
    assert batch[::2].tolist() == expected[::2]
    assert batch[3:1].tolist() == []
    assert batch[np.int64(2)].tolist() == expected[2]
    assert "documents=5" in repr(batch)
    matrix, mask = batch.to_padded(pad_id=7)
    longest = max(len(ids) for ids in expected)
    assert matrix.shape == mask.shape == (len(docs), longest)
    for row, row_mask, ids in zip(matrix.tolist(), mask.tolist(), expected, strict=False):
        assert row == ids + [7] * (longest - len(ids))
        assert row_mask == [True] * len(ids) + [False] * (longest - len(ids))
    truncated, _ = batch.to_padded(length=2)
    assert truncated.tolist() == [(ids + [0, 0])[:2] for ids in expected]


def test_encoded_batch_empty() -> None:
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    for batch in (tok.encode_batch_numpy([]), ferrotok.EncodedBatch.from_lists([])):
        assert len(batch) == 0
        assert batch.ids.dtype == np.uint32 and batch.ids.shape == (0,)
        assert batch.offsets.dtype == np.int64 and batch.offsets.tolist() == [0]
        assert batch.tolist() == [] and list(batch) == []
        assert batch.to_padded()[0].shape == (0, 0)
    only_empty = tok.encode_batch_numpy(["", ""])
    assert only_empty.offsets.tolist() == [0, 0, 0] and only_empty.tolist() == [[], []]
    assert tok.encode_batch([]) == []


def test_encoded_batch_rejects_inconsistent_arrays() -> None:
    with pytest.raises(ValueError):
        ferrotok.EncodedBatch(np.zeros(3, np.uint32), np.array([0, 2]))
    with pytest.raises(ValueError):
        ferrotok.EncodedBatch(np.zeros(3, np.uint32), np.array([1, 3]))


# --- Encoding against tiktoken ------------------------------------------------------------------


@pytest.fixture(scope="module", params=TIKTOKEN_NAMES)
def encoding_pair(
    request: pytest.FixtureRequest, tiktoken_reference: Callable[[str], Any]
) -> tuple[ferrotok.Encoding, Any]:
    return ferro_encoding(request.param), tiktoken_reference(request.param)


def test_encoding_attributes_match_tiktoken(encoding_pair: tuple[ferrotok.Encoding, Any]) -> None:
    enc, reference = encoding_pair
    assert enc.name == reference.name
    assert repr(enc) == repr(reference)
    assert enc.n_vocab == reference.n_vocab
    assert enc.max_token_value == reference.max_token_value
    assert enc.eot_token == reference.eot_token
    assert enc.special_tokens_set == reference.special_tokens_set
    assert enc._pat_str == reference._pat_str
    assert enc._special_tokens == reference._special_tokens
    for token in (0, 1, 255, reference.eot_token, *reference._special_tokens.values()):
        assert enc.is_special_token(token) == reference.is_special_token(token)
    assert enc._mergeable_ranks == reference._mergeable_ranks
    assert enc.token_byte_values() == reference.token_byte_values()


def test_encoding_encode_matches_tiktoken(
    encoding_pair: tuple[ferrotok.Encoding, Any], texts: list[str]
) -> None:
    enc, reference = encoding_pair
    ordinary = [reference.encode_ordinary(t) for t in texts]
    assert [enc.encode_ordinary(t) for t in texts] == ordinary
    assert enc.encode_ordinary_batch(texts) == ordinary
    assert enc.encode_ordinary_batch(texts, num_threads=1) == ordinary
    plain = [t for t in texts if not any(s in t for s in reference.special_tokens_set)]
    assert [enc.encode(t) for t in plain] == [reference.encode(t) for t in plain]
    assert enc.encode_batch(plain) == reference.encode_batch(plain)
    every = texts + list(SPECIAL_TEXTS)
    expected = [reference.encode(t, allowed_special="all") for t in every]
    assert [enc.encode(t, allowed_special="all") for t in every] == expected
    assert enc.encode_batch(every, allowed_special="all") == expected
    for text in every[::7]:
        array = enc.encode_to_numpy(text, allowed_special="all")
        assert array.dtype == np.uint32
        assert array.tolist() == reference.encode_to_numpy(text, allowed_special="all").tolist()


def test_encoding_decode_matches_tiktoken(
    encoding_pair: tuple[ferrotok.Encoding, Any], texts: list[str]
) -> None:
    enc, reference = encoding_pair
    id_lists = [reference.encode(t, allowed_special="all") for t in texts + list(SPECIAL_TEXTS)]
    # Token boundaries inside characters: decoding a prefix of ids leaves partial UTF-8.
    id_lists += [ids[:k] for ids in id_lists[::5] for k in range(1, min(len(ids), 6))]
    for ids in id_lists:
        assert enc.decode_bytes(ids) == reference.decode_bytes(ids)
        assert enc.decode(ids) == reference.decode(ids)
        for errors in ("strict", "ignore", "backslashreplace"):
            assert repr(outcome(enc.decode, ids, errors=errors)) == repr(
                outcome(reference.decode, ids, errors=errors)
            )
        assert enc.decode_tokens_bytes(ids) == reference.decode_tokens_bytes(ids)
        assert repr(outcome(enc.decode_with_offsets, ids)) == repr(
            outcome(reference.decode_with_offsets, ids)
        )
    assert enc.decode_batch(id_lists) == reference.decode_batch(id_lists)
    assert enc.decode_bytes_batch(id_lists) == reference.decode_bytes_batch(id_lists)
    assert enc.decode(np.array(id_lists[0], dtype=np.uint32)) == reference.decode(id_lists[0])


def test_encoding_single_tokens_match_tiktoken(
    encoding_pair: tuple[ferrotok.Encoding, Any],
) -> None:
    enc, reference = encoding_pair
    tokens = [*range(0, reference.max_token_value + 1, 4099), *reference._special_tokens.values()]
    for token in tokens:
        expected = outcome(reference.decode_single_token_bytes, token)
        got = outcome(enc.decode_single_token_bytes, token)
        assert got[0] == expected[0], token
        if expected[0] == "ok":
            value = got[1]
            assert value == expected[1]
            assert enc.encode_single_token(value) == reference.encode_single_token(value)
    for special in reference.special_tokens_set:
        assert enc.encode_single_token(special) == reference.encode_single_token(special)
    assert enc.encode_single_token("hello") == reference.encode_single_token("hello")
    with pytest.raises(KeyError):
        enc.encode_single_token(b"\xff\xfe definitely not one token")


def test_encoding_unknown_ids_raise_key_error_like_tiktoken(
    encoding_pair: tuple[ferrotok.Encoding, Any],
) -> None:
    enc, reference = encoding_pair
    unknown = reference.max_token_value + 10
    for method, argument in (
        ("decode", [1, unknown]),
        ("decode_bytes", [unknown]),
        ("decode_single_token_bytes", unknown),
        ("decode_tokens_bytes", [unknown]),
    ):
        with pytest.raises(KeyError):
            getattr(reference, method)(argument)
        with pytest.raises(KeyError) as raised:
            getattr(enc, method)(argument)
        assert isinstance(raised.value, ferrotok.UnknownTokenIdError)
        assert str(unknown) in str(raised.value)


ALLOWED_CHOICES: tuple[Any, ...] = (
    frozenset(),
    "all",
    {"<|endoftext|>"},
    {"<|endofprompt|>", "<|fim_prefix|>"},
    {"not a special token"},
    ["<|endoftext|>"],  # not a set: tiktoken fails on it in some combinations
)
DISALLOWED_CHOICES: tuple[Any, ...] = (
    "all",
    (),
    {"<|endoftext|>"},
    ["<|endofprompt|>"],
    frozenset({"<|endoftext|>", "<|fim_prefix|>"}),
    {"hello"},  # not a special token: tiktoken still refuses it
)


def test_allowed_and_disallowed_special_like_tiktoken(
    encoding_pair: tuple[ferrotok.Encoding, Any],
) -> None:
    enc, reference = encoding_pair
    for allowed in ALLOWED_CHOICES:
        for disallowed in DISALLOWED_CHOICES:
            kwargs = {"allowed_special": allowed, "disallowed_special": disallowed}
            for text in SPECIAL_TEXTS:
                expected = outcome(reference.encode, text, **kwargs)
                where = f"{enc.name} encode({text!r}, {kwargs})"
                assert_same_outcome(where, expected, outcome(enc.encode, text, **kwargs))
                assert_same_outcome(
                    f"{where} [to_numpy]", expected, outcome(enc.encode_to_numpy, text, **kwargs)
                )
            for batch in (list(SPECIAL_TEXTS), list(SPECIAL_TEXTS[::-1]), []):
                assert_same_outcome(
                    f"{enc.name} encode_batch({batch}, {kwargs})",
                    outcome(reference.encode_batch, batch, **kwargs),
                    outcome(enc.encode_batch, batch, **kwargs),
                )


def assert_same_outcome(where: str, expected: tuple[str, Any], got: tuple[str, Any]) -> None:
    if expected[0] == "ok":
        assert got == expected, where
        return
    assert got[0] == "raises", f"{where}: tiktoken raised {expected[1]!r}, ferrotok returned"
    assert isinstance(got[1], type(expected[1])), f"{where}: {got[1]!r} vs {expected[1]!r}"
    if type(expected[1]) is ValueError:
        assert isinstance(got[1], ferrotok.DisallowedSpecialTokenError), where
        assert str(got[1]) == str(expected[1]), where


def test_lone_surrogates_like_tiktoken(encoding_pair: tuple[ferrotok.Encoding, Any]) -> None:
    enc, reference = encoding_pair
    texts = list(SURROGATE_TEXTS)
    assert [enc.encode_ordinary(t) for t in texts] == [reference.encode_ordinary(t) for t in texts]
    assert enc.encode_ordinary_batch(texts) == reference.encode_ordinary_batch(texts)
    expected = [reference.encode(t, allowed_special="all") for t in texts]
    assert [enc.encode(t, allowed_special="all") for t in texts] == expected
    assert enc.encode_batch(texts, allowed_special="all") == expected
    assert_same_outcome(
        "encode with surrogates and a disallowed special token",
        outcome(reference.encode, "\ud800<|endoftext|>"),
        outcome(enc.encode, "\ud800<|endoftext|>"),
    )
    assert enc.encode("\ud800 ok", disallowed_special=()) == reference.encode(
        "\ud800 ok", disallowed_special=()
    )


def test_encoding_from_mergeable_ranks(
    tiktoken_reference: Callable[[str], Any], texts: list[str]
) -> None:
    import tiktoken

    source = tiktoken_reference("r50k_base")
    parts: dict[str, Any] = {
        "pat_str": source._pat_str,
        "mergeable_ranks": source._mergeable_ranks,
        "special_tokens": {**source._special_tokens, "<|mine|>": 50300},
    }
    reference = tiktoken.Encoding("r50k_custom", **parts)
    enc = ferrotok.Encoding("r50k_custom", **parts)
    every = texts + ["hi <|mine|> there", *SPECIAL_TEXTS]
    assert enc.n_vocab == reference.n_vocab == 50301
    assert enc.encode_ordinary_batch(every) == reference.encode_ordinary_batch(every)
    assert enc.encode_batch(every, allowed_special="all") == reference.encode_batch(
        every, allowed_special="all"
    )
    assert enc.decode_single_token_bytes(50300) == b"<|mine|>"
    with pytest.raises(ValueError):
        enc.encode("<|mine|>")
    # explicit_n_vocab is checked, as tiktoken does.
    with pytest.raises(ValueError):
        ferrotok.Encoding("bad", **parts, explicit_n_vocab=50257)


def test_tiny_encoding_like_tiktoken() -> None:
    import tiktoken

    ranks = {bytes([b]): b for b in range(256)}
    for merged in (b"ab", b"cd", b"abcd", b" a"):
        ranks[merged] = len(ranks)
    parts: dict[str, Any] = {
        "pat_str": r"""'s|'t| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        "mergeable_ranks": ranks,
        "special_tokens": {"<|end|>": 300},
    }
    reference = tiktoken.Encoding("tiny", **parts)
    enc = ferrotok.Encoding("tiny", **parts)
    for text in ("abcd abcdab cd", " a b c<|end|>", "ëabcd\n\n  x", ""):
        assert enc.encode(text, allowed_special="all") == reference.encode(
            text, allowed_special="all"
        )
        assert enc.encode_ordinary(text) == reference.encode_ordinary(text)
    assert enc.max_token_value == reference.max_token_value


def test_get_encoding_cache_and_names(tiktoken_reference: Callable[[str], Any]) -> None:
    import tiktoken

    names = ferrotok.list_encoding_names()
    assert set(TIKTOKEN_NAMES) - {"gpt2"} <= set(names)
    assert ferrotok.get_encoding("o200k_base") is ferrotok.get_encoding("o200k_base")
    with pytest.raises(ferrotok.TokenizerError, match="no_such_encoding") as raised:
        ferrotok.get_encoding("no_such_encoding")
    assert isinstance(raised.value, ValueError)
    for model in ("gpt-4o", "gpt-4o-mini-2024", "gpt-4", "gpt-3.5-turbo-0125", "text-davinci-003"):
        expected = tiktoken.encoding_name_for_model(model)
        assert ferrotok.encoding_name_for_model(model) == expected
        assert ferrotok.encoding_for_model(model) is ferrotok.get_encoding(expected)
    with pytest.raises(KeyError):
        ferrotok.encoding_name_for_model("no-such-model")


def test_get_encoding_is_thread_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    import ferrotok.encoding as encoding_module

    # Start from an empty registry so that every thread races to load the encoding.
    monkeypatch.setattr(encoding_module, "_ENCODINGS", {})
    barrier = threading.Barrier(8)

    def load(_: int) -> ferrotok.Encoding:
        barrier.wait()
        return ferrotok.get_encoding("r50k_base")

    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(load, range(8)))
    assert all(enc is loaded[0] for enc in loaded)


def test_pickle() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    payload = pickle.dumps(enc)
    assert len(payload) < 200  # built-ins pickle by name, like tiktoken's
    assert pickle.loads(payload).encode("hello world") == enc.encode("hello world")
    ranks = {bytes([b]): b for b in range(256)}
    ranks[b"ab"] = 256
    custom = ferrotok.Encoding(
        "custom", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={"<|e|>": 257}
    )
    restored = pickle.loads(pickle.dumps(custom))
    assert restored.name == "custom"
    assert restored.encode("abab <|e|>", allowed_special="all") == [256, 256, 32, 257]
    tok = ferrotok.Tokenizer.from_builtin("cl100k_base")
    assert pickle.loads(pickle.dumps(tok)).encode("hello") == tok.encode("hello")


def test_tokenizer_from_file_does_not_pickle(shared_data: Path) -> None:
    tok = ferro_tokenizer(tokenizer_path(shared_data, "gpt2"))
    with pytest.raises(TypeError):
        pickle.dumps(tok)


# --- threads ------------------------------------------------------------------------------------


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def test_concurrent_use_from_threads(shared_data: Path, texts: list[str]) -> None:
    enc = ferrotok.get_encoding("cl100k_base")
    tok = ferro_tokenizer(tokenizer_path(shared_data, "llama-3.1"))
    expected_enc = [enc.encode_ordinary(t) for t in texts]
    expected_tok = [tok.encode(t) for t in texts]
    work = list(chunks(list(range(len(texts))), 7)) * 4

    def run(indices: list[int]) -> bool:
        batch = [texts[i] for i in indices]
        return (
            [enc.encode_ordinary(t) for t in batch] == [expected_enc[i] for i in indices]
            and tok.encode_batch(batch) == [expected_tok[i] for i in indices]
            and tok.encode_batch_numpy(batch).tolist() == [expected_tok[i] for i in indices]
            and enc.encode_batch(batch, disallowed_special=()) == [expected_enc[i] for i in indices]
        )

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(run, work))
