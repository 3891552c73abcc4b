"""A map task's counts as P partition files (Parquet), written and read back.

Partition ``p`` of ``P`` holds the words ``w`` with ``partition_of(w, P) == p``
of every input the task counted: columns ``input`` (the input's id,
dictionary-encoded), ``word`` and ``count``, one input after the other in the
order of their ids, each input's rows sorted by word. The same inputs give the
same bytes on every node and every retry (the upload converges on it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs, no py.typed
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ._contract import partition_name, partition_of
from ._files import temporary_beside, unwritable

SCHEMA = pa.schema(
    [("input", pa.dictionary(pa.int32(), pa.string())), ("word", pa.string()), ("count", pa.int64())]
)
COMPRESSION = "zstd"
#: Rows per row group written, and per batch read: a reader holds about this many at a time.
BATCH_ROWS = 65_536
#: Words hashed to their partitions at a time (Python strings made per slice only).
_HASH_SLICE = 65_536


def _columns(counts: Mapping[str, int]) -> tuple[pa.Array, pa.Array]:
    """The words and counts of either engine's counts, as Arrow arrays."""
    columns = getattr(counts, "columns", None)  # the Arrow engine's ArrowCounts keeps them
    if columns is not None:
        words, numbers = columns()
    else:
        words = pa.array(list(counts), pa.string())
        numbers = pa.array(list(counts.values()), pa.int64())
    return words.cast(pa.string()), numbers.cast(pa.int64())


def partitions_of(words: pa.Array, partitions: int) -> pa.Array:
    """:func:`partition_of` of every word, as int32."""
    slices = [
        pa.array([partition_of(word, partitions) for word in words.slice(start, _HASH_SLICE).to_pylist()])
        for start in range(0, len(words), _HASH_SLICE)
    ]
    return (
        pa.concat_arrays([piece.cast(pa.int32()) for piece in slices]) if slices else pa.array([], pa.int32())
    )


def _input_column(input_id: str, rows: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int32()), rows), pa.array([input_id]))


class PartitionWriter:
    """The P partition files of one map task in ``folder``, written input by input.

    Each file stays open across the task's inputs, so memory holds one input's
    counts at a time; each is written to a temporary file and renamed into
    place by :meth:`close` (a file with the schema and no rows when no word
    fell in it). Leaving the ``with`` block on an error removes them.
    """

    def __init__(self, folder: Path, partitions: int) -> None:
        self.partitions = partitions
        self.paths = [folder / partition_name(p, partitions) for p in range(partitions)]
        self._temporary: list[Path] = []
        self._files: list[BinaryIO] = []
        self._writers: list[pq.ParquetWriter] = []
        try:
            for path in self.paths:
                self._temporary.append(temporary_beside(path))
                self._files.append(open(self._temporary[-1], "wb"))  # noqa: SIM115 (closed by close/abort)
                self._writers.append(pq.ParquetWriter(self._files[-1], SCHEMA, compression=COMPRESSION))
        except OSError as exc:
            self.abort()
            raise unwritable(self.paths[len(self._writers)], exc) from exc
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def add(self, input_id: str, counts: Mapping[str, int]) -> None:
        """Write one input's counts: each word to its partition, sorted by word."""
        words, numbers = _columns(counts)
        table = pa.table({"word": words, "count": numbers})
        if self.partitions == 1:
            self._write(0, input_id, table.take(pc.sort_indices(words)))
            return
        table = table.append_column("part", partitions_of(words, self.partitions))
        table = table.take(pc.sort_indices(table, sort_keys=[("part", "ascending"), ("word", "ascending")]))
        sizes = pc.value_counts(table["part"]).to_pylist()
        rows = {size["values"]: size["counts"] for size in sizes}
        start = 0
        for p in range(self.partitions):
            end = start + rows.get(p, 0)
            if end > start:
                self._write(p, input_id, table.slice(start, end - start).drop_columns(["part"]))
            start = end

    def _write(self, p: int, input_id: str, table: pa.Table) -> None:
        rows = pa.table(
            [_input_column(input_id, table.num_rows), table["word"], table["count"]], schema=SCHEMA
        )
        try:
            self._writers[p].write_table(rows, row_group_size=BATCH_ROWS)
        except OSError as exc:
            raise unwritable(self.paths[p], exc) from exc

    def close(self) -> None:
        """Finish every file and rename it into place."""
        try:
            for writer, handle in zip(self._writers, self._files, strict=True):
                writer.close()
                handle.close()
            for temporary, path in zip(self._temporary, self.paths, strict=True):
                os.replace(temporary, path)
        except OSError as exc:
            self.abort()
            raise unwritable(self.paths[0].parent, exc) from exc
        self._temporary = []

    def abort(self) -> None:
        """Give up: close and remove the temporary files."""
        for writer in self._writers:
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()
        for handle in self._files:
            handle.close()
        for temporary in self._temporary:
            temporary.unlink(missing_ok=True)
        self._temporary = []


def partition_batches(data: bytes) -> Iterator[pa.RecordBatch]:
    """The rows of one partition file, a batch at a time; ``ValueError`` when ``data`` is
    no partition file."""
    try:
        reader = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"not a partition file: {exc}") from exc
    if not reader.schema_arrow.equals(SCHEMA):
        raise ValueError(f"not a partition file: its columns are {reader.schema_arrow.names}")
    yield from reader.iter_batches(batch_size=BATCH_ROWS)


def input_counts(partition_files: Iterable[bytes], input_id: str) -> dict[str, int]:
    """Every word of one input and its count, from the partition files of the map task
    that counted it (all of them: each holds the words of its partition)."""
    wanted = pa.array([input_id])
    counts: dict[str, int] = {}
    for data in partition_files:
        for batch in partition_batches(data):
            rows = batch.filter(pc.is_in(batch["input"], value_set=wanted))
            counts.update(zip(rows["word"].to_pylist(), rows["count"].to_pylist(), strict=True))
    return counts
