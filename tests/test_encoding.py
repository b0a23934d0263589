"""The rich Encoding (offsets, masks, word and sequence ids, overflowing), pairs, truncation and
padding, the transformers-style call, and `ferrotok.compat.tokenizers`, against `tokenizers`.

Every expected value comes from `tokenizers` itself, run on the same file and text in the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ferrotok
import numpy as np
import pytest
from conftest import CORPUS_FOLDERS, HF_TOKENIZERS, Corpus, Tokenizers, assert_same_encoding
from ferrotok.compat import tokenizers as compat
from hypothesis import given, settings
from hypothesis import strategies as st

#: Text per corpus folder for the whole-field comparison (five folders: about 1 MB in all).
BYTES_PER_FOLDER = 200_000


def sample_texts(corpus: Corpus, limit: int) -> list[str]:
    texts: list[str] = []
    for folder in CORPUS_FOLDERS:
        taken = 0
        for text in corpus.sample(folder).texts:
            if taken >= limit:
                break
            texts.append(text)
            taken += len(text.encode("utf-8"))
    return texts


def reference(tokenizers: Tokenizers, name: str) -> Any:
    from tokenizers import Tokenizer as HF

    hf = HF.from_file(str(tokenizers.tokenizer_json(name)))
    hf.no_truncation()
    hf.no_padding()
    return hf


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_every_field_matches_on_the_corpus(
    name: str, tokenizers: Tokenizers, corpus: Corpus
) -> None:
    texts = sample_texts(corpus, BYTES_PER_FOLDER)
    hf = reference(tokenizers, name)
    mine = compat.Tokenizer.from_file(tokenizers.tokenizer_json(name))
    mine.no_truncation()
    mine.no_padding()
    for add in (True, False):
        subset = texts if add else texts[::4]
        expected = hf.encode_batch(subset, add_special_tokens=add)
        got = mine.encode_batch(subset, add_special_tokens=add)
        for i, (a, b) in enumerate(zip(got, expected, strict=False)):
            assert_same_encoding(a, b, f"{name} text {i} (add_special_tokens={add})")


TRUNCATIONS = [
    (40, 5, "longest_first", "right"),
    (33, 0, "only_first", "left"),
    (64, 10, "longest_first", "left"),
    (50, 3, "only_second", "right"),
]
PADDINGS: list[dict[str, Any] | None] = [
    None,
    {"direction": "right", "pad_to_multiple_of": 8},
    {"length": 80, "direction": "left", "pad_id": 3, "pad_type_id": 1, "pad_token": "<pad>"},
]


@pytest.mark.parametrize("name", HF_TOKENIZERS)
def test_pairs_truncation_stride_and_padding(
    name: str, tokenizers: Tokenizers, corpus: Corpus
) -> None:
    texts = [t[:400] for t in sample_texts(corpus, 6_000)]
    pairs = list(zip(texts[::2], texts[1::2], strict=False))
    hf = reference(tokenizers, name)
    mine = compat.Tokenizer.from_file(tokenizers.tokenizer_json(name))
    for max_length, stride, strategy, direction in TRUNCATIONS:
        for padding in PADDINGS:
            for tok in (hf, mine):
                tok.enable_truncation(
                    max_length, stride=stride, strategy=strategy, direction=direction
                )
                if padding is None:
                    tok.no_padding()
                else:
                    tok.enable_padding(**padding)
            assert mine.truncation == hf.truncation
            assert mine.padding == hf.padding
            for add in (True, False):
                for batch in (pairs, texts[:6]):
                    where = f"{name} {mine.truncation} {mine.padding} add={add}"
                    try:
                        expected = hf.encode_batch(batch, add_special_tokens=add)
                    except Exception as error:  # the reference refuses: so must ferrotok
                        with pytest.raises(ferrotok.TokenizerError):
                            mine.encode_batch(batch, add_special_tokens=add)
                        assert "too short" in str(error) or "Second sequence" in str(error), error
                        continue
                    got = mine.encode_batch(batch, add_special_tokens=add)
                    for i, (a, b) in enumerate(zip(got, expected, strict=False)):
                        assert_same_encoding(a, b, f"{where} input {i}")


def test_file_settings_are_the_defaults(tokenizers: Tokenizers) -> None:
    from tokenizers import Tokenizer as HF

    for name in ("bert-base-uncased", "t5-legal-small-fr-en"):
        path = tokenizers.tokenizer_json(name)
        hf = HF.from_file(str(path))
        mine = compat.Tokenizer.from_file(path)
        assert mine.truncation == hf.truncation
        assert mine.padding == hf.padding
        text = "word " * 300
        assert_same_encoding(mine.encode(text), hf.encode(text), name)
        assert_same_encoding(mine.encode("a", "b"), hf.encode("a", "b"), name)


@pytest.mark.parametrize(
    "name",
    [
        "llama-3.1",
        "bert-base-uncased",
        "albert-base-v2",
        "mistral-7b-v0.1",
        "clip-vit-base-patch32",
    ],
)
@settings(max_examples=60, deadline=None)
@given(first=st.text(max_size=60), second=st.text(max_size=30))
def test_random_text_and_pairs(name: str, first: str, second: str, tokenizers: Tokenizers) -> None:
    hf = tokenizers.hf(name)
    mine = tokenizers.ferro(name)
    for pair in (None, second):
        expected = hf.encode(first, pair)
        got = mine._native.encode_rich([(first, pair)], True, False, None, None)[0]
        assert_same_encoding(got, expected, f"{name} {first!r} {pair!r}")


def test_compat_tokenizer_api(tokenizers: Tokenizers, tmp_path: Path) -> None:
    from tokenizers import AddedToken as HFAddedToken
    from tokenizers import Tokenizer as HF

    path = tokenizers.tokenizer_json("bert-base-uncased")
    hf = HF.from_file(str(path))
    mine = compat.Tokenizer.from_file(path)
    text = "Hello [MASK] world, ça va?"
    assert_same_encoding(mine.encode(text), hf.encode(text), "encode")
    ids = hf.encode(text).ids
    assert mine.decode(ids) == hf.decode(ids)
    assert mine.decode(ids, skip_special_tokens=False) == hf.decode(ids, skip_special_tokens=False)
    assert mine.decode_batch([ids, ids[:3]]) == hf.decode_batch([ids, ids[:3]])
    assert mine.get_vocab() == hf.get_vocab()
    assert mine.get_vocab_size() == hf.get_vocab_size()
    assert mine.get_vocab_size(with_added_tokens=False) == hf.get_vocab_size(
        with_added_tokens=False
    )
    assert mine.token_to_id("[SEP]") == hf.token_to_id("[SEP]")
    assert mine.id_to_token(2000) == hf.id_to_token(2000)
    for is_pair in (False, True):
        assert mine.num_special_tokens_to_add(is_pair) == hf.num_special_tokens_to_add(is_pair)

    # post_process of encodings made without special tokens.
    mine.no_truncation()
    mine.no_padding()
    hf.no_truncation()
    hf.no_padding()
    a, b = (
        mine.encode("first part", add_special_tokens=False),
        mine.encode("second", add_special_tokens=False),
    )
    ha, hb = (
        hf.encode("first part", add_special_tokens=False),
        hf.encode("second", add_special_tokens=False),
    )
    assert_same_encoding(mine.post_process(a, b), hf.post_process(ha, hb), "post_process")

    # Added tokens: the same ids, and the same matching.
    added = ["newword", compat.AddedToken("<ctrl>", lstrip=True, normalized=False)]
    hf_added = ["newword", HFAddedToken("<ctrl>", lstrip=True, normalized=False)]
    assert mine.add_tokens(added) == hf.add_tokens(hf_added)
    assert mine.add_special_tokens(["<extra>"]) == hf.add_special_tokens(["<extra>"])
    text = "a newword here <ctrl> and <extra> end"
    assert_same_encoding(mine.encode(text), hf.encode(text), "after add_tokens")
    assert mine.get_vocab() == hf.get_vocab()

    # to_str and save round-trip through both libraries.
    mine.enable_truncation(16, stride=2)
    saved = tmp_path / "tokenizer.json"
    mine.save(saved)
    again = HF.from_file(str(saved))
    assert again.truncation == mine.truncation
    assert_same_encoding(
        compat.Tokenizer.from_str(mine.to_str()).encode(text), again.encode(text), "to_str"
    )
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(NotImplementedError):
        mine.encode(["pre", "tokenized"], is_pretokenized=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["bert-base-uncased", "llama-3.1", "t5-legal-small-fr-en"])
def test_added_token_options_inside_text(name: str, tokenizers: Tokenizers) -> None:
    from tokenizers import AddedToken as HFAddedToken

    hf = reference(tokenizers, name)
    mine = compat.Tokenizer.from_file(tokenizers.tokenizer_json(name))
    mine.no_truncation()
    mine.no_padding()
    options = [
        ("<left>", {"lstrip": True}),
        ("<right>", {"rstrip": True}),
        ("<both>", {"lstrip": True, "rstrip": True, "normalized": False}),
        ("word", {"single_word": True}),
        ("Ünï", {"normalized": True}),
        ("<raw>", {"normalized": False}),
    ]
    for content, extra in options:
        assert mine.add_tokens([compat.AddedToken(content, **extra)]) == hf.add_tokens(
            [HFAddedToken(content, **extra)]
        )
    assert mine.add_special_tokens(["<sp>"]) == hf.add_special_tokens(["<sp>"])
    texts = [
        "a <left> b  <right>  c<both>d",
        "  <left><right>  <both>  ",
        "word words sword word. (word)",
        "ÜNÏ ünï Ünï x<raw>y <sp> <sp>text",
        "<sp>",
        " <left>",
    ]
    for flag in (False, True):
        hf.encode_special_tokens = flag
        mine.encode_special_tokens = flag
        for text in texts:
            for add in (True, False):
                where = f"{name} {text!r} encode_special_tokens={flag} add={add}"
                assert_same_encoding(
                    mine.encode(text, add_special_tokens=add),
                    hf.encode(text, add_special_tokens=add),
                    where,
                )


def test_call_matches_padded_reference(tokenizers: Tokenizers) -> None:
    from tokenizers import Tokenizer as HF

    path = tokenizers.tokenizer_json("bert-base-uncased")
    tok = ferrotok.Tokenizer.from_file(path)
    hf = HF.from_file(str(path))
    texts = ["Hello there, General Kenobi!", "short", "ünïcödé text with more words in it"]
    pairs = ["one", "two three", "four"]
    hf.enable_truncation(12)
    hf.enable_padding(pad_id=0, pad_token="[PAD]")
    expected = hf.encode_batch(list(zip(texts, pairs, strict=False)))
    batch = tok(
        texts,
        pairs,
        padding=True,
        truncation=True,
        max_length=12,
        return_tensors="np",
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    assert batch["input_ids"].dtype == np.int64
    assert batch["input_ids"].tolist() == [e.ids for e in expected]
    assert batch.attention_mask.tolist() == [e.attention_mask for e in expected]
    assert batch["token_type_ids"].tolist() == [e.type_ids for e in expected]
    assert batch["special_tokens_mask"].tolist() == [e.special_tokens_mask for e in expected]
    assert batch["offset_mapping"].tolist() == [[list(o) for o in e.offsets] for e in expected]
    lists = tok(texts, pairs, padding=True, truncation=True, max_length=12)
    assert lists["input_ids"] == [e.ids for e in expected]
    assert lists.word_ids(1) == expected[1].word_ids
    single = tok("Hello there")
    assert (
        single["input_ids"] == reference(tokenizers, "bert-base-uncased").encode("Hello there").ids
    )
    with pytest.raises(ferrotok.TokenizerError):
        tok(["a", "b c"], return_tensors="np")  # rows of different lengths without padding


def test_from_hf_converts_a_live_tokenizer(tokenizers: Tokenizers) -> None:
    from tokenizers import Tokenizer as HF

    hf = HF.from_file(str(tokenizers.tokenizer_json("llama-3.1")))
    hf.add_special_tokens(["<|my_token|>"])
    tok = ferrotok.Tokenizer.from_hf(hf)
    text = "Hi <|my_token|> there"
    assert tok.encode(text) == hf.encode(text).ids
    with pytest.raises(TypeError):
        ferrotok.Tokenizer.from_hf(object())


def test_bad_truncation_settings_raise(tokenizers: Tokenizers) -> None:
    mine = compat.Tokenizer.from_file(tokenizers.tokenizer_json("bert-base-uncased"))
    mine.enable_truncation(4, stride=3)
    with pytest.raises(ferrotok.TokenizerError, match="stride"):
        mine.encode("one two three four five six")
    mine.enable_truncation(1)
    with pytest.raises(ferrotok.TokenizerError, match="special tokens"):
        mine.encode("one two")
    with pytest.raises(ValueError):
        mine.enable_truncation(8, strategy="nope")
    json.loads(mine.to_str())


#: (tokenizer, padding token) for the comparison with transformers' tokenizer call.
CALL_CASES = [
    ("bert-base-uncased", "[PAD]"),
    ("llama-3.1", "<|end_of_text|>"),
    ("t5-legal-small-fr-en", "<pad>"),
    ("clip-vit-base-patch32", "<|endoftext|>"),
    ("mistral-7b-v0.1", "</s>"),
]


@pytest.mark.parametrize(("name", "pad_token"), CALL_CASES)
def test_call_matches_transformers(
    name: str, pad_token: str, tokenizers: Tokenizers, corpus: Corpus
) -> None:
    transformers = pytest.importorskip("transformers")
    reference_tok = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizers.tokenizer_json(name)), pad_token=pad_token
    )
    tok = ferrotok.Tokenizer.from_hf(reference_tok)
    pad_id = reference_tok.pad_token_id
    texts = [t[:300] for t in sample_texts(corpus, 3_000)][:8]
    pairs = [t[::-1] for t in texts]
    calls: list[dict[str, Any]] = [
        {"padding": True},
        {"padding": True, "truncation": True, "max_length": 24},
        {"padding": "max_length", "truncation": True, "max_length": 40, "padding_side": "left"},
        {"truncation": "only_second", "max_length": 48, "padding": True, "pad_to_multiple_of": 8},
        {"padding": True, "add_special_tokens": False},
    ]
    for options in calls:
        for pair in (None, pairs):
            for tensors in (None, "np"):
                where = f"{name} {options} pair={pair is not None} tensors={tensors}"
                if options.get("truncation") == "only_second" and pair is None:
                    continue
                try:
                    expected = reference_tok(
                        texts,
                        pair,
                        return_tensors=tensors,
                        return_offsets_mapping=True,
                        return_special_tokens_mask=True,
                        **options,
                    )
                except Exception as error:  # the reference refuses: so must ferrotok
                    assert "too short" in str(error), error
                    with pytest.raises(ferrotok.TokenizerError, match="too short"):
                        tok(texts, pair, pad_id=pad_id, **options)
                    continue
                got = tok(
                    texts,
                    pair,
                    return_tensors=tensors,
                    return_offsets_mapping=True,
                    return_special_tokens_mask=True,
                    pad_id=pad_id,
                    **options,
                )
                for key, value in expected.items():
                    mine = got[key]
                    if tensors == "np":
                        assert mine.shape == value.shape, where
                        assert np.array_equal(mine, value), f"{where}: {key}"
                    else:
                        assert [
                            list(map(tuple, r)) if key == "offset_mapping" else list(r)
                            for r in mine
                        ] == [
                            list(map(tuple, r)) if key == "offset_mapping" else list(r)
                            for r in value
                        ], f"{where}: {key}"
