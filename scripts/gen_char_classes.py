#!/usr/bin/env python3
"""Generate src/normalize/char_classes.rs: the character classes of the HF components.

The BERT normalizer, StripAccents, and the Whitespace, WhitespaceSplit, BertPreTokenizer and
Punctuation pre-tokenizers classify characters with tables compiled into `tokenizers` (the
`unicode_categories` crate, whose tables predate several Unicode versions; the `regex` crate's
`\\w` and `\\s`; `unicode-normalization-alignments`' combining marks; Rust's `char`). The
Unicode version of each differs, so the tables are not built from a Unicode database but by
asking the reference, `tokenizers` (pip `tokenizers==0.23.3`), about every scalar value
(U+0000..U+10FFFF without the surrogates), through the components themselves:

* BERT_CONTROL, BERT_SPACE: what `BertNormalizer(clean_text=True)` removes, and what it turns
  into a space (other than the space itself);
* BERT_NONSPACING: what `BertNormalizer(strip_accents=True)` removes from text that NFD leaves
  alone (the `Mn` category of the `unicode_categories` crate);
* COMBINING: what `StripAccents` removes;
* PUNCTUATION: what `Punctuation` isolates (`BertPreTokenizer` uses the same predicate);
* WORD, REGEX_SPACE: `\\w` and `\\s` of the `Whitespace` pre-tokenizer's regex `\\w+|[^\\w\\s]+`;
* WHITESPACE: what `WhitespaceSplit` removes (Rust's `char::is_whitespace`).

Usage: python3 scripts/gen_char_classes.py > src/normalize/char_classes.rs
"""

import sys

import tokenizers
import two_level_table
from tokenizers import normalizers, pre_tokenizers

EXPECTED_VERSION = "0.23.3"
MAX = 0x110000
ALL = [chr(c) for c in range(MAX) if not 0xD800 <= c < 0xE000]

CLASSES = [
    (0x01, "BERT_CONTROL", "removed by BertNormalizer's clean_text"),
    (0x02, "BERT_SPACE", "turned into a space by BertNormalizer's clean_text"),
    (0x04, "BERT_NONSPACING", "removed by BertNormalizer's strip_accents (after NFD)"),
    (0x08, "COMBINING", "removed by StripAccents"),
    (0x10, "PUNCTUATION", "isolated by Punctuation and BertPreTokenizer"),
    (0x20, "WORD", "`\\w` of the Whitespace pre-tokenizer"),
    (0x40, "REGEX_SPACE", "`\\s` of the Whitespace pre-tokenizer"),
    (0x80, "WHITESPACE", "removed by WhitespaceSplit and BertPreTokenizer"),
]


def check(cond, what):
    if not cond:
        sys.exit(f"gen_char_classes: assumption broken: {what}")


def per_char_filter(normalizer, chars, sep="a"):
    """Runs a per-character filter/map normalizer on sep-separated chars; returns {c: output}."""
    text = "".join(sep + c for c in chars)
    out = normalizer.normalize_str(text)
    result = {}
    p = 0
    for c in chars:
        check(out[p] == sep, f"separator at {p}")
        p += 1
        if p < len(out) and (out[p] != sep or c == sep):
            result[c] = out[p]
            p += 1
        else:
            result[c] = ""
    check(p == len(out), "whole output consumed")
    return result


