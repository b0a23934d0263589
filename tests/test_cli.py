"""The command line (`python -m ferrotok`), run in a subprocess and compared with the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ferrotok
import pytest
from ferrotok.cli import SAMPLE_TEXT

REPO = Path(__file__).resolve().parent.parent


def find_data_dir() -> Path:
    configured = os.environ.get("FERROTOK_DATA")
    return (Path(configured) if configured else REPO.parent / "shared" / "data").resolve()


def run(*arguments: str, stdin: bytes | None = b"") -> subprocess.CompletedProcess[bytes]:
    """`python -m ferrotok ARGUMENTS`; `stdin=None` runs it with no standard input at all."""
    return subprocess.run(
        [sys.executable, "-m", "ferrotok", *arguments],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=120,
        check=False,
    )


def ids_of(output: bytes) -> list[int]:
    return [int(word) for word in output.split()]


def test_encode_text_argument() -> None:
    result = run("encode", "Hello, world!")
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ferrotok.get_encoding("o200k_base").encode("Hello, world!")
    assert result.stdout.endswith(b"\n") and len(result.stdout.splitlines()) == 1


def test_words_are_joined_with_spaces() -> None:
    result = run("encode", "Hello,", "world!")
    assert ids_of(result.stdout) == ferrotok.get_encoding("o200k_base").encode("Hello, world!")


@pytest.mark.parametrize("name", ["cl100k_base", "r50k_base"])
def test_encode_with_another_encoding(name: str) -> None:
    result = run("encode", "--encoding", name, "Tokenize me, please.")
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ferrotok.get_encoding(name).encode("Tokenize me, please.")


def test_encode_reads_stdin_exactly() -> None:
    text = "Line one\r\nline two — ünïcödé 🚀\n\n"
    result = run("encode", stdin=text.encode("utf-8"))
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ferrotok.get_encoding("o200k_base").encode(text)


def test_encode_with_no_input_uses_the_sample_sentence() -> None:
    for stdin in (b"", None):
        result = run("encode", stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert ids_of(result.stdout) == ferrotok.get_encoding("o200k_base").encode(SAMPLE_TEXT)


def test_count() -> None:
    text = "Counting the tokens of this sentence."
    result = run("encode", "--count", text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{len(ferrotok.get_encoding('o200k_base').encode(text))}\n".encode()


def test_tokens() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    text = "Hello, world! 🤗"
    result = run("encode", "--tokens", text)
    assert result.returncode == 0, result.stderr
    shown = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    expected = [
        enc.decode_single_token_bytes(token).decode("utf-8", "backslashreplace")
        for token in enc.encode(text)
    ]
    assert shown == expected


def test_special_token_text_is_refused_in_one_line() -> None:
    result = run("encode", "before <|endoftext|> after")
    assert result.returncode == 2
    assert result.stdout == b""
    message = result.stderr.decode("utf-8")
    assert "<|endoftext|>" in message and len(message.strip().splitlines()) == 1
    assert "Traceback" not in message


def test_allow_special_and_ordinary() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    text = "before <|endoftext|> after"
    allowed = run("encode", "--allow-special", text)
    assert ids_of(allowed.stdout) == enc.encode(text, allowed_special="all")
    ordinary = run("encode", "--ordinary", text)
    assert ids_of(ordinary.stdout) == enc.encode_ordinary(text)


def test_decode_round_trip() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    text = "Round trip: ünïcödé, 🚀, and\nnew lines.\n"
    ids = enc.encode(text)
    as_arguments = run("decode", *map(str, ids))
    assert as_arguments.returncode == 0, as_arguments.stderr
    assert as_arguments.stdout == text.encode("utf-8")
    from_stdin = run("decode", stdin=" ".join(map(str, ids)).encode())
    assert from_stdin.stdout == text.encode("utf-8")
    piped = run("decode", stdin=run("encode", stdin=text.encode()).stdout)
    assert piped.stdout == text.encode("utf-8")
    with_commas = run("decode", "[" + ", ".join(map(str, ids)) + "]")
    assert with_commas.stdout == text.encode("utf-8")


def test_decode_partial_character_gives_its_bytes() -> None:
    enc = ferrotok.get_encoding("o200k_base")
    ids = enc.encode("🤗")
    result = run("decode", str(ids[0]))
    assert result.stdout == enc.decode_bytes(ids[:1])


def test_decode_unknown_id_exits_2_in_one_line() -> None:
    unknown = ferrotok.get_encoding("o200k_base").max_token_value + 5
    result = run("decode", "1", str(unknown))
    assert result.returncode == 2
    message = result.stderr.decode("utf-8")
    assert str(unknown) in message and len(message.strip().splitlines()) == 1
    assert "Traceback" not in message


def test_decode_rejects_words_that_are_not_ids() -> None:
    result = run("decode", "12", "twelve")
    assert result.returncode == 2
    assert "twelve" in result.stderr.decode("utf-8")


def test_unknown_encoding_exits_2_in_one_line() -> None:
    result = run("encode", "--encoding", "o300k_imaginary", "text")
    assert result.returncode == 2
    message = result.stderr.decode("utf-8")
    assert "o300k_imaginary" in message and len(message.strip().splitlines()) == 1
    assert "Traceback" not in message


def test_tokenizer_file_error_exits_2_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{ not json", encoding="utf-8")
    result = run("encode", "--tokenizer", str(path), "text")
    assert result.returncode == 2
    message = result.stderr.decode("utf-8")
    assert "broken.json" in message and len(message.strip().splitlines()) == 1
    assert "Traceback" not in message


def test_tokenizer_json() -> None:
    path = find_data_dir() / "tokenizers" / "llama-3.1" / "tokenizer.json"
    if not path.is_file():
        pytest.fail(f"shared test data not found: {path}", pytrace=False)
    tok = ferrotok.Tokenizer.from_file(path)
    text = "Hello from Llama <|eot_id|>"
    result = run("encode", "--tokenizer", str(path), text)
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == tok.encode(text)
    bare = run("encode", "--tokenizer", str(path), "--no-add-special-tokens", text)
    assert ids_of(bare.stdout) == tok.encode(text, add_special_tokens=False)
    count = run("encode", "--tokenizer", str(path), "--count", text)
    assert count.stdout == f"{tok.count(text)}\n".encode()
    tokens = run("encode", "--tokenizer", str(path), "--tokens", text)
    shown = [json.loads(line) for line in tokens.stdout.decode("utf-8").splitlines()]
    assert shown == [tok.id_to_token(token) for token in tok.encode(text)]
    ids = tok.encode(text, add_special_tokens=False)
    decoded = run("decode", "--tokenizer", str(path), *map(str, ids))
    assert decoded.stdout.decode("utf-8") == tok.decode(ids)
    skipped = run("decode", "--tokenizer", str(path), "--skip-special-tokens", *map(str, ids))
    assert skipped.stdout.decode("utf-8") == tok.decode(ids, skip_special_tokens=True)


def test_tiktoken_file() -> None:
    path = find_data_dir() / "tiktoken" / "cl100k_base.tiktoken"
    if not path.is_file():
        pytest.fail(f"shared test data not found: {path}", pytrace=False)
    text = "A .tiktoken file gets tiktoken's rules."
    result = run("encode", "--tokenizer", str(path), text)
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ferrotok.get_encoding("cl100k_base").encode(text)
    refused = run("encode", "--tokenizer", str(path), "<|endoftext|>")
    assert refused.returncode == 2


def test_encodings_lists_the_built_ins() -> None:
    result = run("encodings")
    assert result.returncode == 0
    assert result.stdout.decode().split() == ferrotok.list_encoding_names()


def test_version_and_help() -> None:
    version = run("--version")
    assert version.returncode == 0
    assert ferrotok.__version__ in version.stdout.decode()
    for command in ("encode", "decode"):
        assert run(command, "--help").returncode == 0
    assert run().returncode == 2  # no command: the usage, as an error


def test_console_script_matches_module() -> None:
    # The `ferrotok` console script, when installed beside this interpreter, is the same program.
    script = Path(sys.executable).parent / "ferrotok"
    if not script.exists():
        pytest.skip("the ferrotok console script is not installed beside this interpreter")
    result = subprocess.run(
        [str(script), "encode", "Hello, world!"], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ferrotok.get_encoding("o200k_base").encode("Hello, world!")
