"""`ferrotok.prepare` / `ferrotok prepare`: corpus → token shards → `TokenDataset`.

Every round trip compares what `TokenDataset` reads back with the reference library's ids for the
same documents (tiktoken's `encode_ordinary` plus the end-of-text token, or tokenizers with
special-token text encoded as text), for every input kind, output format and compression. The
Megatron index is checked field by field against the published layout
(megatron/core/datasets/indexed_dataset.py: `_IndexWriter` / `_IndexReader`).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ferrotok
import numpy as np
import pytest
from conftest import CORPUS_FOLDERS, Corpus, Tokenizers
from ferrotok import preparation

# The reference for the default test tokenizer (uint32 tokens) and a uint16 one.
ENCODING = "cl100k_base"
SMALL_ENCODING = "r50k_base"
# A character no corpus document holds, to separate documents in plain text files.
SEPARATOR = "\x1e"
MEGATRON_DTYPE_CODES = {"uint16": 8, "int32": 4}


@pytest.fixture(scope="module")
def documents(corpus: Corpus) -> list[str]:
    """About 300 kB of real documents from every corpus folder, with an empty one and one that
    quotes special-token text."""
    texts: list[str] = []
    for folder in CORPUS_FOLDERS:
        sample = corpus.sample(folder).texts
        texts.extend(sample[:: max(1, len(sample) // 40)][:40])
    texts = [t for t in texts if SEPARATOR not in t]
    texts.insert(3, "")
    texts.insert(5, "a document that quotes <|endoftext|> and <|fim_prefix|> as text")
    texts.append("the last document")  # a trailing separator would end the one before
    return texts


def expected_ids(tokenizers: Tokenizers, name: str, texts: list[str]) -> list[list[int]]:
    """The reference's ids of each non-empty document, ending with its end-of-text token."""
    reference = tokenizers.tiktoken(name)
    return [reference.encode_ordinary(t) + [reference.eot_token] for t in texts if t]


def read_back(prefix: Path | str) -> list[list[int]]:
    return [document.tolist() for document in ferrotok.TokenDataset(prefix)]


def prepare(inputs: Any, output: Path, **options: Any) -> ferrotok.PrepareSummary:
    options.setdefault("tokenizer", ENCODING)
    options.setdefault("progress", False)
    return ferrotok.prepare(inputs, output=output, **options)


# --- writing the inputs ----------------------------------------------------------------------


def write_jsonl(path: Path, texts: list[str], opener: Callable[..., Any] = open) -> Path:
    with opener(path, "wt", encoding="utf-8") as out:
        for number, text in enumerate(texts):
            record = {"id": number, "meta": {"text": text, "lang": "?"}}
            # Half the lines with escapes, half with raw UTF-8.
            out.write(json.dumps(record, ensure_ascii=number % 2 == 0) + "\n")
    return path


def zstd_bytes(data: bytes, frames: int = 1) -> bytes:
    import zstandard

    if frames == 1:
        return zstandard.ZstdCompressor().compress(data)
    # Several frames back to back, as `zstd` writes for concatenated inputs.
    step = len(data) // frames + 1
    compressor = zstandard.ZstdCompressor()
    return b"".join(compressor.compress(data[i : i + step]) for i in range(0, len(data), step))


