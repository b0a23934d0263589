"""Each Hugging Face component against the reference component, in small tokenizer.json documents.

Every case builds a ``tokenizer.json`` around one component (a normalizer, a pre-tokenizer, a
model or a decoder, with each of its options), loads it in ferrotok and in ``tokenizers`` (with
``Tokenizer.from_str``), and compares the ids, and the decoded text with and without
``skip_special_tokens``, on fixed edge cases and on hypothesis text. The vocabularies are small
and cover the characters of the strategies, so most text reaches the model as known tokens.
"""

from __future__ import annotations

import json
import math
import statistics
import string
from typing import Any

import pytest
from conftest import assert_same_encoding
from hypothesis import given
from hypothesis import strategies as st

# --- the documents -----------------------------------------------------------------------------

#: Characters the strategies draw from: ASCII, accents, CJK, whitespace of every kind, marks,
#: controls, punctuation from several blocks, SentencePiece's ▁.
ALPHABET = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \t\n\r\x0b\x0c\x00\x85\xa0\u1680\u2000\u2028\u3000\ufeff\ufffd\u200b\u200d"
    + "éèÉàçñüßøÅ\u0301\u0308\u0327\u064b\u093f"
    + "中文字日本語のカ한국어"
    + "¡¿«»—–…‘’“”•·、。！？【】（）"
    + "\u2581▁ﬁ①Ⅻ²½"
    + "\U0001f600\U0001f44d\U0001f3fd\ue000"
)

#: Extra vocabulary entries: the alphabet (lowercased too), a few words and pieces.
WORDS = [
    "hello",
    "world",
    "the",
    "un",
    "aff",
    "able",
    "hel",
    "lo",
    "wor",
    "ld",
    "中文",
    "日本",
    "é",
    "e",
    "a",
    "ab",
    "abc",
    "bc",
    "ing",
    "er",
    "s",
    "t",
    "he",
    "▁",
    "▁hello",
    "▁the",
    "▁a",
]


def vocab_tokens() -> list[str]:
    chars = sorted(set(ALPHABET) | set(ALPHABET.lower()))
    tokens: list[str] = []
    for token in WORDS + chars:
        if token not in tokens:
            tokens.append(token)
    return tokens


def wordpiece_model(prefix: str = "##", max_chars: int = 100) -> dict[str, Any]:
    tokens = ["[UNK]", "[CLS]", "[SEP]"]
    for t in vocab_tokens():
        for spelled in (t, prefix + t):
            if spelled not in tokens:
                tokens.append(spelled)
    return {
        "type": "WordPiece",
        "unk_token": "[UNK]",
        "continuing_subword_prefix": prefix,
        "max_input_chars_per_word": max_chars,
        "vocab": {t: i for i, t in enumerate(tokens)},
    }


def wordlevel_model() -> dict[str, Any]:
    tokens = ["<unk>", *vocab_tokens()]
    return {
        "type": "WordLevel",
        "unk_token": "<unk>",
        "vocab": {t: i for i, t in enumerate(tokens)},
    }


def unigram_model(byte_fallback: bool = False, unk_id: int = 0) -> dict[str, Any]:
    tokens = ["<unk>", "<s>", *vocab_tokens()]
    vocab = [[t, -1.0 - 0.37 * len(t) - 0.01 * (i % 7)] for i, t in enumerate(tokens)]
    vocab[0][1] = 0.0
    # Whole words score better than their pieces, and ties are present (same score twice).
    for word in ("hello", "world", "▁hello", "abc"):
        vocab.append([word + "x", -2.0])
    vocab.append(["ab", -3.0])  # a token listed twice: the later id wins
    if byte_fallback:
        vocab += [[f"<0x{b:02X}>", -20.0] for b in range(256)]
    return {"type": "Unigram", "unk_id": unk_id, "vocab": vocab, "byte_fallback": byte_fallback}


def document(
    model: dict[str, Any],
    normalizer: dict[str, Any] | None = None,
    pre_tokenizer: dict[str, Any] | None = None,
    decoder: dict[str, Any] | None = None,
    added: list[dict[str, Any]] | None = None,
) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added or [],
            "normalizer": normalizer,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": None,
            "decoder": decoder,
            "model": model,
        }
    )


