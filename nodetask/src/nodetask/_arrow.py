"""The word rule on Arrow compute kernels: threads cut the words, Acero counts them.

The kernels run outside the interpreter and release the GIL, so threads (not
processes) spread one file over the cores. The reading thread reads the file
in pieces that end at whitespace, hashes it, and hands each piece to one of
``workers`` threads; at most ``workers + 1`` pieces are in flight, so memory
does not grow with the file. A piece becomes one Arrow string (no copy), is
validated as UTF-8, split on whitespace and stripped of ASCII punctuation;
its words stream, in file order, into one Acero hash aggregation on its own
thread, whose table holds each distinct word once: memory grows with the
vocabulary only, and even ``--workers 1`` keeps two cores busy.

Why the result equals the tutorial's rule exactly:

- ``utf8_split_whitespace`` splits on the same 29 code points as
  ``str.split()`` (the tests compare every code point). All-ASCII pieces
  without the separators U+001C..U+001F take ``ascii_split_whitespace``,
  which is faster and splits on exactly the remaining ASCII whitespace.
- ``ascii_trim`` works on bytes, and ASCII punctuation bytes never occur inside
  a multi-byte UTF-8 sequence, so trimming bytes equals ``str.strip``.
- Pieces end after a whitespace character, never inside a character, so each
  piece decodes alone exactly as the whole file would, replacements included.
- Case folding is Python's ``str.lower`` on the distinct words at the end
  (Arrow's ``utf8_lower`` differs, e.g. for U+0130 and the final sigma).
"""

from __future__ import annotations

import hashlib
import queue
import re
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs, no py.typed
import pyarrow.compute as pc  # type: ignore[import-untyped]
from pyarrow import acero

from ._exceptions import binary_error, decode_error, long_token_error
from ._rule import PUNCTUATION, ProgressCallback

#: Bytes read at a time: one piece of work. Measured on the 100 MB benchmark
#: corpora: 4 MiB is as fast as 32 MiB, and peak memory at --workers 2 on the
#: large vocabulary is ~230 MB instead of ~275 MB with 8 MiB.
CHUNK_BYTES = 4 * 1024 * 1024
#: Smaller files are cut into smaller pieces, so that every thread gets some.
MIN_CHUNK_BYTES = 1024 * 1024
#: Words per batch handed to the aggregation. Acero's reader source reads up to 32
#: batches ahead of the aggregation; small batches keep what waits there near
#: 2M words (~30 MB), whatever the file's size.
HANDOFF_ROWS = 65_536
BOM = b"\xef\xbb\xbf"
#: What each piece becomes: its words, in order.
WORDS = pa.schema([("word", pa.string())])
#: Every code point ``str.split()`` splits on lies below U+3001 (tested).
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_ASCII_SPACE = tuple(c.encode() for c in WHITESPACE if c in " \t\n\r\x0b\x0c")
#: ASCII whitespace that ``ascii_split_whitespace`` does not split on.
_SEPARATORS = tuple(c.encode() for c in WHITESPACE if c.isascii() and c.encode() not in _ASCII_SPACE)
#: Any whitespace character, for the rare text with no ASCII whitespace in a piece.
_ANY_SPACE = re.compile(b"|".join(re.escape(c.encode()) for c in WHITESPACE))


def _cut(data: bytes, search_unicode: bool) -> int:
    """Length of the longest prefix of ``data`` that ends with whitespace (0: none)."""
    cut = max(data.rfind(space) for space in _ASCII_SPACE) + 1
    if cut == 0 and search_unicode:
        # Cutting after a whole whitespace character is safe for a decoder:
        # its first byte is never a continuation byte.
        for match in _ANY_SPACE.finditer(data):
            cut = match.end()
    return cut


