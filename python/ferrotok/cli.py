"""The `ferrotok` command line (also `python -m ferrotok`).

    ferrotok encode "Hello, world!"              # ids, space-separated (o200k_base)
    ferrotok encode --count < book.txt           # the number of tokens of a file
    ferrotok encode --tokens "Hello, world!"     # one token a line, as a JSON string
    ferrotok encode --tokenizer tokenizer.json "Hello"
    ferrotok decode 13225 11 2375 0              # back to text
    ferrotok encodings                           # the built-in encoding names
    ferrotok prepare data/*.jsonl.gz -t o200k_base -o out/train   # corpus -> Megatron shards

With no TEXT, `encode` reads standard input; when there is none (a terminal, or nothing piped)
it encodes a built-in sample sentence, so that `ferrotok encode` alone shows what it does.
A `ferrotok.TokenizerError` exits with status 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ferrotok import _native
from ferrotok.encoding import Encoding, get_encoding
from ferrotok.tokenizer import Tokenizer

__all__ = ["main"]

DEFAULT_ENCODING = "o200k_base"
SAMPLE_TEXT = "Hello, world! ferrotok turns text into tokens exactly like tiktoken, only faster."

_EXIT_ERROR = 2


class _UsageError(Exception):
    """A problem with the command line's input, reported in one line with exit status 2."""


@dataclass(frozen=True)
class _Loaded:
    """What the command line tokenizes with: a tiktoken-style encoding or a tokenizer.json."""

    encoding: Encoding | None = None
    tokenizer: Tokenizer | None = None


def _build_parser() -> argparse.ArgumentParser:
    from ferrotok import __version__

    parser = argparse.ArgumentParser(
        prog="ferrotok",
        description="Exact, fast tokenization: OpenAI encodings and Hugging Face tokenizer.json.",
    )
    parser.add_argument("--version", action="version", version=f"ferrotok {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_source_options(command: argparse.ArgumentParser) -> None:
        source = command.add_mutually_exclusive_group()
        source.add_argument(
            "--encoding",
            "-e",
            metavar="NAME",
            help=f"a built-in encoding (default: {DEFAULT_ENCODING}; see `ferrotok encodings`)",
        )
        source.add_argument(
            "--tokenizer",
            "-t",
            metavar="PATH",
            help="a Hugging Face tokenizer.json, or a .tiktoken rank file",
        )
        command.add_argument(
            "--pattern",
            metavar="REGEX",
            help="the split pattern of a .tiktoken file not named after a built-in encoding",
        )

    encode = commands.add_parser(
        "encode",
        help="print the token ids of TEXT (or of standard input)",
        description="Print the token ids of TEXT, or of standard input if no TEXT is given. "
        "With neither, encode a built-in sample sentence.",
    )
    add_source_options(encode)
    output = encode.add_mutually_exclusive_group()
    output.add_argument("--count", "-c", action="store_true", help="print the number of tokens")
    output.add_argument(
        "--tokens", action="store_true", help="print each token, one a line, as a JSON string"
    )
    specials = encode.add_mutually_exclusive_group()
    specials.add_argument(
        "--allow-special",
        action="store_true",
        help="encode special-token text (e.g. <|endoftext|>) as special tokens "
        "(an encoding otherwise refuses such text, like tiktoken)",
    )
    specials.add_argument(
        "--ordinary",
        action="store_true",
        help="encode special-token text as ordinary text",
    )
    encode.add_argument(
        "--no-add-special-tokens",
        dest="add_special_tokens",
        action="store_false",
        help="tokenizer.json only: do not run the post-processor (e.g. no BOS token)",
    )
    encode.add_argument("text", nargs="*", metavar="TEXT", help="the text (words are joined)")

    decode = commands.add_parser(
        "decode",
        help="print the text of token IDS (or of ids read from standard input)",
        description="Print the text of token ids given as arguments or on standard input "
        "(separated by spaces, commas or newlines).",
    )
    add_source_options(decode)
    decode.add_argument(
        "--skip-special-tokens",
        action="store_true",
        help="tokenizer.json only: leave special tokens out of the text",
    )
    decode.add_argument("ids", nargs="*", metavar="ID", help="token ids")

    commands.add_parser("encodings", help="list the built-in encodings")
    _add_prepare_parser(commands)
    return parser


def _positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_prepare_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    prepare = commands.add_parser(
        "prepare",
        help="tokenize a corpus into training shards (Megatron, nanoGPT .bin, .npy)",
        description="Tokenize text, JSON Lines or Parquet files (also .gz / .zst; files, "
        "directories, globs) into token shards, on all cores, with bounded memory. Each "
        "document ends with the tokenizer's end-of-text token; special-token text inside "
        "documents is encoded as text. Files appear under their names only when complete.",
    )
    prepare.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories, globs")
    prepare.add_argument(
        "--tokenizer",
        "-t",
        required=True,
        metavar="NAME_OR_PATH",
        help="a built-in encoding (e.g. o200k_base), a tokenizer.json or .tiktoken file",
    )
    prepare.add_argument("--output", "-o", required=True, metavar="PREFIX", help="output prefix")
    prepare.add_argument(
        "--format", choices=["megatron", "bin", "npy"], default="megatron", help="(megatron)"
    )
    prepare.add_argument(
        "--field", default="text", help="JSON Lines key (dotted for nested) or Parquet column"
    )
    prepare.add_argument(
        "--separator",
        metavar="TEXT",
        help="plain text: the string between documents (escapes like \\n\\n are read); "
        "default: one document per file",
    )
    prepare.add_argument(
        "--input-format", choices=["auto", "text", "jsonl", "parquet"], default="auto"
    )
    prepare.add_argument(
        "--no-append-eos", dest="append_eos", action="store_false", help="no end-of-text token"
    )
    prepare.add_argument("--eos", metavar="TOKEN", help="the end-of-text token to append")
    prepare.add_argument(
        "--bos",
        nargs="?",
        const=True,
        default=False,
        metavar="TOKEN",
        help="start each document with the tokenizer's BOS token (or with TOKEN)",
    )
    prepare.add_argument(
        "--dtype", choices=["uint16", "uint32"], help="token type (default: smallest that fits)"
    )
    prepare.add_argument(
        "--shard-tokens",
        type=_positive,
        metavar="N",
        help="start a new shard after N tokens (PREFIX-00000, PREFIX-00001, ...)",
    )
    prepare.add_argument(
        "--errors",
        choices=["strict", "replace"],
        default="strict",
        help="invalid UTF-8: fail naming the byte offset, or substitute U+FFFD (strict)",
    )
    prepare.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="skip and count malformed JSON lines instead of failing",
    )
    prepare.add_argument("--threads", type=_positive, metavar="N", help="encoding threads")
    prepare.add_argument(
        "--resume", action="store_true", help="continue after the last complete shard"
    )
    prepare.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")


