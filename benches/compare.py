"""Throughput of ferrotok next to the other tokenizer libraries, measured in one run.

    python benches/compare.py                 # ~1 MB from each of en, code, multilingual, ja
    python benches/compare.py --quick         # a quarter of that: a smoke test of the numbers
    python benches/compare.py --only llama-3.1,bert-base-uncased --libraries gigatoken,tokie
    python benches/compare.py --out benches/results.md --update-readme

Every library encodes the same documents (the shared corpus cut into paragraphs) from the same
shared file (a ``tokenizer.json`` or a ``.tiktoken`` rank file, offline) through its batch API,
once on one pinned core with one thread and once with all cores. Outputs of two kinds are
compared separately, never with each other: arrays (numpy-like: flat ids + offsets, or an
awkward array) and ``list[list[int]]``.

Before anything is timed, each library's ids are compared with the reference on every document
(tiktoken ``encode_ordinary_batch`` for a ``.tiktoken`` file, Hugging Face tokenizers
``encode_batch_fast(…, add_special_tokens=False)`` without the file's padding and truncation for
a ``tokenizer.json``). A library that differs is reported as inexact, with the number of
documents that differ, and is not timed; one that cannot load the file is reported as
unsupported. Each figure is the median of ``--runs`` timed runs after the checked warm-up run;
the libraries take turns run by run, so that other load on a shared machine hits them alike.
MB/s counts UTF-8 input bytes; tokens/s counts output ids. ferrotok's ratio is to the fastest
*exact* other library with the same output kind on the same file.

Each thread setting runs in its own subprocess, so that the CPU affinity and the thread-pool
sizes (``RAYON_NUM_THREADS``, ``TOKENIZERS_PARALLELISM``, ``num_threads=``, gigatoken's
``parallel=``) are set before any library starts a thread; libraries without a knob (tokie,
kitoken) see only the pinned core. Needs the ``bench`` extra: ``pip install -e '.[bench]'``;
a library that is not installed is skipped with a note.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("en", "code", "multilingual", "ja")
README_START = "<!-- benchmark table: start (benches/compare.py --update-readme) -->"
README_END = "<!-- benchmark table: end -->"

# --- input -------------------------------------------------------------------------------------

_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def split_documents(text: str, max_chars: int = 4096) -> list[str]:
    """Paragraphs (up to a blank line), cut after a line once they reach ``max_chars``."""
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


def load_documents(data_dir: Path, bytes_per_folder: int) -> list[str]:
    """About ``bytes_per_folder`` of documents from each folder, taken at a fixed stride."""
    documents: list[str] = []
    for folder in FOLDERS:
        folder_documents: list[str] = []
        for path in sorted((data_dir / "corpus" / folder).rglob("*.txt")):
            with open(path, encoding="utf-8", newline="") as f:
                folder_documents.extend(split_documents(f.read()))
        total = sum(len(d.encode("utf-8")) for d in folder_documents)
        stride = max(1, total // bytes_per_folder)
        taken = 0
        for document in folder_documents[::stride]:
            if taken >= bytes_per_folder:
                break
            documents.append(document)
            taken += len(document.encode("utf-8"))
    # Interleave the folders so that every chunk of a parallel batch sees a mix.
    return documents[0::2] + documents[1::2]


# --- what is compared --------------------------------------------------------------------------

BYTE_LEVEL = "byte-level BPE"
SENTENCEPIECE_BPE = "SentencePiece BPE"
WORDPIECE = "WordPiece"
UNIGRAM = "Unigram"

ARRAY = "array"  # numpy-like: flat ids + offsets, or an awkward array
LISTS = "lists"  # list[list[int]]
OUTPUT_LABEL = {ARRAY: "array", LISTS: "list[list[int]]"}

# How much faster than the fastest exact other library ferrotok aims to be, by family and output.
TARGETS = {
    (BYTE_LEVEL, ARRAY): 1.5,
    (BYTE_LEVEL, LISTS): 1.5,
    (SENTENCEPIECE_BPE, ARRAY): 2.0,
    (SENTENCEPIECE_BPE, LISTS): 2.0,
    (WORDPIECE, ARRAY): 2.0,
    (WORDPIECE, LISTS): 2.0,
    (UNIGRAM, ARRAY): 2.0,
    (UNIGRAM, LISTS): 2.0,
}
SCALING_TARGET = 1.8  # ferrotok on all cores ÷ ferrotok on one thread (a 2-core machine)


@dataclass(frozen=True)
class Source:
    """One shared tokenizer file and the model it belongs to."""

    model: str
    family: str
    file: str  # relative to the shared data folder

    @property
    def is_tiktoken(self) -> bool:
        return self.file.endswith(".tiktoken")

    @property
    def name(self) -> str:
        """``o200k_base`` for a rank file, the folder name for a tokenizer.json."""
        path = Path(self.file)
        return path.stem if self.is_tiktoken else path.parent.name


SOURCES = (
    Source("o200k", BYTE_LEVEL, "tiktoken/o200k_base.tiktoken"),
    Source("o200k", BYTE_LEVEL, "tokenizers/gpt-4o-o200k/tokenizer.json"),
    Source("cl100k", BYTE_LEVEL, "tiktoken/cl100k_base.tiktoken"),
    Source("cl100k", BYTE_LEVEL, "tokenizers/gpt-4-cl100k/tokenizer.json"),
    Source("llama-3.1", BYTE_LEVEL, "tokenizers/llama-3.1/tokenizer.json"),
    Source("qwen2.5", BYTE_LEVEL, "tokenizers/qwen2.5/tokenizer.json"),
    Source("gpt2", BYTE_LEVEL, "tokenizers/gpt2/tokenizer.json"),
    Source("clip", BYTE_LEVEL, "tokenizers/clip-vit-base-patch32/tokenizer.json"),
    Source("mistral", SENTENCEPIECE_BPE, "tokenizers/mistral-7b-v0.1/tokenizer.json"),
    Source("llama-2", SENTENCEPIECE_BPE, "tokenizers/llama-2-7b-reconstructed/tokenizer.json"),
    Source("bert", WORDPIECE, "tokenizers/bert-base-uncased/tokenizer.json"),
    Source("albert", UNIGRAM, "tokenizers/albert-base-v2/tokenizer.json"),
    Source("t5", UNIGRAM, "tokenizers/t5-legal-small-fr-en/tokenizer.json"),
)

# Library name → the import name and the distribution whose version is reported. The first two
# are the references; every library is optional except ferrotok.
LIBRARIES = {
    "tiktoken": "tiktoken",
    "tokenizers": "tokenizers",
    "ferrotok": "ferrotok",
    "gigatoken": "gigatoken",
    "fastokens": "fastokens",
    "tokie": "tokie",
    "kitoken": "kitoken",
}


def library_version(library: str) -> str:
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def installed(library: str) -> bool:
    return importlib.util.find_spec(LIBRARIES[library]) is not None


# --- outputs as flat arrays, for the check -----------------------------------------------------

Flat = tuple[Any, Any]  # (ids, offsets) as int64 numpy arrays; document i is ids[o[i]:o[i+1]]


def flat_from_lists(batch: Sequence[Sequence[int]]) -> Flat:
    import numpy as np

    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter(itertools.chain.from_iterable(batch), dtype=np.int64, count=int(offsets[-1]))
    return ids, offsets


def flat_from_arrays(ids: Any, offsets: Any) -> Flat:
    import numpy as np

    offsets = np.asarray(offsets, dtype=np.int64)
    return np.asarray(ids, dtype=np.int64)[offsets[0] : offsets[-1]], offsets - offsets[0]


def flat_from_awkward(batch: Any) -> Flat:
    import awkward
    import numpy as np

    lengths = awkward.to_numpy(awkward.num(batch, axis=1))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return awkward.to_numpy(awkward.flatten(batch, axis=1)).astype(np.int64), offsets


def differing_documents(flat: Flat, reference: Flat) -> list[int]:
    """The indices of the documents whose ids differ from the reference's."""
    import numpy as np

    ids, offsets = flat
    reference_ids, reference_offsets = reference
    if len(offsets) != len(reference_offsets):
        return list(range(max(len(offsets), len(reference_offsets)) - 1))
    if np.array_equal(offsets, reference_offsets) and np.array_equal(ids, reference_ids):
        return []
    return [
        i
        for i in range(len(offsets) - 1)
        if not np.array_equal(
            ids[offsets[i] : offsets[i + 1]],
            reference_ids[reference_offsets[i] : reference_offsets[i + 1]],
        )
    ]


