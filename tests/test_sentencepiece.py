"""ALBERT and T5 against ``sentencepiece`` itself: where the reference's conversion differs.

The ``tokenizer.json`` files of albert-base-v2 and t5-legal-small-fr-en were converted from the
SentencePiece models beside them (``spiece.model``) by transformers' ``AlbertConverter`` and
``T5Converter``. ferrotok follows the reference, Hugging Face ``tokenizers``, on those files; this
module checks that, and pins down exactly where the conversion gives other ids than
``sentencepiece`` on the same text (the list, with causes, is docs/sentencepiece.md):

- the installed ``sentencepiece`` reproduces the stored ids of
  conformance/reference_outputs/sentencepiece_reference_ids.json (so the comparison is against a
  known version, 0.2.3);
- ferrotok gives the reference's ids on text from every corpus folder;
- what the conversion carries over unchanged (pieces, scores, charsmap, unknown id) and what it
  changes (added tokens, extra normalizers, ALBERT's digit-comma scores, no stripping);
- ``ConvertedSentencePiece`` runs ``sentencepiece`` inside the documented differences; it must
  reproduce the reference's ids on every sampled document, except exact ties between two
  segmentations, and each difference must be needed somewhere in the sample;
- one test per difference on small inputs, and the example table of docs/sentencepiece.md
  recomputed from both libraries.

Ids and pieces are computed live from both libraries; the tests state how they relate, and no
expected output is written down by hand (but the table of docs/sentencepiece.md, which a test
recomputes).
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import re
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sentencepiece
from conftest import CORPUS_FOLDERS, REPO, Corpus, Tokenizers, assert_same_ids, load_json
from tokenizers import normalizers as hf_normalizers

#: The Unigram tokenizer.json files converted from a SentencePiece model (tokenizers/<name>/).
SPM_TOKENIZERS = ("albert-base-v2", "t5-legal-small-fr-en")
#: Bytes of UTF-8 documents sampled from each corpus folder (the full conformance suite takes
#: 1 MB per folder; this module runs sentencepiece on every piece of text between added tokens).
SAMPLE_BYTES = 128 * 1024
STORED_IDS = "conformance/reference_outputs/sentencepiece_reference_ids.json"
DOCUMENTATION = REPO / "docs" / "sentencepiece.md"

#: SentencePiece's whitespace symbol, U+2581.
SPACE = "\u2581"
#: Rust's ``char::is_whitespace`` (Unicode White_Space): what an added token's lstrip/rstrip
#: takes with it, as a regex character class body.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

# The differences, by name, as ConvertedSentencePiece applies them.
#: The reference cuts the text at its added tokens first; every piece in between is encoded alone.
ADDED_TOKENS = "added_tokens"
#: ALBERT's converter puts Replace(``→"), Replace(''→"), NFKD, StripAccents and Lowercase before
#: the model's own normalizer.
EXTRA_NORMALIZERS = "extra_normalizers"
#: ALBERT's converter scores pieces ending in a digit and a comma 100 lower.
DIGIT_COMMA_SCORES = "digit_comma_scores"
#: The converted normalizers collapse runs of spaces but never strip trailing whitespace.
TRAILING_SPACE = "trailing_space"
DIFFERENCES = {
    "albert-base-v2": (ADDED_TOKENS, EXTRA_NORMALIZERS, DIGIT_COMMA_SCORES, TRAILING_SPACE),
    "t5-legal-small-fr-en": (ADDED_TOKENS, TRAILING_SPACE),
}
#: Pieces whose scores AlbertConverter lowers (its ``check_number_comma``).
DIGIT_COMMA = re.compile(r"\d,\Z")


# --- reading a SentencePiece model ---------------------------------------------------------------
#
# Without protobuf installed, a model file is read with the protobuf wire format directly, which is
# all that is needed: ModelProto field 1 holds the pieces (each with its score as field 2, a
# little-endian float), field 3 the normalizer spec (its charsmap is field 2).


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def protobuf_fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end of the value) for each field of one message."""
    position = start
    while position < end:
        key, position = _varint(data, position)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, value_end = _varint(data, position)
        elif wire_type == 1:
            value_end = position + 8
        elif wire_type == 2:
            length, position = _varint(data, position)
            value_end = position + length
        elif wire_type == 5:
            value_end = position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type} at byte {position}")
        yield field, wire_type, position, value_end
        position = value_end


