"""`ferrotok prepare` throughput and memory, next to raw encoding and a reference script.

    python benches/prepare.py                  # the shared corpus (en, code, multilingual, ja)
    python benches/prepare.py --repeat 8       # 8x the corpus: memory must stay flat
    python benches/prepare.py --out benches/prepare-results.md

The corpus is cut into paragraphs (as benches/compare.py does) and written once as JSON Lines.
Then, each in its own subprocess so that peak memory is its own:

- raw: ferrotok encoding the same documents already in memory (`encode_documents_numpy`, the
  exact encoding prepare writes), all cores: the speed prepare should reach (target >= 0.9x);
- prepare: `ferrotok.prepare(jsonl, format="megatron")`, all cores: reading, parsing, encoding
  and writing, overlapped;
- reference: the script people write today (nanoGPT / Megatron style): the parent reads the JSON
  lines, a `multiprocessing.Pool` with one process per core runs tiktoken's `encode_ordinary`,
  and the ids are written as a numpy uint32 `.bin`.

Before anything is reported, the three outputs are compared id for id. MB/s counts the UTF-8
bytes of document text; peak memory is the process's high-water mark (VmHWM, children included
for the reference) minus its resident size once the tokenizer is loaded. Each figure is the
median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import FOLDERS, split_documents  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def memory_kb(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM) in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def children_peak_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def write_corpus(data_dir: Path, directory: Path, repeat: int) -> tuple[Path, int, int]:
    """The corpus as JSON Lines: its path, document count and text bytes."""
    documents: list[str] = []
    for folder in FOLDERS:
        for path in sorted((data_dir / "corpus" / folder).rglob("*.txt")):
            with open(path, encoding="utf-8", newline="") as f:
                documents.extend(split_documents(f.read()))
    path = directory / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(repeat):
            for document in documents:
                out.write(json.dumps({"text": document}, ensure_ascii=False) + "\n")
    text_bytes = sum(len(d.encode("utf-8")) for d in documents) * repeat
    return path, len(documents) * repeat, text_bytes


def read_documents(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


# --- workers: each prints one JSON line -------------------------------------------------------


def worker_raw(args: argparse.Namespace) -> dict[str, Any]:
    import ferrotok
    import numpy as np

    encoding = ferrotok.get_encoding(args.encoding)
    documents = read_documents(args.corpus)
    baseline = memory_kb("VmRSS")
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        ids, _ = encoding._native.encode_documents_numpy(documents, None, encoding.eot_token)
        times.append(time.perf_counter() - started)
    np.save(args.output, ids)
    return {"seconds": times, "tokens": int(len(ids)), "peak_kb": memory_kb("VmHWM") - baseline}


def worker_batch_numpy(args: argparse.Namespace) -> dict[str, Any]:
    """`Tokenizer.encode_batch_numpy`, the raw API the issue names (ids differ from prepare's only
    where text quotes special tokens, and by the end-of-text tokens; the work is the same)."""
    import ferrotok

    tokenizer = ferrotok.Tokenizer.from_builtin(args.encoding)
    documents = read_documents(args.corpus)
    baseline = memory_kb("VmRSS")
    times = []
    tokens = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        batch = tokenizer.encode_batch_numpy(documents)
        times.append(time.perf_counter() - started)
        tokens = len(batch.ids)
    return {"seconds": times, "tokens": tokens, "peak_kb": memory_kb("VmHWM") - baseline}


def worker_prepare(args: argparse.Namespace) -> dict[str, Any]:
    import ferrotok

    encoding = ferrotok.get_encoding(args.encoding)
    baseline = memory_kb("VmRSS")
    times = []
    summary = None
    for _ in range(args.runs):
        started = time.perf_counter()
        summary = ferrotok.prepare(
            str(args.corpus), encoding, args.output, format="megatron", progress=False
        )
        times.append(time.perf_counter() - started)
    assert summary is not None
    return {"seconds": times, "tokens": summary.tokens, "peak_kb": memory_kb("VmHWM") - baseline}


def _reference_init(encoding_name: str, data_dir: str) -> None:
    global _reference
    _reference = reference_encoding(encoding_name, Path(data_dir))


def _reference_encode(text: str) -> list[int]:
    ids = _reference.encode_ordinary(text)
    ids.append(_reference.eot_token)
    return ids


def reference_encoding(name: str, data_dir: Path) -> Any:
    """tiktoken's encoding, built offline from the shared rank file."""
    import tiktoken
    from ferrotok import _native
    from tiktoken.load import load_tiktoken_bpe

    pattern, specials, n_vocab = _native.Tokenizer.builtin_info(name)
    ranks = load_tiktoken_bpe(str(data_dir / "tiktoken" / f"{name}.tiktoken"))
    return tiktoken.Encoding(
        name,
        pat_str=pattern,
        mergeable_ranks=ranks,
        special_tokens=specials,
        explicit_n_vocab=n_vocab,
    )