def make_input(kind: str, directory: Path, texts: list[str]) -> tuple[Any, dict[str, Any]]:
    """The `inputs` argument (and options) that feed `texts` to prepare in the way `kind` names."""
    joined = SEPARATOR.join(texts).encode("utf-8")
    if kind == "text-separated":
        (directory / "corpus.txt").write_bytes(joined)
        return str(directory / "corpus.txt"), {"separator": SEPARATOR}
    if kind == "text-per-file":
        folder = directory / "documents"
        folder.mkdir()
        for number, text in enumerate(texts):
            (folder / f"{number:05d}.txt").write_text(text, encoding="utf-8")
        return str(folder), {}
    if kind == "text-glob-gz":
        half = len(texts) // 2
        for part, chunk in enumerate((texts[:half], texts[half:])):
            with gzip.open(directory / f"part{part}.txt.gz", "wb") as out:
                out.write(SEPARATOR.join(chunk).encode("utf-8"))
        return str(directory / "part*.txt.gz"), {"separator": SEPARATOR}
    if kind == "text-zst":
        (directory / "corpus.txt.zst").write_bytes(zstd_bytes(joined, frames=3))
        return str(directory / "corpus.txt.zst"), {"separator": SEPARATOR}
    if kind == "jsonl":
        return str(write_jsonl(directory / "corpus.jsonl", texts)), {"field": "meta.text"}
    if kind == "jsonl-gz":
        path = write_jsonl(directory / "corpus.jsonl.gz", texts, gzip.open)
        return [path], {"field": "meta.text"}
    if kind == "jsonl-zst":
        plain = write_jsonl(directory / "plain.jsonl", texts)
        path = directory / "corpus.jsonl.zst"
        path.write_bytes(zstd_bytes(plain.read_bytes()))
        plain.unlink()
        return [str(path)], {"field": "meta.text"}
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": list(range(len(texts))), "content": texts})
        pq.write_table(table, directory / "corpus.parquet", row_group_size=50)
        return str(directory / "corpus.parquet"), {"field": "content"}
    if kind == "arrow-table":
        import pyarrow as pa

        return pa.table({"text": texts}), {}
    if kind == "arrow-chunked":
        import pyarrow as pa

        half = len(texts) // 2
        return pa.chunked_array([texts[:half], texts[half:]], type=pa.large_string()), {}
    if kind == "datasets":
        import datasets

        dataset = datasets.Dataset.from_dict({"body": texts, "n": list(range(len(texts)))})
        return dataset, {"field": "body"}
    if kind == "datasets-iterable":
        import datasets

        dataset = datasets.Dataset.from_dict({"text": texts}).to_iterable_dataset(num_shards=2)
        return dataset, {}
    if kind == "datasets-column":
        import datasets

        return datasets.Dataset.from_dict({"text": texts})["text"], {}
    if kind == "generator":
        return (t for t in texts), {}
    raise AssertionError(kind)


INPUT_KINDS = [
    "text-separated",
    "text-per-file",
    "text-glob-gz",
    "text-zst",
    "jsonl",
    "jsonl-gz",
    "jsonl-zst",
    "parquet",
    "arrow-table",
    "arrow-chunked",
    "datasets",
    "datasets-iterable",
    "datasets-column",
    "generator",
]


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_round_trip_every_input_kind(
    kind: str, tmp_path: Path, documents: list[str], tokenizers: Tokenizers
) -> None:
    inputs, options = make_input(kind, tmp_path, documents)
    summary = prepare(inputs, tmp_path / "out" / "train", **options)
    expected = expected_ids(tokenizers, ENCODING, documents)
    assert read_back(tmp_path / "out" / "train") == expected
    assert summary.documents == len(expected)
    assert summary.tokens == sum(map(len, expected))
    assert summary.empty_skipped == documents.count("") >= 1
    assert summary.records == len(documents)


@pytest.mark.parametrize("format", ["megatron", "bin", "npy"])
@pytest.mark.parametrize("name", [ENCODING, SMALL_ENCODING])
def test_round_trip_every_format_and_dtype(
    format: str, name: str, tmp_path: Path, documents: list[str], tokenizers: Tokenizers
) -> None:
    inputs, options = make_input("jsonl", tmp_path, documents)
    summary = prepare(inputs, tmp_path / "train", format=format, tokenizer=name, **options)
    expected = expected_ids(tokenizers, name, documents)
    dataset = ferrotok.TokenDataset(tmp_path / "train")
    assert [d.tolist() for d in dataset] == expected
    assert len(dataset) == len(expected)
    assert dataset.num_tokens == sum(map(len, expected))
    assert dataset.tokens.tolist() == [token for ids in expected for token in ids]
    wanted = {"uint16"} if name == SMALL_ENCODING else {"uint32", "int32"}
    assert str(dataset.dtype) in wanted and summary.dtype == str(dataset.dtype)
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("train"))
    assert (
        files
        == {
            "megatron": ["train.bin", "train.idx", "train.json"],
            "bin": ["train.bin", "train.docs.npy", "train.json"],
            "npy": ["train.docs.npy", "train.json", "train.npy"],
        }[format]
    )
    # The files are what other tools read directly: nanoGPT's memmap, numpy's load.
    flat = [token for ids in expected for token in ids]
    if format == "bin":
        assert np.memmap(tmp_path / "train.bin", dtype=dataset.dtype, mode="r").tolist() == flat
    if format == "npy":
        assert np.load(tmp_path / "train.npy").tolist() == flat
        bounds = np.load(tmp_path / "train.docs.npy")
        assert bounds.tolist() == np.cumsum([0, *map(len, expected)]).tolist()