def model_charsmap(model: bytes) -> bytes:
    """The ``precompiled_charsmap`` of a model's normalizer spec."""
    for field, _, start, end in protobuf_fields(model, 0, len(model)):
        if field == 3:
            for inner, _, value_start, value_end in protobuf_fields(model, start, end):
                if inner == 2:
                    return model[value_start:value_end]
    raise AssertionError("the model has no precompiled charsmap")


def unk_surface(path: Path) -> str:
    """How sentencepiece decodes ``<unk>``: the trainer spec's ``unk_surface`` (field 44)."""
    model = path.read_bytes()
    for field, _, start, end in protobuf_fields(model, 0, len(model)):
        if field == 2:
            for inner, _, value_start, value_end in protobuf_fields(model, start, end):
                if inner == 44:
                    return model[value_start:value_end].decode("utf-8")
    return " \u2047 "  # the default of sentencepiece_model.proto


#: SentencePiece piece types (sentencepiece_model.proto, SentencePiece.Type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def piece_types(model: bytes) -> list[int]:
    """The type of each piece, in id order (NORMAL when the field is absent)."""
    types = []
    for field, _, start, end in protobuf_fields(model, 0, len(model)):
        if field == 1:
            kind = NORMAL
            for inner, wire_type, value_start, _ in protobuf_fields(model, start, end):
                if inner == 3 and wire_type == 0:
                    kind = _varint(model, value_start)[0]
            types.append(kind)
    return types


def with_scores(model: bytes, scores: Sequence[float]) -> bytes:
    """The model with each piece's score replaced where it differs from ``scores``."""
    patched = bytearray(model)
    pieces = [(s, e) for field, _, s, e in protobuf_fields(model, 0, len(model)) if field == 1]
    assert len(pieces) == len(scores), f"{len(pieces)} pieces, {len(scores)} scores"
    for (start, end), score in zip(pieces, scores, strict=False):
        for field, wire_type, value_start, value_end in protobuf_fields(model, start, end):
            if field == 2 and wire_type == 5:
                (old,) = struct.unpack("<f", model[value_start:value_end])
                if abs(old - score) > 1e-4:
                    patched[value_start:value_end] = struct.pack("<f", score)
                break
        else:
            assert score == 0.0, f"a piece without a stored score gets {score}"
    return bytes(patched)


# --- sentencepiece inside the converted pipeline -------------------------------------------------


def hf_normalizer(step: dict[str, Any]) -> Any:
    """A ``tokenizers`` normalizer from its tokenizer.json form (the kinds ALBERT's file uses)."""
    kind = step["type"]
    if kind == "Replace" and "String" in step["pattern"]:
        return hf_normalizers.Replace(step["pattern"]["String"], step["content"])
    if kind in ("NFKD", "StripAccents", "Lowercase"):
        return getattr(hf_normalizers, kind)()
    raise AssertionError(f"unexpected normalizer before the charsmap: {step}")