def _pieces(
    handle: BinaryIO, path: str, hasher: hashlib._Hash, chunk_bytes: int, max_token_chars: int
) -> Iterator[tuple[int, bytes]]:
    """(file offset, bytes) pieces of the file, each ending at whitespace or at its end."""
    longest = 4 * max_token_chars  # bytes of the longest word allowed: a char is at most 4 bytes
    offset = 0  # of the carried bytes
    carry = b""
    while block := handle.read(chunk_bytes):
        hasher.update(block)  # releases the GIL: runs beside the counting threads
        data = carry + block if carry else block
        cut = _cut(data, search_unicode=len(data) > min(2 * chunk_bytes, longest))
        if cut == 0:
            if len(data) > longest:  # no whitespace at all: one overlong word
                raise long_token_error(path, max_token_chars, offset + len(data))
            carry = data
            continue
        yield offset, data[:cut]
        offset += cut
        carry = data[cut:]
    if carry:
        yield offset, carry


def _string_array(data: bytes, type_: pa.DataType) -> pa.Array:
    """``data`` as a one-element Arrow array, without copying it."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    return pa.Array.from_buffers(type_, 1, [None, offsets, pa.py_buffer(data)])


def _decode(data: bytes, offset: int, path: str, errors: str) -> pa.Array:
    """``data`` as an Arrow string, decoded as ``bytes.decode("utf-8", errors)`` does."""
    try:
        return _string_array(data, pa.binary()).cast(pa.string())  # validates UTF-8
    except pa.ArrowInvalid:
        try:
            text = data.decode("utf-8", errors)  # only a piece with bad bytes gets here
        except UnicodeDecodeError as exc:
            raise decode_error(path, offset + exc.start, errors) from exc
        return _string_array(text.encode("utf-8"), pa.string())


def piece_words(data: bytes, offset: int, *, path: str, errors: str, max_token_chars: int) -> pa.RecordBatch:
    """Every word of one piece of the file, in order, as a one-column batch
    (a token that was all punctuation is the empty word, dropped at the end)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise binary_error(path, offset + nul)
    if offset == 0 and data.startswith(BOM):
        data, offset = data[len(BOM) :], len(BOM)
    text = _decode(data, offset, path, errors)
    if data.isascii() and not any(separator in data for separator in _SEPARATORS):
        tokens = pc.ascii_split_whitespace(text).flatten()
    else:
        tokens = pc.utf8_split_whitespace(text).flatten()
    # A token cannot be longer than its piece: only a long piece needs the check.
    if len(data) > max_token_chars:
        longest = pc.max(pc.utf8_length(tokens)).as_py() or 0
        if longest > max_token_chars:
            raise long_token_error(path, max_token_chars, offset + len(data))
    return pa.record_batch([pc.ascii_trim(tokens, characters=PUNCTUATION)], schema=WORDS)


#: Handed to the aggregation instead of a batch: stop without a result.
_STOP = object()


class _Stopped(Exception):
    """Ends an abandoned aggregation (never seen outside this module)."""


