"""ferrotok on all cores against one thread, timed in turns in one process.

    python benches/scaling.py                  # every file of compare.py, both cores
    python benches/scaling.py --only o200k_base,llama-3.1 --runs 9 --out FILE

Issue 4 asks, on both cores, for ``encode_batch`` at 1.8 times its one-thread speed and for one
10 MB document at 1.7 times. ``compare.py`` and ``long_document.py`` time each thread setting in
its own process, one after the other. On this machine the speed of a whole process can differ
by half from one process to the next (the same encoding of 10 MB on one thread: 42 ms in some
processes, 65 in others, for minutes at a time), so a ratio of two processes measures that as
much as the threads. Here one process (all cores allowed) times ferrotok with
``num_threads=1`` and with ``num_threads=N`` in turns (run 1 of each, run 2 of each, …), after
checking the ids of both against the reference (tiktoken or tokenizers), and reports the ratio
of the medians:

- **batch**: ``compare.py``'s documents (1 MB from each folder, cut into paragraphs) through
  ``encode_batch_numpy`` (array) and ``encode_batch`` (lists), as ``compare.py`` calls them;
- **one document**: ``long_document.py``'s 10 MB document through
  ``encode_batch_numpy([text])`` (array) and ``encode(text)`` (list).

Both thread settings use the same tokenizer objects: two objects would each have a word cache of
several megabytes on the calling thread, and would push each other out of the caches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
import long_document  # noqa: E402

BATCH_TARGET = 1.8
DOCUMENT_TARGET = 1.7


def ratio_row(
    label: str,
    size: int,
    encode: dict[int, Callable[[], Any]],
    runs: int,
    target: float,
) -> str:
    """Times ``encode[1]`` and ``encode[n]`` in turns; one Markdown row."""
    one, many = encode[1], encode[max(encode)]
    for _ in range(2):  # warm-up: pools, word caches
        one()
        many()
    times: dict[str, list[float]] = {"one": [], "many": []}
    for _ in range(runs):
        for key, call in (("one", one), ("many", many)):
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    first, second = statistics.median(times["one"]), statistics.median(times["many"])
    ratio = first / second
    mark = "✓" if ratio >= target else "**✗**"
    return (
        f"| {label} | {size / first / 1e6:.1f} | {size / second / 1e6:.1f} | {ratio:.2f}× | "
        f"≥ {target}: {mark} |"
    )


def batch_rows(source: compare.Source, args: argparse.Namespace, threads: int) -> list[str]:
    documents = compare.load_documents(args.data, int(args.mb_per_folder * 1e6))
    size = sum(len(d.encode("utf-8")) for d in documents)
    path = args.data / source.file
    [reference] = compare.reference_cases(source, path, args.data, threads)
    expected = reference.flat(reference.encode(documents))
    cases = {n: compare.ferrotok_cases(source, path, args.data, n) for n in (1, threads)}
    rows = []
    for index, case in enumerate(cases[1]):
        pair = {n: cases[n][index] for n in (1, threads)}
        for n, each in pair.items():
            if compare.differing_documents(each.flat(each.encode(documents)), expected):
                raise SystemExit(f"{source.name}: {each.api} on {n} threads differs")
        encode = {n: (lambda c=each: c.encode(documents)) for n, each in pair.items()}
        label = f"`{source.name}` | batch | {case.output} `{case.api}`"
        rows.append(ratio_row(label, size, encode, args.runs, BATCH_TARGET))
        print(rows[-1], flush=True)
    return rows


def document_rows(
    source: compare.Source, args: argparse.Namespace, threads: int, text: str
) -> list[str]:
    size = len(text.encode("utf-8"))
    path = args.data / source.file
    expected = long_document.reference_digest(source, args.data, text)

    tok = compare.ferrotok_tokenizer(path, source.is_tiktoken)
    settings = (1, threads)
    calls: dict[str, dict[int, Callable[[], Any]]] = {
        "array": {
            n: lambda n=n: (
                tok.encode_batch_numpy([text], add_special_tokens=False, num_threads=n).ids
            )
            for n in settings
        },
        "list": {
            n: lambda n=n: tok.encode(text, add_special_tokens=False, num_threads=n)
            for n in settings
        },
    }
    rows = []
    for output, encode in calls.items():
        for n, call in encode.items():
            if long_document.digest(call()) != expected:
                raise SystemExit(f"{source.name}: {output} on {n} threads differs")
        label = f"`{source.name}` | one document | {output}"
        rows.append(ratio_row(label, size, encode, args.runs, DOCUMENT_TARGET))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=compare.REPO.parent / "shared" / "data")
    parser.add_argument("--only", help="comma-separated names (default: every file)")
    parser.add_argument("--mb-per-folder", type=float, default=1.0, help="the batch's size")
    parser.add_argument("--mb", type=float, default=10.0, help="the one document's size")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the Markdown table here too")
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0))
    if threads < 2:
        raise SystemExit("needs at least two cores")
    names = args.only.split(",") if args.only else None
    sources = [s for s in compare.SOURCES if names is None or s.name in names]
    text = long_document.document(args.data, args.mb)
    lines = [
        f"ferrotok on 1 and on {threads} threads, timed in turns in one process, median of "
        f"{args.runs} runs each; load average {os.getloadavg()[0]:.1f} at the start.",
        "",
        f"| file | input | output | 1 thread MB/s | {threads} threads MB/s | ratio | target |",
        "|---|---|---|--:|--:|--:|---|",
    ]
    for source in sources:
        lines += batch_rows(source, args, threads)
        lines += document_rows(source, args, threads, text)
    lines.append(f"\nLoad average {os.getloadavg()[0]:.1f} at the end.")
    output = "\n".join(lines) + "\n"
    print(output)
    if args.out:
        args.out.write_text(output, encoding="utf-8")


if __name__ == "__main__":
    main()
