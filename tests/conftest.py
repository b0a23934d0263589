"""Shared fixtures for the Python test suite.

The conformance and property tests compare ferrotok with the reference implementations
(Hugging Face ``tokenizers`` for ``tokenizer.json`` files, ``tiktoken`` for ``.tiktoken`` rank
files) on the real tokenizers and corpora in the shared data folder (``$FERROTOK_DATA``, by default
``<repo>/../shared/data``; see its MANIFEST.md). Everything works offline.

What lives here:

- ``data_dir``: the shared data folder; a missing folder fails the run instead of skipping tests.
- ``corpus``: deterministic samples of documents from every corpus folder (``sample(folder)``).
- ``tokenizers``: cached loaders for ferrotok and the references, by tokenizer name.
- ``assert_same_ids`` / ``assert_same_texts``: comparisons that report the first difference with
  the text around it, instead of a bare ``assert a == b`` over megabytes of ids.
- the hypothesis profiles (``ci`` is derandomized; ``dev`` and ``thorough`` for local runs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

# Tests never reach a hub: `datasets` and `huggingface_hub` stay offline whatever they try.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# --- what is tested ----------------------------------------------------------------------------

#: The tokenizer.json files (tokenizers/<name>/tokenizer.json) whose whole pipeline ferrotok
#: implements: byte-level BPE, SentencePiece-style BPE with byte fallback, WordPiece (BERT) and
#: Unigram with a precompiled charsmap (ALBERT, T5).
HF_TOKENIZERS = (
    "gpt2",
    "gpt-4-cl100k",
    "gpt-4o-o200k",
    "llama-3.1",
    "qwen2.5",
    "clip-vit-base-patch32",
    "mistral-7b-v0.1",
    "llama-2-7b-reconstructed",
    "bert-base-uncased",
    "albert-base-v2",
    "t5-legal-small-fr-en",
)
#: tiktoken encodings; p50k_edit shares p50k_base's ranks and adds FIM special tokens.
TIKTOKEN_ENCODINGS = ("r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base")
#: The rank file each encoding is read from (tiktoken/<file>.tiktoken).
TIKTOKEN_RANK_FILE = {
    "r50k_base": "r50k_base",
    "p50k_base": "p50k_base",
    "p50k_edit": "p50k_base",
    "cl100k_base": "cl100k_base",
    "o200k_base": "o200k_base",
}
#: Every folder under corpus/.
CORPUS_FOLDERS = ("en", "ja", "code", "multilingual", "unicode")

#: Bytes of UTF-8 text sampled from each corpus folder (all of it when the folder is smaller).
SAMPLE_BYTES = int(float(os.environ.get("FERROTOK_CONFORMANCE_MB", "1")) * 1024 * 1024)
#: Documents longer than this are cut at line ends (a single longer line stays whole).
DOCUMENT_CHARS = 4096


# --- hypothesis profiles -----------------------------------------------------------------------

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# --- shared data -------------------------------------------------------------------------------


def find_data_dir() -> Path:
    """The shared data folder: ``$FERROTOK_DATA`` or ``<repo>/../shared/data``."""
    configured = os.environ.get("FERROTOK_DATA")
    path = Path(configured) if configured else REPO.parent / "shared" / "data"
    return path.resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = find_data_dir()
    if not (path / "MANIFEST.md").is_file():
        pytest.fail(
            f"shared test data not found at {path}: set FERROTOK_DATA to the folder that holds "
            "MANIFEST.md, corpus/, tokenizers/, tiktoken/ and conformance/",
            pytrace=False,
        )
    return path


def read_text(path: Path) -> str:
    """A corpus file exactly as stored: no newline translation, a BOM kept as U+FEFF."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- corpus samples ----------------------------------------------------------------------------

_LINE = re.compile(r"[^\n]*\n|[^\n]+")
#: Text that looks like a special token (``<|endoftext|>``, ``<|im_start|>``, ``<s>``, ...).
SPECIAL_LOOKING = re.compile(r"<\|[^|<>\s]{0,40}\|>|</?s>")


