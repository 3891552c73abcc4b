"""The reduce and the summary (``nodetask merge``) of docs/design.md.

Reduce task ``p`` of a manifest's P partitions reads, from every map task of the
manifest whose ``results.json`` is there, the partition files that hold its
words, one file at a time, and sums each word's count in one Acero hash
aggregation: memory follows the partition's vocabulary, not the files. The
summary merges the P partitions' top N lists (exactly: the partitions are
disjoint by word) and the map tasks' rows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Protocol

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs, no py.typed
import pyarrow.compute as pc  # type: ignore[import-untyped]
from pyarrow import acero

from ._arrow import ArrowCounts
from ._contract import TASK_RESULTS_NAME, partition_name, partition_result_name
from ._exceptions import ExitCode, NoResultsError
from ._files import write_atomically
from ._partitions import partition_batches, partitions_of
from ._report import ErrorRecord
from ._tasks_contract import InputRow, PartitionResult, ReduceManifest, ReduceSource, Summary, TaskResults

#: What the aggregation sums.
WORD_COUNTS = pa.schema([("word", pa.string()), ("count", pa.int64())])


class Store(Protocol):
    """Where the merge reads and writes: blob names, in a container or under a folder."""

    def describe(self, name: str) -> str: ...

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name``, None when it does not exist."""
        ...

    def write(self, name: str, data: bytes, content_type: str, digest: str | None = None) -> None: ...


class LocalStore:
    """Blob names as paths under a folder (``--from DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, name: str) -> str:
        return str(self.root / PurePosixPath(name))

    def read(self, name: str) -> bytes | None:
        path = self.root / PurePosixPath(name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NoResultsError(f"cannot read {path} ({exc.strerror or exc})") from exc

    def write(self, name: str, data: bytes, content_type: str, digest: str | None = None) -> None:
        write_atomically(self.root / PurePosixPath(name), data)
        print(f"nodetask: wrote {self.describe(name)}", file=sys.stderr)


def folder_of(manifest_name: str) -> str:
    """The prefix the merge writes under: the manifest's folder ("" at the top)."""
    head, _, _ = manifest_name.rpartition("/")
    return head + "/" if head else ""


def read_manifest(store: Store, name: str) -> ReduceManifest:
    data = store.read(name)
    if data is None:
        raise NoResultsError(f"the manifest {store.describe(name)} does not exist; the client writes it")
    try:
        return ReduceManifest.from_json(data)
    except ValueError as exc:
        raise NoResultsError(f"the manifest {store.describe(name)} is unreadable: {exc}") from None


def _task_results(store: Store, name: str, task_id: str) -> TaskResults | None:
    data = store.read(name)
    if data is None:
        return None
    try:
        return TaskResults.from_json(data)
    except ValueError as exc:
        raise NoResultsError(f"{store.describe(name)} of map task {task_id} is unreadable: {exc}") from None


def read_task_results(store: Store, source: ReduceSource) -> TaskResults | None:
    """A map task's rows, None when it wrote none (its task failed before)."""
    name = source.prefix + TASK_RESULTS_NAME
    results = _task_results(store, name, source.task_id)
    if results is not None and results.partitions != source.partitions:
        raise NoResultsError(
            f"{store.describe(name)} has {results.partitions} partitions, the manifest says "
            f"{source.partitions}; the manifest names the map task {source.task_id} wrongly"
        )
    return results


def files_for(p: int, partitions: int, written: int) -> tuple[list[int], bool]:
    """Which of a map task's ``written`` partition files hold partition ``p`` of
    ``partitions``, and whether their rows must be filtered to it (P' < P)."""
    if written >= partitions:
        return [i for i in range(written) if i % partitions == p], False
    return [p % written], True


def _source_batches(store: Store, source: ReduceSource, p: int, partitions: int) -> Iterator[pa.RecordBatch]:
    """The (word, count) rows of partition ``p`` of one map task's inputs to take."""
    results = read_task_results(store, source)
    if results is None:
        print(
            f"nodetask: map task {source.task_id} wrote no {TASK_RESULTS_NAME}: its inputs are left out "
            "(the summary names them)",
            file=sys.stderr,
        )
        return
    wanted = set(source.inputs)
    taken = [row.id for row in results.rows if row.ok and row.id in wanted]
    if not taken:
        return
    value_set = pa.array(taken, pa.string())
    files, filtered = files_for(p, partitions, source.partitions)
    for i in files:
        name = source.prefix + partition_name(i, source.partitions)
        data = store.read(name)  # one file in memory at a time
        if data is None:
            raise NoResultsError(
                f"{store.describe(name)} is missing, though map task {source.task_id} wrote its "
                f"{TASK_RESULTS_NAME}; run the map task again"
            )
        try:
            for batch in partition_batches(data):
                rows = batch.filter(pc.is_in(batch["input"], value_set=value_set))
                if filtered and rows.num_rows:
                    rows = rows.filter(pc.equal(partitions_of(rows["word"], partitions), p))
                if rows.num_rows:
                    yield pa.record_batch([rows["word"], rows["count"]], schema=WORD_COUNTS)
        except (ValueError, pa.ArrowException) as exc:
            raise NoResultsError(f"{store.describe(name)} is unreadable: {exc}") from None
        del data