def test_megatron_index_field_by_field(
    tmp_path: Path, documents: list[str], tokenizers: Tokenizers
) -> None:
    """The `.idx` layout of Megatron-LM's `_IndexWriter`: header, version, dtype code, counts,
    int32 lengths, int64 byte pointers, int64 document indices; nothing after."""
    inputs, options = make_input("jsonl", tmp_path, documents)
    for name, dtype in ((SMALL_ENCODING, np.uint16), (ENCODING, np.int32)):
        prefix = tmp_path / name
        prepare(inputs, prefix, tokenizer=name, **options)
        expected = expected_ids(tokenizers, name, documents)
        index = (tmp_path / f"{name}.idx").read_bytes()
        assert index[:9] == b"MMIDIDX\x00\x00"
        (version,) = struct.unpack_from("<Q", index, 9)
        (code,) = struct.unpack_from("<B", index, 17)
        sequences, document_count = struct.unpack_from("<QQ", index, 18)
        assert version == 1
        assert code == MEGATRON_DTYPE_CODES[np.dtype(dtype).name]
        assert sequences == len(expected) and document_count == len(expected) + 1
        offset = 34
        lengths = np.frombuffer(index, np.int32, sequences, offset)
        offset += lengths.nbytes
        pointers = np.frombuffer(index, np.int64, sequences, offset)
        offset += pointers.nbytes
        document_index = np.frombuffer(index, np.int64, document_count, offset)
        offset += document_index.nbytes
        assert offset == len(index)
        assert lengths.tolist() == [len(ids) for ids in expected]
        itemsize = np.dtype(dtype).itemsize
        assert pointers.tolist() == (np.cumsum([0, *lengths[:-1]]) * itemsize).tolist()
        assert document_index.tolist() == list(range(len(expected) + 1))
        data = np.fromfile(tmp_path / f"{name}.bin", dtype=dtype)
        assert len(data) == sum(lengths)
        for length, pointer, ids in zip(lengths, pointers, expected, strict=False):
            start = pointer // itemsize
            assert data[start : start + length].tolist() == ids


@pytest.mark.parametrize(
    ("name", "bos", "eos"),
    [("llama-3.1", "<|begin_of_text|>", "<|end_of_text|>"), ("qwen2.5", None, "<|endoftext|>")],
)
def test_tokenizer_json_specials_as_text(
    name: str,
    bos: str | None,
    eos: str,
    tmp_path: Path,
    documents: list[str],
    tokenizers: Tokenizers,
) -> None:
    """A tokenizer.json: special-token text is text, as tokenizers' `encode_special_tokens` has
    it (Qwen 2.5's non-special added tokens, like <|fim_prefix|>, are still matched), no
    post-processor, and BOS/EOS found among the special tokens."""
    reference = tokenizers.hf(name)
    texts = [*documents, "<tool_call>{}</tool_call> <|fim_prefix|>x<|endoftext|><|im_end|>"]
    prefix = [reference.token_to_id(bos)] if bos else []
    reference.encode_special_tokens = True
    try:
        expected = [
            [
                *prefix,
                *reference.encode(t, add_special_tokens=False).ids,
                reference.token_to_id(eos),
            ]
            for t in texts
            if t
        ]
    finally:
        reference.encode_special_tokens = False
    inputs, options = make_input("text-separated", tmp_path, texts)
    path = str(tokenizers.tokenizer_json(name))
    prepare(inputs, tmp_path / "out", tokenizer=path, bos=bos is not None, format="npy", **options)
    assert read_back(tmp_path / "out") == expected