def worker_reference(args: argparse.Namespace) -> dict[str, Any]:
    import multiprocessing

    import numpy as np

    reference_encoding(args.encoding, args.data_dir)  # what each process loads
    baseline = memory_kb("VmRSS")
    times = []
    total = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        with (
            multiprocessing.Pool(
                os.cpu_count(), _reference_init, (args.encoding, str(args.data_dir))
            ) as pool,
            open(args.output, "wb") as out,
            open(args.corpus, encoding="utf-8") as lines,
        ):
            texts = (json.loads(line)["text"] for line in lines)
            total = 0
            for ids in pool.imap(_reference_encode, texts, chunksize=64):
                array = np.asarray(ids, dtype=np.uint32)
                out.write(array.tobytes())
                total += len(array)
        times.append(time.perf_counter() - started)
    peak = max(memory_kb("VmHWM"), children_peak_kb()) - baseline
    return {"seconds": times, "tokens": total, "peak_kb": peak}


WORKERS = {
    "raw": worker_raw,
    "batch_numpy": worker_batch_numpy,
    "prepare": worker_prepare,
    "reference": worker_reference,
}
ORDER = ("raw", "batch_numpy", "prepare", "reference")


def run_worker(kind: str, args: argparse.Namespace, output: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--corpus",
        str(args.corpus),
        "--output",
        str(output),
        "--encoding",
        args.encoding,
        "--runs",
        str(args.runs),
        "--data-dir",
        str(args.data_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("FERROTOK_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--encoding", default="cl100k_base")
    parser.add_argument("--repeat", type=int, default=1, help="repeat the corpus N times")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    parser.add_argument(
        "--skip-reference",
        action="store_true",
        help="leave out the (slow) reference script, e.g. for a memory check on a large input",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return 0

    import ferrotok
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="ferrotok-bench-") as scratch:
        directory = Path(scratch)
        args.corpus, documents, text_bytes = write_corpus(args.data_dir, directory, args.repeat)
        print(
            f"corpus: {documents:,} documents, {text_bytes / 1e6:.1f} MB of text "
            f"({args.corpus.stat().st_size / 1e6:.1f} MB of JSON Lines); {os.cpu_count()} cores",
            file=sys.stderr,
        )
        results = {}
        for kind in ORDER:
            if kind == "reference" and args.skip_reference:
                continue
            print(f"running {kind} ...", file=sys.stderr)
            results[kind] = run_worker(kind, args, directory / kind)

        # The ids first: the outputs must be the same stream.
        raw = np.load(directory / "raw.npy")
        prepared = ferrotok.TokenDataset(directory / "prepare").tokens
        if not np.array_equal(raw, prepared):
            raise SystemExit("prepare's output differs from raw encoding: nothing is reported")
        if "reference" in results:
            reference = np.fromfile(directory / "reference", dtype=np.uint32)
            if not np.array_equal(raw, reference):
                raise SystemExit("the reference script's ids differ: nothing is reported")

    labels = {
        "raw": ("raw encode (in memory)", "ferrotok encode_documents_numpy"),
        "batch_numpy": ("raw encode (in memory)", "ferrotok Tokenizer.encode_batch_numpy"),
        "prepare": ("prepare (JSON Lines → Megatron)", "ferrotok.prepare"),
        "reference": (
            "reference script",
            f"tiktoken + multiprocessing.Pool({os.cpu_count()}) + numpy",
        ),
    }
    rows = [(*labels[kind], results[kind]) for kind in ORDER if kind in results]
    raw_speed = text_bytes / statistics.median(results["raw"]["seconds"])
    lines = [
        f"{text_bytes / 1e6:.1f} MB of text in {documents:,} documents, {args.encoding}, "
        f"{os.cpu_count()} cores, median of {args.runs} runs; ids checked equal.",
        "",
        "| what | how | MB/s | M tokens/s | vs raw encode | peak memory above tokenizer |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for what, how, result in rows:
        seconds = statistics.median(result["seconds"])
        speed = text_bytes / seconds
        lines.append(
            f"| {what} | {how} | {speed / 1e6:.1f} | {result['tokens'] / seconds / 1e6:.2f} | "
            f"{speed / raw_speed:.2f}× | {result['peak_kb'] / 1024:.0f} MB |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