def _sum_by_word(batches: Iterator[pa.RecordBatch]) -> ArrowCounts:
    """Every word's summed count, by one streaming hash aggregation on this thread."""
    failures: list[BaseException] = []

    def guarded() -> Iterator[pa.RecordBatch]:
        # Acero would wrap an error raised in its source: keep it and end the stream.
        try:
            yield from batches
        except GeneratorExit:
            raise
        except BaseException as exc:  # raised again below, as it was
            failures.append(exc)

    reader = pa.RecordBatchReader.from_batches(WORD_COUNTS, guarded())
    plan = acero.Declaration.from_sequence(
        [
            acero.Declaration("record_batch_reader_source", acero.RecordBatchReaderSourceNodeOptions(reader)),
            acero.Declaration(
                "aggregate", acero.AggregateNodeOptions([("count", "hash_sum", None, "count")], keys=["word"])
            ),
        ]
    )
    table = plan.to_table(use_threads=False)
    if failures:
        raise failures[0]
    return ArrowCounts(table["word"].combine_chunks(), table["count"].combine_chunks())


def reduce_partition(store: Store, manifest: ReduceManifest, p: int) -> PartitionResult:
    """Partition ``p`` of the manifest's inputs: its total, distinct words and top N."""
    partitions = manifest.partitions
    counts = _sum_by_word(
        batch for source in manifest.sources for batch in _source_batches(store, source, p, partitions)
    )
    return PartitionResult(
        partition=p,
        partitions=partitions,
        total_words=counts.total(),
        distinct_words=len(counts),
        top=tuple(counts.top(manifest.numwords)),
    )


def _partition_result(store: Store, folder: str, p: int, partitions: int) -> PartitionResult:
    name = folder + partition_result_name(p, partitions)
    data = store.read(name)
    if data is None:
        raise NoResultsError(
            f"{store.describe(name)} is missing: the reduce task of partition {p} of {partitions} "
            "failed or did not run"
        )
    try:
        result = PartitionResult.from_json(data)
    except ValueError as exc:
        raise NoResultsError(f"{store.describe(name)} is unreadable: {exc}") from None
    if (result.partition, result.partitions) != (p, partitions):
        raise NoResultsError(
            f"{store.describe(name)} holds partition {result.partition} of {result.partitions}"
        )
    return result


def _missing_row(input_id: str, source: ReduceSource, error: str) -> InputRow:
    return InputRow(input_id, None, ErrorRecord(input_id, int(ExitCode.NO_RESULTS), error), source.task_id)


def summary_rows(store: Store, manifest: ReduceManifest) -> list[InputRow]:
    """One row per input of the manifest, from its map task's results, ``task_id`` set."""
    rows: list[InputRow] = []
    for source in manifest.sources:
        results = read_task_results(store, source)
        if results is None:
            error = f"no results: map task {source.task_id} wrote none"
            rows += [_missing_row(input_id, source, error) for input_id in source.inputs]
            continue
        written = {row.id: row for row in results.rows}
        for input_id in source.inputs:
            row = written.get(input_id)
            if row is None:
                error = f"not in the results of map task {source.task_id}"
                rows.append(_missing_row(input_id, source, error))
            else:
                rows.append(replace(row, task_id=source.task_id))
    return rows


def summarize(store: Store, manifest: ReduceManifest, folder: str) -> Summary:
    """The P partition results under ``folder`` merged, and every input's row."""
    parts = [_partition_result(store, folder, p, manifest.partitions) for p in range(manifest.partitions)]
    candidates = [pair for part in parts for pair in part.top]
    top = sorted(candidates, key=lambda pair: (-pair[1], pair[0]))[: manifest.numwords]
    return Summary(
        numwords=manifest.numwords,
        partitions=manifest.partitions,
        total_words=sum(part.total_words for part in parts),
        distinct_words=sum(part.distinct_words for part in parts),
        top=tuple(top),
        rows=tuple(summary_rows(store, manifest)),
    )


def local_manifest(root: Path, partitions: int | None, numwords: int) -> ReduceManifest:
    """A manifest of every map task's results under ``root`` (``merge --from DIR``): each
    ``results.json`` is a source, its folder the prefix and task id, all its inputs taken."""
    store = LocalStore(root)
    sources = []
    for path in sorted(root.rglob(TASK_RESULTS_NAME)):
        folder = path.parent.relative_to(root).as_posix()
        if folder == ".":
            raise NoResultsError(f"{path} is no map task's: a map task's results sit in a folder of {root}")
        results = _task_results(store, f"{folder}/{TASK_RESULTS_NAME}", folder)
        if results is not None:  # None only if it went away since
            inputs = tuple(row.id for row in results.rows)
            sources.append(ReduceSource(folder, folder + "/", results.partitions, inputs))
    if not sources:
        raise NoResultsError(f"no {TASK_RESULTS_NAME} under {root}: run nodetask --task-output PREFIX first")
    chosen = partitions or max(source.partitions for source in sources)
    return ReduceManifest(partitions=chosen, numwords=numwords, sources=tuple(sources))