def test_eos_choices(tmp_path: Path, tokenizers: Tokenizers) -> None:
    texts = ["first document", "second"]
    reference = tokenizers.tiktoken(ENCODING)
    prepare(iter(texts), tmp_path / "none", append_eos=False)
    assert read_back(tmp_path / "none") == [reference.encode_ordinary(t) for t in texts]
    prepare(iter(texts), tmp_path / "other", eos="<|fim_suffix|>", bos="<|fim_prefix|>")
    fim_prefix, fim_suffix = (
        reference.encode_single_token(t) for t in ("<|fim_prefix|>", "<|fim_suffix|>")
    )
    assert read_back(tmp_path / "other") == [
        [fim_prefix, *reference.encode_ordinary(t), fim_suffix] for t in texts
    ]
    with pytest.raises(ferrotok.TokenizerError, match="BOS token"):
        prepare(iter(texts), tmp_path / "bos", bos=True)
    with pytest.raises(ferrotok.TokenizerError, match="not in the vocabulary"):
        prepare(iter(texts), tmp_path / "bad", eos="<|no such token|>")


def test_sharding_and_windows(tmp_path: Path, documents: list[str], tokenizers: Tokenizers) -> None:
    inputs, options = make_input("jsonl", tmp_path, documents)
    summary = prepare(inputs, tmp_path / "sharded", shard_tokens=5000, format="bin", **options)
    expected = expected_ids(tokenizers, ENCODING, documents)
    dataset = ferrotok.TokenDataset(tmp_path / "sharded")
    assert summary.shards == dataset.num_shards > 3
    assert [d.tolist() for d in dataset] == expected
    manifest = json.loads((tmp_path / "sharded.json").read_text())
    assert manifest["complete"] is True
    assert [s["name"] for s in manifest["shards"]] == [
        f"sharded-{i:05d}" for i in range(summary.shards)
    ]
    # Every shard but the last reaches the limit, and ends after a whole document.
    for shard in manifest["shards"][:-1]:
        assert shard["tokens"] >= 5000
        single = ferrotok.TokenDataset(tmp_path / shard["name"], dtype=str(dataset.dtype))
        assert single.num_tokens == shard["tokens"]
    flat = [token for ids in expected for token in ids]
    assert dataset.tokens.tolist() == flat
    assert [d.tolist() for d in dataset[2:5]] == expected[2:5]
    assert dataset[-1].tolist() == expected[-1]
    with pytest.raises(IndexError):
        dataset[len(expected)]

    # A fresh run (no resume) over the same prefix removes a killed run's partial files.
    stale = tmp_path / "sharded-00042.bin.partial"
    stale.write_bytes(b"left by a killed run")
    prepare(inputs, tmp_path / "sharded", shard_tokens=5000, format="bin", **options)
    assert not stale.exists()
    assert [d.tolist() for d in ferrotok.TokenDataset(tmp_path / "sharded")] == expected

    windows = dataset.windows(1000, stride=700)
    assert len(windows) == (len(flat) - 1000) // 700 + 1
    for j in (0, 1, len(windows) // 2, len(windows) - 1):
        assert windows[j].dtype == np.int64
        assert windows[j].tolist() == flat[j * 700 : j * 700 + 1000]
    batch = windows.sample(8, rng=0)
    assert batch.shape == (8, 1000) and batch.dtype == np.int64
    for row in batch:
        starts = [i for i in range(len(flat) - 999) if flat[i] == row[0]]
        assert any(flat[s : s + 1000] == row.tolist() for s in starts)


def test_same_bytes_for_any_thread_count(tmp_path: Path, documents: list[str]) -> None:
    inputs, options = make_input("jsonl", tmp_path, documents * 3)
    outputs = {}
    for threads in (1, 2, 4):
        folder = tmp_path / f"threads{threads}"
        prepare(inputs, folder / "t", num_threads=threads, shard_tokens=20000, **options)
        outputs[threads] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert len(outputs[1]) > 3
    assert outputs[1] == outputs[2] == outputs[4]


def test_batched_tokenize_with_datasets_map(documents: list[str], tokenizers: Tokenizers) -> None:
    import datasets

    dataset = datasets.Dataset.from_dict({"text": documents})
    function = ferrotok.batched_tokenize(ENCODING)
    mapped = dataset.map(function, batched=True, batch_size=64, remove_columns=["text"])
    reference = tokenizers.tiktoken(ENCODING)
    expected = [reference.encode_ordinary(t) + [reference.eot_token] for t in documents]
    assert mapped["input_ids"][:] == expected
    raw = function({"text": documents[:3]})["input_ids"]
    assert all(isinstance(ids, np.ndarray) and ids.dtype == np.uint32 for ids in raw)
    with pytest.raises(ferrotok.InvalidInputError, match="no column 'body'"):
        ferrotok.batched_tokenize(ENCODING, column="body")({"text": ["x"]})


# --- crash safety and resume -----------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_failure_removes_partial_shard_and_resume_completes(
    tmp_path: Path, documents: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = documents * 2
    clean = tmp_path / "clean"
    prepare(iter(texts), clean / "t", shard_tokens=20000)

    class Crash(Exception):
        pass

    def failing() -> Iterator[str]:
        for number, text in enumerate(texts):
            if number == len(texts) * 2 // 3:
                raise Crash
            yield text

    crashed = tmp_path / "crashed"
    # Small batches, so that shards are complete before the crash.
    monkeypatch.setattr(preparation, "BATCH_BYTES", 50_000)
    with pytest.raises(Crash):
        prepare(failing(), crashed / "t", shard_tokens=20000)
    names = sorted(p.name for p in crashed.iterdir())
    assert not [n for n in names if n.endswith(".partial")]
    manifest = json.loads((crashed / "t.json").read_text())
    assert manifest["complete"] is False and len(manifest["shards"]) >= 2
    with pytest.raises(ferrotok.InvalidInputError, match="incomplete"):
        ferrotok.TokenDataset(crashed / "t")
    summary = prepare(iter(texts), crashed / "t", shard_tokens=20000, resume=True)
    assert summary.resumed_shards == len(manifest["shards"])
    assert snapshot(crashed) == snapshot(clean)
    # A complete run is not redone; other settings are refused.
    again = prepare(iter(texts), crashed / "t", shard_tokens=20000, resume=True)
    assert again.documents == summary.documents
    with pytest.raises(ferrotok.TokenizerError, match="other settings"):
        prepare(iter(texts), crashed / "t", shard_tokens=30000, resume=True)


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "ferrotok", "prepare", *arguments]


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> list[str]:
    """Plain text inputs large enough that a one-thread run takes several seconds."""
    files = sorted(str(p) for p in (data_dir / "corpus" / "en").glob("*.txt"))
    return files * 6


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupted_command_then_resume(how: str, tmp_path: Path, big_corpus: list[str]) -> None:
    options = ["-t", "gpt2", "--separator", "\\n\\n", "--shard-tokens", "300000", "--quiet"]
    clean = tmp_path / "clean"
    subprocess.run(cli(*big_corpus, "-o", str(clean / "t"), *options), check=True)

    run = tmp_path / "run"
    process = subprocess.Popen(
        cli(*big_corpus, "-o", str(run / "t"), "--threads", "1", *options),
        stderr=subprocess.PIPE,
    )
    manifest = run / "t.json"
    wait_for(
        lambda: manifest.exists() and len(json.loads(manifest.read_text())["shards"]) >= 2, process
    )
    process.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    _, error_output = process.communicate(timeout=60)
    status, stderr = process.returncode, error_output.decode()
    names = sorted(p.name for p in run.iterdir())
    if how == "ctrl-c":
        assert status == 130, stderr
        assert not [n for n in names if n.endswith(".partial")], names
    else:
        assert status == -signal.SIGKILL
    # Files under their final names are only complete files: every shard the manifest lists, and
    # possibly the next one, whose files are renamed into place just before the manifest names it
    # (a kill can land in between). Each is byte-identical to the uninterrupted run's file.
    shards = json.loads(manifest.read_text())["shards"]
    listed = {f"{s['name']}{suffix}" for s in shards for suffix in (".bin", ".idx")}
    final = {n for n in names if not n.endswith(".partial")} - {"t.json"}
    assert listed <= final
    assert final - listed <= {f"t-{len(shards):05}{suffix}" for suffix in (".bin", ".idx")}
    for name in final:
        assert (run / name).read_bytes() == (clean / name).read_bytes(), name
    with pytest.raises(ferrotok.InvalidInputError, match="incomplete"):
        ferrotok.TokenDataset(run / "t")

    subprocess.run(cli(*big_corpus, "-o", str(run / "t"), "--resume", *options), check=True)
    assert snapshot(run) == snapshot(clean)


