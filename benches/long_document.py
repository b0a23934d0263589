"""One long document on one core and on all cores: how ferrotok's ``encode`` scales.

    python benches/long_document.py              # 10 MB, a file of each kind
    python benches/long_document.py --mb 2 --only o200k_base --out FILE

Issue 4 asks that one 10 MB document encode at least 1.7 times as fast on both cores as on one,
with output identical. ``Tokenizer.encode`` and ``encode_batch_numpy`` of a batch of one cut a
long text where no pre-token can cross (line starts, or spaces after a printable ASCII
character; for a file without a pre-tokenizer, word starts and line ends of the normalized
text where no merge can reach across: see ``Tokenizer::encode_parallel``) and encode the parts
on the thread pool; a tokenizer whose pipeline allows no such cut encodes it whole. Both
outputs are timed: the array (``encode_batch_numpy([text])``) and the list (``encode(text)``,
whose conversion into Python ints is one thread's work after the encoding).

The document is the shared corpus (every folder, files in name order) concatenated up to
``--mb`` megabytes. Each thread setting runs in its own process, pinned to one core or given
all, with ``FERROTOK_NUM_THREADS`` set; the figure is the median of ``--runs`` runs after three
untimed ones. The ids of both settings must be equal, and equal to the reference's
(tiktoken ``encode_ordinary`` for a rank file, tokenizers without special tokens for a
``tokenizer.json``), before any figure is reported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402

DEFAULT_FILES = (
    "o200k_base",
    "cl100k_base",
    "llama-3.1",
    "qwen2.5",
    "gpt2",
    "clip-vit-base-patch32",
    "mistral-7b-v0.1",
    "llama-2-7b-reconstructed",
    "bert-base-uncased",
    "albert-base-v2",
    "t5-legal-small-fr-en",
)
TARGET = 1.7


def document(data: Path, megabytes: float) -> str:
    """The shared corpus, every folder's files in name order, cut to ``megabytes``."""
    limit = int(megabytes * 1e6)
    parts: list[str] = []
    size = 0
    for folder in compare.FOLDERS:
        for path in sorted((data / "corpus" / folder).rglob("*.txt")):
            text = path.read_text(encoding="utf-8")
            parts.append(text)
            size += len(text.encode("utf-8"))
            if size >= limit:
                break
        if size >= limit:
            break
    whole = "".join(parts).encode("utf-8")[:limit]
    return whole.decode("utf-8", errors="ignore")  # a cut inside a character drops it


def encoders(source: compare.Source, data: Path) -> dict[str, Any]:
    """ferrotok's two calls on one text, by output kind."""
    import ferrotok

    path = data / source.file
    if source.is_tiktoken:
        tokenizer = ferrotok.Tokenizer.from_tiktoken(path, special_tokens={})
    else:
        tokenizer = ferrotok.Tokenizer.from_file(path)
    return {
        "array": lambda text: tokenizer.encode_batch_numpy([text], add_special_tokens=False).ids,
        "list": lambda text: tokenizer.encode(text, add_special_tokens=False),
    }


def digest(ids: Any) -> str:
    return hashlib.sha256(b"".join(int(i).to_bytes(4, "little") for i in ids)).hexdigest()


def child(args: argparse.Namespace) -> None:
    """Times ferrotok on the document with the thread count of this process; prints JSON."""
    [source] = [s for s in compare.SOURCES if s.name == args.only]
    text = document(args.data, args.mb)
    result = {}
    for output, encode in encoders(source, args.data).items():
        # Untimed: the thread pool and the word caches warm up. Three calls, because the parts
        # go to whichever thread is free, and each thread's cache learns the words of the parts
        # it happens to get (one warm-up call left 2-thread runs with whole parts new to their
        # thread: 0.12 s against 0.04 s).
        ids = encode(text)
        for _ in range(2):
            encode(text)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            encode(text)
            times.append(time.perf_counter() - start)
        result[output] = {
            "seconds": statistics.median(times),
            "digest": digest(ids),
            "ids": len(ids),
        }
    json.dump(result, sys.stdout)


def reference_digest(source: compare.Source, data: Path, text: str) -> str:
    if source.is_tiktoken:
        import tiktoken

        encoding = tiktoken.Encoding(**compare.tiktoken_constructor(data, source.name))
        return digest(encoding.encode_ordinary(text))
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(data / source.file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return digest(tokenizer.encode(text, add_special_tokens=False).ids)


def run(args: argparse.Namespace, source: compare.Source, threads: int) -> dict[str, Any]:
    cores = sorted(os.sched_getaffinity(0))
    environment = dict(os.environ, FERROTOK_NUM_THREADS=str(threads))
    command = [
        sys.executable, __file__, "--child", "--only", source.name, "--data", str(args.data),
        "--mb", str(args.mb), "--runs", str(args.runs),
    ]  # fmt: skip
    completed = subprocess.run(
        ["taskset", "-c", ",".join(map(str, cores[:threads])), *command],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=compare.REPO.parent / "shared" / "data")
    parser.add_argument("--only", default=",".join(DEFAULT_FILES), help="comma-separated names")
    parser.add_argument("--mb", type=float, default=10.0, help="the document's size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the Markdown table here too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    threads = len(os.sched_getaffinity(0))
    text = document(args.data, args.mb)
    size = len(text.encode("utf-8"))
    lines = [
        f"One document of {size / 1e6:.1f} MB (the corpus's folders in order), `encode` on 1 "
        f"and on {threads} threads, median of {args.runs} runs; load average "
        f"{os.getloadavg()[0]:.1f} at the start.",
        "",
        f"| file | output | ids | 1 thread MB/s | {threads} threads MB/s | ratio | ≥ {TARGET} "
        f"| ids |",
        "|---|---|--:|--:|--:|--:|---|---|",
    ]
    names = args.only.split(",")
    for source in [s for s in compare.SOURCES if s.name in names]:
        one = run(args, source, 1)
        many = run(args, source, threads)
        expected = reference_digest(source, args.data, text)
        for output in ("array", "list"):
            a, b = one[output], many[output]
            same = a["digest"] == b["digest"] == expected
            ratio = a["seconds"] / b["seconds"]
            mark = "✓" if ratio >= TARGET else "**✗**"
            check = "equal to the reference on both" if same else "**differ**"
            lines.append(
                f"| `{source.name}` | {output} | {a['ids']} | {size / a['seconds'] / 1e6:.1f} | "
                f"{size / b['seconds'] / 1e6:.1f} | {ratio:.2f}× | {mark} | {check} |"
            )
            print(lines[-1], flush=True)
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.out:
        args.out.write_text(text_out, encoding="utf-8")


if __name__ == "__main__":
    main()
