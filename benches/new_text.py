"""Speed on text a tokenizer has not seen yet, next to the same text encoded again.

    python benches/new_text.py                       # o200k_base, llama-3.1, mistral, bert, t5
    python benches/new_text.py --only o200k_base --libraries gigatoken --out FILE

``compare.py`` times each library on the documents it has just encoded for the check, so every
timed run finds its per-word caches warm with exactly those documents. A corpus job never sees a
document twice; what it sees is new text after a warm-up on other text. This script measures
both on one pinned core: the documents of ``compare.py`` are dealt into two halves; each
library (a fresh tokenizer object) encodes the first half as warm-up, then the second half once
(**new text**), then the second half again (**repeated**, median of ``--runs``). The ids of the
second half are checked against the reference (tiktoken or tokenizers) after timing; a library
that differs is reported as inexact. Libraries and loaders are those of ``compare.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402

DEFAULT_FILES = (
    "o200k_base",
    "llama-3.1",
    "mistral-7b-v0.1",
    "bert-base-uncased",
    "t5-legal-small-fr-en",
)


def measure(
    source: compare.Source, args: argparse.Namespace, warm: list[str], new: list[str]
) -> list[dict[str, Any]]:
    path = args.data / source.file
    new_bytes = sum(len(d.encode("utf-8")) for d in new)
    [reference] = compare.reference_cases(source, path, args.data, 1)
    expected = reference.flat(reference.encode(new))
    rows = []
    for library in args.libraries:
        if library not in compare.CASE_BUILDERS or not compare.installed(library):
            continue
        builder = compare.CASE_BUILDERS[library]
        try:
            count = len(builder(source, path, args.data, 1))
        except Exception as error:  # noqa: BLE001 - unsupported file: reported, not timed
            rows.append(
                {
                    "file": source.name,
                    "library": library,
                    "api": "(load)",
                    "note": str(error).splitlines()[0][:80],
                }
            )
            continue
        # Each output kind on a tokenizer object of its own: one that had encoded the second
        # half for another output kind would not see new text. (`compare` keeps ferrotok's
        # tokenizers, one per file, for `scaling.py`: emptied here, or the list row was timed on
        # the array row's warm object.)
        for index in range(count):
            compare.ferrotok_tokenizer.cache_clear()
            case = builder(source, path, args.data, 1)[index]
            row: dict[str, Any] = {
                "file": source.name,
                "library": library,
                "api": case.api,
                "output": case.output,
            }
            case.encode(warm)
            start = time.perf_counter()
            output = case.encode(new)
            row["new"] = new_bytes / (time.perf_counter() - start) / 1e6
            differ = compare.differing_documents(case.flat(output), expected)
            del output
            if differ:
                row["note"] = f"inexact: {len(differ)} of {len(new)} documents differ"
                rows.append(row)
                continue
            runs = [compare.time_case(case, new) for _ in range(args.runs)]
            row["repeated"] = new_bytes / statistics.median(runs) / 1e6
            rows.append(row)
            label = compare.OUTPUT_LABEL[case.output]
            print(f"  {source.name:24} {library:10} {label:16} new {row['new']:6.1f} MB/s, "
                  f"repeated {row['repeated']:6.1f} MB/s", file=sys.stderr, flush=True)  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]], new_bytes: int, documents: int) -> str:
    lines = [
        f"One core, {new_bytes / 1e6:.1f} MB in {documents} documents timed after a warm-up on "
        f"as many other documents of the same corpus; load average {os.getloadavg()[0]:.1f} at "
        "the end.",
        "",
        "| file | library | output | new text MB/s | repeated MB/s | repeated ÷ new |",
        "|---|---|---|--:|--:|--:|",
    ]
    for row in rows:
        if "repeated" in row:
            lines.append(
                f"| `{row['file']}` | {row['library']} | {compare.OUTPUT_LABEL[row['output']]} | "
                f"{row['new']:.1f} | {row['repeated']:.1f} | {row['repeated'] / row['new']:.1f}× |"
            )
        else:
            output = compare.OUTPUT_LABEL.get(row.get("output", ""), "")
            lines.append(f"| `{row['file']}` | {row['library']} | {output} | {row['note']} | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=compare.REPO.parent / "shared" / "data")
    parser.add_argument(
        "--only", default=",".join(DEFAULT_FILES), help="file names, comma-separated"
    )
    parser.add_argument("--libraries", default="ferrotok,gigatoken,fastokens,tokie,kitoken")
    parser.add_argument("--mb-per-folder", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the Markdown table here too")
    args = parser.parse_args()
    args.libraries = args.libraries.split(",")
    os.environ["RAYON_NUM_THREADS"] = os.environ["FERROTOK_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    documents = compare.load_documents(args.data, int(args.mb_per_folder * 1e6))
    warm, new = documents[0::2], documents[1::2]
    names = args.only.split(",")
    sources = [s for s in compare.SOURCES if s.name in names]
    rows = [row for source in sources for row in measure(source, args, warm, new)]
    text = table(rows, sum(len(d.encode("utf-8")) for d in new), len(new))
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