# --- how each library encodes a batch ----------------------------------------------------------


@dataclass
class Case:
    """One library's batch API on one file, with one output kind."""

    library: str
    api: str
    output: str  # ARRAY or LISTS
    encode: Callable[[list[str]], Any]
    flat: Callable[[Any], Flat]
    is_reference: bool = False


class Unsupported(Exception):
    """The library does not load this kind of file at all."""


def tiktoken_constructor(data_dir: Path, name: str) -> dict[str, Any]:
    """tiktoken's own definition of an encoding, with the rank file read from ``data_dir``."""
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext import openai_public

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda url, expected_hash=None: load_tiktoken_bpe(
        str(data_dir / "tiktoken" / url.rsplit("/", 1)[-1]), expected_hash
    )
    try:
        constructor: dict[str, Any] = getattr(openai_public, name)()
        return constructor
    finally:
        openai_public.load_tiktoken_bpe = original


def tokenizer_json_without_padding(path: Path) -> str:
    """The file's JSON with padding and truncation off (bert and t5 set them in the file)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document["padding"] = None
    document["truncation"] = None
    return json.dumps(document)


def reference_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    if source.is_tiktoken:
        import tiktoken

        encoding = tiktoken.Encoding(**tiktoken_constructor(data_dir, source.name))
        return [
            Case(
                "tiktoken",
                f'Encoding("{source.name}").encode_ordinary_batch',
                LISTS,
                lambda docs: encoding.encode_ordinary_batch(docs, num_threads=threads),
                flat_from_lists,
                is_reference=True,
            )
        ]
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    # encode_batch_fast (no offsets) is the reference's fastest batch API, where it exists.
    fast = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    return [
        Case(
            "tokenizers",
            f"{fast.__name__}(…).ids",
            LISTS,
            lambda docs: [e.ids for e in fast(docs, add_special_tokens=False)],
            flat_from_lists,
            is_reference=True,
        )
    ]


@functools.cache
def ferrotok_tokenizer(path: Path, is_tiktoken: bool) -> Any:
    """ferrotok's tokenizer of a file, loaded once per process: ``scaling.py`` times two thread
    settings on the same objects, as ``get_encoding`` (cached) gives them."""
    import ferrotok

    if is_tiktoken:
        # No special tokens: encode_batch_numpy then encodes like encode_ordinary.
        return ferrotok.Tokenizer.from_tiktoken(path, special_tokens={})
    return ferrotok.Tokenizer.from_file(path)


def ferrotok_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    import ferrotok

    if source.is_tiktoken:
        encoding = ferrotok.get_encoding(source.name)
        ordinary = ferrotok_tokenizer(path, True)
        return [
            Case(
                "ferrotok",
                "Tokenizer.from_tiktoken(…, special_tokens={}).encode_batch_numpy",
                ARRAY,
                lambda docs: ordinary.encode_batch_numpy(
                    docs, add_special_tokens=False, num_threads=threads
                ),
                lambda batch: flat_from_arrays(batch.ids, batch.offsets),
            ),
            Case(
                "ferrotok",
                f'get_encoding("{source.name}").encode_ordinary_batch',
                LISTS,
                lambda docs: encoding.encode_ordinary_batch(docs, num_threads=threads),
                flat_from_lists,
            ),
        ]
    tokenizer = ferrotok_tokenizer(path, False)
    return [
        Case(
            "ferrotok",
            "encode_batch_numpy",
            ARRAY,
            lambda docs: tokenizer.encode_batch_numpy(
                docs, add_special_tokens=False, num_threads=threads
            ),
            lambda batch: flat_from_arrays(batch.ids, batch.offsets),
        ),
        Case(
            "ferrotok",
            "encode_batch",
            LISTS,
            lambda docs: tokenizer.encode_batch(
                docs, add_special_tokens=False, num_threads=threads
            ),
            flat_from_lists,
        ),
    ]


def gigatoken_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    import gigatoken

    parallel = threads > 1
    if source.is_tiktoken:
        # No special tokens: gigatoken always matches the ones it has, tiktoken's
        # encode_ordinary never does.
        tokenizer = gigatoken.Tokenizer.from_tiktoken(path, special_tokens={})
        load = "Tokenizer.from_tiktoken(…, special_tokens={})."
    else:
        try:
            tokenizer = gigatoken.Tokenizer(path)
        except RuntimeError as error:  # its error for an unsupported model or pre-tokenizer
            raise Unsupported(str(error).splitlines()[0]) from error
        load = ""
    return [
        Case(
            "gigatoken",
            f"{load}encode_batch (awkward)",
            ARRAY,
            lambda docs: tokenizer.encode_batch(docs, parallel=parallel),
            flat_from_awkward,
        ),
        Case(
            "gigatoken",
            f"{load}encode_batch_list",
            LISTS,
            lambda docs: tokenizer.encode_batch_list(docs, parallel=parallel),
            flat_from_lists,
        ),
    ]


def fastokens_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    import fastokens
    import numpy as np

    if source.is_tiktoken:
        pattern = tiktoken_constructor(data_dir, source.name)["pat_str"]
        tokenizer = fastokens.Tokenizer.from_tiktoken(str(path), pattern=pattern, special_tokens={})
        load = "from_tiktoken(…, special_tokens={})."
    else:
        try:
            tokenizer = fastokens.Tokenizer.from_file(str(path))
        except ValueError as error:  # its error for an unsupported component
            raise Unsupported(str(error).splitlines()[0]) from error
        tokenizer.no_padding()
        tokenizer.no_truncation()
        load = ""

    def flat(batch: tuple[bytes, bytes]) -> Flat:
        return flat_from_arrays(
            np.frombuffer(batch[0], np.uint32), np.frombuffer(batch[1], np.uint64)
        )

    return [
        Case(
            "fastokens",
            f"{load}encode_batch_flat",
            ARRAY,
            lambda docs: tokenizer.encode_batch_flat(docs, add_special_tokens=False),
            flat,
        ),
        Case(
            "fastokens",
            f"{load}encode_batch(…).ids",
            LISTS,
            lambda docs: [e.ids for e in tokenizer.encode_batch(docs, add_special_tokens=False)],
            flat_from_lists,
        ),
    ]


def tokie_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    import tokie

    if source.is_tiktoken:
        raise Unsupported("no .tiktoken loader")
    tokenizer = tokie.Tokenizer.from_json(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return [
        Case(
            "tokie",
            "encode_batch(…).ids",
            LISTS,
            lambda docs: [e.ids for e in tokenizer.encode_batch(docs, add_special_tokens=False)],
            flat_from_lists,
        )
    ]


def kitoken_cases(source: Source, path: Path, data_dir: Path, threads: int) -> list[Case]:
    import kitoken

    if source.is_tiktoken:
        tokenizer = kitoken.Kitoken.from_tiktoken_file(str(path))
        # encode_specials=False: special-token text is ordinary text, as in encode_ordinary.
        return [
            Case(
                "kitoken",
                "from_tiktoken_file(…).encode_all(…, False)",
                LISTS,
                lambda docs: tokenizer.encode_all(docs, False),
                flat_from_lists,
            )
        ]
    # kitoken applies the file's padding and truncation and has no switch for them.
    tokenizer = kitoken.Kitoken.from_tokenizers(tokenizer_json_without_padding(path).encode())
    # encode_specials=True: added tokens in the text are matched, as tokenizers does.
    return [
        Case(
            "kitoken",
            "from_tokenizers(…).encode_all(…, True)",
            LISTS,
            lambda docs: tokenizer.encode_all(docs, True),
            flat_from_lists,
        )
    ]


CASE_BUILDERS: dict[str, Callable[[Source, Path, Path, int], list[Case]]] = {
    "ferrotok": ferrotok_cases,
    "gigatoken": gigatoken_cases,
    "fastokens": fastokens_cases,
    "tokie": tokie_cases,
    "kitoken": kitoken_cases,
}


# --- one thread setting, in a subprocess -------------------------------------------------------


def time_case(case: Case, documents: list[str]) -> float:
    start = time.perf_counter()
    case.encode(documents)
    return time.perf_counter() - start


def measure_source(
    source: Source, args: argparse.Namespace, documents: list[str], threads: int, total_bytes: int
) -> list[dict[str, Any]]:
    path = args.data / source.file
    base = {"model": source.model, "family": source.family, "file": source.file}
    rows: list[dict[str, Any]] = []

    def report(row: dict[str, Any]) -> None:
        rows.append(row)
        speed = f"{row['mb_per_s']:8.2f} MB/s" if "mb_per_s" in row else row["status"]
        print(f"  {threads} thread(s): {source.name:26} {row['library']:10} {row['api'][:52]:52} "
              f"{speed} {row.get('note', '')}", file=sys.stderr, flush=True)  # fmt: skip

    reference_library = "tiktoken" if source.is_tiktoken else "tokenizers"
    try:
        [reference] = reference_cases(source, path, args.data, threads)
        expected = reference.flat(reference.encode(documents))
    except Exception as error:  # without the reference nothing can be checked, so nothing runs
        report({**base, "library": reference_library, "api": "(reference)", "output": "",
                "status": "error", "note": f"{type(error).__name__}: {error}"[:160]})  # fmt: skip
        return rows
    cases = [reference]
    for library in args.libraries:
        if library == reference_library or library not in CASE_BUILDERS:
            continue
        if not installed(library):
            continue  # noted once, above the table
        try:
            cases.extend(CASE_BUILDERS[library](source, path, args.data, threads))
        except Exception as error:
            kind = "unsupported" if isinstance(error, Unsupported) else "error"
            note = str(error).splitlines()[0] if str(error) else type(error).__name__
            report({**base, "library": library, "api": "(load)", "output": "", "status": kind,
                    "note": note[:160]})  # fmt: skip
            continue
    # Check every case first, then time the exact ones in turns (run 1 of each, run 2 of each,
    # …), so that a burst of other load on a shared machine hits them all alike.
    checked: list[dict[str, Any]] = []  # one row per case, in order
    timed: list[tuple[Case, dict[str, Any], int]] = []
    for case in cases:
        row = {**base, "library": case.library, "api": case.api, "output": case.output}
        checked.append(row)
        try:
            output = case.encode(documents)  # warm-up, and the ids to check
            flat = case.flat(output)
            differ = differing_documents(flat, expected)
            if differ:
                row.update(status="inexact", differing=len(differ), first_differing=differ[0],
                           note=f"{len(differ)} of {len(documents)} documents differ "
                                f"(first: document {differ[0]})")  # fmt: skip
            else:
                timed.append((case, row, len(flat[0])))
            del output, flat
        except Exception as error:  # report it in the table, go on with the others
            row.update(status="error", note=f"{type(error).__name__}: {error}"[:160])
    seconds: list[list[float]] = [[] for _ in timed]
    for _ in range(args.runs):
        for (case, row, _tokens), runs in zip(timed, seconds, strict=False):
            if row.get("status") == "error":
                continue
            try:
                runs.append(time_case(case, documents))
            except Exception as error:
                row.update(status="error", note=f"{type(error).__name__}: {error}"[:160])
    for (case, row, tokens), runs in zip(timed, seconds, strict=False):
        if row.get("status") != "error":
            median = statistics.median(runs)
            row.update(
                status="reference" if case.is_reference else "exact",
                seconds=median,
                mb_per_s=total_bytes / median / 1e6,
                tokens_per_s=tokens / median,
            )
    for row in checked:
        report(row)
    del cases, expected
    gc.collect()
    return rows


def worker(args: argparse.Namespace) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if args.threads == 1:
        os.sched_setaffinity(0, {cores[0]})
    threads = len(os.sched_getaffinity(0))
    documents = load_documents(args.data, int(args.mb_per_folder * 1e6))
    total_bytes = sum(len(d.encode("utf-8")) for d in documents)
    rows: list[dict[str, Any]] = []
    # The machine may be shared: the load average says how much else was running.
    load = [os.getloadavg()[0]]
    for source in args.sources:
        rows.extend(measure_source(source, args, documents, threads, total_bytes))
        load.append(os.getloadavg()[0])
    json.dump(
        {"threads": threads, "documents": len(documents), "bytes": total_bytes, "rows": rows,
         "load": load},
        sys.stdout,
    )  # fmt: skip


def run_worker(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    environment = dict(os.environ)
    if threads == 1:
        environment.update(
            RAYON_NUM_THREADS="1", FERROTOK_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false"
        )
    else:
        environment.update(TOKENIZERS_PARALLELISM="true")
        for variable in ("RAYON_NUM_THREADS", "FERROTOK_NUM_THREADS"):
            environment.pop(variable, None)
    command = [
        sys.executable, __file__, "--worker", "--threads", str(threads), "--data", str(args.data),
        "--mb-per-folder", str(args.mb_per_folder), "--runs", str(args.runs),
        "--only", ",".join(source.name for source in args.sources),
        "--libraries", ",".join(args.libraries),
    ]  # fmt: skip
    completed = subprocess.run(command, env=environment, stdout=subprocess.PIPE, check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


# --- the tables --------------------------------------------------------------------------------


def row_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["file"], row["library"], row["api"]


@dataclass
class Comparison:
    """ferrotok and the fastest exact other library, for one file and one output kind."""

    source: Source
    output: str
    ferrotok: tuple[dict[str, Any], dict[str, Any]] | None  # (1 thread, all cores)
    best: tuple[dict[str, Any], dict[str, Any]] | None  # by the 1-thread figure
    best_all: tuple[dict[str, Any], dict[str, Any]] | None  # by the all-cores figure
    target: float


def comparisons(single: dict[str, Any], parallel: dict[str, Any], sources: Sequence[Source]):
    by_key = {row_key(row): row for row in parallel["rows"]}
    pairs = [(one, by_key.get(row_key(one), {})) for one in single["rows"]]
    result = []
    for source in sources:
        for output in (ARRAY, LISTS):
            timed = [
                (one, all_)
                for one, all_ in pairs
                if one["file"] == source.file
                and one["output"] == output
                and "mb_per_s" in one
                and "mb_per_s" in all_
            ]
            ours = next((pair for pair in timed if pair[0]["library"] == "ferrotok"), None)
            others = [pair for pair in timed if pair[0]["library"] != "ferrotok"]
            best = max(others, key=lambda pair: pair[0]["mb_per_s"], default=None)
            best_all = max(others, key=lambda pair: pair[1]["mb_per_s"], default=None)
            if ours is None and best is None:
                continue
            target = TARGETS[source.family, output]
            result.append(Comparison(source, output, ours, best, best_all, target))
    return result


def versions_line(args: argparse.Namespace) -> str:
    present = [f"{name} {library_version(name)}" for name in LIBRARIES if installed(name)]
    missing = [name for name in args.libraries if not installed(name)]
    line = ", ".join(present)
    if missing:
        line += f"; not installed, so not measured: {', '.join(missing)}"
    return line


def check_mark(value: float, target: float) -> str:
    return "✓" if value >= target else "✗"


def format_summary(
    single: dict[str, Any], parallel: dict[str, Any], args: argparse.Namespace
) -> str:
    n = parallel["threads"]
    lines = [
        f"Input: {single['bytes'] / 1e6:.1f} MB of UTF-8 in {single['documents']} documents "
        f"({', '.join(FOLDERS)}), median of {args.runs} runs, 1 thread pinned to one core and "
        f"{n} threads on {n} cores; {platform.python_implementation()} "
        f"{platform.python_version()}; {versions_line(args)}. Every figure's ids were checked "
        "equal to the reference's before timing.",
        "",
        "Load average (1 min, sampled after each file) during the 1-thread run "
        f"{load_range(single)}, during the {n}-thread run {load_range(parallel)}: figures taken "
        f"while other processes ran (a load above 1, resp. {n}) are low and noisy.",
        "",
        f"| model | file | family | output | ferrotok MB/s (1 / {n} thr) "
        f"| ferrotok Mtok/s (1 / {n}) | fastest exact other (1 / {n} thr, MB/s) "
        f"| ferrotok ÷ it (1 / {n}) | target | {n} thr ÷ 1 thr (≥ {SCALING_TARGET}) |",
        "|---|---|---|---|--:|--:|---|--:|---|--:|",
    ]
    for comparison in comparisons(single, parallel, args.sources):
        source = comparison.source
        output = OUTPUT_LABEL[comparison.output]
        head = f"| {source.model} | `{source.name}` | {source.family} | {output} "
        if comparison.ferrotok is None:
            lines.append(head + "| not measured | | | | | |")
            continue
        one, all_ = comparison.ferrotok
        scaling = all_["mb_per_s"] / one["mb_per_s"]
        cells = [
            f"{one['mb_per_s']:.1f} / {all_['mb_per_s']:.1f}",
            f"{one['tokens_per_s'] / 1e6:.2f} / {all_['tokens_per_s'] / 1e6:.2f}",
        ]
        if comparison.best is None or comparison.best_all is None:
            cells += ["no exact other library", "", "—"]
        else:
            best_one, best_all = comparison.best[0], comparison.best_all[1]
            ratio_one = one["mb_per_s"] / best_one["mb_per_s"]
            ratio_all = all_["mb_per_s"] / best_all["mb_per_s"]
            if best_one["library"] == best_all["library"]:
                who = (
                    f"{best_one['library']} {best_one['mb_per_s']:.1f} / {best_all['mb_per_s']:.1f}"
                )
            else:
                who = (
                    f"{best_one['library']} {best_one['mb_per_s']:.1f} / "
                    f"{best_all['library']} {best_all['mb_per_s']:.1f}"
                )
            cells += [
                who,
                f"{ratio_one:.2f}× / {ratio_all:.2f}×",
                f"≥ {comparison.target}×: {check_mark(ratio_one, comparison.target)} / "
                f"{check_mark(ratio_all, comparison.target)}",
            ]
        cells.append(f"{scaling:.2f}× {check_mark(scaling, SCALING_TARGET)}")
        lines.append(head + "| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(tally(comparisons(single, parallel, args.sources), n))
    not_exact = sorted(
        {
            f"{row['library']} on `{row_file_name(row)}` ({row.get('note', row['status'])})"
            for row in single["rows"]
            if row["status"] == "inexact"
        }
    )
    unsupported = sorted(
        {
            f"{row['library']}: {row_file_name(row)}"
            for row in single["rows"]
            if row["status"] in ("unsupported", "error")
        }
    )
    lines.append("")
    lines.append("Inexact, so not timed: " + ("; ".join(not_exact) if not_exact else "none") + ".")
    if unsupported:
        lines.append("")
        lines.append("Could not load or run (not timed): " + "; ".join(unsupported) + ".")
    return "\n".join(lines) + "\n"


def load_range(result: dict[str, Any]) -> str:
    load = result.get("load") or [float("nan")]
    return f"{min(load):.1f}–{max(load):.1f}"


def tally(found: list[Comparison], n: int) -> str:
    """How many comparisons meet their target, on both thread settings."""
    groups: dict[str, list[bool]] = {}
    scaling: list[bool] = []
    for comparison in found:
        if comparison.ferrotok is None:
            continue
        one, all_ = comparison.ferrotok
        if comparison.output == LISTS:
            scaling.append(all_["mb_per_s"] / one["mb_per_s"] >= SCALING_TARGET)
        if comparison.best is None or comparison.best_all is None:
            continue
        met = (
            one["mb_per_s"] / comparison.best[0]["mb_per_s"] >= comparison.target
            and all_["mb_per_s"] / comparison.best_all[1]["mb_per_s"] >= comparison.target
        )
        family = comparison.source.family
        label = f"{family}, {OUTPUT_LABEL[comparison.output]} ≥ {comparison.target}×"
        if family != BYTE_LEVEL:
            label = f"{family} ≥ {comparison.target}×"
        groups.setdefault(label, []).append(met)
    parts = [f"{label}: {sum(met)} of {len(met)}" for label, met in groups.items()]
    parts.append(
        f"{n} threads ÷ 1 thread ≥ {SCALING_TARGET}× (encode_batch, lists): "
        f"{sum(scaling)} of {len(scaling)}"
    )
    return "Targets met on both thread settings: " + "; ".join(parts) + "."


def row_file_name(row: dict[str, Any]) -> str:
    path = Path(row["file"])
    return path.stem if path.suffix == ".tiktoken" else path.parent.name


def format_details(single: dict[str, Any], parallel: dict[str, Any], runs: int) -> str:
    n = parallel["threads"]
    by_key = {row_key(row): row for row in parallel["rows"]}
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for one in single["rows"]:
        all_ = by_key.get(row_key(one), {})
        if one["library"] != "ferrotok" and "mb_per_s" in one and "mb_per_s" in all_:
            key = (one["file"], one["output"])
            old = best.get(key, (0.0, 0.0))
            best[key] = (max(old[0], one["mb_per_s"]), max(old[1], all_["mb_per_s"]))
    lines = [
        f"| model | file | output | library | API | 1 thread MB/s | 1 thread Mtok/s "
        f"| {n} threads MB/s | {n} threads Mtok/s | ferrotok ÷ fastest exact other (1 / {n}) |",
        "|---|---|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for one in single["rows"]:
        all_ = by_key.get(row_key(one), {})
        head = (
            f"| {one['model']} | `{row_file_name(one)}` | {OUTPUT_LABEL.get(one['output'], '')} "
            f"| {one['library']} | `{one['api']}` "
        )
        if "mb_per_s" not in one or "mb_per_s" not in all_:
            status = one["status"] if "mb_per_s" not in one else all_.get("status", "?")
            note = one.get("note") or all_.get("note", "")
            lines.append(head + f"| {status}: {note} | | | | |")
            continue
        ratio = ""
        if one["library"] == "ferrotok":
            other = best.get((one["file"], one["output"]))
            ratio = (
                f"{one['mb_per_s'] / other[0]:.2f}× / {all_['mb_per_s'] / other[1]:.2f}×"
                if other
                else "no exact other"
            )
        elif one["status"] == "reference":
            ratio = "(reference)"
        lines.append(
            head + f"| {one['mb_per_s']:.2f} | {one['tokens_per_s'] / 1e6:.2f} "
            f"| {all_['mb_per_s']:.2f} | {all_['tokens_per_s'] / 1e6:.2f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        sys.exit(f"README.md has no {README_START!r} … {README_END!r} block")
    text = text[: start + len(README_START)] + "\n" + table + text[end:]
    readme.write_text(text, encoding="utf-8")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    default_data = os.environ.get("FERROTOK_DATA") or str(REPO.parent / "shared" / "data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(default_data), help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="0.25 MB per folder instead of 1")
    parser.add_argument("--mb-per-folder", type=float, default=None, help="MB from each folder")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated file names to measure (o200k_base, llama-3.1, …); default all",
    )
    parser.add_argument(
        "--libraries",
        default=",".join(name for name in LIBRARIES if name not in ("tiktoken", "tokenizers")),
        help="comma-separated libraries besides the references (default: all that are installed)",
    )
    parser.add_argument("--out", type=Path, help="also write the tables to this file")
    parser.add_argument("--update-readme", action="store_true", help="put the summary in README.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mb_per_folder is None:
        args.mb_per_folder = 0.25 if args.quick else 1.0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    names = [name for name in args.only.split(",") if name]
    known = {source.name for source in SOURCES}
    if unknown := [name for name in names if name not in known]:
        parser.error(f"unknown file name(s) {unknown}; known: {', '.join(sorted(known))}")
    args.sources = [source for source in SOURCES if not names or source.name in names]
    args.libraries = [name for name in args.libraries.split(",") if name]
    if unknown := [name for name in args.libraries if name not in LIBRARIES]:
        parser.error(f"unknown library {unknown}; known: {', '.join(LIBRARIES)}")
    if "ferrotok" not in args.libraries:
        args.libraries.insert(0, "ferrotok")
    return args


def main() -> int:
    args = parse_arguments()
    if args.worker:
        worker(args)
        return 0
    if not (args.data / "corpus").is_dir():
        sys.exit(f"no corpus in {args.data}: pass --data or set FERROTOK_DATA")
    for library in args.libraries:
        if not installed(library):
            print(f"note: {library} is not installed; skipped", file=sys.stderr)
    print(f"one thread, pinned to one core ({args.runs} runs each) …", file=sys.stderr)
    single = run_worker(args, 1)
    print("all cores …", file=sys.stderr)
    parallel = run_worker(args, 0)
    summary = format_summary(single, parallel, args)
    details = format_details(single, parallel, args.runs)
    print(summary)
    print(details)
    if args.out:
        args.out.write_text(
            "## Summary\n\n" + summary + "\n## Every library\n\n" + details, encoding="utf-8"
        )
    if args.update_readme:
        update_readme(summary)
    failed = [row for row in single["rows"] + parallel["rows"] if row["status"] == "error"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