def _load(arguments: argparse.Namespace) -> _Loaded:
    if arguments.tokenizer is None:
        return _Loaded(encoding=get_encoding(arguments.encoding or DEFAULT_ENCODING))
    path = Path(arguments.tokenizer)
    if path.suffix != ".tiktoken":
        return _Loaded(tokenizer=Tokenizer.from_file(path))
    # A .tiktoken file gets tiktoken's semantics, as the built-in encodings do.
    special_tokens: dict[str, int]
    if arguments.pattern is not None:
        pattern, special_tokens = arguments.pattern, {}
    elif path.stem in _native.BUILTIN_ENCODINGS:
        pattern, special_tokens, _ = _native.Tokenizer.builtin_info(path.stem)
    else:
        raise _UsageError(
            f"{path}: pass --pattern REGEX (the split pattern of this .tiktoken file); it is "
            "only known for files named after a built-in encoding"
        )
    native = Tokenizer.from_tiktoken(path, pattern, special_tokens)._native
    return _Loaded(encoding=Encoding._from_native(path.stem, native, pattern, special_tokens))


def _read_stdin() -> bytes | None:
    """Standard input's bytes, or `None` if there is no input (a terminal, or none at all)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    try:
        if stdin.isatty():
            return None
        return stdin.buffer.read()
    except (OSError, ValueError):
        return None


def _decode_utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _UsageError(f"{what} is not valid UTF-8 (byte offset {error.start})") from None


def _write(text: str) -> None:
    sys.stdout.write(text)


def _token_text(loaded: _Loaded, token: int) -> str:
    if loaded.tokenizer is not None:
        text = loaded.tokenizer.id_to_token(token)
        return "" if text is None else text
    assert loaded.encoding is not None
    return loaded.encoding.decode_single_token_bytes(token).decode("utf-8", "backslashreplace")


def _encode_command(arguments: argparse.Namespace) -> None:
    if arguments.text:
        text = " ".join(arguments.text)
    else:
        data = _read_stdin()
        if data:
            text = _decode_utf8(data, "standard input")
        else:
            text = SAMPLE_TEXT
            if arguments.tokenizer is None and arguments.encoding is None:
                print(
                    f"ferrotok: no input; encoding the sample sentence {SAMPLE_TEXT!r} "
                    f"with {DEFAULT_ENCODING}",
                    file=sys.stderr,
                )
    loaded = _load(arguments)
    if loaded.tokenizer is not None:
        if arguments.count:
            _write(f"{loaded.tokenizer.count(text, arguments.add_special_tokens)}\n")
            return
        ids = loaded.tokenizer.encode(text, arguments.add_special_tokens)
    else:
        assert loaded.encoding is not None
        if arguments.ordinary:
            ids = loaded.encoding.encode_ordinary(text)
        else:
            allowed: Literal["all"] | frozenset[str] = (
                "all" if arguments.allow_special else frozenset()
            )
            try:
                ids = loaded.encoding.encode(text, allowed_special=allowed)
            except _native.DisallowedSpecialTokenError as error:
                first_line = str(error).splitlines()[0]
                raise _UsageError(
                    f"{first_line} Pass --allow-special to encode it as a special token, "
                    "or --ordinary to encode it as text."
                ) from None
    if arguments.count:
        _write(f"{len(ids)}\n")
    elif arguments.tokens:
        _write("".join(json.dumps(_token_text(loaded, t), ensure_ascii=False) + "\n" for t in ids))
    else:
        _write(" ".join(map(str, ids)) + "\n")


def _parse_ids(words: Sequence[str]) -> list[int]:
    ids = []
    for word in re.split(r"[\s,\[\]]+", " ".join(words)):
        if not word:
            continue
        try:
            ids.append(int(word))
        except ValueError:
            raise _UsageError(f"not a token id: {word!r}") from None
        if ids[-1] < 0:
            raise _UsageError(f"not a token id: {word!r}")
    return ids


def _decode_command(arguments: argparse.Namespace) -> None:
    if arguments.ids:
        ids = _parse_ids(arguments.ids)
    else:
        data = _read_stdin()
        if data is None:
            raise _UsageError("no token ids given (pass them as arguments or on standard input)")
        ids = _parse_ids([_decode_utf8(data, "standard input")])
    loaded = _load(arguments)
    if loaded.tokenizer is not None:
        output = loaded.tokenizer.decode(ids, arguments.skip_special_tokens).encode("utf-8")
    else:
        assert loaded.encoding is not None
        output = loaded.encoding.decode_bytes(ids)  # the exact bytes, even a partial character
    sys.stdout.flush()
    sys.stdout.buffer.write(output)
    if sys.stdout.isatty() and not output.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


def _prepare_command(arguments: argparse.Namespace) -> None:
    from ferrotok.preparation import prepare

    separator = arguments.separator
    if separator is not None:
        # A shell cannot easily pass a newline: read backslash escapes (\n, \t, \u2028).
        separator = separator.encode("latin-1", "backslashreplace").decode("unicode_escape")
    summary = prepare(
        arguments.inputs,
        tokenizer=arguments.tokenizer,
        output=arguments.output,
        format=arguments.format,
        field=arguments.field,
        separator=separator,
        input_format=arguments.input_format,
        append_eos=arguments.append_eos,
        eos=arguments.eos,
        bos=arguments.bos,
        dtype=arguments.dtype,
        shard_tokens=arguments.shard_tokens,
        errors=arguments.errors,
        skip_bad_lines=arguments.skip_bad_lines,
        num_threads=arguments.threads,
        resume=arguments.resume,
        progress=not arguments.quiet,
    )
    if not arguments.quiet:
        print(summary, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line with `argv` (default: `sys.argv[1:]`); returns the exit status."""
    parser = _build_parser()
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "encode":
            _encode_command(arguments)
        elif arguments.command == "decode":
            _decode_command(arguments)
        elif arguments.command == "prepare":
            _prepare_command(arguments)
        elif arguments.command == "encodings":
            _write("".join(f"{name}\n" for name in _native.BUILTIN_ENCODINGS))
        else:
            parser.print_help(sys.stderr)
            return _EXIT_ERROR
        sys.stdout.flush()
    except (_native.TokenizerError, _UsageError, OSError) as error:
        if isinstance(error, BrokenPipeError):
            return _quiet_broken_pipe()
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"ferrotok: error: {message}", file=sys.stderr)
        return _EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return 0


def _quiet_broken_pipe() -> int:
    # The reader went away (e.g. `| head`): point stdout at devnull so that the interpreter's
    # final flush does not print a second error, and exit like other Unix tools.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1
