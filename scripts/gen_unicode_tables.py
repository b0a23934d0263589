#!/usr/bin/env python3
"""Generate src/pretokenize/unicode_tables.rs: the character classes of the split-pattern scanners.

The scanners in src/pretokenize/scanners.rs must classify every code point exactly as the reference
regex engines do, so the tables are not built from a Unicode database but by asking the engines:

* Oniguruma, as run by Hugging Face `tokenizers` (pip `tokenizers==0.23.3`), through a `Split`
  pre-tokenizer with `behavior="removed", invert=True` (keeps exactly the matches);
* fancy-regex (regex-syntax tables), as run by `tiktoken` (pip `tiktoken==0.14.0`), through an
  `Encoding` with the 256 single bytes as its vocabulary: `encode_ordinary` keeps exactly the
  matches.

For each class, the engine scans one string holding every scalar value (U+0000..U+10FFFF
without the surrogates) with the class as the pattern; the matched characters are the class.
The script also checks the facts the scanners rely on (L, N, \\s pairwise disjoint;
[^\\s\\p{L}\\p{N}] is the rest; every letter is in one of the two o200k letter classes) and
which characters the case-insensitive contractions (?i:'s|'t|'re|'ve|'m|'ll|'d) accept, and fails
loudly if an engine breaks the scanners' assumptions or the two engines disagree.

Usage: python3 scripts/gen_unicode_tables.py > src/pretokenize/unicode_tables.rs
"""

import sys

import tiktoken
import tokenizers
import two_level_table
from tokenizers import Regex
from tokenizers.pre_tokenizers import Split

EXPECTED_VERSIONS = {"tokenizers": "0.23.3", "tiktoken": "0.14.0"}
MAX = 0x110000
ALL = "".join(chr(c) for c in range(MAX) if not 0xD800 <= c < 0xE000)
LEAF_SHIFT = two_level_table.LEAF_SHIFT

