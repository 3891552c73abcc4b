"""Streaming word counting with the 2016 tutorial's word rule.

The rule: split the text on whitespace (``str.split()``), strip ASCII
punctuation (``string.punctuation``) from both ends of each token, count
case-sensitively. Unlike the tutorial, tokens that are empty after stripping
are dropped and a leading UTF-8 byte-order mark is removed.

The file is read in fixed-size chunks, so memory grows with the vocabulary and
never with the file size. Raw tokens are counted by ``Counter`` (in C); the
punctuation rule runs on distinct punctuated tokens only, when they are folded
into their words (every so often, and at the end), not once per word.
"""

from __future__ import annotations

import codecs
import hashlib
import heapq
import itertools
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import as_completed
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from ._exceptions import InputError, UsageError, binary_error, decode_error, long_token_error
from ._rule import PUNCTUATION, ProgressCallback

CHUNK_BYTES = 1024 * 1024
#: A "word" longer than this is not text; refusing it keeps memory bounded.
MAX_TOKEN_CHARS = 16 * 1024 * 1024
#: New distinct tokens allowed between two folds of punctuated variants.
VARIANTS_LIMIT = 200_000
#: ASCII whitespace is whitespace to ``str.split()`` too and never occurs
#: inside a multi-byte UTF-8 sequence, so it is a safe place to split a file.
_ASCII_SPACE = re.compile(rb"[ \t\n\r\x0b\x0c]")

Engine = Literal["auto", "arrow", "python"]
ENGINES: tuple[Engine, ...] = ("auto", "arrow", "python")
#: "auto" counts files smaller than this with the Python engine: importing
#: pyarrow (~0.1 s) costs more than Arrow saves on them. Measured (a whole
#: ``nodetask`` process, counting and counts file, best of 5, Python vs Arrow):
#: 40 KB 0.075 s vs 0.175 s; 1 MB 0.16 vs 0.22 (English-like), 0.34 vs 0.32
#: (large vocabulary); 2 MB 0.30 vs 0.30; 4 MB 0.41 vs 0.38; 8 MB 0.62 vs 0.40.
AUTO_ARROW_MIN_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class WordCounts:
    """Every word of one input with its count, plus facts about the input."""

    #: A ``Counter`` (the Python engine) or an ``ArrowCounts`` (the Arrow engine, which
    #: keeps a large vocabulary in Arrow arrays); both read as a mapping of word to count.
    counts: Mapping[str, int]
    bytes_read: int
    sha256: str

    @property
    def total_words(self) -> int:
        total = getattr(self.counts, "total", None)  # Counter and ArrowCounts sum their own
        return int(total()) if total is not None else sum(self.counts.values())

    @property
    def distinct_words(self) -> int:
        return len(self.counts)


def _rank(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def top_words(counts: Mapping[str, int], numwords: int) -> list[tuple[str, int]]:
    """The ``numwords`` most frequent words: count descending, then the word
    ascending (by code point), so ties always come out in the same order."""
    top = getattr(counts, "top", None)  # ArrowCounts selects them in Arrow
    if top is not None:
        return list(top(numwords))
    return heapq.nsmallest(numwords, counts.items(), key=_rank)


def ranked_words(counts: Mapping[str, int]) -> list[str]:
    """Every word in the order of :func:`top_words`."""
    # Two stable sorts instead of one on (-count, word) tuples: no tuple per word.
    words = sorted(counts)
    words.sort(key=counts.__getitem__, reverse=True)
    return words


def fold(counts: Counter[str]) -> None:
    """Move the counts of punctuated tokens ("word," "(word") to their words,
    in place; a token that is all punctuation is dropped."""
    punctuated = [token for token in counts if token[0] in PUNCTUATION or token[-1] in PUNCTUATION]
    for token in punctuated:
        count = counts.pop(token)
        word = token.strip(PUNCTUATION)
        if word:
            counts[word] += count


def count_range(
    path: str,
    start: int,
    end: int,
    *,
    ignore_case: bool = False,
    errors: str = "strict",
    hasher: hashlib._Hash | None = None,
    progress: ProgressCallback | None = None,
    total: int = 0,
) -> Counter[str]:
    """Count the words in bytes ``[start, end)`` of a file.

    ``start`` must be 0 or just after an ASCII whitespace byte. A byte-order
    mark is removed only at offset 0.
    """
    # Plain UTF-8 (not utf-8-sig) so error offsets stay exact; the mark is
    # removed by hand below.
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    at_file_start = start == 0
    counts: Counter[str] = Counter()
    settled = 0  # distinct entries after the last fold
    carry = ""
    offset = start
    with open(path, "rb") as handle:
        handle.seek(start)
        while offset < end:
            data = handle.read(min(CHUNK_BYTES, end - offset))
            if not data:
                break  # the file shrank while we read it
            nul = data.find(b"\x00")
            if nul >= 0:
                raise binary_error(path, offset + nul)
            if hasher is not None:
                hasher.update(data)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final=offset + len(data) >= end)
            except UnicodeDecodeError as exc:
                raise decode_error(path, offset - pending + exc.start, errors) from exc
            offset += len(data)
            if progress is not None:
                progress(offset, total)
            if not text:
                continue
            if at_file_start:
                text = text.removeprefix("\ufeff")
                at_file_start = False
            if carry:
                text = carry + text
                carry = ""
                # Only a long carried word makes a text this long: check its words.
                if len(text) > MAX_TOKEN_CHARS and max(map(len, text.split())) > MAX_TOKEN_CHARS:
                    raise long_token_error(path, MAX_TOKEN_CHARS, offset)
            if not text:
                continue
            # The last token may continue in the next chunk: hold it back raw.
            if offset < end and not text[-1].isspace():
                head = text.rsplit(None, 1)
                text, carry = (head[0], head[1]) if len(head) == 2 else ("", head[0])
                if len(carry) > MAX_TOKEN_CHARS:
                    raise long_token_error(path, MAX_TOKEN_CHARS, offset)
            # Lower-casing whole chunks equals lower-casing each stripped word:
            # the stripped characters are ASCII and never change case context.
            counts.update((text.lower() if ignore_case else text).split())
            if len(counts) > settled + VARIANTS_LIMIT:
                fold(counts)
                settled = len(counts)
    if carry:
        counts[carry.lower() if ignore_case else carry] += 1
    fold(counts)
    return counts