class ConvertedSentencePiece:
    """``sentencepiece`` run inside the reference's pipeline: the documented differences as code.

    ``ids(text)`` is meant to equal the reference's ids (``add_special_tokens=False``):

    - ``added_tokens``: the text is cut at the added tokens of tokenizer.json, found in the raw
      text, longest first (``[MASK]``'s lstrip takes the whitespace before it); each gives its id,
      and each piece of text in between is encoded on its own, so it gets its own ``▁`` prefix.
    - ``extra_normalizers``: the normalizers tokenizer.json runs before the charsmap (ALBERT's
      quote replacements, NFKD, StripAccents, Lowercase), run by ``tokenizers`` itself.
    - ``digit_comma_scores``: a copy of the model with tokenizer.json's scores (ALBERT lowers the
      pieces ending in a digit and a comma by 100).
    - ``trailing_space``: a piece of text whose normalized form ends in a space gets one more
      ``▁`` (sentencepiece strips it).

    ``without`` leaves differences out, to show that each of them is needed.
    """

    def __init__(self, tokenizer_dir: Path) -> None:
        self.model_path = tokenizer_dir / "spiece.model"
        self.config: dict[str, Any] = load_json(tokenizer_dir / "tokenizer.json")
        model = self.model_path.read_bytes()
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=model)
        scores = [score for _, score in self.config["model"]["vocab"]]
        self.rescored = sentencepiece.SentencePieceProcessor(
            model_proto=with_scores(model, scores[: self.processor.vocab_size()])
        )
        # The model's own normalizer (charsmap only): tells where the normalized text ends.
        self.charsmap = sentencepiece.SentencePieceNormalizer(
            model_proto=model,
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            escape_whitespaces=False,
        )
        self.space_id = self.processor.piece_to_id(SPACE)
        steps = self.config["normalizer"]["normalizers"]
        precompiled = [s["type"] for s in steps].index("Precompiled")
        extra = [hf_normalizer(step) for step in steps[:precompiled]]
        self.extra_normalizer = hf_normalizers.Sequence(extra) if extra else None
        self.added_tokens = self._added_token_pattern(self.config["added_tokens"])

    @staticmethod
    def _added_token_pattern(added_tokens: list[dict[str, Any]]) -> re.Pattern[str]:
        alternatives = []
        first = set()
        for token in sorted(added_tokens, key=lambda t: -len(t["content"])):
            pattern = re.escape(token["content"])
            first.add(re.escape(token["content"][0]))
            if token["lstrip"]:
                pattern = f"[{WHITESPACE}]*{pattern}"
                first.add(WHITESPACE)
            if token["rstrip"]:
                pattern = f"{pattern}[{WHITESPACE}]*"
            alternatives.append(f"(?P<id{token['id']}>{pattern})")
        # The look-ahead lets the regex engine skip most positions at once.
        return re.compile(f"(?=[{''.join(sorted(first))}])(?:{'|'.join(alternatives)})")

    def ids(self, text: str, without: Sequence[str] = ()) -> list[int]:
        ids: list[int] = []
        if ADDED_TOKENS in without:
            self._encode_text(text, without, ids)
            return ids
        position = 0
        for match in self.added_tokens.finditer(text):
            self._encode_text(text[position : match.start()], without, ids)
            assert match.lastgroup is not None
            ids.append(int(match.lastgroup[2:]))
            position = match.end()
        self._encode_text(text[position:], without, ids)
        return ids

    def _encode_text(self, text: str, without: Sequence[str], ids: list[int]) -> None:
        if not text:
            return
        if self.extra_normalizer is not None and EXTRA_NORMALIZERS not in without:
            text = self.extra_normalizer.normalize_str(text)
        processor = self.processor if DIGIT_COMMA_SCORES in without else self.rescored
        ids.extend(processor.encode(text))
        if TRAILING_SPACE not in without and self.charsmap.normalize(text).endswith(" "):
            ids.append(self.space_id)


@pytest.fixture(scope="module")
def spm_corpus(data_dir: Path) -> Corpus:
    """A smaller sample than the conformance suite's, from the same folders and the same code."""
    return Corpus(data_dir, sample_bytes=SAMPLE_BYTES)


class Models:
    """The reference, ferrotok and sentencepiece for each converted model, and reference ids."""

    def __init__(self, data_dir: Path, tokenizers: Tokenizers, corpus: Corpus) -> None:
        self.data_dir = data_dir
        self.tokenizers = tokenizers
        self.corpus = corpus
        self._ids: dict[tuple[str, str, bool], list[list[int]]] = {}

    @functools.cache  # noqa: B019  (one instance per module)
    def converted(self, name: str) -> ConvertedSentencePiece:
        return ConvertedSentencePiece(self.data_dir / "tokenizers" / name)

    def spm(self, name: str) -> Any:
        return self.converted(name).processor

    def reference(self, name: str) -> Any:
        return self.tokenizers.hf(name)

    def ferro(self, name: str) -> Any:
        return self.tokenizers.ferro(name)

    def reference_ids(
        self, name: str, folder: str, add_special_tokens: bool = False
    ) -> list[list[int]]:
        """The reference's ids for the module's sample of ``folder``, computed once."""
        key = (name, folder, add_special_tokens)
        if key not in self._ids:
            texts = self.corpus.sample(folder).texts
            encodings = self.reference(name).encode_batch(
                texts, add_special_tokens=add_special_tokens
            )
            self._ids[key] = [e.ids for e in encodings]
        return self._ids[key]