# --- bad input -------------------------------------------------------------------------------


def test_invalid_utf8_strict_names_file_and_offset_replace_substitutes(
    tmp_path: Path, tokenizers: Tokenizers
) -> None:
    raw = b"good text\x1esecond \xe2\x82 broken\x1ethird"
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    bad_at = raw.index(b"\xe2")
    with pytest.raises(
        ferrotok.InvalidUtf8Error, match=rf"bad\.txt: invalid UTF-8 at byte offset {bad_at}"
    ):
        prepare(str(path), tmp_path / "strict", separator=SEPARATOR)
    assert not list(tmp_path.glob("strict*"))
    prepare(str(path), tmp_path / "replace", separator=SEPARATOR, errors="replace")
    texts = raw.decode("utf-8", "replace").split(SEPARATOR)
    assert read_back(tmp_path / "replace") == expected_ids(tokenizers, ENCODING, texts)
    # In JSON Lines the message also gives the line.
    lines = tmp_path / "bad.jsonl"
    lines.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    offset = lines.read_bytes().index(b"\xe9")
    with pytest.raises(ferrotok.InvalidUtf8Error, match=rf"byte offset {offset} \(line 2\)"):
        prepare(str(lines), tmp_path / "j")


def test_malformed_json_lines(tmp_path: Path, tokenizers: Tokenizers) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"text": "one"}\n'
        "{not json}\n"
        "\n"
        '{"body": "no text field", "id": 3}\n'
        '{"text": 5}\n'
        '{"text": ""}\n'
        '["an", "array"]\n'
        '{"text": "two"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ferrotok.InvalidInputError, match=r"mixed\.jsonl: line 2: not a valid JSON"):
        prepare(str(path), tmp_path / "strict")
    summary = prepare(str(path), tmp_path / "skip", skip_bad_lines=True)
    assert (summary.documents, summary.bad_skipped, summary.empty_skipped) == (2, 4, 1)
    assert read_back(tmp_path / "skip") == expected_ids(tokenizers, ENCODING, ["one", "two"])
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"body": "x", "id": 1}\n', encoding="utf-8")
    with pytest.raises(
        ferrotok.InvalidInputError,
        match=r'line 1: no field "text" in the object \(its keys: body, id\)',
    ):
        prepare(str(missing), tmp_path / "m")


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"content": ["x"], "url": ["u"]}), tmp_path / "a.parquet")
    with pytest.raises(
        ferrotok.InvalidInputError, match=r"no column 'text' \(columns: content, url\)"
    ):
        prepare(str(tmp_path / "a.parquet"), tmp_path / "p")
    with pytest.raises(ferrotok.InvalidInputError, match=r"no column 'text' \(columns: content\)"):
        prepare(pa.table({"content": ["x"]}), tmp_path / "t")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ferrotok.InvalidInputError, match="no such file or directory"):
        prepare(str(tmp_path / "absent.txt"), tmp_path / "o")
    with pytest.raises(ferrotok.InvalidInputError, match="no file matches"):
        prepare(str(tmp_path / "*.jsonl"), tmp_path / "o")
    with pytest.raises(ferrotok.TokenizerFileError, match="not a built-in encoding"):
        prepare(iter(["x"]), tmp_path / "o", tokenizer="no_such_encoding")
    with pytest.raises(ferrotok.TokenizerError, match="does not fit the output dtype uint16"):
        prepare(iter(["<|endoftext|>"]), tmp_path / "o", dtype="uint16")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("o")]
    with pytest.raises(ferrotok.InvalidInputError, match="documents must be strings"):
        prepare(iter([b"bytes"]), tmp_path / "o")