# (bit, name, pattern) — the pattern is the class exactly as it is spelled in the split patterns.
CLASSES = [
    (0x01, "LETTER", r"\p{L}+"),
    (0x02, "NUMBER", r"\p{N}+"),
    (0x04, "SPACE", r"\s+"),
    (0x08, "UPPERISH", r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+"),
    (0x10, "LOWERISH", r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"),
]


def onig_matches(pattern, text=ALL):
    split = Split(Regex(pattern), behavior="removed", invert=True)
    return [piece for piece, _ in split.pre_tokenize_str(text)]


def fancy_matches(pattern, text=ALL):
    # tiktoken keeps only the matches, and with the single bytes as the vocabulary the ids are the
    # matched bytes: joined, they are the matched text.
    enc = tiktoken.Encoding(
        "probe",
        pat_str=pattern,
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={},
    )
    return bytes(enc.encode_ordinary(text)).decode("utf-8")


def class_set(engine, pattern):
    if engine == "onig":
        return set("".join(onig_matches(pattern)))
    return set(fancy_matches(pattern))


def check(cond, what):
    if not cond:
        sys.exit(f"gen_unicode_tables: assumption broken: {what}")


def classify(engine):
    sets = {name: class_set(engine, pat) for _, name, pat in CLASSES}
    letter, number, space = sets["LETTER"], sets["NUMBER"], sets["SPACE"]
    everything = set(ALL)
    check(
        not (letter & number) and not (letter & space) and not (number & space),
        f"{engine}: L, N, \\s disjoint",
    )
    check(
        class_set(engine, r"[^\s\p{L}\p{N}]+") == everything - letter - number - space,
        f"{engine}: [^\\s\\p{{L}}\\p{{N}}]",
    )
    check(
        class_set(engine, r"[^\r\n\p{L}\p{N}]+") == everything - letter - number - {"\r", "\n"},
        f"{engine}: [^\\r\\n\\p{{L}}\\p{{N}}]",
    )
    check(
        letter <= sets["UPPERISH"] | sets["LOWERISH"],
        f"{engine}: every letter is upper- or lowerish",
    )
    check({"\r", "\n"} <= space, f"{engine}: CR and LF are \\s")
    table = bytearray(MAX)
    for bit, name, _ in CLASSES:
        for ch in sets[name]:
            table[ord(ch)] |= bit
    return table, sets


def case_folds(engine):
    """Which characters each contraction letter accepts under (?i); checks nothing else matches."""
    folds = {}
    for letter in "sdmtlvre":
        folds[letter] = sorted(class_set(engine, f"(?i:{letter})+"))
    # Exhaustive check of the whole contraction alternation on "'" + c + tail for every c, against
    # what the per-letter sets predict (catches multi-character case folding).
    pats = [r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"]
    if engine == "fancy":
        pats.append(r"'(?i:[sdmt]|ll|ve|re)")
    one = set(folds["s"] + folds["d"] + folds["m"] + folds["t"])
    for pat in pats:
        for second in ["", "e", "l", "x"]:
            text = "\x00".join("'" + c + second for c in ALL if c not in "\x00")
            predicted = []
            for c in ALL:
                if c == "\x00":
                    continue
                if c in one:
                    predicted.append("'" + c)
                elif second == "e" and (c in folds["r"] or c in folds["v"]):
                    predicted.append("'" + c + "e")
                elif second == "l" and c in folds["l"]:
                    predicted.append("'" + c + "l")
            if engine == "onig":
                got = sorted(onig_matches(pat, text))
            else:
                # Every match starts with the only apostrophe it holds.
                got = sorted("'" + g for g in fancy_matches(pat, text).split("'")[1:])
            check(got == sorted(predicted), f"{engine}: contractions {pat!r} on '<c>{second}")
    return folds


def main():
    check(tokenizers.__version__ == EXPECTED_VERSIONS["tokenizers"], "tokenizers version")
    check(tiktoken.__version__ == EXPECTED_VERSIONS["tiktoken"], "tiktoken version")
    onig_table, onig_sets = classify("onig")
    fancy_table, fancy_sets = classify("fancy")
    check(onig_table == fancy_table, "the two engines classify identically (else emit two tables)")
    onig_folds, fancy_folds = case_folds("onig"), case_folds("fancy")
    check(onig_folds == fancy_folds, "the two engines fold identically")
    check(onig_folds["s"] == ["S", "s", "\u017f"], "(?i)s is {s, S, U+017F}")
    for letter in "dmtlvre":
        check(onig_folds[letter] == sorted({letter, letter.upper()}), f"(?i){letter} is ASCII only")

    index, leaves = two_level_table.split(onig_table, MAX)

    counts = {name: len(onig_sets[name]) for _, name, _ in CLASSES}
    w = sys.stdout.write
    size = len(index) + (len(leaves) << LEAF_SHIFT)
    lookup = two_level_table.LOOKUP
    header = [
        "// @generated by scripts/gen_unicode_tables.py — do not edit by hand.",
        f"// Engines asked: tokenizers {tokenizers.__version__} (Oniguruma), "
        f"tiktoken {tiktoken.__version__} (fancy-regex);",
        "// both classify every code point identically (checked by the generator): one table.",
        "// Class sizes: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".",
        "//! Character classes of the split-pattern scanners, as the reference engines see them.",
        "//!",
        "//! One byte per code point, a bit set of the classes below, in a two-level table:",
        f"//! `{lookup}`.",
        f"//! Size: {len(index)} bytes of index + {len(leaves)} leaves of {1 << LEAF_SHIFT} bytes"
        f" = {size} bytes.",
        "",
    ]
    w("\n".join(header) + "\n")
    for bit, name, pat in CLASSES:
        w(f"/// `{pat[:-1]}`\npub(crate) const {name}: u8 = 0x{bit:02x};\n")
    w("\n/// log2 of the number of code points per leaf.\n")
    w(f"pub(crate) const LEAF_SHIFT: u32 = {LEAF_SHIFT};\n\n")
    w("/// The class bits of U+0000..U+007F.\n")
    w("#[rustfmt::skip]\npub(crate) static ASCII: [u8; 128] = [\n")
    for r in range(0, 128, 16):
        w("    " + " ".join(f"{onig_table[c]:#04x}," for c in range(r, r + 16)) + "\n")
    w("];\n\n")
    two_level_table.write_arrays(w, index, leaves, "pub(crate) ")


if __name__ == "__main__":
    main()