def main():
    check(tokenizers.__version__ == EXPECTED_VERSION, "tokenizers version")
    sets = {}

    clean = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False
    )
    mapped = per_char_filter(clean, ALL)
    sets["BERT_CONTROL"] = {c for c, o in mapped.items() if o == ""}
    sets["BERT_SPACE"] = {c for c, o in mapped.items() if o == " " and c != " "}
    check(all(o in ("", " ", c) for c, o in mapped.items()), "clean_text only removes or spaces")

    nfd = normalizers.NFD()
    stable = [c for c in ALL if nfd.normalize_str(c) == c]
    strip = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False
    )
    stripped = per_char_filter(strip, stable, sep="b")
    sets["BERT_NONSPACING"] = {c for c, o in stripped.items() if o == ""}
    check(all(o in ("", c) for c, o in stripped.items()), "strip_accents only removes")

    accents = per_char_filter(normalizers.StripAccents(), ALL)
    sets["COMBINING"] = {c for c, o in accents.items() if o == ""}
    check(all(o in ("", c) for c, o in accents.items()), "StripAccents only removes")

    pieces = pre_tokenizers.Punctuation().pre_tokenize_str("a" + "a".join(ALL) + "a")
    sets["PUNCTUATION"] = {p for p, _ in pieces if len(p) == 1 and p != "a"}
    bert = pre_tokenizers.BertPreTokenizer().pre_tokenize_str("a" + "a".join(ALL) + "a")
    check(
        {p for p, _ in bert if len(p) == 1 and p != "a"} == sets["PUNCTUATION"],
        "BertPreTokenizer isolates what Punctuation does",
    )

    pieces = pre_tokenizers.Whitespace().pre_tokenize_str("!" + "!".join(ALL) + "!")
    sets["WORD"] = {p for p, _ in pieces if len(p) == 1 and p != "!"}
    seen = set("".join(p for p, _ in pieces))
    sets["REGEX_SPACE"] = set(ALL) - seen
    check(not (sets["WORD"] & sets["REGEX_SPACE"]), "\\w and \\s are disjoint")

    pieces = pre_tokenizers.WhitespaceSplit().pre_tokenize_str("a" + "a".join(ALL) + "a")
    sets["WHITESPACE"] = set(ALL) - set("".join(p for p, _ in pieces))
    check(
        set("".join(p for p, _ in bert)) == set(ALL) - sets["WHITESPACE"],
        "BertPreTokenizer removes the WhitespaceSplit whitespace",
    )

    table = bytearray(MAX)
    for bit, name, _ in CLASSES:
        for ch in sets[name]:
            table[ord(ch)] |= bit

    index, leaves = two_level_table.split(table, MAX)

    w = sys.stdout.write
    counts = ", ".join(f"{name} {len(sets[name])}" for _, name, _ in CLASSES)
    header = [
        "// @generated by scripts/gen_char_classes.py — do not edit by hand.",
        f"// Asked: tokenizers {tokenizers.__version__}, through the components themselves.",
        f"// Class sizes: {counts}.",
        "//! Character classes of the Hugging Face normalizers and pre-tokenizers, exactly as",
        "//! `tokenizers` classifies every code point (its tables come from several crates and",
        "//! Unicode versions, so they are asked for, not rebuilt from a Unicode database).",
        "//!",
        "//! One byte per code point, a bit set of the classes below, in a two-level table:",
        f"//! `{two_level_table.LOOKUP}`.",
        "",
    ]
    w("\n".join(header) + "\n")
    for bit, name, doc in CLASSES:
        w(f"/// {doc[0].upper() + doc[1:]}.\npub(crate) const {name}: u8 = 0x{bit:02x};\n")
    w(
        "\n/// The class bits of a character.\n#[inline]\npub(crate) fn classes(c: char) -> u8 {\n"
        "    let cp = c as usize;\n"
        f"    {two_level_table.LOOKUP}\n"
        "}\n\n"
    )
    w(
        "/// The class bits of an ASCII byte (`b < 0x80`): the first leaf is the ASCII block, so"
        " this\n/// skips the index and the decoding of a `char`.\n#[inline]\n"
        "pub(crate) fn ascii_classes(b: u8) -> u8 {\n"
        "    debug_assert!(b < 0x80 && INDEX[0] == 0);\n"
        "    LEAVES[usize::from(b)]\n}\n\n"
    )
    w("/// Whether `c` is in any of the classes `bits`.\n#[inline]\n")
    w("pub(crate) fn is(c: char, bits: u8) -> bool {\n    classes(c) & bits != 0\n}\n\n")
    two_level_table.write_arrays(w, index, leaves)


if __name__ == "__main__":
    main()