@pytest.fixture(scope="module")
def models(data_dir: Path, tokenizers: Tokenizers, spm_corpus: Corpus) -> Models:
    return Models(data_dir, tokenizers, spm_corpus)


def reference_pieces(models: Models, name: str, text: str) -> list[str]:
    tokens: list[str] = models.reference(name).encode(text, add_special_tokens=False).tokens
    return tokens


def spm_pieces(models: Models, name: str, text: str) -> list[str]:
    pieces: list[str] = models.spm(name).encode(text, out_type=str)
    return pieces


def ids_of(models: Models, name: str, text: str) -> tuple[list[int], list[int]]:
    """(the reference's ids, sentencepiece's ids), after checking ferrotok's against the first."""
    reference = models.reference(name).encode(text, add_special_tokens=False).ids
    ours = list(models.ferro(name).encode(text, add_special_tokens=False))
    assert ours == reference, f"{name}: ferrotok {ours} != tokenizers {reference} for {text!r}"
    return reference, models.spm(name).encode(text)


# --- the installed sentencepiece is the one the stored ids came from ---------------------------


@pytest.fixture(scope="module")
def stored_ids(data_dir: Path) -> dict[str, Any]:
    stored: dict[str, Any] = load_json(data_dir / STORED_IDS)
    return stored


@pytest.mark.parametrize(
    "model",
    [
        "tokenizers/albert-base-v2/spiece.model",
        "tokenizers/t5-legal-small-fr-en/spiece.model",
        "conformance/sentencepiece_test_models/test_model.model",
        "conformance/sentencepiece_test_models/test_ja_model.model",
    ],
)
def test_installed_sentencepiece_reproduces_stored_ids(
    data_dir: Path, corpus: Corpus, stored_ids: dict[str, Any], model: str
) -> None:
    stored = stored_ids["models"][model]
    path = data_dir / model
    assert hashlib.sha256(path.read_bytes()).hexdigest() == stored["sha256"], f"{path} changed"
    processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    assert processor.vocab_size() == stored["vocab_size"]
    cases = corpus.edge_cases()
    names = list(stored["ids"])
    assert set(names) == set(cases), "the stored ids are for another edge_cases.json"
    texts = [cases[n] for n in names]
    what = f"sentencepiece {sentencepiece.__version__} on {model}"
    assert_same_ids(
        f"{what}: ids",
        texts,
        [stored["ids"][n] for n in names],
        processor.encode(texts, out_type=int),
        origins=names,
    )
    pieces = processor.encode(texts, out_type=str)
    differing = [n for n, p in zip(names, pieces, strict=False) if p != stored["pieces"][n]]
    assert not differing, f"{what}: pieces differ on {differing}"


# --- ferrotok follows the reference ------------------------------------------------------------


@pytest.mark.parametrize("add_special_tokens", [False, True], ids=["plain", "add_special"])
@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_ferrotok_follows_the_reference(
    models: Models, spm_corpus: Corpus, name: str, folder: str, add_special_tokens: bool
) -> None:
    sample = spm_corpus.sample(folder)
    got = models.ferro(name).encode_batch(sample.texts, add_special_tokens=add_special_tokens)
    assert_same_ids(
        f"{name} encode_batch(add_special_tokens={add_special_tokens}) on corpus/{folder}",
        sample.texts,
        models.reference_ids(name, folder, add_special_tokens),
        [list(ids) for ids in got],
        origins=sample.origins,
    )