def special(content: str, id_: int) -> dict[str, Any]:
    return {
        "id": id_,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


WHITESPACE_SPLIT = {"type": "WhitespaceSplit"}

#: name → tokenizer.json text. Each exercises one component option.
CASES: dict[str, str] = {
    # models
    "wordpiece": document(wordpiece_model(), pre_tokenizer=WHITESPACE_SPLIT),
    "wordpiece_prefix": document(
        wordpiece_model(prefix="@@"),
        pre_tokenizer=WHITESPACE_SPLIT,
        decoder={"type": "WordPiece", "prefix": "@@", "cleanup": False},
    ),
    "wordpiece_max_chars": document(wordpiece_model(max_chars=4), pre_tokenizer=WHITESPACE_SPLIT),
    "wordpiece_no_pre_tokenizer": document(wordpiece_model()),
    "wordlevel": document(wordlevel_model(), pre_tokenizer={"type": "Whitespace"}),
    "unigram": document(unigram_model(), pre_tokenizer=WHITESPACE_SPLIT),
    "unigram_no_pre_tokenizer": document(unigram_model()),
    "unigram_byte_fallback": document(
        unigram_model(byte_fallback=True),
        pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"},
        decoder={
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
            ],
        },
    ),
    "unigram_unk_id_1": document(unigram_model(unk_id=1), pre_tokenizer=WHITESPACE_SPLIT),
    # normalizers
    **{
        f"bert_normalizer_{name}": document(
            wordpiece_model(),
            normalizer={
                "type": "BertNormalizer",
                "clean_text": clean,
                "handle_chinese_chars": chinese,
                "strip_accents": strip,
                "lowercase": lower,
            },
            pre_tokenizer=WHITESPACE_SPLIT,
            decoder={"type": "WordPiece", "prefix": "##", "cleanup": True},
        )
        for name, clean, chinese, strip, lower in [
            ("default", True, True, None, True),
            ("cased", True, True, None, False),
            ("strip_cased", False, False, True, False),
            ("no_strip_lower", True, False, False, True),
            ("nothing", False, False, False, False),
        ]
    },
    **{
        f"strip_{left}_{right}": document(
            wordlevel_model(),
            normalizer={"type": "Strip", "strip_left": left, "strip_right": right},
        )
        for left in (True, False)
        for right in (True, False)
    },
    "strip_accents": document(
        wordpiece_model(),
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]},
        pre_tokenizer=WHITESPACE_SPLIT,
    ),
    "strip_accents_alone": document(
        wordpiece_model(), normalizer={"type": "StripAccents"}, pre_tokenizer=WHITESPACE_SPLIT
    ),
    "byte_level_normalizer": document(
        wordpiece_model(), normalizer={"type": "ByteLevel"}, pre_tokenizer=WHITESPACE_SPLIT
    ),
    # pre-tokenizers
    "whitespace": document(wordlevel_model(), pre_tokenizer={"type": "Whitespace"}),
    "whitespace_split": document(wordlevel_model(), pre_tokenizer=WHITESPACE_SPLIT),
    "bert_pre_tokenizer": document(wordpiece_model(), pre_tokenizer={"type": "BertPreTokenizer"}),
    **{
        f"punctuation_{behavior.lower()}": document(
            wordlevel_model(), pre_tokenizer={"type": "Punctuation", "behavior": behavior}
        )
        for behavior in (
            "Removed",
            "Isolated",
            "MergedWithPrevious",
            "MergedWithNext",
            "Contiguous",
        )
    },
    "char_delimiter_split": document(
        wordlevel_model(), pre_tokenizer={"type": "CharDelimiterSplit", "delimiter": "a"}
    ),
    **{
        f"metaspace_{scheme}_{split}": document(
            unigram_model(),
            pre_tokenizer={
                "type": "Metaspace",
                "replacement": "▁",
                "prepend_scheme": scheme,
                "split": split,
            },
            decoder={
                "type": "Metaspace",
                "replacement": "▁",
                "prepend_scheme": scheme,
                "split": split,
            },
            added=[special("<s>", 1)],
        )
        for scheme in ("always", "first", "never")
        for split in (True, False)
    },
    "metaspace_first_after_whitespace": document(
        unigram_model(),
        normalizer={
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": False,
            "strip_accents": False,
            "lowercase": False,
        },
        pre_tokenizer={
            "type": "Sequence",
            "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
            ],
        },
        added=[special("<s>", 1)],
    ),
    "unicode_scripts": document(wordlevel_model(), pre_tokenizer={"type": "UnicodeScripts"}),
    "unicode_scripts_then_whitespace": document(
        wordpiece_model(),
        pre_tokenizer={
            "type": "Sequence",
            "pretokenizers": [{"type": "UnicodeScripts"}, {"type": "Whitespace"}],
        },
    ),
    "metaspace_legacy": document(
        unigram_model(),
        pre_tokenizer={"type": "Metaspace", "replacement": "_", "add_prefix_space": True},
        decoder={"type": "Metaspace", "replacement": "_", "add_prefix_space": True},
    ),
    # decoders
    "bpe_decoder": document(
        wordlevel_model(),
        pre_tokenizer=WHITESPACE_SPLIT,
        decoder={"type": "BPEDecoder", "suffix": "e"},
    ),
    "ctc": document(
        wordlevel_model(),
        pre_tokenizer={
            "type": "Split",
            "pattern": {"String": ""},
            "behavior": "Isolated",
            "invert": False,
        },
        decoder={"type": "CTC", "pad_token": "a", "word_delimiter_token": "b", "cleanup": True},
    ),
    "ctc_no_cleanup": document(
        wordlevel_model(),
        decoder={
            "type": "CTC",
            "pad_token": "<unk>",
            "word_delimiter_token": "|",
            "cleanup": False,
        },
    ),
    "wordpiece_decoder_cleanup": document(
        wordpiece_model(),
        pre_tokenizer={"type": "BertPreTokenizer"},
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True},
    ),
}

