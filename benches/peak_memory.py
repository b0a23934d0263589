"""Peak memory of encoding the whole shared corpus as one batch.

    python benches/peak_memory.py                  # four tokenizers, one of each family
    python benches/peak_memory.py --only o200k_base --out memory.md

Each tokenizer is measured in a fresh child process: it loads the tokenizer and reads the
resident set size (``VmRSS``) as the baseline, reads the whole corpus (every ``.txt`` under
``corpus/``, cut into paragraphs as ``compare.py`` cuts them), encodes it with one
``encode_batch_numpy`` call, once on one thread and once on all cores (each in its own process),
and reads the peak resident set size (``VmHWM``).
Issue 4's target: peak − baseline ≤ 1.5 × (input + output), where input is the corpus's UTF-8
bytes and output the bytes of the ids and document offsets returned. The documents' Python
strings (which take more than their UTF-8 bytes for non-ASCII text) are counted against ferrotok,
as the job has to hold them; so is the rest of the job's own Python work. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LIMIT = 1.5
TOKENIZERS = ("o200k_base", "llama-3.1", "mistral-7b-v0.1", "bert-base-uncased")


def resident(field: str) -> int:
    """A ``/proc/self/status`` memory figure in bytes (``VmRSS`` now, ``VmHWM`` the peak)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(name: str, data_dir: Path, threads: int) -> dict[str, int]:
    """Runs in the child: the figures of one tokenizer."""
    sys.path.insert(0, str(REPO / "benches"))
    import compare
    import ferrotok

    if name == "o200k_base":
        tokenizer = ferrotok.Tokenizer.from_builtin(name)
    else:
        tokenizer = ferrotok.Tokenizer.from_file(data_dir / "tokenizers" / name / "tokenizer.json")
    tokenizer.encode_batch_numpy(["warm up"], add_special_tokens=False, num_threads=threads)
    baseline = resident("VmRSS")
    documents: list[str] = []
    for path in sorted((data_dir / "corpus").rglob("*.txt")):
        with open(path, encoding="utf-8", newline="") as f:
            documents.extend(compare.split_documents(f.read()))
    input_bytes = sum(len(document.encode("utf-8")) for document in documents)
    batch = tokenizer.encode_batch_numpy(documents, add_special_tokens=False, num_threads=threads)
    output_bytes = batch.ids.nbytes + batch.offsets.nbytes
    peak = resident("VmHWM")
    return {
        "documents": len(documents),
        "input": input_bytes,
        "output": output_bytes,
        "tokens": len(batch.ids),
        "baseline": baseline,
        "peak": peak,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "One `encode_batch_numpy` call over the whole corpus, in a fresh process; "
        f"limit: peak − baseline ≤ {LIMIT} × (input + output).",
        "",
        "| tokenizer | threads | documents | input MB | output MB | baseline MB | peak MB | "
        "peak − baseline | ÷ (input + output) | ≤ 1.5 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| `{row['name']}` | {row['threads']} | {row['error']} | | | | | | | |")
            continue
        extra = row["peak"] - row["baseline"]
        ratio = extra / (row["input"] + row["output"])
        mb = {k: row[k] / 1e6 for k in ("input", "output", "baseline", "peak")}
        lines.append(
            f"| `{row['name']}` | {row['threads']} | {row['documents']} "
            f"| {mb['input']:.1f} | {mb['output']:.1f} "
            f"| {mb['baseline']:.1f} | {mb['peak']:.1f} | {extra / 1e6:.1f} MB | {ratio:.2f} "
            f"| {'✓' if ratio <= LIMIT else '**✗**'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    default_data = os.environ.get("FERROTOK_DATA") or str(REPO.parent / "shared" / "data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(default_data), help="shared data folder")
    parser.add_argument("--only", default="", help="comma-separated tokenizer names")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data, args.threads)))
        return
    names = [n for n in args.only.split(",") if n] or list(TOKENIZERS)
    rows: list[dict[str, Any]] = []
    for name in names:
        for threads in sorted({1, os.cpu_count() or 1}):
            command = [sys.executable, __file__, "--data", str(args.data), "--child", name]
            command += ["--threads", str(threads)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            row: dict[str, Any] = {"name": name, "threads": threads}
            if done.returncode != 0:
                row["error"] = (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
            else:
                row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            rows.append(row)
            print(f"  {name}, {threads} thread(s): {row}", file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