# --- what the conversion keeps and what it changes ---------------------------------------------


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_conversion_keeps_the_model(models: Models, name: str) -> None:
    """Pieces, ids, scores (but ALBERT's digit-comma pieces), unknown id and charsmap carry over."""
    converted = models.converted(name)
    processor = converted.processor
    config = converted.config
    size = processor.vocab_size()
    vocab = config["model"]["vocab"]
    assert config["model"]["type"] == "Unigram"
    assert [piece for piece, _ in vocab[:size]] == [processor.id_to_piece(i) for i in range(size)]
    # T5Converter appends the sentinel tokens <extra_id_99> ... <extra_id_0>.
    extra = [piece for piece, _ in vocab[size:]]
    if name.startswith("t5"):
        assert extra == [f"<extra_id_{i}>" for i in range(99, -1, -1)]
    else:
        assert extra == []
    assert config["model"]["unk_id"] == processor.unk_id()

    lowered = {
        i: vocab[i][1] - processor.get_score(i)
        for i in range(size)
        if abs(vocab[i][1] - processor.get_score(i)) > 1e-4
    }
    if name.startswith("albert"):
        # AlbertConverter: every piece ending in a digit and a comma, and only those, 100 lower.
        assert set(lowered) == {i for i in range(size) if DIGIT_COMMA.search(vocab[i][0])}
        assert all(abs(delta + 100) < 1e-3 for delta in lowered.values())
        assert len(lowered) > 100
    else:
        assert lowered == {}

    # The charsmap is copied byte for byte, and neither side falls back to bytes.
    steps = config["normalizer"]["normalizers"]
    (precompiled,) = [s for s in steps if s["type"] == "Precompiled"]
    charsmap = base64.b64decode(precompiled["precompiled_charsmap"])
    assert charsmap == model_charsmap(converted.model_path.read_bytes())
    assert not config["model"].get("byte_fallback")
    assert not any(processor.is_byte(i) for i in range(size))


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_conversion_changes_the_pipeline(models: Models, name: str) -> None:
    """The converted pipeline: extra normalizers, no Strip, Metaspace, added tokens."""
    converted = models.converted(name)
    processor = converted.processor
    config = converted.config
    steps = config["normalizer"]["normalizers"]
    kinds = [s["type"] for s in steps]
    if name.startswith("albert"):
        assert kinds[:5] == ["Replace", "Replace", "NFKD", "StripAccents", "Lowercase"]
        assert [s["pattern"]["String"] for s in steps[:2]] == ["``", "''"]
        assert [s["content"] for s in steps[:2]] == ['"', '"']
        kinds = kinds[5:]
        steps = steps[5:]
    # The charsmap, then runs of spaces made one: no Strip anywhere.
    assert kinds == ["Precompiled", "Replace"]
    assert steps[1]["pattern"] == {"Regex": " {2,}"} and steps[1]["content"] == " "
    pre_tokenizer = config["pre_tokenizer"]
    assert pre_tokenizer["type"] == "Metaspace" and pre_tokenizer["replacement"] == SPACE
    assert pre_tokenizer.get("prepend_scheme", "always") == "always"
    assert pre_tokenizer.get("add_prefix_space", True) is True

    # The added tokens: the model's control pieces (special) and user-defined pieces (not
    # special), never normalized; for T5 also the sentinels.
    added = {t["content"]: t for t in config["added_tokens"]}
    size = processor.vocab_size()
    types = piece_types(converted.model_path.read_bytes())
    assert len(types) == size
    controls = {processor.id_to_piece(i) for i, t in enumerate(types) if t == CONTROL}
    user_defined = {processor.id_to_piece(i) for i, t in enumerate(types) if t == USER_DEFINED}
    assert types.count(UNKNOWN) == 1 and types[processor.unk_id()] == UNKNOWN
    unknown = processor.id_to_piece(processor.unk_id())
    sentinels = {p for p in added if p.startswith("<extra_id_")}
    assert set(added) == controls | {unknown} | user_defined | sentinels
    assert all(added[p]["special"] for p in controls | {unknown} | sentinels)
    assert not any(added[p]["special"] for p in user_defined)
    assert not any(t["normalized"] for t in added.values())
    if name.startswith("albert"):
        assert user_defined == set('()"-.\u2013\u00a3\u20ac')
        assert [t["content"] for t in added.values() if t["lstrip"]] == ["[MASK]"]
    else:
        assert user_defined == set() and len(sentinels) == 100