FIXED_TEXTS = [
    "",
    " ",
    "hello world",
    "  Hello   World  ",
    "unaffable helloworld the",
    "Héllo Wörld! ÉCOLE Ñandú",
    "中文字 日本語のカ 한국어",
    "a\u0301 e\u0308\u0327 \u064b",
    "\x00hello\ufffd world\x0b\x0c\t\n\r",
    "don't I'm it's you've we're do not . , ! ?",
    "<s>hello<s> world<s>",
    "▁hello ▁▁the",
    "aaa abcabc bcab",
    "ﬁ①Ⅻ²½ \U0001f600\U0001f44d\U0001f3fd",
    "x" * 150 + " " + "hello" * 30,
    "\ue000 \u200b\u200d \u2028\u3000\xa0",
    "  \u1680a",
]

texts = st.text(alphabet=st.sampled_from(ALPHABET), max_size=40) | st.lists(
    st.sampled_from(WORDS + [" ", "  ", "<s>", "\t", "!", "é", "\u0301"]), max_size=12
).map("".join)


# --- comparison ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[Any, Any]]:
    import ferrotok
    import tokenizers

    return {
        name: (ferrotok.Tokenizer.from_str(text), tokenizers.Tokenizer.from_str(text))
        for name, text in CASES.items()
    }


def compare(pair: tuple[Any, Any], name: str, text: str) -> None:
    ours, reference = pair
    expected = reference.encode(text, add_special_tokens=False).ids
    got = list(ours.encode(text, add_special_tokens=False))
    assert got == expected, f"{name}: encode({text!r})"
    for skip in (False, True):
        want = reference.decode(expected, skip_special_tokens=skip)
        assert ours.decode(expected, skip_special_tokens=skip) == want, (
            f"{name}: decode({expected}, skip_special_tokens={skip}) of {text!r}"
        )
    # Every field of the rich Encoding: offsets through this component, tokens, word ids.
    full = ours._native.encode_rich([(text, None)], True, False, None, None)[0]
    assert_same_encoding(full, reference.encode(text), f"{name}: {text!r}")


@pytest.mark.parametrize("text", FIXED_TEXTS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_component_fixed_texts(pairs: dict[str, tuple[Any, Any]], name: str, text: str) -> None:
    compare(pairs[name], name, text)


@pytest.mark.parametrize("name", sorted(CASES))
@given(text=texts)
def test_component_random_text(pairs: dict[str, tuple[Any, Any]], name: str, text: str) -> None:
    compare(pairs[name], name, text)


# --- loading errors ------------------------------------------------------------------------------

#: (the part replaced in a working document, the error class name, text the message holds)
BROKEN = [
    (
        {"normalizer": {"type": "Nope"}},
        "UnsupportedComponentError",
        'normalizer: normalizer type "Nope"',
    ),
    (
        {"normalizer": {"type": "Strip", "strip_left": True}},
        "TokenizerFileError",
        "normalizer.strip_right: missing field",
    ),
    (
        {"normalizer": {"type": "Precompiled", "precompiled_charsmap": "@@"}},
        "TokenizerFileError",
        "normalizer.precompiled_charsmap: invalid base64",
    ),
    (
        {
            "normalizer": {
                "type": "BertNormalizer",
                "clean_text": True,
                "handle_chinese_chars": True,
                "strip_accents": "yes",
                "lowercase": True,
            }
        },
        "TokenizerFileError",
        "normalizer.strip_accents",
    ),
    (
        {"normalizer": {"type": "BertNormalizer", "lowercase": True}},
        "TokenizerFileError",
        "normalizer.clean_text: missing field",
    ),
    (
        {"pre_tokenizer": {"type": "Metaspace", "replacement": "ab"}},
        "TokenizerFileError",
        "pre_tokenizer.replacement: expected one character",
    ),
    (
        {"pre_tokenizer": {"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"}},
        "TokenizerFileError",
        "pre_tokenizer.prepend_scheme",
    ),
    (
        {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "UnicodeScriptz"}]}},
        "UnsupportedComponentError",
        "pre_tokenizer.pretokenizers[0]",
    ),
    (
        {"decoder": {"type": "CTC", "pad_token": "<pad>"}},
        "TokenizerFileError",
        "decoder.word_delimiter_token: missing field",
    ),
    (
        {"decoder": {"type": "WordPiece", "prefix": "##"}},
        "TokenizerFileError",
        "decoder.cleanup: missing field",
    ),
    (
        {
            "model": {
                "type": "WordPiece",
                "unk_token": "[UNK]",
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {"a": 0},
            }
        },
        "TokenizerFileError",
        "model.unk_token",
    ),
    (
        {"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", 0.0]]}},
        "TokenizerFileError",
        "model.unk_id",
    ),
    (
        {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", "x"]]}},
        "TokenizerFileError",
        "model.vocab[0]",
    ),
    (
        {"model": {"type": "WordLevel", "vocab": {"a": 0}}},
        "TokenizerFileError",
        "model.unk_token: missing field",
    ),
]


