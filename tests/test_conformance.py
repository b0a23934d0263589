"""Token-exact conformance with the reference implementations on real data.

For every byte-level ``tokenizer.json`` (reference: Hugging Face ``tokenizers``) and every tiktoken
encoding (reference: ``tiktoken``), on at least 1 MB of documents from every corpus folder
(``FERROTOK_CONFORMANCE_MB`` sets the amount):

- the ids equal the reference's, with and without special tokens, through the batch APIs;
- decoding equals the reference's decoding, and ``decode(encode(x)) == x``;
- the llama.cpp tokenizer vectors, the stored reference outputs for the unicode edge cases, and the
  stored whole-file token counts are reproduced.

A mismatch is reported with the first differing document, token position, both id windows and
the text around the difference (see ``assert_same_ids`` in conftest.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CORPUS_FOLDERS,
    HF_TOKENIZERS,
    TIKTOKEN_ENCODINGS,
    Corpus,
    Sample,
    Tokenizers,
    assert_same_ids,
    assert_same_texts,
    load_json,
    read_text,
)

SPECIAL_MODES = [False, True]
SPECIAL_MODE_IDS = ["plain", "add_special"]

#: llama.cpp test vectors: model name there → tokenizer name here.
LLAMA_CPP_TOKENIZER_JSON = {
    "gpt-2": "gpt2",
    "gpt-4o": "gpt-4o-o200k",
    "llama-bpe": "llama-3.1",
    "qwen2": "qwen2.5",
    "deepseek-r1-qwen": "qwen2.5",
    "llama-spm": "llama-2-7b-reconstructed",
    "bert-bge": "bert-base-uncased",
}
#: The same vectors hold for the tiktoken encodings with the same vocabulary and pattern.
LLAMA_CPP_TIKTOKEN = {"gpt-2": "r50k_base", "gpt-4o": "o200k_base"}

#: Whole files whose token counts are compared with corpus_token_counts.json: the largest file
#: of every folder, a file with literal special-token strings, and long-line Japanese.
COUNTED_FILES = [
    "corpus/en/war_and_peace_pg2600.txt",
    "corpus/ja/wagahaiwa_nekodearu.txt",
    "corpus/code/rust_crates_pyo3_kitoken_tiktoken-rs_numpy.rs.txt",
    "corpus/multilingual/udhr_532_translations.txt",
    "corpus/multilingual/leipzig_sentences_via_lingua/th.txt",
    "corpus/unicode/edge_cases.txt",
]


def as_lists(batch: Any) -> list[list[int]]:
    return [list(ids) for ids in batch]


# --- reference ids, computed once per session --------------------------------------------------


def hf_reference_ids(
    tokenizers: Tokenizers, name: str, sample: Sample, add_special_tokens: bool
) -> list[list[int]]:
    key = ("hf", name, sample.folder, add_special_tokens)
    if key not in tokenizers.reference_ids:
        encodings = tokenizers.hf(name).encode_batch(
            sample.texts, add_special_tokens=add_special_tokens
        )
        tokenizers.reference_ids[key] = [e.ids for e in encodings]
    return tokenizers.reference_ids[key]


def tiktoken_reference_ids(
    tokenizers: Tokenizers, name: str, sample: Sample, allowed_special: bool
) -> list[list[int]]:
    key = ("tiktoken", name, sample.folder, allowed_special)
    if key not in tokenizers.reference_ids:
        reference = tokenizers.tiktoken(name)
        if allowed_special:
            ids = reference.encode_batch(sample.texts, allowed_special="all")
        else:
            ids = reference.encode_ordinary_batch(sample.texts)
        tokenizers.reference_ids[key] = ids
    return tokenizers.reference_ids[key]


def hf_char_offset(tokenizers: Tokenizers, name: str, texts: list[str], add_special_tokens: bool):
    def locate(document: int, token: int) -> int | None:
        offsets = tokenizers.hf(name).encode(texts[document], add_special_tokens=add_special_tokens)
        return offsets.offsets[token][0] if token < len(offsets.offsets) else len(texts[document])

    return locate


def tiktoken_char_offset(reference: Any, expected: list[list[int]], texts: list[str]):
    def locate(document: int, token: int) -> int | None:
        _, offsets = reference.decode_with_offsets(expected[document])
        return offsets[token] if token < len(offsets) else len(texts[document])

    return locate


# --- tokenizer.json on the corpus --------------------------------------------------------------


@pytest.mark.parametrize("add_special_tokens", SPECIAL_MODES, ids=SPECIAL_MODE_IDS)
@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_tokenizer_json_ids_on_corpus(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str, add_special_tokens: bool
) -> None:
    sample = corpus.sample(folder)
    expected = hf_reference_ids(tokenizers, name, sample, add_special_tokens)
    got = as_lists(
        tokenizers.ferro(name).encode_batch(sample.texts, add_special_tokens=add_special_tokens)
    )
    assert_same_ids(
        f"{name} encode_batch(add_special_tokens={add_special_tokens}) on corpus/{folder}",
        sample.texts,
        expected,
        got,
        origins=sample.origins,
        char_offset=hf_char_offset(tokenizers, name, sample.texts, add_special_tokens),
    )


@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_tokenizer_json_single_and_numpy_paths(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str
) -> None:
    """``encode`` (one text), one thread, and ``encode_batch_numpy`` agree with the reference."""
    sample = corpus.sample(folder)
    expected = hf_reference_ids(tokenizers, name, sample, False)
    tokenizer = tokenizers.ferro(name)
    # One document in ten through the single-text path: it has its own binding.
    chosen = list(range(0, len(sample.texts), 10))
    assert_same_ids(
        f"{name} encode(add_special_tokens=False) on corpus/{folder}",
        [sample.texts[i] for i in chosen],
        [expected[i] for i in chosen],
        [list(tokenizer.encode(sample.texts[i], add_special_tokens=False)) for i in chosen],
        origins=[sample.origins[i] for i in chosen],
    )
    assert_same_ids(
        f"{name} encode_batch(add_special_tokens=False, num_threads=1) on corpus/{folder}",
        sample.texts,
        expected,
        as_lists(tokenizer.encode_batch(sample.texts, add_special_tokens=False, num_threads=1)),
        origins=sample.origins,
    )
    batch = tokenizer.encode_batch_numpy(sample.texts, add_special_tokens=False)
    assert str(batch.ids.dtype) == "uint32" and str(batch.offsets.dtype) == "int64"
    assert len(batch.offsets) == len(sample.texts) + 1
    offsets = batch.offsets.tolist()
    ids = batch.ids.tolist()
    assert offsets[0] == 0 and offsets[-1] == len(ids)
    got = [ids[start:end] for start, end in zip(offsets, offsets[1:], strict=False)]
    assert_same_ids(
        f"{name} encode_batch_numpy(add_special_tokens=False) on corpus/{folder}",
        sample.texts,
        expected,
        got,
        origins=sample.origins,
    )


@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_tokenizer_json_decode_on_corpus(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str
) -> None:
    sample = corpus.sample(folder)
    reference = tokenizers.hf(name)
    tokenizer = tokenizers.ferro(name)

    # decode(encode(x)): x itself for byte-level BPE, except where a normalizer changes the text
    # (qwen2.5 applies NFC): then what the reference gives back.
    reference_ids = hf_reference_ids(tokenizers, name, sample, False)
    expected = reference.decode_batch(reference_ids, skip_special_tokens=False)
    ids = as_lists(tokenizer.encode_batch(sample.texts, add_special_tokens=False))
    assert_same_texts(
        f"{name} decode(encode(x, add_special_tokens=False)) on corpus/{folder}",
        expected,
        [tokenizer.decode(i) for i in ids],
        origins=sample.origins,
    )
    if not has_normalizer(tokenizers, name):
        assert_same_texts(
            f"{name} decode(encode(x)) == x on corpus/{folder}",
            sample.texts,
            expected,
            origins=sample.origins,
        )

    # decode equals the reference's decode, for the reference's ids, in both modes and with
    # special tokens skipped or kept (HF decoding is slow: the other modes on one document in 8).
    assert_same_texts(
        f"{name} decode_batch(skip_special_tokens=False) on corpus/{folder}",
        expected,
        list(tokenizer.decode_batch(reference_ids, skip_special_tokens=False)),
        origins=sample.origins,
    )
    chosen = range(0, len(sample.texts), 8)
    for add_special_tokens in SPECIAL_MODES:
        all_ids = hf_reference_ids(tokenizers, name, sample, add_special_tokens)
        expected_ids = [all_ids[i] for i in chosen]
        for skip_special_tokens in (False, True):
            assert_same_texts(
                f"{name} decode(skip_special_tokens={skip_special_tokens}) of ids from "
                f"encode(add_special_tokens={add_special_tokens}) on corpus/{folder}",
                [
                    reference.decode(i, skip_special_tokens=skip_special_tokens)
                    for i in expected_ids
                ],
                [
                    tokenizer.decode(i, skip_special_tokens=skip_special_tokens)
                    for i in expected_ids
                ],
                origins=[sample.origins[i] for i in chosen],
            )


def has_normalizer(tokenizers: Tokenizers, name: str) -> bool:
    return load_json(tokenizers.tokenizer_json(name)).get("normalizer") is not None


# --- tiktoken encodings on the corpus ----------------------------------------------------------


@pytest.mark.parametrize("allowed_special", [False, True], ids=["ordinary", "allowed_all"])
@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_tiktoken_ids_on_corpus(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str, allowed_special: bool
) -> None:
    sample = corpus.sample(folder)
    expected = tiktoken_reference_ids(tokenizers, name, sample, allowed_special)
    encoding = tokenizers.ferro_encoding(name)
    if allowed_special:
        got = as_lists(encoding.encode_batch(sample.texts, allowed_special="all"))
        api = 'encode_batch(allowed_special="all")'
    else:
        got = as_lists(encoding.encode_ordinary_batch(sample.texts))
        api = "encode_ordinary_batch"
    assert_same_ids(
        f"{name} {api} on corpus/{folder}",
        sample.texts,
        expected,
        got,
        origins=sample.origins,
        char_offset=tiktoken_char_offset(tokenizers.tiktoken(name), expected, sample.texts),
    )


@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_tiktoken_decode_on_corpus(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str
) -> None:
    sample = corpus.sample(folder)
    reference = tokenizers.tiktoken(name)
    encoding = tokenizers.ferro_encoding(name)
    for allowed_special in (False, True):
        ids = tiktoken_reference_ids(tokenizers, name, sample, allowed_special)
        assert_same_texts(
            f"{name} decode(ids) == reference decode == text on corpus/{folder}",
            [reference.decode(i) for i in ids],
            [encoding.decode(i) for i in ids],
            origins=sample.origins,
        )
        assert_same_texts(
            f"{name} decode_bytes(ids) on corpus/{folder}",
            [reference.decode_bytes(i) for i in ids],
            [encoding.decode_bytes(i) for i in ids],
            origins=sample.origins,
        )
    ordinary = as_lists(encoding.encode_ordinary_batch(sample.texts))
    assert_same_texts(
        f"{name} decode(encode_ordinary(x)) == x on corpus/{folder}",
        sample.texts,
        [encoding.decode(i) for i in ordinary],
        origins=sample.origins,
    )


@pytest.mark.parametrize("folder", ["code", "unicode"])
@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_tiktoken_default_encode_rejects_special_text(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str
) -> None:
    """``encode(text)`` raises ValueError exactly where tiktoken does, and agrees elsewhere."""
    sample = corpus.sample(folder)
    reference = tokenizers.tiktoken(name)
    encoding = tokenizers.ferro_encoding(name)

    def outcome(encode: Any, text: str) -> Any:
        try:
            return list(encode(text))
        except ValueError:
            return "ValueError"

    expected = [outcome(reference.encode, t) for t in sample.texts]
    got = [outcome(encoding.encode, t) for t in sample.texts]
    if folder == "code":
        assert "ValueError" in expected, "the code corpus should hold special-token text"
    assert_same_texts(
        f"{name} encode(text) (disallowed_special='all') on corpus/{folder}",
        [repr(e) for e in expected],
        [repr(g) for g in got],
        origins=sample.origins,
    )


@pytest.mark.parametrize("folder", ["code", "unicode", "en"])
@pytest.mark.parametrize("name", TIKTOKEN_ENCODINGS)
def test_tokenizer_from_tiktoken_on_corpus(
    tokenizers: Tokenizers, corpus: Corpus, name: str, folder: str
) -> None:
    """A ``Tokenizer`` built from a rank file has Hugging Face semantics: special tokens match."""
    import ferrotok

    pattern, special_tokens = tokenizers.tiktoken_spec(name)
    tokenizer = ferrotok.Tokenizer.from_tiktoken(
        str(tokenizers.rank_file(name)), pattern=pattern, special_tokens=special_tokens
    )
    sample = corpus.sample(folder)
    expected = tiktoken_reference_ids(tokenizers, name, sample, True)
    got = as_lists(tokenizer.encode_batch(sample.texts, add_special_tokens=False))
    assert_same_ids(
        f"Tokenizer.from_tiktoken({name}) encode_batch on corpus/{folder}",
        sample.texts,
        expected,
        got,
        origins=sample.origins,
        char_offset=tiktoken_char_offset(tokenizers.tiktoken(name), expected, sample.texts),
    )


# --- stored vectors ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_cpp_vectors(data_dir: Path) -> dict[str, Any]:
    vectors: dict[str, Any] = load_json(
        data_dir / "conformance" / "llama_cpp_vocab_tests" / "llama_cpp_vocab_tests.json"
    )
    return vectors


@pytest.fixture(scope="module")
def edge_case_references(data_dir: Path) -> dict[str, Any]:
    references: dict[str, Any] = load_json(
        data_dir / "conformance" / "reference_outputs" / "edge_cases_reference_ids.json"
    )
    return references


@pytest.mark.parametrize("model", sorted(LLAMA_CPP_TOKENIZER_JSON))
def test_llama_cpp_vectors_tokenizer_json(
    tokenizers: Tokenizers, llama_cpp_vectors: dict[str, Any], model: str
) -> None:
    name = LLAMA_CPP_TOKENIZER_JSON[model]
    texts = llama_cpp_vectors["tests"]
    expected = llama_cpp_vectors["models"][model]["ids"]
    tokenizer = tokenizers.ferro(name)
    got = [list(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    assert_same_ids(
        f"{name} on llama.cpp's vectors for {model}",
        texts,
        expected,
        got,
        origins=[f"test {i}" for i in range(len(texts))],
    )
    # Round trip to the text, except where a normalizer changes it (BERT lowercases and drops
    # accents): there, the reference's decoding of the same ids.
    if has_normalizer(tokenizers, name):
        reference = tokenizers.hf(name)
        decoded = [reference.decode(ids, skip_special_tokens=False) for ids in expected]
    else:
        decoded = texts
    assert_same_texts(
        f"{name} decode on llama.cpp's vectors",
        decoded,
        [tokenizer.decode(ids) for ids in got],
    )


@pytest.mark.parametrize("model", sorted(LLAMA_CPP_TIKTOKEN))
def test_llama_cpp_vectors_tiktoken(
    tokenizers: Tokenizers, llama_cpp_vectors: dict[str, Any], model: str
) -> None:
    name = LLAMA_CPP_TIKTOKEN[model]
    texts = llama_cpp_vectors["tests"]
    encoding = tokenizers.ferro_encoding(name)
    assert_same_ids(
        f"{name} encode_ordinary on llama.cpp's vectors for {model}",
        texts,
        llama_cpp_vectors["models"][model]["ids"],
        [list(encoding.encode_ordinary(t)) for t in texts],
        origins=[f"test {i}" for i in range(len(texts))],
    )


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_edge_cases_tokenizer_json(
    tokenizers: Tokenizers, corpus: Corpus, edge_case_references: dict[str, Any], name: str
) -> None:
    reference = edge_case_references["hf"][name]
    cases = corpus.edge_cases()
    tokenizer = tokenizers.ferro(name)
    for field, add_special_tokens in (("ids", False), ("ids_with_special", True)):
        names = list(reference[field])
        assert names, f"no {field} for {name} in edge_cases_reference_ids.json"
        texts = [cases[n] for n in names]
        assert_same_ids(
            f"{name} encode(add_special_tokens={add_special_tokens}) on the edge cases",
            texts,
            [reference[field][n] for n in names],
            [list(tokenizer.encode(t, add_special_tokens=add_special_tokens)) for t in texts],
            origins=names,
        )
    names = list(reference["decoded"])
    assert_same_texts(
        f"{name} decode(reference ids, skip_special_tokens=False) on the edge cases",
        [reference["decoded"][n] for n in names],
        [tokenizer.decode(reference["ids"][n], skip_special_tokens=False) for n in names],
        origins=names,
    )


@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_edge_cases_tiktoken(
    tokenizers: Tokenizers, corpus: Corpus, edge_case_references: dict[str, Any], name: str
) -> None:
    reference = edge_case_references["tiktoken"][name]
    cases = corpus.edge_cases()
    encoding = tokenizers.ferro_encoding(name)
    names = list(reference["ids"])
    texts = [cases[n] for n in names]
    assert_same_ids(
        f"{name} encode_ordinary on the edge cases",
        texts,
        [reference["ids"][n] for n in names],
        [list(encoding.encode_ordinary(t)) for t in texts],
        origins=names,
    )
    names = list(reference["ids_allowed_special"])
    texts = [cases[n] for n in names]
    assert_same_ids(
        f'{name} encode(allowed_special="all") on the edge cases',
        texts,
        [reference["ids_allowed_special"][n] for n in names],
        [list(encoding.encode(t, allowed_special="all")) for t in texts],
        origins=names,
    )


# --- whole-file token counts -------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_token_counts(data_dir: Path) -> dict[str, Any]:
    counts: dict[str, Any] = load_json(
        data_dir / "conformance" / "reference_outputs" / "corpus_token_counts.json"
    )
    return counts


@pytest.fixture(scope="module")
def counted_texts(data_dir: Path, corpus_token_counts: dict[str, Any]) -> dict[str, str]:
    texts = {}
    for relative in COUNTED_FILES:
        path = data_dir / relative
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == corpus_token_counts["files"][relative]["sha256"], f"{path} changed"
        texts[relative] = read_text(path)
    return texts


@pytest.mark.parametrize("relative", COUNTED_FILES)
@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_tokenizer_json_whole_file_counts(
    tokenizers: Tokenizers,
    corpus_token_counts: dict[str, Any],
    counted_texts: dict[str, str],
    name: str,
    relative: str,
) -> None:
    expected = corpus_token_counts["counts"][f"hf:{name}"][relative]
    got = len(tokenizers.ferro(name).encode(counted_texts[relative], add_special_tokens=False))
    assert got == expected, (
        f"{name}: {got} tokens for the whole of {relative}, reference {expected}"
    )


@pytest.mark.parametrize("relative", COUNTED_FILES)
@pytest.mark.parametrize("name", ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"])
def test_tiktoken_whole_file_counts(
    tokenizers: Tokenizers,
    corpus_token_counts: dict[str, Any],
    counted_texts: dict[str, str],
    name: str,
    relative: str,
) -> None:
    expected = corpus_token_counts["counts"][f"tiktoken:{name}"][relative]
    got = len(tokenizers.ferro_encoding(name).encode_ordinary(counted_texts[relative]))
    assert got == expected, (
        f"{name}: {got} tokens for the whole of {relative}, reference {expected}"
    )