def split_documents(text: str, max_chars: int = DOCUMENT_CHARS) -> list[str]:
    """Cut ``text`` into documents that concatenate back to it.

    A document is a paragraph (lines up to and including a blank line), cut after a line once it
    reaches ``max_chars``. Documents keep their line ends (LF or CRLF) and trailing blank lines,
    so their edges exercise the whitespace rules of every pre-tokenizer.
    """
    documents: list[str] = []
    current: list[str] = []
    size = 0
    for line in _LINE.findall(text):
        current.append(line)
        size += len(line)
        if not line.strip() or size >= max_chars:
            documents.append("".join(current))
            current, size = [], 0
    if current:
        documents.append("".join(current))
    return documents


def pick_at_stride(documents: Sequence[str], target_bytes: int) -> list[int]:
    """Indices of documents taken at a fixed stride until they hold ``target_bytes`` of UTF-8.

    Deterministic: every ``stride``-th document from the start, then the pass shifted by one,
    and so on. All documents when they hold less than the target.
    """
    sizes = [len(d.encode("utf-8")) for d in documents]
    total = sum(sizes)
    if total <= target_bytes:
        return list(range(len(documents)))
    stride = max(1, total // max(1, target_bytes))
    picked: list[int] = []
    taken = 0
    for offset in range(stride):
        for index in range(offset, len(documents), stride):
            picked.append(index)
            taken += sizes[index]
            if taken >= target_bytes:
                return sorted(picked)
    return sorted(picked)


@dataclass
class Sample:
    """Documents drawn from one corpus folder, with where each came from."""

    folder: str
    texts: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(len(t.encode("utf-8")) for t in self.texts)

    def add(self, text: str, origin: str) -> None:
        self.texts.append(text)
        self.origins.append(origin)


class Corpus:
    """Deterministic document samples from ``corpus/<folder>``, cached for the session."""

    def __init__(self, data_dir: Path, sample_bytes: int = SAMPLE_BYTES) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "corpus"
        self.sample_bytes = sample_bytes
        self._samples: dict[str, Sample] = {}

    def files(self, folder: str) -> list[Path]:
        """The text files of a folder (sub-folders included), sorted."""
        files = sorted(p for p in (self.root / folder).rglob("*.txt") if p.is_file())
        if not files:
            pytest.fail(f"no corpus files in {self.root / folder}", pytrace=False)
        return files

    def edge_cases(self) -> dict[str, str]:
        """The hand-written edge cases of corpus/unicode/edge_cases.json, by name."""
        cases: dict[str, str] = load_json(self.root / "unicode" / "edge_cases.json")["cases"]
        return cases

    def sample(self, folder: str) -> Sample:
        """At least ``sample_bytes`` of documents (or the whole folder), from every file in it.

        Each file contributes in proportion to its size, so the 24 languages of
        multilingual/leipzig_sentences_via_lingua/ are all present beside the UDHR. Documents
        holding special-token-looking text (``<|endoftext|>`` in corpus/code) are always taken:
        they are where the added-token rules and tiktoken's special-token checks apply.
        """
        if folder in self._samples:
            return self._samples[folder]
        sample = Sample(folder)
        if folder == "unicode":
            for name, text in self.edge_cases().items():
                sample.add(text, f"corpus/unicode/edge_cases.json[{name!r}]")
        files = self.files(folder)
        texts = {path: read_text(path) for path in files}
        total = sum(len(t.encode("utf-8")) for t in texts.values())
        for path, text in texts.items():
            documents = split_documents(text)
            share = math.ceil(self.sample_bytes * len(text.encode("utf-8")) / total)
            relative = path.relative_to(self.data_dir).as_posix()
            picked = set(pick_at_stride(documents, share))
            picked.update(i for i, d in enumerate(documents) if SPECIAL_LOOKING.search(d))
            for index in sorted(picked):
                sample.add(documents[index], f"{relative} (document {index})")
        self._samples[folder] = sample
        return sample


@pytest.fixture(scope="session")
def corpus(data_dir: Path) -> Corpus:
    return Corpus(data_dir)


# --- tokenizers: ferrotok and the references ---------------------------------------------------


def tiktoken_constructor(data_dir: Path, name: str) -> dict[str, Any]:
    """The keyword arguments of ``tiktoken.Encoding`` for a built-in encoding, offline.

    Pattern, special tokens and vocabulary size come from ``tiktoken_ext.openai_public`` itself;
    its download of the rank file is redirected to the local copy in ``tiktoken/``, whose hash
    tiktoken still checks.
    """
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext import openai_public

    def load_local(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        path = data_dir / "tiktoken" / url.rsplit("/", 1)[-1]
        if expected_hash is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest == expected_hash, (
                f"{path}: sha256 {digest}, tiktoken pins {expected_hash}"
            )
        return load_tiktoken_bpe(str(path))

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = load_local
    try:
        constructor: dict[str, Any] = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return constructor


class Tokenizers:
    """Loads each tokenizer once per session: ferrotok's and the reference's."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Reference ids are the slow half of the conformance suite: computed once per session.
        self.reference_ids: dict[tuple[Any, ...], list[list[int]]] = {}

    def tokenizer_json(self, name: str) -> Path:
        return self.data_dir / "tokenizers" / name / "tokenizer.json"

    def rank_file(self, name: str) -> Path:
        return self.data_dir / "tiktoken" / f"{TIKTOKEN_RANK_FILE[name]}.tiktoken"

    @functools.cache  # noqa: B019  (one instance per session)
    def hf(self, name: str) -> Any:
        """The Hugging Face ``tokenizers.Tokenizer`` for ``tokenizers/<name>/tokenizer.json``."""
        import tokenizers

        tokenizer = tokenizers.Tokenizer.from_file(str(self.tokenizer_json(name)))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    @functools.cache  # noqa: B019
    def tiktoken(self, name: str) -> Any:
        """The reference ``tiktoken.Encoding``, built from the local rank file."""
        import tiktoken

        return tiktoken.Encoding(**tiktoken_constructor(self.data_dir, name))

    @functools.cache  # noqa: B019
    def tiktoken_spec(self, name: str) -> tuple[str, dict[str, int]]:
        """(pattern, special tokens) of a tiktoken encoding."""
        constructor = tiktoken_constructor(self.data_dir, name)
        return constructor["pat_str"], dict(constructor["special_tokens"])

    @functools.cache  # noqa: B019
    def ferro(self, name: str) -> Any:
        """ferrotok's ``Tokenizer`` for ``tokenizers/<name>/tokenizer.json``."""
        import ferrotok

        return ferrotok.Tokenizer.from_file(str(self.tokenizer_json(name)))

    @functools.cache  # noqa: B019
    def ferro_encoding(self, name: str) -> Any:
        """ferrotok's built-in tiktoken-shaped ``Encoding``."""
        import ferrotok

        return ferrotok.get_encoding(name)


@pytest.fixture(scope="session")
def tokenizers(data_dir: Path) -> Tokenizers:
    return Tokenizers(data_dir)


# --- comparisons with a useful report ----------------------------------------------------------


def _window(values: Sequence[Any], position: int, radius: int = 8) -> str:
    start = max(0, position - radius)
    end = position + radius
    prefix = "... " if start > 0 else ""
    suffix = " ..." if end < len(values) else ""
    return f"{prefix}{list(values[start:end])}{suffix} (from index {start})"


def _excerpt(text: str, offset: int, radius: int = 60) -> str:
    start = max(0, offset - radius)
    return f"{text[start:offset]!r} ⟨here⟩ {text[offset : offset + radius]!r}"


def assert_same_ids(
    what: str,
    texts: Sequence[str],
    expected: Sequence[Sequence[int]],
    got: Sequence[Sequence[int]],
    *,
    origins: Sequence[str] | None = None,
    char_offset: Callable[[int, int], int | None] | None = None,
) -> None:
    """Fail with the first differing document when ``got`` is not ``expected``.

    ``char_offset(document, token)`` maps a token position to a character offset of the
    document (from the reference's offsets), to show the text where the ids part ways.
    """
    assert len(got) == len(expected) == len(texts), (
        f"{what}: {len(texts)} documents, {len(expected)} expected id lists, {len(got)} results"
    )
    differing = [
        i for i, (e, g) in enumerate(zip(expected, got, strict=False)) if list(e) != list(g)
    ]
    if not differing:
        return
    index = differing[0]
    e, g = list(expected[index]), list(got[index])
    position = next(
        (k for k, (a, b) in enumerate(zip(e, g, strict=False)) if a != b), min(len(e), len(g))
    )
    text = texts[index]
    lines = [
        f"{what}: {len(differing)} of {len(texts)} documents differ from the reference.",
        f"first: document {index}"
        + (f" ({origins[index]})" if origins else "")
        + f", {len(text)} chars, {len(e)} expected ids, {len(g)} got",
        f"first difference at token {position}:",
        f"  expected {_window(e, position)}",
        f"  got      {_window(g, position)}",
    ]
    offset = None
    if char_offset is not None:
        try:
            offset = char_offset(index, position)
        except Exception:  # the report must not hide the mismatch
            offset = None
    if offset is not None:
        lines.append(f"  text at char {offset}: {_excerpt(text, offset)}")
    elif len(text) <= 400:
        lines.append(f"  text: {text!r}")
    else:
        lines.append(f"  text starts: {text[:200]!r}")
    if len(differing) > 1:
        lines.append(
            f"other differing documents: {differing[1:20]}{' ...' if len(differing) > 20 else ''}"
        )
    pytest.fail("\n".join(lines), pytrace=False)


def assert_same_texts(
    what: str,
    expected: Sequence[Any],
    got: Sequence[Any],
    *,
    origins: Sequence[str] | None = None,
) -> None:
    """Fail with the first differing string (or bytes) and where it differs."""
    assert len(got) == len(expected), f"{what}: {len(expected)} expected, {len(got)} results"
    differing = [i for i, (e, g) in enumerate(zip(expected, got, strict=False)) if e != g]
    if not differing:
        return
    index = differing[0]
    e, g = expected[index], got[index]
    position = next(
        (k for k, (a, b) in enumerate(zip(e, g, strict=False)) if a != b), min(len(e), len(g))
    )
    lines = [
        f"{what}: {len(differing)} of {len(expected)} differ.",
        f"first: item {index}"
        + (f" ({origins[index]})" if origins else "")
        + f", expected length {len(e)}, got {len(g)}; first difference at {position}:",
        f"  expected {e[max(0, position - 60) : position + 60]!r}",
        f"  got      {g[max(0, position - 60) : position + 60]!r}",
    ]
    pytest.fail("\n".join(lines), pytrace=False)


#: Every per-token field of a rich Encoding, as `tokenizers.Encoding` has them.
ENCODING_FIELDS = (
    "ids",
    "type_ids",
    "tokens",
    "offsets",
    "word_ids",
    "sequence_ids",
    "special_tokens_mask",
    "attention_mask",
)


def assert_same_encoding(mine: Any, reference: Any, where: str) -> None:
    """Every field of `mine` (a ferrotok Encoding) equals `reference`'s (a tokenizers
    Encoding), overflowing parts included; a failure shows the first difference in context."""
    for field_name in ENCODING_FIELDS:
        got, expected = list(getattr(mine, field_name)), list(getattr(reference, field_name))
        if got != expected:
            at = next(
                (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                min(len(got), len(expected)),
            )
            pytest.fail(
                f"{where}: {field_name} differs at token {at}: ferrotok "
                f"{got[max(0, at - 3) : at + 3]} vs tokenizers {expected[max(0, at - 3) : at + 3]} "
                f"(lengths {len(got)}, {len(expected)})",
                pytrace=False,
            )
    assert len(mine.overflowing) == len(reference.overflowing), where
    for i, (a, b) in enumerate(zip(mine.overflowing, reference.overflowing, strict=False)):
        assert_same_encoding(a, b, f"{where}.overflowing[{i}]")