@pytest.mark.parametrize(("change", "error", "needle"), BROKEN)
def test_component_errors_name_the_path(change: dict[str, Any], error: str, needle: str) -> None:
    import ferrotok

    doc = json.loads(CASES["wordpiece"])
    doc.update(change)
    with pytest.raises(getattr(ferrotok, error)) as info:
        ferrotok.Tokenizer.from_str(json.dumps(doc))
    assert needle in str(info.value)


# --- BPE-dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpt2", "mistral-7b-v0.1", "clip-vit-base-patch32", "llama-3.1"])
def test_bpe_dropout(name: str, tokenizers: Any, corpus: Any) -> None:
    """Dropout 1.0 (no merge survives) is deterministic: compared id for id with the reference.
    Between 0 and 1 the output is random in both libraries: it must decode like the reference's,
    be no longer than the unmerged units, be longer than the merged output over the corpus, and
    change from run to run."""
    import ferrotok
    from tokenizers import Tokenizer as HF

    document = json.loads(tokenizers.tokenizer_json(name).read_text(encoding="utf-8"))
    texts = [t for t in corpus.sample("en").texts[:40] + corpus.sample("ja").texts[:10] if t]

    def both(dropout: float | None) -> tuple[Any, Any]:
        document["model"]["dropout"] = dropout
        text = json.dumps(document)
        return ferrotok.Tokenizer.from_str(text), HF.from_str(text)

    mine, hf = both(1.0)
    assert mine.encode_batch(texts) == [e.ids for e in hf.encode_batch(texts)]
    unmerged = [len(ids) for ids in mine.encode_batch(texts)]

    mine, hf = both(None)
    merged = [len(ids) for ids in mine.encode_batch(texts)]

    mine, hf = both(0.3)
    first = mine.encode_batch(texts)
    second = mine.encode_batch(texts)
    assert first != second
    reference = [e.ids for e in hf.encode_batch(texts)]
    assert mine.decode_batch(first) == hf.decode_batch(reference, skip_special_tokens=False)
    for ids, high in zip(first, unmerged, strict=False):
        assert len(ids) <= high

    # The corpus's token count is random in both libraries, and must follow the reference's
    # distribution. A skipped merge goes back into the queue after the next merge, so in a
    # long piece (Mistral has no pre-tokenizer: a whole line is one piece) nearly every skip
    # is made up later: the count is only about 8 above the merged 70,096, with a spread of
    # 4, and one run can even fall below it. So runs are compared as means, against the
    # reference's, within five standard errors of their difference (a false alarm about once
    # in two million).
    runs = 8
    ours = [sum(map(len, ids)) for ids in [first, second]]
    ours += [sum(map(len, mine.encode_batch(texts))) for _ in range(runs - 2)]
    theirs = [sum(len(e.ids) for e in hf.encode_batch(texts)) for _ in range(runs)]
    error = math.sqrt((statistics.variance(ours) + statistics.variance(theirs)) / runs)
    assert abs(statistics.mean(ours) - statistics.mean(theirs)) <= 5 * error + 1
    assert statistics.mean(ours) > sum(merged)

    document["model"]["dropout"] = 1.5
    with pytest.raises(ferrotok.TokenizerFileError, match=r"model\.dropout"):
        ferrotok.Tokenizer.from_str(json.dumps(document))