def test_empty_input_still_makes_a_dataset(tmp_path: Path) -> None:
    summary = prepare(iter(["", ""]), tmp_path / "empty")
    assert (summary.documents, summary.empty_skipped) == (0, 2)
    dataset = ferrotok.TokenDataset(tmp_path / "empty")
    assert len(dataset) == 0 and dataset.num_tokens == 0


# --- the command line and progress -----------------------------------------------------------


def test_command_line(tmp_path: Path, documents: list[str], tokenizers: Tokenizers) -> None:
    inputs, _ = make_input("jsonl", tmp_path, documents)
    result = subprocess.run(
        cli(
            inputs,
            "-t",
            ENCODING,
            "-o",
            str(tmp_path / "c"),
            "--format",
            "npy",
            "--field",
            "meta.text",
        ),
        capture_output=True,
        check=True,
    )
    assert result.stdout == b""
    assert b"prepared" in result.stderr and b"documents" in result.stderr
    assert read_back(tmp_path / "c") == expected_ids(tokenizers, ENCODING, documents)
    quiet = subprocess.run(
        cli(
            inputs,
            "-t",
            ENCODING,
            "-o",
            str(tmp_path / "q"),
            "--field",
            "meta.text",
            "--quiet",
            "--no-append-eos",
        ),
        capture_output=True,
        check=True,
    )
    assert quiet.stdout == quiet.stderr == b""
    reference = tokenizers.tiktoken(ENCODING)
    assert read_back(tmp_path / "q") == [reference.encode_ordinary(t) for t in documents if t]
    failed = subprocess.run(
        cli(inputs, "-t", ENCODING, "-o", str(tmp_path / "f")), capture_output=True
    )
    assert failed.returncode == 2
    assert b'no field "text"' in failed.stderr and b"Traceback" not in failed.stderr


