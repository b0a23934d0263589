"""Each way loading or using a tokenizer can fail: the exception class, and what its message names.

Every ferrotok error is a `ferrotok.TokenizerError`, which is a `ValueError`, and its message
says what was wrong and where: the file, the JSON path, the line of a `.tiktoken` file, the
token id. Bad files are written to `tmp_path`; nothing here needs the shared data folder.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import ferrotok
import pytest

#: A small but complete byte-level BPE tokenizer.json (the shape `tokenizers` writes).
MINIMAL_TOKENIZER: dict[str, Any] = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [
        {
            "id": 5,
            "content": "<|end|>",
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
    ],
    "normalizer": None,
    "pre_tokenizer": {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": True,
        "use_regex": True,
    },
    "post_processor": None,
    "decoder": {
        "type": "ByteLevel",
        "add_prefix_space": True,
        "trim_offsets": True,
        "use_regex": True,
    },
    "model": {
        "type": "BPE",
        "dropout": None,
        "unk_token": None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": False,
        "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
        "merges": ["a b", "Ġ ab"],
    },
}

ERROR_CLASSES = (
    ferrotok.TokenizerFileError,
    ferrotok.UnsupportedComponentError,
    ferrotok.DisallowedSpecialTokenError,
    ferrotok.UnknownTokenIdError,
    ferrotok.InvalidUtf8Error,
)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def tokenizer_with(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(MINIMAL_TOKENIZER)
    document.update(changes)
    return document


@pytest.mark.parametrize("error_class", ERROR_CLASSES)
def test_every_error_is_a_tokenizer_error_and_a_value_error(error_class: type) -> None:
    assert issubclass(error_class, ferrotok.TokenizerError)
    assert issubclass(error_class, ValueError)
    assert issubclass(ferrotok.TokenizerError, ValueError)
    with pytest.raises(ValueError):
        raise error_class("message")


def test_the_minimal_tokenizer_loads(tmp_path: Path) -> None:
    # The bad files below are this one with one thing broken: it must itself be good.
    tok = ferrotok.Tokenizer.from_file(write_json(tmp_path / "tokenizer.json", MINIMAL_TOKENIZER))
    assert tok.encode("ab ab<|end|>") == [2, 4, 5]
    assert tok.decode([2, 4]) == "ab ab"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "no_such_tokenizer.json"
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_file(path)
    assert "no_such_tokenizer.json" in str(raised.value)


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken_tokenizer.json"
    path.write_text('{"version": "1.0", "model": {"type": "BPE", "vocab": {', encoding="utf-8")
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_file(path)
    assert "broken_tokenizer.json" in str(raised.value)


def test_malformed_json_string() -> None:
    with pytest.raises(ferrotok.TokenizerFileError):
        ferrotok.Tokenizer.from_str("{ this is not json")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1_tokenizer.json"
    path.write_bytes(json.dumps(MINIMAL_TOKENIZER).encode("utf-8").replace(b'"a"', b'"\xe9"', 1))
    with pytest.raises(ferrotok.TokenizerError) as raised:
        ferrotok.Tokenizer.from_file(path)
    assert "latin1_tokenizer.json" in str(raised.value)


def test_missing_field_names_the_json_path(tmp_path: Path) -> None:
    document = tokenizer_with()
    del document["model"]["vocab"]
    path = write_json(tmp_path / "no_vocab.json", document)
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_file(path)
    message = str(raised.value)
    assert "no_vocab.json" in message
    assert re.search(r"model\W*vocab", message), message


def test_mistyped_field_names_the_json_path(tmp_path: Path) -> None:
    document = tokenizer_with()
    document["model"]["merges"] = 42
    path = write_json(tmp_path / "bad_merges.json", document)
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_file(path)
    assert re.search(r"model\W*merges", str(raised.value)), str(raised.value)


def test_unsupported_component_names_it_and_its_path(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "odd_normalizer.json",
        tokenizer_with(normalizer={"type": "NotARealNormalizer"}),
    )
    with pytest.raises(ferrotok.UnsupportedComponentError) as raised:
        ferrotok.Tokenizer.from_file(path)
    message = str(raised.value)
    assert "NotARealNormalizer" in message
    assert "normalizer" in message


def test_unsupported_nested_component_names_it_and_its_path(tmp_path: Path) -> None:
    normalizer = {"type": "Sequence", "normalizers": [{"type": "NotARealNormalizer"}]}
    path = write_json(tmp_path / "odd_nested.json", tokenizer_with(normalizer=normalizer))
    with pytest.raises(ferrotok.UnsupportedComponentError) as raised:
        ferrotok.Tokenizer.from_file(path)
    message = str(raised.value)
    assert "NotARealNormalizer" in message
    assert re.search(r"normalizers\W*0", message), message


def test_unsupported_pre_tokenizer_names_its_path(tmp_path: Path) -> None:
    pre_tokenizer = {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
            {"type": "NotARealPreTokenizer"},
        ],
    }
    path = write_json(tmp_path / "odd_pre.json", tokenizer_with(pre_tokenizer=pre_tokenizer))
    with pytest.raises(ferrotok.UnsupportedComponentError) as raised:
        ferrotok.Tokenizer.from_file(path)
    assert re.search(r"pretokenizers\W*1", str(raised.value)), str(raised.value)


def test_unsupported_model_type(tmp_path: Path) -> None:
    document = tokenizer_with()
    document["model"]["type"] = "NotARealModel"
    with pytest.raises(ferrotok.UnsupportedComponentError) as raised:
        ferrotok.Tokenizer.from_str(json.dumps(document))
    assert "NotARealModel" in str(raised.value)


# --- .tiktoken files ------------------------------------------------------------------------------

GOOD_TIKTOKEN_LINES = ["IQ== 0", "Ig== 1", "Iw== 2"]  # "!", '"', "#"


def write_tiktoken(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_small_tiktoken_file_loads(tmp_path: Path) -> None:
    path = write_tiktoken(tmp_path / "small.tiktoken", GOOD_TIKTOKEN_LINES)
    tok = ferrotok.Tokenizer.from_tiktoken(path, pattern=r"\S|\s")
    assert tok.encode('!"#') == [0, 1, 2]


def line_is_named(message: str, line: int) -> bool:
    return re.search(rf"(line\s*{line}\b|:{line}\b)", message) is not None


def test_tiktoken_bad_base64_names_file_and_line(tmp_path: Path) -> None:
    lines = [*GOOD_TIKTOKEN_LINES[:2], "@@not base64@@ 2"]
    path = write_tiktoken(tmp_path / "bad_base64.tiktoken", lines)
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_tiktoken(path, pattern=r"\S|\s")
    message = str(raised.value)
    assert "bad_base64.tiktoken" in message
    assert line_is_named(message, 3), message


@pytest.mark.parametrize("rank", ["two", "-2", "", "2 3"])
def test_tiktoken_bad_rank_names_file_and_line(tmp_path: Path, rank: str) -> None:
    lines = [*GOOD_TIKTOKEN_LINES[:2], f"Iw== {rank}".rstrip()]
    path = write_tiktoken(tmp_path / "bad_rank.tiktoken", lines)
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_tiktoken(path, pattern=r"\S|\s")
    message = str(raised.value)
    assert "bad_rank.tiktoken" in message
    assert line_is_named(message, 3), message


def test_tiktoken_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ferrotok.TokenizerFileError) as raised:
        ferrotok.Tokenizer.from_tiktoken(tmp_path / "absent.tiktoken", pattern=r"\S")
    assert "absent.tiktoken" in str(raised.value)


# --- names, ids and special tokens ---------------------------------------------------------------


def test_unknown_encoding_name() -> None:
    for load in (ferrotok.get_encoding, ferrotok.Tokenizer.from_builtin):
        with pytest.raises(ferrotok.TokenizerError) as raised:
            load("o300k_imaginary")
        assert isinstance(raised.value, ValueError)
        assert "o300k_imaginary" in str(raised.value)


def test_decode_out_of_range_id() -> None:
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    unknown = tok.max_token_id + 7
    for decode in (tok.decode, tok.decode_bytes):
        with pytest.raises(ferrotok.UnknownTokenIdError) as raised:
            decode([13225, unknown])
        assert str(unknown) in str(raised.value)
    with pytest.raises(ferrotok.UnknownTokenIdError):
        tok.decode_batch([[13225], [unknown]])


def test_decode_out_of_range_id_in_a_tokenizer_json(tmp_path: Path) -> None:
    tok = ferrotok.Tokenizer.from_file(write_json(tmp_path / "tokenizer.json", MINIMAL_TOKENIZER))
    with pytest.raises(ferrotok.UnknownTokenIdError) as raised:
        tok.decode([0, 99])
    assert "99" in str(raised.value)


def test_encoding_decode_out_of_range_id_is_also_a_key_error() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    unknown = enc.max_token_value + 7
    with pytest.raises(ferrotok.UnknownTokenIdError) as raised:
        enc.decode([unknown])
    assert isinstance(raised.value, KeyError)  # what tiktoken raises
    with pytest.raises(KeyError):
        enc.decode_single_token_bytes(unknown)


def test_disallowed_special_token() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    with pytest.raises(ferrotok.DisallowedSpecialTokenError) as raised:
        enc.encode("some text <|endoftext|> more text")
    assert "<|endoftext|>" in str(raised.value)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ferrotok.DisallowedSpecialTokenError):
        enc.encode_batch(["fine", "not <|endofprompt|> fine"])
    with pytest.raises(ferrotok.DisallowedSpecialTokenError):
        enc.encode_to_numpy("<|endoftext|>")


def test_explicit_n_vocab_mismatch() -> None:
    ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(ferrotok.TokenizerError, match="explicit_n_vocab"):
        ferrotok.Encoding(
            "wrong_size",
            pat_str=r"\S+|\s+",
            mergeable_ranks=ranks,
            special_tokens={"<|end|>": 256},
            explicit_n_vocab=300,
        )