def test_charsmap_normalizes_every_code_point_like_sentencepiece(models: Models) -> None:
    """The reference's Precompiled normalizer equals the model's own normalizer, code point by
    code point (the model's whitespace handling switched off: it is compared separately).

    Both models carry sentencepiece's default ``nmt_nfkc`` charsmap: it is checked once."""
    charsmaps = {}
    for name in SPM_TOKENIZERS:
        converted = models.converted(name)
        charsmaps.setdefault(model_charsmap(converted.model_path.read_bytes()), converted)
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for charsmap, converted in charsmaps.items():
        reference = hf_normalizers.Precompiled(charsmap)
        expected = converted.charsmap.normalize(characters)
        got = [reference.normalize_str(c) for c in characters]
        differing = [
            f"U+{ord(c):04X}: spm {e!r}, reference {g!r}"
            for c, e, g in zip(characters, expected, got, strict=False)
            if e != g
        ]
        assert not differing, f"{len(differing)} code points differ: {differing[:10]}"


# --- the differences explain every document of the sample --------------------------------------


def is_tie(reference: Sequence[int], got: Sequence[int]) -> bool:
    """The same pieces in another order: two segmentations with the same total score.

    Both libraries keep the first best path they find and replace it only by a strictly better
    one, but sentencepiece adds scores in 32-bit floats and tokenizers in 64-bit floats, so an
    exact tie in one can be broken by rounding in the other.
    """
    return sorted(reference) == sorted(got)


@pytest.mark.parametrize("folder", CORPUS_FOLDERS)
@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_differences_explain_the_corpus(
    models: Models, spm_corpus: Corpus, name: str, folder: str
) -> None:
    """sentencepiece inside the documented differences gives the reference's ids on every
    document, but where two segmentations tie."""
    sample = spm_corpus.sample(folder)
    reference = models.reference_ids(name, folder)
    converted = models.converted(name)
    explained = []
    for text, expected in zip(sample.texts, reference, strict=False):
        got = converted.ids(text)
        explained.append(expected if got != expected and is_tie(expected, got) else got)
    assert_same_ids(
        f"{name}: sentencepiece with the documented differences on corpus/{folder}",
        sample.texts,
        reference,
        explained,
        origins=sample.origins,
    )


@pytest.mark.parametrize(
    "name, difference", [(n, d) for n in SPM_TOKENIZERS for d in DIFFERENCES[n]]
)
def test_each_difference_is_needed(
    models: Models, spm_corpus: Corpus, name: str, difference: str
) -> None:
    """Without any one of the differences, some document of the sample gets other ids."""
    converted = models.converted(name)
    for folder in CORPUS_FOLDERS:
        sample = spm_corpus.sample(folder)
        for text, expected in zip(sample.texts, models.reference_ids(name, folder), strict=False):
            got = converted.ids(text, without=[difference])
            if got != expected and not is_tie(expected, got):
                return
    pytest.fail(f"{name}: {difference} changes no document of the sample")


# --- each difference on small inputs -----------------------------------------------------------


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_trailing_whitespace_gives_one_more_space_piece(models: Models, name: str) -> None:
    """sentencepiece strips whitespace at the end; the reference keeps one ``▁`` for it."""
    space = models.spm(name).piece_to_id(SPACE)
    for ending in [" ", "\n", "\r\n", "\t", "   \n\n", "\u3000", "\xa0", "\u200b"]:
        reference, spm = ids_of(models, name, "the end" + ending)
        assert spm == models.spm(name).encode("the end"), repr(ending)
        assert reference == spm + [space], repr(ending)
        # Whitespace alone: nothing for sentencepiece, one ▁ for the reference.
        reference, spm = ids_of(models, name, ending)
        assert (reference, spm) == ([space], []), repr(ending)


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_other_whitespace_agrees(models: Models, name: str) -> None:
    """Leading whitespace, runs of whitespace, line ends and tabs inside: the same ids."""
    plain, _ = ids_of(models, name, "the end of it")
    for text in [
        " the end of it",
        "\n\nthe end of it",
        "the   end of it",
        "the\nend\tof\r\nit",
        "\u3000the\u3000\u3000end \xa0of\u2003it",
    ]:
        reference, spm = ids_of(models, name, text)
        assert reference == spm == plain, repr(text)


