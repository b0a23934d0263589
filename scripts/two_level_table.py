"""The two-level lookup table that the `gen_*` scripts emit: one byte per code point.

`LEAVES[INDEX[cp >> LEAF_SHIFT] as usize * LEAF + (cp & (LEAF - 1))]`: the code points are cut
into blocks of `LEAF`; equal blocks are stored once (`LEAVES`), and `INDEX` names each block's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# 128 code points per leaf: the smallest two-level layout whose leaves fit a u8 index.
LEAF_SHIFT = 7
MASK = (1 << LEAF_SHIFT) - 1
#: The Rust expression that reads the table for `cp`.
LOOKUP = f"LEAVES[INDEX[cp >> {LEAF_SHIFT}] as usize * {MASK + 1} + (cp & {MASK})]"


def split(table: Sequence[int], size: int) -> tuple[list[int], list[bytes]]:
    """The index and the distinct leaves of `table[:size]` (`size` a multiple of the leaf)."""
    leaves: dict[bytes, int] = {}
    index = []
    for block in range(size >> LEAF_SHIFT):
        leaf = bytes(table[block << LEAF_SHIFT : (block + 1) << LEAF_SHIFT])
        index.append(leaves.setdefault(leaf, len(leaves)))
    if len(leaves) > 256:
        raise SystemExit(f"check failed: {len(leaves)} leaves do not fit a u8 index")
    return index, list(leaves)


def write_arrays(
    w: Callable[[str], object], index: list[int], leaves: list[bytes], visibility: str = ""
) -> None:
    """The Rust `INDEX` and `LEAVES` statics (`visibility` is e.g. "pub(crate) ")."""
    w(f"/// Leaf number of each block of {1 << LEAF_SHIFT} code points.\n#[rustfmt::skip]\n")
    w(f"{visibility}static INDEX: [u8; {len(index)}] = [\n")
    for r in range(0, len(index), 32):
        w("    " + "".join(f"{v}," for v in index[r : r + 32]) + "\n")
    w("];\n\n/// The distinct leaves, concatenated.\n#[rustfmt::skip]\n")
    w(f"{visibility}static LEAVES: [u8; {len(leaves) << LEAF_SHIFT}] = [\n")
    for leaf in leaves:
        for r in range(0, len(leaf), 64):
            w("    " + "".join(f"{v}," for v in leaf[r : r + 64]) + "\n")
    w("];\n")
