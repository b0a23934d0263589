"""How long each library takes to load a tokenizer file, next to ferrotok.

    python benches/loading.py               # o200k_base (.tiktoken), llama-3.1 (tokenizer.json)
    python benches/loading.py --runs 9 --out FILE

Issue 4 asks that loading llama-3.1's or o200k's tokenizer be no slower than the fastest library.
Every (file, library) pair is timed in a fresh process pinned to one core, with one thread: the
library is imported first (not timed), then the same shared file is loaded ``--runs`` times, each
time into a new object. The table gives the first load (what a process pays once) and the
median of the others; the file is in the page cache for every library alike (it is read once
before any timing). A load is the library's call that returns an object ready to encode, from
the file's path (kitoken's ``from_tokenizers`` takes the JSON's bytes: reading them is timed
too). ferrotok's ``get_encoding`` (the ranks shipped inside the package, no file) is timed on
its own line; it caches the encoding, so only its first call counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402

DEFAULT_FILES = ("o200k_base", "llama-3.1")
DEFAULT_LIBRARIES = "ferrotok,tiktoken,tokenizers,gigatoken,fastokens,tokie,kitoken"


def loaders(source: compare.Source, path: Path, data: Path) -> dict[str, Callable[[], Any]]:
    """Each library's load of ``path``, by library name (absent: the library cannot load it)."""
    result: dict[str, Callable[[], Any]] = {}
    if source.is_tiktoken:
        pattern = compare.tiktoken_constructor(data, source.name)["pat_str"]
        result["ferrotok"] = lambda: _ferrotok().Tokenizer.from_tiktoken(path, special_tokens={})
        result["ferrotok get_encoding"] = lambda: _ferrotok().get_encoding(source.name)

        def tiktoken_load() -> Any:
            import tiktoken

            return tiktoken.Encoding(**compare.tiktoken_constructor(data, source.name))

        result["tiktoken"] = tiktoken_load
        result["gigatoken"] = lambda: _module("gigatoken").Tokenizer.from_tiktoken(
            path, special_tokens={}
        )
        result["fastokens"] = lambda: _module("fastokens").Tokenizer.from_tiktoken(
            str(path), pattern=pattern, special_tokens={}
        )
        result["kitoken"] = lambda: _module("kitoken").Kitoken.from_tiktoken_file(str(path))
        return result
    result["ferrotok"] = lambda: _ferrotok().Tokenizer.from_file(path)
    result["tokenizers"] = lambda: _module("tokenizers").Tokenizer.from_file(str(path))
    result["gigatoken"] = lambda: _module("gigatoken").Tokenizer(path)
    result["fastokens"] = lambda: _module("fastokens").Tokenizer.from_file(str(path))
    result["tokie"] = lambda: _module("tokie").Tokenizer.from_json(str(path))
    result["kitoken"] = lambda: _module("kitoken").Kitoken.from_tokenizers(path.read_bytes())
    return result


def _module(name: str) -> Any:
    return __import__(name)


def _ferrotok() -> Any:
    import ferrotok

    return ferrotok


def child(args: argparse.Namespace) -> None:
    """Times one library's loads of one file in this process; prints JSON."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    [source] = [s for s in compare.SOURCES if s.name == args.only]
    path = args.data / source.file
    load = loaders(source, path, args.data)[args.library]
    _module(compare.LIBRARIES[args.library.split()[0]])  # the import is not timed
    path.read_bytes()  # in the page cache for everyone
    times = []
    runs = 1 if args.library == "ferrotok get_encoding" else args.runs
    for _ in range(runs):
        start = time.perf_counter()
        loaded = load()
        times.append(time.perf_counter() - start)
        del loaded
    json.dump({"times": times}, sys.stdout)


def measure(args: argparse.Namespace, source: compare.Source) -> list[dict[str, Any]]:
    rows = []
    environment = dict(
        os.environ, RAYON_NUM_THREADS="1", FERROTOK_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false"
    )
    for library in loaders(source, args.data / source.file, args.data):
        if library.split()[0] not in args.libraries:
            continue
        row: dict[str, Any] = {"file": source.name, "library": library}
        if not compare.installed(library.split()[0]):
            row["note"] = "not installed"
            rows.append(row)
            continue
        command = [
            sys.executable, __file__, "--child", "--only", source.name, "--library", library,
            "--data", str(args.data), "--runs", str(args.runs),
        ]  # fmt: skip
        completed = subprocess.run(command, env=environment, capture_output=True, text=True)
        if completed.returncode != 0:
            row["note"] = (completed.stderr.strip().splitlines() or ["failed"])[-1][:100]
        else:
            times = json.loads(completed.stdout)["times"]
            row["first"] = times[0]
            row["median"] = statistics.median(times[1:]) if len(times) > 1 else None
        rows.append(row)
        print(f"  {source.name:12} {library:22} {row.get('first', row.get('note'))}", flush=True)
    return rows


def table(rows: list[dict[str, Any]], runs: int) -> str:
    lines = [
        f"One core, one thread, a fresh process per library; first load and median of the next "
        f"{runs - 1}; load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| file | library | first load | median of the next | ferrotok ÷ fastest other (first) |",
        "|---|---|--:|--:|---|",
    ]
    for file in dict.fromkeys(row["file"] for row in rows):
        ours = [r for r in rows if r["file"] == file]
        others = [r for r in ours if not r["library"].startswith("ferrotok") and "first" in r]
        fastest = min(others, key=lambda r: r["first"], default=None)
        for row in ours:
            if "first" not in row:
                lines.append(f"| `{file}` | {row['library']} | {row['note']} | | |")
                continue
            median = f"{row['median'] * 1e3:.0f} ms" if row["median"] is not None else "(cached)"
            verdict = ""
            if row["library"].startswith("ferrotok") and fastest is not None:
                ratio = row["first"] / fastest["first"]
                mark = "✓" if ratio <= 1.0 else "**✗**"
                verdict = f"{ratio:.2f}× the time of {fastest['library']}: {mark}"
            lines.append(
                f"| `{file}` | {row['library']} | {row['first'] * 1e3:.0f} ms | {median} | "
                f"{verdict} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=compare.REPO.parent / "shared" / "data")
    parser.add_argument("--only", default=",".join(DEFAULT_FILES), help="comma-separated names")
    parser.add_argument("--libraries", default=DEFAULT_LIBRARIES)
    parser.add_argument("--runs", type=int, default=5, help="loads per process (at least 2)")
    parser.add_argument("--out", type=Path, help="write the Markdown table here too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    args.libraries = args.libraries.split(",")
    names = args.only.split(",")
    rows = [row for s in compare.SOURCES if s.name in names for row in measure(args, s)]
    text = table(rows, args.runs)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