def test_albert_lowercases_and_strips_accents(models: Models) -> None:
    """ALBERT's spm model keeps case and accents (its vocabulary has neither): the reference's
    ids are sentencepiece's on the lowercased, unaccented text."""
    name = "albert-base-v2"
    unk = models.spm(name).unk_id()
    reference, spm = ids_of(models, name, "The Café in Zürich")
    assert unk in spm and unk not in reference
    assert reference == models.spm(name).encode("the cafe in zurich")
    # NFKD comes first: a precomposed character loses its accent, a compatibility one is split.
    reference, _ = ids_of(models, name, "Ǆemal ﬁnds Å")
    assert reference == models.spm(name).encode("dzemal finds a")


def test_albert_replaces_double_quotes(models: Models) -> None:
    name = "albert-base-v2"
    reference, spm = ids_of(models, name, "``quoted''")
    quote = models.spm(name).piece_to_id('"')
    assert reference.count(quote) == 2 and quote not in spm
    assert reference == models.spm(name).encode('"quoted"')


def test_albert_user_defined_symbols_start_words(models: Models) -> None:
    """ALBERT's eight user-defined pieces ( ) " - . – £ € are added tokens in the reference: the
    text around them is encoded apart, so the word after one starts with ``▁``."""
    name = "albert-base-v2"
    spm = models.spm(name)
    for symbol in '()"-.\u2013\u00a3\u20ac':
        reference, ids = ids_of(models, name, f"a{symbol}b")
        assert ids == spm.encode("a") + [spm.piece_to_id(symbol)] + [spm.piece_to_id("b")]
        assert reference == spm.encode("a") + [spm.piece_to_id(symbol)] + spm.encode("b")
        assert spm.id_to_piece(reference[-1]) == f"{SPACE}b"
        # At the start of the text: sentencepiece puts ▁ before the symbol, the reference not.
        reference, ids = ids_of(models, name, f"{symbol}b")
        assert ids[0] == spm.piece_to_id(SPACE) and reference[0] == spm.piece_to_id(symbol)


def test_albert_digit_comma_pieces(models: Models) -> None:
    """Pieces like ``▁2,`` are 100 lower in tokenizer.json: the reference splits the comma off."""
    name = "albert-base-v2"
    spm = models.spm(name)
    text = "2,5 and 1999, not 10,"
    reference, ids = ids_of(models, name, text)
    assert any(DIGIT_COMMA.search(spm.id_to_piece(i)) for i in ids)
    assert not any(DIGIT_COMMA.search(spm.id_to_piece(i)) for i in reference)
    assert reference == models.converted(name).rescored.encode(text)
    # A piece with a comma inside, not at its end, keeps its score.
    reference, ids = ids_of(models, name, "1,000")
    assert reference == ids and "," in spm.id_to_piece(ids[0])


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_special_token_text(models: Models, name: str, spm_corpus: Corpus) -> None:
    """The reference finds its special tokens in text; sentencepiece never produces a control
    piece (nor the unknown piece from its name) and encodes the name as text."""
    spm = models.spm(name)
    controls = {i for i in range(spm.vocab_size()) if spm.is_control(i)}
    texts = [t for folder in CORPUS_FOLDERS for t in spm_corpus.sample(folder).texts]
    assert not controls & {i for ids in spm.encode(texts) for i in ids}
    for token in models.converted(name).config["added_tokens"]:
        if not token["special"]:
            continue
        text = f"x{token['content']}"
        reference, ids = ids_of(models, name, text)
        assert reference == spm.encode("x") + [token["id"]], text
        assert token["content"] not in spm.encode(text, out_type=str) and len(ids) > 2, text
    if name.startswith("albert"):
        # [MASK] takes the whitespace before it (lstrip): no ▁ piece for it.
        reference, _ = ids_of(models, name, "x   [MASK] y")
        assert reference[:2] == spm.encode("x") + [spm.piece_to_id("[MASK]")]


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_unknown_characters_agree(models: Models, name: str) -> None:
    """No byte fallback on either side: a run of unknown characters is one ``<unk>``."""
    unk = models.spm(name).unk_id()
    for text, runs in [("x 日本語 y", 1), ("😀😀 x 😀", 2), ("\x00", 1)]:
        reference, spm = ids_of(models, name, text)
        assert reference == spm and reference.count(unk) == runs, text


