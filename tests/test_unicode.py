"""Unicode behaviour of the normalizers and character classes, on every code point.

- Unicode's NormalizationTest.txt (conformance/unicode-15.0): every column of every line through
  ferrotok's NFC/NFD/NFKC/NFKD normalizers gives what the reference's normalizers give. The
  reference normalizes with Unicode 9.0 tables (its `unicode-normalization-alignments` crate), so
  on characters added or changed since then both differ from the 15.0 file: there ferrotok
  follows the reference, and everywhere else both equal the file.
- The character-class tables (src/normalize/char_classes.rs, src/pretokenize/script_classes.rs)
  are what the reference answers for every code point today: the generators run again and must
  reproduce the committed files.
- BERT's normalizer, StripAccents, lowercasing and the precompiled charsmaps on every code point.

A normalizer's output is read back through a probe tokenizer: the normalizer under test, a
ByteLevel pre-tokenizer without splitting, a vocabulary of the 256 byte tokens and the ByteLevel
decoder, so ``decode(encode(x))`` is exactly the normalized text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, load_json

FORMS = {"NFC": 1, "NFD": 2, "NFKC": 3, "NFKD": 4}
MAX = 0x110000
ALL = [chr(c) for c in range(MAX) if not 0xD800 <= c < 0xE000]


def byte_alphabet() -> list[str]:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
    printable += list(range(0xAE, 0x100))
    chars = {}
    extra = 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def probe_json(normalizer: dict[str, Any]) -> str:
    alphabet = byte_alphabet()
    return json.dumps(
        {
            "version": "1.0",
            "added_tokens": [],
            "normalizer": normalizer,
            "pre_tokenizer": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": False,
                "use_regex": False,
            },
            "post_processor": None,
            "decoder": {
                "type": "ByteLevel",
                "add_prefix_space": False,
                "trim_offsets": False,
                "use_regex": False,
            },
            "model": {
                "type": "BPE",
                "vocab": {c: i for i, c in enumerate(alphabet)},
                "merges": [],
            },
        }
    )


class Probe:
    """ferrotok's and the reference's view of one normalizer."""

    def __init__(self, normalizer: dict[str, Any]) -> None:
        import ferrotok
        import tokenizers

        self.ours = ferrotok.Tokenizer.from_str(probe_json(normalizer))
        self.reference = tokenizers.Tokenizer.from_str(probe_json(normalizer)).normalizer

    def ferrotok(self, texts: list[str]) -> list[str]:
        batches = self.ours.encode_batch(texts, add_special_tokens=False)
        return [self.ours.decode(list(ids)) for ids in batches]

    def expected(self, texts: list[str]) -> list[str]:
        return [self.reference.normalize_str(t) for t in texts]


def first_difference(texts: list[str], expected: list[str], got: list[str]) -> str | None:
    for text, e, g in zip(texts, expected, got, strict=False):
        if e != g:
            codes = " ".join(f"{ord(c):04X}" for c in text[:12])
            return f"input {codes}: expected {e!r}, got {g!r}"
    return None


@pytest.fixture(scope="module")
def normalization_lines(data_dir: Path) -> list[list[str]]:
    path = data_dir / "conformance" / "unicode-15.0" / "NormalizationTest.txt"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line[0] in "#@":
            continue
        columns = line.split(";")[:5]
        lines.append(["".join(chr(int(h, 16)) for h in c.split()) for c in columns])
    assert len(lines) > 19000
    return lines


@pytest.mark.parametrize("form", sorted(FORMS))
def test_normalization_test_file(normalization_lines: list[list[str]], form: str) -> None:
    probe = Probe({"type": form})
    inputs = [column for line in normalization_lines for column in line]
    expected = probe.expected(inputs)
    got = probe.ferrotok(inputs)
    problem = first_difference(inputs, expected, got)
    assert problem is None, f"{form} differs from tokenizers: {problem}"
    # Where the reference's Unicode 9.0 tables agree with the 15.0 file, so does ferrotok; count
    # the rest to make sure the file is really being checked.
    column = FORMS[form]
    agree = sum(expected[i * 5] == line[column] for i, line in enumerate(normalization_lines))
    assert agree > 0.95 * len(normalization_lines), f"{form}: {agree} lines agree with the file"


NORMALIZERS = {
    "bert_default": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                     "strip_accents": None, "lowercase": True},
    "bert_cased": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": False, "lowercase": False},
    "strip_accents": {"type": "StripAccents"},
    "lowercase": {"type": "Lowercase"},
    "strip": {"type": "Strip", "strip_left": True, "strip_right": True},
    "byte_level": {"type": "ByteLevel"},
}  # fmt: skip


def charsmap_normalizers(data_dir: Path) -> dict[str, Any]:
    found = {}
    for name in ("albert-base-v2", "t5-legal-small-fr-en"):
        doc = load_json(data_dir / "tokenizers" / name / "tokenizer.json")
        for step in doc["normalizer"]["normalizers"]:
            if step["type"] == "Precompiled":
                found[f"precompiled_{name}"] = step
    return found


@pytest.mark.parametrize("name", [*sorted(NORMALIZERS), "precompiled"])
def test_normalizers_on_every_code_point(data_dir: Path, name: str) -> None:
    normalizers = (
        charsmap_normalizers(data_dir) if name == "precompiled" else {name: NORMALIZERS[name]}
    )
    # One code point per text, in chunks; then every code point after a letter and before a
    # combining mark (where graphemes and canonical ordering join characters).
    chunks = [ALL[i : i + 4096] for i in range(0, len(ALL), 4096)]
    for label, normalizer in normalizers.items():
        probe = Probe(normalizer)
        # Context matters where characters join (BERT's NFD reorders marks; the charsmaps work
        # on graphemes); the other normalizers treat each character alone.
        in_context = name in ("bert_default", "precompiled")
        for chunk in chunks:
            variants = [chunk, ["a" + c + "\u0301" for c in chunk]] if in_context else [chunk]
            for texts in variants:
                problem = first_difference(texts, probe.expected(texts), probe.ferrotok(texts))
                assert problem is None, f"{label}: {problem}"


@pytest.mark.parametrize(
    ("script", "table"),
    [
        ("gen_char_classes.py", "src/normalize/char_classes.rs"),
        ("gen_script_classes.py", "src/pretokenize/script_classes.rs"),
    ],
)
def test_class_tables_are_current(script: str, table: str) -> None:
    """The committed tables equal what the reference answers today for every code point."""
    generated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    committed = (REPO / table).read_text(encoding="utf-8")
    assert generated == committed, f"run scripts/{script} > {table}"
