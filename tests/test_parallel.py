"""Parallel encoding: thread counts give identical output, and pools survive ``fork()``.

Data loaders fork worker processes after the parent has used the tokenizer; a forked child
inherits a thread pool's bookkeeping but not its threads, so a careless pool deadlocks there.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from typing import Any

import ferrotok
import pytest

#: Enough text to pass the size threshold under which batches stay on the calling thread.
SENTENCE = "the quick brown fox jumps over the lazy dog. "
DOCUMENTS = [f"Document {i}: " + SENTENCE * 40 for i in range(200)]


def _encode_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    queue.put(tok.encode_batch(DOCUMENTS, num_threads=2))


def test_thread_counts_agree() -> None:
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    one = tok.encode_batch(DOCUMENTS, num_threads=1)
    assert tok.encode_batch(DOCUMENTS, num_threads=2) == one
    assert tok.encode_batch(DOCUMENTS, num_threads=4) == one
    batch = tok.encode_batch_numpy(DOCUMENTS, num_threads=3)
    assert batch.tolist() == one


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the Linux default start method")
# Python 3.12+ warns about fork() in a multi-threaded process: surviving that is the point here.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parallel_encoding_survives_fork() -> None:
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    expected = tok.encode_batch(DOCUMENTS, num_threads=2)  # the parent's pool now exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_encode_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=120)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert result == expected


def test_environment_variable_sets_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERROTOK_NUM_THREADS", "1")
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    assert tok.encode_batch(DOCUMENTS) == tok.encode_batch(DOCUMENTS, num_threads=2)
    assert os.environ["FERROTOK_NUM_THREADS"] == "1"


#: A child that encodes about 1 GB of text (one 5 kB string repeated, so it costs no memory)
#: and would take tens of seconds.
LONG_JOB = """
import sys
import ferrotok
tok = ferrotok.Tokenizer.from_builtin("o200k_base")
documents = ["a few words of text " * 250] * 200_000
print("started", flush=True)
tok.{call}
print("finished", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
@pytest.mark.parametrize(
    "call",
    [
        "encode_batch_numpy(documents)",
        # Lists: converted while the other threads encode (`parallel::encode_in_order`).
        "encode_batch(documents, num_threads=2)",
        "encode_batch(documents, num_threads=1)",
    ],
)
def test_long_batch_answers_ctrl_c(call: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", LONG_JOB.format(call=call)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    try:
        # Without the interrupt checks the job would run to its end and print "finished".
        stdout, stderr = child.communicate(timeout=120)
    finally:
        child.kill()
    assert "finished" not in stdout
    assert "KeyboardInterrupt" in stderr
    assert child.returncode != 0


@pytest.mark.skipif(sys.platform == "win32", reason="no setitimer on Windows")
@pytest.mark.parametrize("num_threads", [1, 2])
def test_interrupted_lists_leave_reference_counts_as_they_were(num_threads: int) -> None:
    """The lists' references are added to the shared ints after the lists are made (see
    src/python/lists.rs); a batch interrupted halfway drops the lists it made, and must first
    add their references, or each drop would take an int's count below its references."""
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    words = [f"word{i} " for i in range(3000)]
    documents = ["".join(words[i % 7 :: 7]) * 4 for i in range(2000)]
    first = tok.encode_batch(documents, num_threads=num_threads)
    ints = {id_: id_ for ids in first for id_ in ids if id_ > 256}
    watched = sorted(ints)[:: max(1, len(ints) // 200)]
    del first
    before = [sys.getrefcount(ints[id_]) for id_ in watched]

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    interrupted = 0
    try:
        for delay in (0.002, 0.005, 0.01, 0.02, 0.05):
            signal.setitimer(signal.ITIMER_REAL, delay)
            try:
                tok.encode_batch(documents * 20, num_threads=num_threads)
            except KeyboardInterrupt:
                interrupted += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert interrupted > 0, "no batch was interrupted: make it longer"
    assert [sys.getrefcount(ints[id_]) for id_ in watched] == before


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("call", ["encode_batch", "encode_ordinary_batch", "encode_with_special"])
@pytest.mark.parametrize("batch", ["corpus", "few ids"])
def test_batch_lists_hold_exactly_their_references(
    corpus: Any, tokenizers: Any, num_threads: int, call: str, batch: str
) -> None:
    """Lists share one int per id, and the references the batch's lists take are added to each
    int as one sum, after the lists are made (src/python/lists.rs). While a batch's lists live,
    each int's reference count must be up by exactly its occurrences, and back where it was once
    they are gone. The batch is large enough for the int table and, on two threads, for many
    chunks. The sums are added in id order when the batch has many distinct ids (the corpus
    sample: about 51k of o200k's 200k), else in the order the ids came (a few documents over
    and over)."""
    texts = corpus.sample("multilingual").texts + corpus.sample("code").texts
    if batch == "few ids":
        texts = texts[:4] * (400_000 // sum(len(text) for text in texts[:4]) + 1)
    enc = ferrotok.get_encoding("o200k_base")
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    encode = {
        "encode_batch": lambda: tok.encode_batch(texts, num_threads=num_threads),
        "encode_ordinary_batch": lambda: enc.encode_ordinary_batch(texts, num_threads=num_threads),
        "encode_with_special": lambda: enc.encode_batch(
            texts, allowed_special="all", num_threads=num_threads
        ),
    }[call]
    reference = tokenizers.tiktoken("o200k_base")
    first = encode()
    if call == "encode_ordinary_batch":
        assert first == reference.encode_ordinary_batch(texts)
    else:
        assert first == reference.encode_batch(texts, allowed_special="all")
    shared: dict[int, int] = {}
    for ids in first:
        for id_ in ids:
            assert shared.setdefault(id_, id_) is id_, "one int object per id"
    counts = collections.Counter(id_ for ids in first for id_ in ids)
    # The commonest ids and the rarest, of the table's own ints: Python's cached small ints
    # (0 to 256) are shared with everything (and immortal from 3.12), so their counts move with
    # whatever else the process does.
    ranked = [id_ for id_, _ in counts.most_common() if id_ > 256]
    own = ranked[:40] + ranked[-40:]

    def references() -> list[int]:
        return [sys.getrefcount(shared[id_]) for id_ in own]

    before = references()
    second = encode()
    assert second == first
    added = [after - was for after, was in zip(references(), before, strict=True)]
    assert added == [counts[id_] for id_ in own]
    del second
    assert references() == before


@pytest.mark.parametrize(
    "name",
    [
        "o200k_base",
        "cl100k_base",
        "r50k_base",
        "llama-3.1",
        "qwen2.5",
        "gpt2",
        # Whitespace dropped by the pre-tokenizer, a normalizer that maps each character.
        "bert-base-uncased",
        # No cut at a line start (Metaspace; CLIP's whitespace made one space): cut before a
        # space instead.
        "t5-legal-small-fr-en",
        "albert-base-v2",
        "clip-vit-base-patch32",
        # No pre-tokenizer: the normalized text is cut at word markers instead.
        "mistral-7b-v0.1",
        "llama-2-7b-reconstructed",
    ],
)
def test_one_long_document_is_cut_and_encoded_in_parallel(
    name: str, tokenizers: Any, corpus: Any, data_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document over 1 MB is cut at line starts (or before spaces, or, normalized, at word
    markers) and its parts encoded on several threads; the ids must be the reference's for the
    whole document, whatever the thread count."""
    text = "".join(
        "".join(corpus.sample(folder).texts) for folder in ("en", "code", "multilingual", "ja")
    )
    assert len(text.encode("utf-8")) > 2 << 20
    if name.endswith("_base"):
        expected = tokenizers.tiktoken(name).encode_ordinary(text)
        mine = lambda: tokenizers.ferro_encoding(name).encode_ordinary(text)  # noqa: E731
        # Without special tokens (the corpus has their strings as text): `encode_ordinary`.
        path = data_dir / "tiktoken" / f"{name}.tiktoken"
        tok = ferrotok.Tokenizer.from_tiktoken(path, special_tokens={})
        as_array = lambda: tok.encode_batch_numpy([text]).ids.tolist()  # noqa: E731
    else:
        expected = tokenizers.hf(name).encode(text, add_special_tokens=True).ids
        tok = tokenizers.ferro(name)
        mine = lambda: tok.encode(text)  # noqa: E731
        as_array = lambda: tok.encode_batch_numpy([text]).ids.tolist()  # noqa: E731
    for threads in ("1", "2", "5"):
        monkeypatch.setenv("FERROTOK_NUM_THREADS", threads)
        assert mine() == expected, f"{threads} threads"
        # A batch of this one document takes the same parallel path.
        assert as_array() == expected, f"encode_batch_numpy, {threads} threads"
    # The thread count given to the call rather than by the environment (`tok` has no special
    # tokens for a rank file: `encode` is `encode_ordinary` there).
    monkeypatch.setenv("FERROTOK_NUM_THREADS", "1")
    for threads in (1, 2):
        assert tok.encode(text, num_threads=threads) == expected, f"num_threads={threads}"


def test_large_batch_reads_its_strings_without_keeping_utf8_copies(
    tokenizers: Any, corpus: Any
) -> None:
    """A batch above 16M characters encodes its non-ASCII strings to temporary UTF-8 a slice at a
    time instead of borrowing it (which makes CPython keep a UTF-8 copy inside each string; see
    src/python/texts.rs). The ids must be the reference's all the same, on one thread and two,
    through both outputs, and no string may be left larger than it was."""
    filler = "a few words of text " * 250
    non_ascii = [
        *corpus.sample("multilingual").texts[:50],
        *corpus.sample("ja").texts[:50],
        "café au lait, señor",  # Latin-1: one byte per character in CPython
        "emoji 🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # four bytes per character in CPython
    ]
    non_ascii = [text for text in non_ascii if not text.isascii()]
    # Interleaved, so that non-ASCII strings fall into several slices.
    batch: list[str] = []
    for text in non_ascii:
        batch.append(text)
        batch.extend([filler] * 35)
    assert sum(map(len, batch)) > 16 * 1024 * 1024
    sizes = [sys.getsizeof(text) for text in non_ascii]
    reference = tokenizers.tiktoken("o200k_base")
    # The reference borrows UTF-8 too: it is given equal, distinct string objects.
    copies = [text.encode("utf-8").decode("utf-8") for text in non_ascii]
    expected = dict(zip(non_ascii, reference.encode_ordinary_batch(copies), strict=True))
    expected[filler] = reference.encode_ordinary(filler)
    tok = ferrotok.Tokenizer.from_builtin("o200k_base")
    for threads in (1, 2):
        assert tok.encode_batch_numpy(batch, num_threads=threads).tolist() == [
            expected[text] for text in batch
        ]
        assert tok.encode_batch(batch, num_threads=threads) == [expected[text] for text in batch]
    assert [sys.getsizeof(text) for text in non_ascii] == sizes
    # A small batch borrows, and CPython keeps the copies: what the check above would see.
    tok.encode_batch(non_ascii)
    assert [sys.getsizeof(text) for text in non_ascii] != sizes
    # A string that cannot be UTF-8 fails the same way in a large batch as in a small one.
    with pytest.raises(UnicodeEncodeError):
        tok.encode_batch(["lone \ud800 surrogate"])
    with pytest.raises(UnicodeEncodeError):
        tok.encode_batch([*batch, "lone \ud800 surrogate"])