def split_points(path: str, size: int, parts: int) -> list[int]:
    """Offsets that cut a file into up to ``parts`` ranges at whitespace."""
    points = [0]
    with open(path, "rb") as handle:
        for index in range(1, parts):
            position = max(size * index // parts, points[-1])
            handle.seek(position)
            while True:
                block = handle.read(64 * 1024)
                if not block:
                    position = size
                    break
                match = _ASCII_SPACE.search(block)
                if match:
                    position += match.start() + 1
                    break
                position += len(block)
            if points[-1] < position < size:
                points.append(position)
    points.append(size)
    return points


def _count_part(path: str, start: int, end: int, errors: str, ignore_case: bool) -> Counter[str]:
    return count_range(path, start, end, ignore_case=ignore_case, errors=errors)


def _hash_file(path: str, hasher: hashlib._Hash) -> None:
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            hasher.update(block)  # releases the GIL: runs beside the workers


def _arrow_engine() -> ModuleType | None:
    """The Arrow engine, or None where pyarrow cannot be imported (no wheel for the node,
    or nodetask installed with ``--no-deps``)."""
    # Arrow's allocator (mimalloc) reads this when pyarrow loads. Freed memory goes back to
    # the system at once instead of after a delay: a vocabulary's hash table grows by
    # doubling, and the freed halves kept the peak higher (measured on the 100 MB
    # huge-vocabulary corpus: 281 instead of 246 MB with one worker, 336 instead of 255
    # with two). A value the user set is kept.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    try:
        from . import _arrow  # noqa: PLC0415 (pyarrow costs ~0.13 s to import)
    except ImportError:
        return None
    return _arrow


def _pick_engine(engine: Engine, size: int) -> ModuleType | None:
    """The Arrow engine module, or None for the Python engine."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "python" or (engine == "auto" and size < AUTO_ARROW_MIN_BYTES):
        return None
    arrow = _arrow_engine()
    if arrow is None and engine == "arrow":
        raise UsageError("the arrow engine needs pyarrow: install it, or use the python engine")
    return arrow


def _count_python(
    path: str,
    size: int,
    *,
    ignore_case: bool,
    errors: str,
    workers: int,
    hasher: hashlib._Hash,
    progress: ProgressCallback | None,
) -> Counter[str]:
    """The Python engine: one pass in this process, or ``workers`` processes on ranges."""
    points = split_points(path, size, workers) if workers > 1 and size > CHUNK_BYTES else [0, size]
    if len(points) <= 2:
        return count_range(
            path,
            0,
            size,
            ignore_case=ignore_case,
            errors=errors,
            hasher=hasher,
            progress=progress,
            total=size,
        )
    # Imported here: multiprocessing costs ~0.08 s, a third of a small task's start-up.
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    counts: Counter[str] = Counter()
    with ProcessPoolExecutor(max_workers=len(points) - 1) as pool:
        pending = {
            pool.submit(_count_part, path, start, end, errors, ignore_case): end - start
            for start, end in itertools.pairwise(points)
        }
        # Started after the workers exist, so no thread is running at fork.
        hashing = threading.Thread(target=_hash_file, args=(path, hasher), daemon=True)
        hashing.start()
        done = 0
        for future in as_completed(pending):
            # Merge each part as it arrives and drop it: one part in memory.
            part = future.result()
            done += pending.pop(future)
            if counts:
                counts.update(part)
            else:
                counts = part
            del part, future
            if progress is not None:
                progress(done, size)
    hashing.join()
    return counts


def count_file(
    path: str,
    *,
    ignore_case: bool = False,
    errors: str = "strict",
    workers: int = 1,
    progress: ProgressCallback | None = None,
    engine: Engine = "auto",
) -> WordCounts:
    """Count every word of a UTF-8 text file.

    ``engine``: "arrow" counts on Arrow kernels with ``workers`` threads;
    "python" in pure Python, with ``workers`` processes cutting the file at
    whitespace; "auto" takes Arrow when pyarrow imports and the file is not
    small (see :data:`AUTO_ARROW_MIN_BYTES`). Every engine gives the same counts.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file; check --filepath") from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied; make the file readable") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory; give the path of a text file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc

    hasher = hashlib.sha256()
    arrow = _pick_engine(engine, size)
    if arrow is not None:
        counts = arrow.count_path(
            path,
            size,
            ignore_case=ignore_case,
            errors=errors,
            workers=workers,
            hasher=hasher,
            max_token_chars=MAX_TOKEN_CHARS,
            progress=progress,
        )
    else:
        counts = _count_python(
            path,
            size,
            ignore_case=ignore_case,
            errors=errors,
            workers=workers,
            hasher=hasher,
            progress=progress,
        )
    return WordCounts(counts=counts, bytes_read=size, sha256=hasher.hexdigest())
