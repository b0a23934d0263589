"""Worst-case inputs: ten times the input must cost at most twelve times the time.

    python benches/worst_case.py                  # 10 → 100 MB of one character, 1 → 10 MB others
    python benches/worst_case.py --quick          # a tenth of those sizes
    python benches/worst_case.py --only llama-3.1 --inputs digits,punctuation
    python benches/worst_case.py --out benches/worst_case.md

For each tokenizer and each kind of adversarial input (one repeated character, text without
whitespace, long runs of digits, of punctuation, of spaces, random code points), ferrotok
encodes one document of S bytes and one of 10×S bytes (``encode_batch_numpy([text])``, one
thread pinned to one core), and the table gives time(10×S) / time(S), flagged when above 12.
Each time is the best of up to ``--runs`` runs (fewer once ``--run-budget`` seconds are
spent), each run in a fresh process on freshly generated text, so that no run finds the pieces
of another in ferrotok's per-thread caches: every run is a new document.

The ids are checked against the reference (tiktoken ``encode_ordinary`` for o200k_base,
tokenizers ``encode(…, add_special_tokens=False)`` without the file's padding and truncation
for a ``tokenizer.json``) on the same kind of input at S/1000, S/100, S/10 and S, stopping
before a size where the reference would take longer than ``--reference-budget`` seconds (its
time at the two sizes below predicts it): several references are quadratic on these inputs.

Every measurement runs in a child process, so a superlinear case can be stopped (at 40 times
the time of S for 10×S, or ``--timeout``) and reported as such instead of hanging the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LIMIT = 12.0  # the most time(10×S) / time(S) may be
MB = 1_000_000

# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputKind:
    name: str
    description: str
    base_bytes: int  # S, before --quick


INPUTS = (
    InputKind("repeated", "one repeated character (`a`)", 10 * MB),
    InputKind("no-whitespace", "English text with all whitespace removed", 1 * MB),
    InputKind("digits", "random decimal digits", 1 * MB),
    InputKind("punctuation", "random ASCII punctuation", 1 * MB),
    InputKind("spaces", "one run of spaces", 1 * MB),
    InputKind("code-points", "random code points (any scalar value but surrogates)", 1 * MB),
)


def make_input(kind: str, size: int, data_dir: Path, seed: int = 0) -> str:
    """``size`` bytes of UTF-8 (to within 3 bytes) of the given kind; ``seed`` picks the text."""
    import numpy as np

    generator = np.random.default_rng([seed, size])  # no shared prefix between sizes or runs
    if kind == "repeated":
        return "a" * size
    if kind == "spaces":
        return " " * size
    if kind == "digits":
        return generator.integers(ord("0"), ord("9") + 1, size, dtype=np.uint8).tobytes().decode()
    if kind == "punctuation":
        symbols = np.frombuffer(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", dtype=np.uint8)
        return generator.choice(symbols, size).tobytes().decode()
    if kind == "no-whitespace":
        lines = []
        for path in sorted((data_dir / "corpus" / "en").glob("*.txt")):
            for line in path.read_text(encoding="utf-8-sig").splitlines():
                if stripped := "".join(line.split()):
                    lines.append(stripped)
        generator.shuffle(lines)
        joined = "".join(lines)
        text = joined * (size // len(joined.encode("utf-8")) + 1)
        return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")
    if kind == "code-points":
        # Scalar values 0…0x10FFFF without the surrogates 0xD800…0xDFFF.
        values = generator.integers(0, 0x110000 - 0x800, size, dtype=np.uint32)
        values[values >= 0xD800] += 0x800
        lengths = 1 + (values >= 0x80) + (values >= 0x800) + (values >= 0x10000)
        count = int(np.searchsorted(np.cumsum(lengths), size, side="right"))
        return values[:count].astype("<u4").tobytes().decode("utf-32-le")
    raise ValueError(f"unknown input kind {kind!r}")


# --- tokenizers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerSpec:
    name: str
    family: str


TOKENIZERS = (
    TokenizerSpec("o200k_base", "byte-level BPE (built-in tiktoken encoding)"),
    TokenizerSpec("llama-3.1", "byte-level BPE (tokenizer.json)"),
    TokenizerSpec("mistral-7b-v0.1", "SentencePiece BPE"),
    TokenizerSpec("bert-base-uncased", "WordPiece"),
    TokenizerSpec("albert-base-v2", "Unigram"),
    TokenizerSpec("t5-legal-small-fr-en", "Unigram"),
)


def load_ferrotok(name: str, data_dir: Path) -> Any:
    import ferrotok

    if name == "o200k_base":
        return ferrotok.Tokenizer.from_builtin(name)
    return ferrotok.Tokenizer.from_file(data_dir / "tokenizers" / name / "tokenizer.json")


def ferrotok_ids(tokenizer: Any, text: str) -> Any:
    return tokenizer.encode_batch_numpy([text], add_special_tokens=False, num_threads=1).ids


def load_reference(name: str, data_dir: Path) -> tuple[str, Any]:
    """(label, encode function) of the reference implementation."""
    if name == "o200k_base":
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext import openai_public

        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = lambda url, expected_hash=None: load_tiktoken_bpe(
            str(data_dir / "tiktoken" / url.rsplit("/", 1)[-1]), expected_hash
        )
        try:
            encoding = tiktoken.Encoding(**openai_public.o200k_base())
        finally:
            openai_public.load_tiktoken_bpe = original
        return f"tiktoken {tiktoken.__version__}", encoding.encode_ordinary
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(
        str(data_dir / "tokenizers" / name / "tokenizer.json")
    )
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return (
        f"tokenizers {tokenizers.__version__}",
        lambda text: tokenizer.encode(text, add_special_tokens=False).ids,
    )


# --- the child processes -----------------------------------------------------------------------


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def pin_to_one_core() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


WARM_UP = "The quick brown fox jumps over the lazy dog, 1234 times; ¿qué? 日本語のテキスト。\n" * 50


def timing_job(args: argparse.Namespace) -> None:
    """One timed run of ferrotok on ``--bytes`` bytes, in a fresh process: the per-thread piece
    caches start empty, as for a new document (the tables are warmed on unrelated text)."""
    pin_to_one_core()
    tokenizer = load_ferrotok(args.tokenizer, args.data)
    ferrotok_ids(tokenizer, WARM_UP)
    text = make_input(args.input, args.bytes, args.data, seed=args.seed)
    emit(event="start", bytes=len(text.encode("utf-8")))
    start = time.perf_counter()
    ids = ferrotok_ids(tokenizer, text)
    seconds = time.perf_counter() - start
    emit(event="timed", bytes=len(text.encode("utf-8")), seconds=seconds, tokens=len(ids))


def check_job(args: argparse.Namespace) -> None:
    """ferrotok against the reference at S/1000 … S, stopping before the reference gets slow."""
    import numpy as np

    pin_to_one_core()
    tokenizer = load_ferrotok(args.tokenizer, args.data)
    label, reference = load_reference(args.tokenizer, args.data)
    emit(event="reference", label=label)
    previous: float | None = None
    current: float | None = None
    for size in (args.bytes // 1000, args.bytes // 100, args.bytes // 10, args.bytes):
        if current is not None and previous is not None:
            # The reference's growth over the last 10× step predicts the next one.
            growth = max(10.0, current / max(previous, 1e-3))
            predicted = current * growth
            if predicted > args.reference_budget:
                emit(event="skipped", bytes=size, predicted=predicted, growth=growth)
                return
        text = make_input(args.input, size, args.data)
        start = time.perf_counter()
        try:
            expected = np.asarray(reference(text), dtype=np.int64)
        except BaseException as error:  # a Rust panic in the reference is a BaseException
            if isinstance(error, KeyboardInterrupt):
                raise
            message = f"{type(error).__name__}: {error}".splitlines()[0][:120]
            emit(event="reference-failed", size=size, error=message)
            return
        seconds = time.perf_counter() - start
        ours = np.asarray(ferrotok_ids(tokenizer, text), dtype=np.int64)
        equal = bool(np.array_equal(ours, expected))
        first = None
        if not equal:
            common = min(len(ours), len(expected))
            unequal = np.nonzero(ours[:common] != expected[:common])[0]
            first = int(unequal[0]) if len(unequal) else common
        emit(
            event="checked",
            size=size,
            bytes=len(text.encode("utf-8")),
            seconds=seconds,
            equal=equal,
            first_difference=first,
            tokens=len(expected),
            ferrotok_tokens=len(ours),
        )
        previous, current = current, seconds


# --- the parent --------------------------------------------------------------------------------


def run_child(
    args: argparse.Namespace,
    job: str,
    spec: str,
    kind: str,
    size: int,
    timeout: float,
    seed: int = 0,
):
    """The JSON lines a child printed, each with its arrival time, and whether it was stopped."""
    command = [
        sys.executable, __file__, "--job", job, "--tokenizer", spec, "--input", kind,
        "--bytes", str(size), "--seed", str(seed), "--data", str(args.data),
        "--reference-budget", str(args.reference_budget),
    ]  # fmt: skip
    environment = dict(os.environ, RAYON_NUM_THREADS="1", FERROTOK_NUM_THREADS="1")
    environment["TOKENIZERS_PARALLELISM"] = "false"
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=environment, text=True)
    assert child.stdout is not None
    lines: list[tuple[float, dict[str, Any]]] = []
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    started = time.monotonic()
    stopped = False
    while True:
        remaining = started + timeout - time.monotonic()
        if remaining <= 0:
            child.kill()
            stopped = True
            break
        if not selector.select(remaining):
            continue
        line = child.stdout.readline()
        if not line:
            break
        lines.append((time.monotonic(), json.loads(line)))
        print(f"    {spec} {kind} {job}: {line.strip()}", file=sys.stderr, flush=True)
    selector.close()
    child.wait()
    if child.returncode not in (0, None) and not stopped:
        lines.append((time.monotonic(), {"event": "failed", "returncode": child.returncode}))
    return lines, stopped, time.monotonic()


def size_label(size: float) -> str:
    if size >= MB:
        return f"{size / MB:g} MB"
    if size >= 1000:
        return f"{size / 1000:g} kB"
    return f"{size:g} B"


def time_size(
    args: argparse.Namespace, spec: TokenizerSpec, kind: InputKind, size: int, timeout: float
) -> dict[str, Any]:
    """Best of up to ``--runs`` runs (each in a fresh process) on ``size`` bytes."""
    runs: list[float] = []
    result: dict[str, Any] = {}
    for seed in range(args.runs):
        lines, stopped, end = run_child(args, "time", spec.name, kind.name, size, timeout, seed)
        timed = [fields for _, fields in lines if fields["event"] == "timed"]
        if timed:
            runs.append(timed[0]["seconds"])
            result.update(bytes=timed[0]["bytes"], tokens=timed[0]["tokens"])
        elif stopped:
            starts = [at for at, fields in lines if fields["event"] == "start"]
            result["stopped_after"] = end - starts[-1] if starts else timeout
            break
        else:
            result["failed"] = True
            break
        if sum(runs) >= args.run_budget:
            break
    if runs:
        result.update(seconds=min(runs), runs=runs)
    return result


def measure(args: argparse.Namespace, spec: TokenizerSpec, kind: InputKind) -> dict[str, Any]:
    size = args.base[kind.name]
    row: dict[str, Any] = {"tokenizer": spec.name, "input": kind.name, "base": size}
    small = time_size(args, spec, kind, size, args.timeout)
    row["small"] = small
    if "seconds" in small:
        # A linear 10× takes about 10× as long; stop at 40× (still proof of superlinearity).
        timeout = min(args.timeout, max(120.0, 40 * small["seconds"]))
        row["large"] = time_size(args, spec, kind, 10 * size, timeout)
    budget = 3 * args.reference_budget + 60
    lines, stopped, _ = run_child(args, "check", spec.name, kind.name, size, budget)
    row["check"] = [fields for _, fields in lines]
    if stopped:
        row["check"].append({"event": "stopped", "after": budget})
    return row


def describe_check(events: list[dict[str, Any]]) -> str:
    label = next((e["label"] for e in events if e["event"] == "reference"), "reference")
    checked = [e for e in events if e["event"] == "checked"]
    wrong = [e for e in checked if not e["equal"]]
    parts = []
    if wrong:
        e = wrong[0]
        parts.append(
            f"**DIFFERENT** from {label} at {size_label(e['size'])} (first at token "
            f"{e['first_difference']}: {e['ferrotok_tokens']} vs {e['tokens']} tokens)"
        )
    elif checked:
        last = checked[-1]
        parts.append(
            f"equal to {label} up to {size_label(last['size'])} "
            f"(reference {last['seconds']:.2f} s there)"
        )
    else:
        parts.append(f"not checked against {label}")
    for e in events:
        if e["event"] == "skipped":
            parts.append(
                f"reference skipped at {size_label(e['bytes'])}: predicted "
                f"{e['predicted']:.0f} s (it grew ×{e['growth']:.0f} over the last 10×)"
            )
        elif e["event"] == "reference-failed":
            parts.append(f"the reference failed at {size_label(e['size'])}: {e['error']}")
        elif e["event"] == "stopped":
            parts.append(f"reference stopped after {e['after']:.0f} s")
        elif e["event"] == "failed":
            parts.append(f"check failed (exit code {e['returncode']})")
    return "; ".join(parts)


def format_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    import ferrotok

    loads = [row.get("load", float("nan")) for row in rows] or [float("nan")]
    lines = [
        f"ferrotok {getattr(ferrotok, '__version__', '?')}, `encode_batch_numpy([text])`, one "
        f"thread pinned to one core, best of up to {args.runs} runs (fewer once "
        f"{args.run_budget:g} s are spent), each in a fresh process on new text; "
        f"{platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores. Limit: time(10×S) / time(S) "
        f"≤ {LIMIT:g}.",
        "",
        f"Load average (1 min, after each row) {min(loads):.1f}–{max(loads):.1f}: the machine was "
        "shared; a ratio just above the limit on a row timed in milliseconds may be noise.",
        "",
        "| tokenizer | input | S | time(S) | MB/s | time(10×S) | MB/s | ratio | ≤ 12 | ids |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    descriptions = {kind.name: kind.description for kind in INPUTS}
    for row in rows:
        small, large = row["small"], row.get("large", {})
        cells = [f"`{row['tokenizer']}`", descriptions[row["input"]], size_label(row["base"])]
        if "seconds" not in small:
            cells += ["stopped" if "stopped_after" in small else "failed", "", "", "", "", "✗"]
        else:
            cells += [f"{small['seconds']:.3f} s", f"{small['bytes'] / small['seconds'] / MB:.1f}"]
            if "seconds" in large:
                ratio = large["seconds"] / small["seconds"]
                cells += [
                    f"{large['seconds']:.3f} s",
                    f"{large['bytes'] / large['seconds'] / MB:.1f}",
                    f"{ratio:.1f}",
                    "✓" if ratio <= LIMIT else "**✗ superlinear**",
                ]
            elif "stopped_after" in large:
                at_least = large["stopped_after"]
                cells += [
                    f"> {at_least:.0f} s (stopped)",
                    "",
                    f"> {at_least / small['seconds']:.0f}",
                    "**✗ superlinear**",
                ]
            else:
                cells += ["failed", "", "", "✗"]
        cells.append(describe_check(row["check"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def too_slow(row: dict[str, Any]) -> bool:
    small, large = row["small"], row.get("large", {})
    if "seconds" not in small or "seconds" not in large:
        return True
    return bool(large["seconds"] / small["seconds"] > LIMIT)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    default_data = os.environ.get("FERROTOK_DATA") or str(REPO.parent / "shared" / "data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(default_data), help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--only", default="", help="comma-separated tokenizer names")
    parser.add_argument("--inputs", default="", help="comma-separated input kinds")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size (best of)")
    parser.add_argument(
        "--run-budget", type=float, default=20.0, help="no further runs once this many s are spent"
    )
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--reference-budget",
        type=float,
        default=60.0,
        help="skip the reference at a size where it is predicted to take longer (s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="stop one timed run after this many s"
    )
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--job", choices=("time", "check"), help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    names = [name for name in args.only.split(",") if name]
    if unknown := sorted(set(names) - {spec.name for spec in TOKENIZERS}):
        parser.error(f"unknown tokenizer(s) {unknown}")
    kinds = [name for name in args.inputs.split(",") if name]
    if unknown := sorted(set(kinds) - {kind.name for kind in INPUTS}):
        parser.error(f"unknown input kind(s) {unknown}")
    args.tokenizers = [spec for spec in TOKENIZERS if not names or spec.name in names]
    args.kinds = [kind for kind in INPUTS if not kinds or kind.name in kinds]
    args.base = {kind.name: kind.base_bytes // (10 if args.quick else 1) for kind in INPUTS}
    return args


def main() -> int:
    args = parse_arguments()
    if args.job == "time":
        timing_job(args)
        return 0
    if args.job == "check":
        check_job(args)
        return 0
    if not (args.data / "corpus").is_dir():
        sys.exit(f"no corpus in {args.data}: pass --data or set FERROTOK_DATA")
    rows = []
    for spec in args.tokenizers:
        for kind in args.kinds:
            print(f"{spec.name}: {kind.name} …", file=sys.stderr, flush=True)
            rows.append(measure(args, spec, kind))
            rows[-1]["load"] = os.getloadavg()[0]
    table = format_table(rows, args)
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    over = [row for row in rows if too_slow(row)]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