class _Aggregation:
    """One streaming hash aggregation (Acero's) over every word, on its own thread.

    Its hash table holds each distinct word once, so memory follows the
    vocabulary, not the file; it is also faster than ``value_counts`` per piece
    summed by ``group_by``, which it replaced (on one thread, the 100 MB
    huge-vocabulary corpus: 1.8 s instead of 4.1 s). One thread aggregates
    (``use_threads=False``): threads would each build a table of the whole
    vocabulary and merge them at the end.

    The calling thread hands batches over through a queue of one and so stays
    in Python code, where Ctrl-C reaches it: a main thread blocked inside
    Acero sees the signal only once the whole file is counted (tried).
    :meth:`finish` ends the stream; :meth:`stop` abandons it.
    """

    def __init__(self) -> None:
        self._handoff: queue.Queue[pa.RecordBatch | object | None] = queue.Queue(maxsize=1)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nodetask-aggregate")
        self._result = self._thread.submit(self._run)

    def _words(self) -> Iterator[pa.RecordBatch]:
        while (batch := self._handoff.get()) is not None:
            if batch is _STOP:
                raise _Stopped  # Acero abandons the plan: no table is built
            yield batch

    def _run(self) -> pa.Table:
        reader = pa.RecordBatchReader.from_batches(WORDS, self._words())
        plan = acero.Declaration.from_sequence(
            [
                acero.Declaration(
                    "record_batch_reader_source", acero.RecordBatchReaderSourceNodeOptions(reader)
                ),
                acero.Declaration(
                    "aggregate",
                    acero.AggregateNodeOptions([([], "hash_count_all", None, "count")], keys=["word"]),
                ),
            ]
        )
        return plan.to_table(use_threads=False)

    def add(self, batch: pa.RecordBatch | object | None) -> None:
        """Hand over one batch (None: the end; ``_STOP``: give up), waiting while the last
        one is taken."""
        while True:
            if self._result.done():  # it stopped early: only a bug in Arrow gets here
                self._result.result()
                raise RuntimeError("the word aggregation stopped before the end of the file")
            try:
                self._handoff.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> pa.Table:
        """End the stream and wait for the aggregation's table."""
        try:
            self.add(None)
            return self._result.result()
        finally:
            self._thread.shutdown(wait=True)

    def stop(self) -> None:
        """Give up (after an error or Ctrl-C): nothing more is aggregated, no table is built."""
        try:
            if not self._result.done():
                self.add(_STOP)
        finally:
            self._thread.shutdown(wait=True)


def _lower(words: pa.Array) -> pa.Array:
    """``str.lower`` of every word: Arrow's ``ascii_lower`` (the same on ASCII) where a
    word is ASCII, Python's for the rest only, so a large vocabulary makes few objects."""
    lowered = pc.ascii_lower(words)
    others = pc.invert(pc.string_is_ascii(words))
    if not pc.any(others).as_py():
        return lowered
    unicode = pa.array([word.lower() for word in words.filter(others).to_pylist()], pa.string())
    return pc.replace_with_mask(lowered, others, unicode)


class ArrowCounts(Mapping[str, int]):
    """Every word and its count, kept in two Arrow arrays: no Python object per word.

    A vocabulary of a million words costs a few tens of MB here, and 150 MB
    or more as a ``Counter``. Reading it like a mapping (``counts[word]``)
    builds that dict once, on demand; the report uses ``total``, ``top`` and
    ``ranked_lines``, which stay in Arrow.
    """

    def __init__(self, words: pa.Array, numbers: pa.Array) -> None:
        self._words = words
        self._numbers = numbers
        self._dict: dict[str, int] | None = None

    @classmethod
    def from_table(cls, table: pa.Table, *, ignore_case: bool) -> ArrowCounts:
        """The merged counts, without the empty word (a token that was all punctuation);
        ``ignore_case`` lower-cases with Python's ``str.lower`` and sums what then meets."""
        table = table.filter(pc.not_equal(table["word"], ""))
        if ignore_case and table.num_rows:
            table = pa.table({"word": _lower(table["word"].combine_chunks()), "count": table["count"]})
            summed = table.group_by("word", use_threads=False).aggregate([("count", "sum")])
            table = pa.table({"word": summed["word"], "count": summed["count_sum"]})
        return cls(table["word"].combine_chunks(), table["count"].combine_chunks())

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self) -> Iterator[str]:
        return iter(self._words.to_pylist())

    def __getitem__(self, word: str) -> int:
        if self._dict is None:
            self._dict = dict(zip(self._words.to_pylist(), self._numbers.to_pylist(), strict=True))
        return self._dict[word]

    def total(self) -> int:
        return int(pc.sum(self._numbers).as_py() or 0)

    def columns(self) -> tuple[pa.Array, pa.Array]:
        """The words and their counts, in no particular order."""
        return self._words, self._numbers

    def _order(self, limit: int | None = None) -> pa.Array:
        table = pa.table({"word": self._words, "count": self._numbers})
        keys = [("count", "descending"), ("word", "ascending")]
        if limit is not None and limit < len(table):
            return pc.select_k_unstable(table, k=limit, sort_keys=keys)
        return pc.sort_indices(table, sort_keys=keys)

    def top(self, numwords: int) -> list[tuple[str, int]]:
        """The ``numwords`` most frequent words, ties by the word in code-point order."""
        order = self._order(numwords)
        # select_k's order within the k is not stable: sort those few in Python.
        pairs = zip(self._words.take(order).to_pylist(), self._numbers.take(order).to_pylist(), strict=True)
        return sorted(pairs, key=lambda item: (-item[1], item[0]))

    def ranked_lines(self) -> pa.Buffer:
        """``word<TAB>count`` lines in rank order (see :func:`ranked_lines`)."""
        return _joined_lines(self._words, self._numbers, self._order())


