"""Throughput of ferrotok next to tiktoken and Hugging Face tokenizers, measured in one run.

    python benches/compare.py                 # ~1 MB from each of en, code, multilingual, ja
    python benches/compare.py --quick         # a quarter of that: a smoke test of the numbers
    python benches/compare.py --out benches/results.md --update-readme

For each model (o200k, llama-3.1, cl100k/gpt2) every implementation encodes the same documents
(the shared corpus cut into paragraphs) through its batch API, once on one pinned core with one
thread and once with all cores. Before anything is timed, each implementation's ids are compared
with its reference (tiktoken for ``.tiktoken`` encodings, tokenizers for ``tokenizer.json``); a
mismatch is reported and nothing is timed for it. Each figure is the median of ``--runs`` timed
runs after one warm-up run. MB/s counts UTF-8 input bytes; tokens/s counts output ids.

Each thread setting runs in its own subprocess, so that thread-pool sizes
(``RAYON_NUM_THREADS``, ``TOKENIZERS_PARALLELISM``) and the CPU affinity are set before any
library starts a thread. Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
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


# --- implementations ---------------------------------------------------------------------------


@dataclass
class Case:
    """One implementation of one model: how to encode a batch, and its reference."""

    model: str
    library: str
    api: str
    encode: Callable[[Sequence[str]], Any]
    count_tokens: Callable[[Any], int]
    as_lists: Callable[[Any], list[list[int]]]
    reference: str | None  # the `library api` of the Case whose ids must be reproduced


def list_count(batch: Any) -> int:
    return sum(len(ids) for ids in batch)


def numpy_lists(batch: Any) -> list[list[int]]:
    ids = batch.ids.tolist()
    offsets = batch.offsets.tolist()
    return [ids[a:b] for a, b in zip(offsets, offsets[1:])]


def build_cases(data_dir: Path, threads: int) -> list[Case]:
    import ferrotok
    import tiktoken
    import tokenizers

    cases: list[Case] = []

    def tiktoken_encoding(name: str) -> Any:
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext import openai_public

        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = lambda url, expected_hash=None: load_tiktoken_bpe(
            str(data_dir / "tiktoken" / url.rsplit("/", 1)[-1]), expected_hash
        )
        try:
            return tiktoken.Encoding(**getattr(openai_public, name)())
        finally:
            openai_public.load_tiktoken_bpe = original

    def hf_tokenizer(name: str) -> Any:
        tokenizer = tokenizers.Tokenizer.from_file(
            str(data_dir / "tokenizers" / name / "tokenizer.json")
        )
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def add_tiktoken(model: str, name: str) -> None:
        reference = tiktoken_encoding(name)
        ours = ferrotok.get_encoding(name)
        label = f"tiktoken {tiktoken.__version__}"
        cases.append(
            Case(
                model,
                label,
                f'get_encoding("{name}").encode_ordinary_batch',
                lambda docs: reference.encode_ordinary_batch(docs, num_threads=threads),
                list_count,
                lambda batch: batch,
                None,
            )
        )
        cases.append(
            Case(
                model,
                "ferrotok",
                f'get_encoding("{name}").encode_ordinary_batch',
                lambda docs: ours.encode_ordinary_batch(docs, num_threads=threads),
                list_count,
                lambda batch: [list(ids) for ids in batch],
                f'{label} get_encoding("{name}").encode_ordinary_batch',
            )
        )

    def add_tokenizer_json(model: str, name: str) -> None:
        reference = hf_tokenizer(name)
        ours = ferrotok.Tokenizer.from_file(str(data_dir / "tokenizers" / name / "tokenizer.json"))
        label = f"tokenizers {tokenizers.__version__}"
        # encode_batch_fast (no offsets) is the reference's fastest batch API, where it exists.
        fast = getattr(reference, "encode_batch_fast", reference.encode_batch)
        api = f"{name}: {fast.__name__}(…).ids"
        cases.append(
            Case(
                model,
                label,
                api,
                lambda docs: [e.ids for e in fast(docs, add_special_tokens=False)],
                list_count,
                lambda batch: batch,
                None,
            )
        )
        for method, count, as_lists in (
            ("encode_batch", list_count, lambda batch: [list(ids) for ids in batch]),
            ("encode_batch_numpy", lambda batch: len(batch.ids), numpy_lists),
        ):
            function = getattr(ours, method)
            cases.append(
                Case(
                    model,
                    "ferrotok",
                    f"{name}: {method}",
                    lambda docs, function=function: function(
                        docs, add_special_tokens=False, num_threads=threads
                    ),
                    count,
                    as_lists,
                    f"{label} {api}",
                )
            )

    add_tiktoken("o200k", "o200k_base")
    add_tokenizer_json("o200k", "gpt-4o-o200k")
    add_tokenizer_json("llama-3.1", "llama-3.1")
    add_tiktoken("cl100k / gpt2", "cl100k_base")
    add_tokenizer_json("cl100k / gpt2", "gpt2")
    return cases


# --- one thread setting, in a subprocess -------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if args.threads == 1:
        os.sched_setaffinity(0, {cores[0]})
    threads = len(os.sched_getaffinity(0))
    documents = load_documents(args.data, int(args.mb_per_folder * 1e6))
    total_bytes = sum(len(d.encode("utf-8")) for d in documents)
    results: list[dict[str, Any]] = []
    ids_by_case: dict[str, list[list[int]]] = {}
    for case in build_cases(args.data, threads):
        key = f"{case.library} {case.api}"
        row: dict[str, Any] = {"model": case.model, "library": case.library, "api": case.api}
        try:
            output = case.encode(documents)  # warm-up, and the ids to check
            ids = case.as_lists(output)
            if case.reference is None:
                ids_by_case[key] = ids
            elif ids != ids_by_case[case.reference]:
                bad = next(
                    i for i, (a, b) in enumerate(zip(ids, ids_by_case[case.reference])) if a != b
                )
                raise AssertionError(f"ids differ from {case.reference} (first at document {bad})")
            tokens = case.count_tokens(output)
            seconds = []
            for _ in range(args.runs):
                start = time.perf_counter()
                case.encode(documents)
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            row.update(
                seconds=median, mb_per_s=total_bytes / median / 1e6, tokens_per_s=tokens / median
            )
        except Exception as error:  # report it in the table, go on with the others
            row["error"] = f"{type(error).__name__}: {error}"
        row["reference"] = case.reference
        results.append(row)
        print(f"  {threads} thread(s): {case.model:14} {case.library:18} {case.api:55} "
              f"{row.get('mb_per_s', float('nan')):8.2f} MB/s {row.get('error', '')}",
              file=sys.stderr)  # fmt: skip
    json.dump(
        {"threads": threads, "documents": len(documents), "bytes": total_bytes, "rows": results},
        sys.stdout,
    )


def run_worker(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    environment = dict(os.environ)
    if threads == 1:
        environment.update(
            RAYON_NUM_THREADS="1", FERROTOK_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false"
        )
    else:
        environment.update(TOKENIZERS_PARALLELISM="true")
    command = [
        sys.executable, __file__, "--worker", "--threads", str(threads), "--data", str(args.data),
        "--mb-per-folder", str(args.mb_per_folder), "--runs", str(args.runs),
    ]  # fmt: skip
    completed = subprocess.run(command, env=environment, stdout=subprocess.PIPE, check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


# --- the table ---------------------------------------------------------------------------------


def format_table(single: dict[str, Any], parallel: dict[str, Any], runs: int) -> str:
    import ferrotok
    import tiktoken
    import tokenizers

    n = parallel["threads"]
    lines = [
        f"Input: {single['bytes'] / 1e6:.1f} MB of UTF-8 in {single['documents']} documents "
        f"({', '.join(FOLDERS)}), median of {runs} runs; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores; ferrotok {getattr(ferrotok, '__version__', '?')}, "
        f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}.",
        "",
        f"| model | library | API | 1 thread MB/s | 1 thread Mtok/s | {n} threads MB/s "
        f"| {n} threads Mtok/s | speed-up vs reference (1 / all) |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    speed: dict[str, tuple[float, float]] = {}
    for one, all_ in zip(single["rows"], parallel["rows"]):
        if "error" not in one and "error" not in all_:
            speed[f"{one['library']} {one['api']}"] = (one["mb_per_s"], all_["mb_per_s"])
    for one, all_ in zip(single["rows"], parallel["rows"]):
        model = one["model"]
        if "error" in one or "error" in all_:
            error = one.get("error") or all_.get("error")
            lines.append(f"| {model} | {one['library']} | `{one['api']}` | {error} | | | | |")
            continue
        if one["reference"] is None:
            ratio = "reference"
        elif one["reference"] in speed:
            base_one, base_all = speed[one["reference"]]
            ratio = f"{one['mb_per_s'] / base_one:.2f}× / {all_['mb_per_s'] / base_all:.2f}×"
        else:
            ratio = "?"
        lines.append(
            f"| {model} | {one['library']} | `{one['api']}` "
            f"| {one['mb_per_s']:.2f} | {one['tokens_per_s'] / 1e6:.2f} "
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
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--update-readme", action="store_true", help="put the table in README.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mb_per_folder is None:
        args.mb_per_folder = 0.25 if args.quick else 1.0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main() -> int:
    args = parse_arguments()
    if args.worker:
        worker(args)
        return 0
    if not (args.data / "corpus").is_dir():
        sys.exit(f"no corpus in {args.data}: pass --data or set FERROTOK_DATA")
    print(f"one thread, pinned to one core ({args.runs} runs each) …", file=sys.stderr)
    single = run_worker(args, 1)
    print("all cores …", file=sys.stderr)
    parallel = run_worker(args, 0)
    table = format_table(single, parallel, args.runs)
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    if args.update_readme:
        update_readme(table)
    failed = [row for row in single["rows"] + parallel["rows"] if "error" in row]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