def test_progress_line_on_a_terminal(
    tmp_path: Path, documents: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal:
        def __init__(self) -> None:
            self.written: list[str] = []

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            self.written.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    inputs, options = make_input("jsonl", tmp_path, documents)
    prepare(inputs, tmp_path / "p", progress=True, **options)
    output = "".join(terminal.written)
    assert "prepare:" in output and "100.0% of" in output
    assert "docs" in output and "tokens" in output and "MB/s" in output
    assert output.endswith("\n")
    terminal.written.clear()
    prepare(inputs, tmp_path / "q", progress=False, **options)
    assert terminal.written == []


def test_reads_megatron_files_without_a_manifest(tmp_path: Path, documents: list[str]) -> None:
    inputs, options = make_input("jsonl", tmp_path, documents)
    prepare(inputs, tmp_path / "m", **options)
    expected = read_back(tmp_path / "m")
    os.remove(tmp_path / "m.json")
    assert read_back(tmp_path / "m.idx") == expected


def test_progress_in_a_notebook(
    tmp_path: Path, documents: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Jupyter kernel the progress line is one display that is updated in place."""
    import types

    shown: list[tuple[str, str]] = []

    class Handle:
        def update(self, data: dict[str, str], raw: bool) -> None:
            shown.append(("update", data["text/plain"]))

    def display(data: dict[str, str], raw: bool, display_id: bool) -> Handle:
        assert raw and display_id
        shown.append(("display", data["text/plain"]))
        return Handle()

    kernel = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: kernel  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    inputs, options = make_input("jsonl", tmp_path, documents)
    prepare(inputs, tmp_path / "n", progress=True, **options)
    assert shown[0][0] == "display" and all(kind == "update" for kind, _ in shown[1:])
    assert "100.0% of" in shown[-1][1] and "docs" in shown[-1][1]
