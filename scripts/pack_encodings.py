#!/usr/bin/env python3
"""Pack OpenAI's `.tiktoken` rank files into the compact files ferrotok embeds.

Reads `<data>/tiktoken/<name>.tiktoken` (data: $FERROTOK_DATA, else `../shared/data` beside the
repository), checks each file's sha256 against the hash tiktoken 0.14.0 pins, reads it exactly as
`tiktoken.load.load_tiktoken_bpe` does, and writes `src/load/encodings/<name>.bin` in the format
documented at the top of `src/load/builtin.rs`:

    zlib stream of:  b"FTKR" | version 1 | base name (u8 length + ASCII) |
                     u32 run count | runs of (u32 first rank, u32 count) |
                     one length byte per token | the token bytes, concatenated
    (all integers little-endian)

p50k_base is stored as the 24 tokens it adds to r50k_base (its first 50256 entries are
r50k_base's), which saves about 200 KB.

Usage:
    python scripts/pack_encodings.py          # (re)write the .bin files
    python scripts/pack_encodings.py --check  # verify the .bin files hold the same entries

Standard library only. zlib output can differ between zlib versions, so --check compares the
decoded entries, never the compressed bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import struct
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "src" / "load" / "encodings"

MAGIC = b"FTKR"
VERSION = 1

# name -> (sha256 pinned by tiktoken 0.14.0's tiktoken_ext/openai_public.py, base or None)
ENCODINGS: dict[str, tuple[str, str | None]] = {
    "r50k_base": ("306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930", None),
    "p50k_base": ("94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069", "r50k_base"),
    "cl100k_base": ("223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", None),
    "o200k_base": ("446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", None),
}

Entries = list[tuple[bytes, int]]


def data_dir() -> Path:
    override = os.environ.get("FERROTOK_DATA")
    return Path(override) if override else ROOT.parent / "shared" / "data"


def read_tiktoken(path: Path, expected_sha256: str) -> Entries:
    """The entries of a rank file, in file order, read as tiktoken's load_tiktoken_bpe does."""
    contents = path.read_bytes()
    actual = hashlib.sha256(contents).hexdigest()
    if actual != expected_sha256:
        raise SystemExit(f"{path}: sha256 {actual}, expected {expected_sha256} (tiktoken 0.14.0)")
    entries: Entries = []
    for line in contents.splitlines():
        if not line:
            continue
        token, rank = line.split()
        entries.append((base64.b64decode(token), int(rank)))
    tokens = {token for token, _ in entries}
    if len(tokens) != len(entries):
        raise SystemExit(f"{path}: duplicate tokens")
    return entries


def rank_runs(ranks: list[int], previous: int) -> list[tuple[int, int]]:
    """Runs of consecutive ranks; the ranks must rise strictly and start above `previous`."""
    runs: list[list[int]] = []
    for rank in ranks:
        if rank <= previous or rank > 0xFFFFFFFF:
            raise SystemExit(f"ranks must rise strictly and fit u32 to be packed (rank {rank})")
        if runs and runs[-1][0] + runs[-1][1] == rank:
            runs[-1][1] += 1
        else:
            runs.append([rank, 1])
        previous = rank
    return [(first, count) for first, count in runs]


def pack(entries: Entries, base: str | None, base_entries: Entries) -> bytes:
    if entries[: len(base_entries)] != base_entries:
        raise SystemExit(f"the entries of {base} are not a prefix")
    own = entries[len(base_entries) :]
    previous = base_entries[-1][1] if base_entries else -1
    runs = rank_runs([rank for _, rank in own], previous)
    lengths = [len(token) for token, _ in own]
    if any(not 1 <= length <= 255 for length in lengths):
        raise SystemExit("token lengths must be 1..=255 to be packed")
    base_name = (base or "").encode("ascii")
    payload = b"".join(
        [
            MAGIC,
            bytes([VERSION, len(base_name)]),
            base_name,
            struct.pack("<I", len(runs)),
            b"".join(struct.pack("<II", first, count) for first, count in runs),
            bytes(lengths),
            b"".join(token for token, _ in own),
        ]
    )
    return zlib.compress(payload, 9)


def unpack(name: str) -> Entries:
    """The entries of `<name>.bin` (with its base's first): the reader the Rust side mirrors."""
    payload = zlib.decompress((OUTPUT_DIR / f"{name}.bin").read_bytes())
    if payload[:4] != MAGIC or payload[4] != VERSION:
        raise ValueError(f"{name}.bin: not a version {VERSION} packed rank file")
    at = 6 + payload[5]
    base = payload[6:at].decode("ascii")
    entries = unpack(base) if base else []
    (run_count,) = struct.unpack_from("<I", payload, at)
    at += 4
    ranks: list[int] = []
    for _ in range(run_count):
        first, count = struct.unpack_from("<II", payload, at)
        at += 8
        ranks.extend(range(first, first + count))
    lengths = payload[at : at + len(ranks)]
    at += len(ranks)
    for length, rank in zip(lengths, ranks, strict=False):
        entries.append((payload[at : at + length], rank))
        at += length
    if at != len(payload):
        raise ValueError(f"{name}.bin: {len(payload) - at} bytes left over")
    return entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    args = parser.parse_args()

    source_dir = data_dir() / "tiktoken"
    if not source_dir.is_dir():
        print(f"no rank files at {source_dir} (set FERROTOK_DATA)", file=sys.stderr)
        return 2
    entries_by_name: dict[str, Entries] = {}
    failures = 0
    for name, (sha256, base) in ENCODINGS.items():
        entries = read_tiktoken(source_dir / f"{name}.tiktoken", sha256)
        entries_by_name[name] = entries
        target = OUTPUT_DIR / f"{name}.bin"
        if args.check:
            same = target.exists() and unpack(name) == entries
            failures += not same
            print(f"{target.relative_to(ROOT)}: {'ok' if same else 'DIFFERS'}")
            continue
        packed = pack(entries, base, entries_by_name[base] if base else [])
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        target.write_bytes(packed)
        if unpack(name) != entries:
            raise SystemExit(f"{target}: does not read back")
        print(f"{target.relative_to(ROOT)}: {len(entries)} entries, {len(packed)} bytes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