def test_t5_ties_are_broken_differently(models: Models) -> None:
    """20 hyphens: ``▁-``, three ``-`` and ``----------------`` in either order score the same."""
    name = "t5-legal-small-fr-en"
    reference, spm = ids_of(models, name, "-" * 20)
    assert reference != spm and sorted(reference) == sorted(spm)
    scores = [models.spm(name).get_score(i) for i in range(models.spm(name).vocab_size())]

    def total(ids: list[int], dtype: Any) -> Any:
        value = dtype(0)
        for i in ids:
            value = dtype(value + dtype(scores[i]))
        return value

    # Equal in 64-bit floats (the reference keeps the path it found first); in 32-bit floats
    # sentencepiece's order rounds higher.
    assert total(reference, np.float64) == total(spm, np.float64)
    assert total(spm, np.float32) > total(reference, np.float32)


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_special_tokens_added_around_the_text(models: Models, name: str) -> None:
    """``add_special_tokens=True``: ALBERT's template adds [CLS] … [SEP], which its spm model
    has no BOS/EOS for; T5's adds ``</s>``, like sentencepiece's ``add_eos=True``."""
    spm = models.spm(name)
    text = "this is a test"
    plain, ids = ids_of(models, name, text)
    assert plain == ids
    full = models.reference(name).encode(text).ids
    assert list(models.ferro(name).encode(text)) == full
    if name.startswith("albert"):
        assert (spm.bos_id(), spm.eos_id()) == (-1, -1)
        assert full == [spm.piece_to_id("[CLS]")] + plain + [spm.piece_to_id("[SEP]")]
    else:
        assert spm.piece_to_id("</s>") == spm.eos_id()
        assert full == spm.encode(text, add_eos=True) == plain + [spm.eos_id()]


@pytest.mark.parametrize("name", SPM_TOKENIZERS)
def test_decoding(models: Models, spm_corpus: Corpus, name: str) -> None:
    """sentencepiece decodes the reference's ids to the same text, but ``<unk>``, which it shows
    as `` ⁇ `` and the reference as ``<unk>`` (nothing with ``skip_special_tokens``)."""
    spm = models.spm(name)
    reference = models.reference(name)
    special = {t["id"] for t in models.converted(name).config["added_tokens"] if t["special"]}
    compared = 0
    for folder in CORPUS_FOLDERS:
        sample = spm_corpus.sample(folder)
        for origin, ids in zip(sample.origins, models.reference_ids(name, folder), strict=False):
            if special.isdisjoint(ids):
                compared += 1
                expected = reference.decode(ids, skip_special_tokens=False)
                assert spm.decode(ids) == expected, origin
    assert compared > 500
    ids, _ = ids_of(models, name, "x 日本語 y")
    unknown = spm.id_to_piece(spm.unk_id())
    assert reference.decode(ids, skip_special_tokens=False) == f"x {unknown} y"
    assert reference.decode(ids) == f"x {unknown} y".replace(unknown, "")
    assert spm.decode(ids) == f"x {unk_surface(models.converted(name).model_path)} y"
    assert models.ferro(name).decode(ids, skip_special_tokens=False) == f"x {unknown} y"


# --- the documented examples -------------------------------------------------------------------


def documented_examples() -> list[tuple[str, str, list[str], list[str]]]:
    """(model, input, reference pieces, sentencepiece pieces) of docs/sentencepiece.md's table."""
    text = DOCUMENTATION.read_text(encoding="utf-8")
    table = text.split("<!-- examples: start -->")[1].split("<!-- examples: end -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split(" | ")]
        model, text_input, reference, spm = cells[0], *map(ast.literal_eval, cells[2:5])
        rows.append((model, text_input, reference, spm))
    return rows


def test_documented_examples(models: Models) -> None:
    """Every row of the example table is what both libraries give today, and shows a difference."""
    rows = documented_examples()
    assert len(rows) >= 10
    assert {model for model, *_ in rows} == set(SPM_TOKENIZERS)
    for model, text, reference, spm in rows:
        ids_of(models, model, text)  # ferrotok gives the reference's ids
        got = (reference_pieces(models, model, text), spm_pieces(models, model, text))
        assert got == (reference, spm), f"{model} {text!r}: now {got}"
        assert reference != spm, f"{model} {text!r}: no difference"