def count_path(
    path: str,
    size: int,
    *,
    ignore_case: bool,
    errors: str,
    workers: int,
    hasher: hashlib._Hash,
    max_token_chars: int,
    progress: ProgressCallback | None = None,
) -> ArrowCounts:
    """Count every word of the file at ``path`` (``size`` bytes) on ``workers`` threads.

    Errors come out in file order: the first piece with a bad byte names it.
    """
    pending: deque[tuple[Future[pa.RecordBatch], int]] = deque()
    aggregation = _Aggregation()

    def hand_over_oldest() -> None:
        future, end = pending.popleft()
        words = future.result()
        for start in range(0, len(words), HANDOFF_ROWS):
            aggregation.add(words.slice(start, HANDOFF_ROWS))
        del words
        if progress is not None:
            progress(end, size)

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nodetask-count") as pool:
            try:
                with open(path, "rb") as handle:
                    chunk_bytes = min(CHUNK_BYTES, max(size // (2 * workers), MIN_CHUNK_BYTES))
                    for offset, data in _pieces(handle, path, hasher, chunk_bytes, max_token_chars):
                        job = pool.submit(
                            piece_words,
                            data,
                            offset,
                            path=path,
                            errors=errors,
                            max_token_chars=max_token_chars,
                        )
                        pending.append((job, offset + len(data)))
                        del data, job
                        while len(pending) > workers:
                            hand_over_oldest()
                while pending:
                    hand_over_oldest()
            finally:
                for future, _ in pending:
                    future.cancel()
    except BaseException:
        aggregation.stop()
        raise
    table = aggregation.finish()
    counts = ArrowCounts.from_table(table, ignore_case=ignore_case)
    del table
    # The allocator keeps what the counting used: give it back.
    pa.default_memory_pool().release_unused()
    return counts


def ranked_lines(counts: Mapping[str, int]) -> pa.Buffer:
    """``word<TAB>count`` lines in the order of ``ranked_words``, joined by newlines
    (none after the last).

    Arrow sorts strings by their UTF-8 bytes, and UTF-8 byte order is code-point
    order, so the order is the Python engine's; about 3x faster for 300k words.
    """
    if isinstance(counts, ArrowCounts):
        return counts.ranked_lines()
    words = pa.array(list(counts), pa.large_string())
    numbers = pa.array(list(counts.values()), pa.int64())
    order = pc.sort_indices(
        pa.table({"word": words, "count": numbers}),
        sort_keys=[("count", "descending"), ("word", "ascending")],
    )
    return _joined_lines(words, numbers, order)


def _joined_lines(words: pa.Array, numbers: pa.Array, order: pa.Array) -> pa.Buffer:
    large = pa.large_string()
    lines = pc.binary_join_element_wise(
        pc.cast(words.take(order), large), pc.cast(numbers.take(order), large), pa.scalar("\t", large)
    )
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines)
    return pc.binary_join(one_list, pa.scalar("\n", large))[0].as_buffer()
