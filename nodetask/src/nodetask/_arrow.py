"""The word rule on Arrow compute kernels, run by a bounded pool of threads.

The kernels run outside the interpreter and release the GIL, so threads (not
processes) spread one file over the cores. The calling thread reads the file
in pieces that end at whitespace, hashes it, and hands each piece to one of
``workers`` threads; at most ``workers + 1`` pieces are in flight, so memory
does not grow with the file. A piece becomes one Arrow string (no copy), is
validated as UTF-8, split on whitespace, stripped of ASCII punctuation and
counted by ``value_counts``; the per-piece counts are summed by a hash
group-by now and then, so memory grows with the vocabulary only.

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
import re
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs, no py.typed
import pyarrow.compute as pc  # type: ignore[import-untyped]

from ._count import PUNCTUATION, ProgressCallback, _binary_error, _decode_error, _long_token_error

#: Bytes read at a time: one piece of work. Measured on the 100 MB benchmark
#: corpora: 4 MiB is as fast as 32 MiB, and peak memory at --workers 2 on the
#: large vocabulary is ~230 MB instead of ~275 MB with 8 MiB.
CHUNK_BYTES = 4 * 1024 * 1024
#: Smaller files are cut into smaller pieces, so that every thread gets some.
MIN_CHUNK_BYTES = 1024 * 1024
#: Per-piece counts held before they are summed into one table.
MERGE_ROWS = 2_000_000
BOM = b"\xef\xbb\xbf"
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
                raise _long_token_error(path, max_token_chars, offset + len(data))
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
            raise _decode_error(path, offset + exc.start, errors) from exc
        return _string_array(text.encode("utf-8"), pa.string())


def count_piece(data: bytes, offset: int, *, path: str, errors: str, max_token_chars: int) -> pa.StructArray:
    """Words and their counts in one piece of the file (a ``value_counts`` result)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _binary_error(path, offset + nul)
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
            raise _long_token_error(path, max_token_chars, offset + len(data))
    return pc.value_counts(pc.ascii_trim(tokens, characters=PUNCTUATION))


class _Merger:
    """Sums per-piece counts: held as they come, grouped into one table now and then."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.merged_rows = 0

    def add(self, counts: pa.StructArray) -> None:
        self.tables.append(pa.table({"word": counts.field(0), "count": counts.field(1)}))
        self.rows += len(counts)
        # Grouping only when the held rows double keeps the total work linear.
        if self.rows > max(MERGE_ROWS, 2 * self.merged_rows):
            self.merge()

    def merge(self) -> pa.Table:
        if not self.tables:
            return pa.table({"word": pa.array([], pa.string()), "count": pa.array([], pa.int64())})
        if len(self.tables) > 1:
            table = pa.concat_tables(self.tables)
            summed = table.group_by("word", use_threads=False).aggregate([("count", "sum")])
            self.tables = [pa.table({"word": summed["word"], "count": summed["count_sum"]})]
            del table, summed
            # The allocator keeps what the merge used unless told: with a large vocabulary
            # that is most of the process's memory.
            pa.default_memory_pool().release_unused()
        self.rows = self.merged_rows = self.tables[0].num_rows
        return self.tables[0]


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
            lowered = pa.array([word.lower() for word in table["word"].to_pylist()], pa.string())
            summed = (
                pa.table({"word": lowered, "count": table["count"]})
                .group_by("word", use_threads=False)
                .aggregate([("count", "sum")])
            )
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
    merger = _Merger()
    pending: deque[tuple[Future[pa.StructArray], int]] = deque()

    def collect() -> None:
        future, end = pending.popleft()
        merger.add(future.result())
        if progress is not None:
            progress(end, size)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nodetask-count") as pool:
        try:
            with open(path, "rb") as handle:
                chunk_bytes = min(CHUNK_BYTES, max(size // (2 * workers), MIN_CHUNK_BYTES))
                for offset, data in _pieces(handle, path, hasher, chunk_bytes, max_token_chars):
                    job = pool.submit(
                        count_piece,
                        data,
                        offset,
                        path=path,
                        errors=errors,
                        max_token_chars=max_token_chars,
                    )
                    pending.append((job, offset + len(data)))
                    del data, job
                    while len(pending) > workers:
                        collect()
            while pending:
                collect()
        except BaseException:
            for future, _ in pending:
                future.cancel()
            raise
    counts = ArrowCounts.from_table(merger.merge(), ignore_case=ignore_case)
    # The allocator keeps what the pieces used (~120 MB): give it back.
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
