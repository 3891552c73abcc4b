"""The records of the map, the reduce and the summary (docs/design.md), typed.

A map task writes :class:`TaskResults` (one :class:`InputRow` per input); the
client writes a :class:`ReduceManifest` naming the map tasks to merge; each
reduce task writes a :class:`PartitionResult`; the summary task writes the
:class:`Summary` the client reads. Each record has ``to_json`` and
``from_json``; anything else than what ``to_json`` wrote raises ``ValueError``
naming the record's format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ._contract import (
    PARTITION_FORMAT,
    REDUCE_MANIFEST_FORMAT,
    SUMMARY_FORMAT,
    TASK_RESULTS_FORMAT,
    check_partitions,
)
from ._report import ErrorRecord, Result, parse_record

_T = TypeVar("_T")

#: Ranked (word, count) pairs: count descending, then the word in code-point order.
Top = tuple[tuple[str, int], ...]


def _typed(document: Mapping[str, Any], key: str, kind: type[_T], format_tag: str) -> _T:
    """``document[key]``, refused unless it is a ``kind`` (a bool is no int)."""
    try:
        value = document[key]
    except KeyError:
        raise ValueError(f"not a {format_tag} record: no {key!r}") from None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"not a {format_tag} record: {key!r} is {value!r}, not a {kind.__name__}")
    return value


def _list(document: Mapping[str, Any], key: str, format_tag: str) -> list[Any]:
    return _typed(document, key, list, format_tag)


def _object(value: object, format_tag: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"not a {format_tag} record: {what} is {value!r}")
    return value


def _check(condition: bool, format_tag: str, problem: str) -> None:
    if not condition:
        raise ValueError(f"not a {format_tag} record: {problem}")


def _partitions(partitions: int, format_tag: str) -> None:
    try:
        check_partitions(partitions)
    except ValueError as exc:
        raise ValueError(f"not a {format_tag} record: {exc}") from None


def _top_document(top: Top) -> list[dict[str, object]]:
    return [{"word": word, "count": count} for word, count in top]


def _top(items: list[Any], format_tag: str) -> Top:
    pairs = []
    for entry in items:
        item = _object(entry, format_tag, "a top entry")
        pairs.append((_typed(item, "word", str, format_tag), _typed(item, "count", int, format_tag)))
    return tuple(pairs)


def _dump(document: dict[str, object]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True)
class InputRow:
    """One input of a map task: its result, or the error that kept it from being counted.

    ``id`` is the input's id (given to the map task with ``--input FILE ID``); a
    summary's rows also carry the ``task_id`` of the map task that counted it.
    """

    id: str
    result: Result | None
    error: ErrorRecord | None
    task_id: str | None = None

    def __post_init__(self) -> None:
        if self.result is None and self.error is None:
            raise ValueError(f"input row {self.id!r} has neither a result nor an error")

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None

    def to_document(self) -> dict[str, object]:
        return {
            "id": self.id,
            "task_id": self.task_id,
            "ok": self.ok,
            "result": None if self.result is None else self.result.to_document(),
            "error": None if self.error is None else self.error.to_document(),
        }

    def stable_document(self) -> dict[str, object]:
        """The row without where and how fast its input was counted."""
        document = self.to_document()
        if self.result is not None:
            document["result"] = self.result.stable_fields()
        return document

    @classmethod
    def from_document(cls, row: object, format_tag: str) -> InputRow:
        """A row nested in a record tagged ``format_tag``."""
        document = _object(row, format_tag, "a row")
        row_id = _typed(document, "id", str, format_tag)
        task_id = document.get("task_id")
        _check(task_id is None or isinstance(task_id, str), format_tag, f"task_id is {task_id!r}")
        result, error = document.get("result"), document.get("error")
        try:
            return cls(
                id=row_id,
                result=None if result is None else Result.from_document(result),
                error=None if error is None else ErrorRecord.from_document(error),
                task_id=task_id,
            )
        except ValueError as exc:
            raise ValueError(f"not a {format_tag} record: {exc}") from None


def _rows(document: Mapping[str, Any], format_tag: str) -> tuple[InputRow, ...]:
    return tuple(InputRow.from_document(row, format_tag) for row in _list(document, "rows", format_tag))


@dataclass(frozen=True)
class TaskResults:
    """What a map task writes after its partitions (``results.json``): a row per input."""

    partitions: int
    rows: tuple[InputRow, ...]

    def __post_init__(self) -> None:
        _partitions(self.partitions, TASK_RESULTS_FORMAT)
        ids = [row.id for row in self.rows]
        _check(len(set(ids)) == len(ids), TASK_RESULTS_FORMAT, "an input id appears twice")

    def to_json(self) -> str:
        rows = [row.to_document() for row in self.rows]
        return _dump({"format": TASK_RESULTS_FORMAT, "partitions": self.partitions, "rows": rows})

    def digest(self) -> str:
        """SHA-256 over what depends only on the inputs and the options: a retried map task
        (even on another node, slower) has the same digest, and its upload converges."""
        rows = [row.stable_document() for row in self.rows]
        canonical = json.dumps({"partitions": self.partitions, "rows": rows}, sort_keys=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    @classmethod
    def from_json(cls, data: str | bytes) -> TaskResults:
        document = parse_record(data, TASK_RESULTS_FORMAT)
        return cls(
            _typed(document, "partitions", int, TASK_RESULTS_FORMAT), _rows(document, TASK_RESULTS_FORMAT)
        )


@dataclass(frozen=True)
class ReduceSource:
    """One map task whose counts a reduce takes: where its blobs are (``prefix``), how many
    partitions it wrote and the ids of the inputs to take from it."""

    task_id: str
    prefix: str
    partitions: int
    inputs: tuple[str, ...]

    def __post_init__(self) -> None:
        _check(bool(self.task_id), REDUCE_MANIFEST_FORMAT, "a source has no task_id")
        _check(
            self.prefix.endswith("/"),
            REDUCE_MANIFEST_FORMAT,
            f"the prefix of map task {self.task_id} is {self.prefix!r}, which does not end with '/'",
        )
        _partitions(self.partitions, REDUCE_MANIFEST_FORMAT)
        _check(
            len(set(self.inputs)) == len(self.inputs),
            REDUCE_MANIFEST_FORMAT,
            f"map task {self.task_id} lists an input twice",
        )

    def to_document(self) -> dict[str, object]:
        return {
            "task_id": self.task_id,
            "prefix": self.prefix,
            "partitions": self.partitions,
            "inputs": list(self.inputs),
        }

    @classmethod
    def from_document(cls, source: object) -> ReduceSource:
        tag = REDUCE_MANIFEST_FORMAT
        document = _object(source, tag, "a source")
        inputs = _list(document, "inputs", tag)
        _check(all(isinstance(item, str) for item in inputs), tag, "an input id is not a string")
        return cls(
            task_id=_typed(document, "task_id", str, tag),
            prefix=_typed(document, "prefix", str, tag),
            partitions=_typed(document, "partitions", int, tag),
            inputs=tuple(inputs),
        )


@dataclass(frozen=True)
class ReduceManifest:
    """What the client writes before it adds the reduce: ``partitions`` (P), ``numwords``
    and the map tasks (``sources``) to merge."""

    partitions: int
    numwords: int
    sources: tuple[ReduceSource, ...]

    def __post_init__(self) -> None:
        _partitions(self.partitions, REDUCE_MANIFEST_FORMAT)
        _check(
            self.numwords >= 1, REDUCE_MANIFEST_FORMAT, f"numwords must be at least 1, not {self.numwords}"
        )
        task_ids = [source.task_id for source in self.sources]
        _check(len(set(task_ids)) == len(task_ids), REDUCE_MANIFEST_FORMAT, "a map task is listed twice")

    def to_json(self) -> str:
        return _dump(
            {
                "format": REDUCE_MANIFEST_FORMAT,
                "partitions": self.partitions,
                "numwords": self.numwords,
                "sources": [source.to_document() for source in self.sources],
            }
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> ReduceManifest:
        tag = REDUCE_MANIFEST_FORMAT
        document = parse_record(data, tag)
        return cls(
            partitions=_typed(document, "partitions", int, tag),
            numwords=_typed(document, "numwords", int, tag),
            sources=tuple(ReduceSource.from_document(source) for source in _list(document, "sources", tag)),
        )


@dataclass(frozen=True)
class PartitionResult:
    """What reduce task ``partition`` writes: its words' total, distinct count and top N."""

    partition: int
    partitions: int
    total_words: int
    distinct_words: int
    top: Top
    #: How long the reduce took and the most memory it held (its process's peak RSS):
    #: what it cost, left out of :meth:`digest`.
    elapsed_seconds: float = 0.0
    peak_rss_bytes: int = 0

    def __post_init__(self) -> None:
        _partitions(self.partitions, PARTITION_FORMAT)
        _check(
            0 <= self.partition < self.partitions,
            PARTITION_FORMAT,
            f"partition {self.partition} is not one of {self.partitions}",
        )

    def to_json(self) -> str:
        return _dump(
            {
                "format": PARTITION_FORMAT,
                "partition": self.partition,
                "partitions": self.partitions,
                "total_words": self.total_words,
                "distinct_words": self.distinct_words,
                "top": _top_document(self.top),
                "elapsed_seconds": round(self.elapsed_seconds, 3),
                "peak_rss_bytes": self.peak_rss_bytes,
            }
        )

    def digest(self) -> str:
        """SHA-256 over the result alone (not its cost): a retried reduce converges."""
        stable = {
            "partition": self.partition,
            "partitions": self.partitions,
            "total_words": self.total_words,
            "distinct_words": self.distinct_words,
            "top": _top_document(self.top),
        }
        return hashlib.sha256(json.dumps(stable, sort_keys=True).encode("ascii")).hexdigest()

    @classmethod
    def from_json(cls, data: str | bytes) -> PartitionResult:
        tag = PARTITION_FORMAT
        document = parse_record(data, tag)
        elapsed = document.get("elapsed_seconds", 0.0)
        peak = document.get("peak_rss_bytes", 0)
        _check(
            isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool), tag, "bad elapsed_seconds"
        )
        _check(isinstance(peak, int) and not isinstance(peak, bool), tag, f"peak_rss_bytes is {peak!r}")
        return cls(
            partition=_typed(document, "partition", int, tag),
            partitions=_typed(document, "partitions", int, tag),
            total_words=_typed(document, "total_words", int, tag),
            distinct_words=_typed(document, "distinct_words", int, tag),
            top=_top(_list(document, "top", tag), tag),
            elapsed_seconds=float(elapsed),
            peak_rss_bytes=peak,
        )


@dataclass(frozen=True)
class Summary:
    """What the summary task writes and the client reads: the totals and top N of every
    input merged, and one row per input of the manifest (``task_id`` set)."""

    numwords: int
    partitions: int
    total_words: int
    distinct_words: int
    top: Top
    rows: tuple[InputRow, ...]

    def __post_init__(self) -> None:
        _partitions(self.partitions, SUMMARY_FORMAT)

    @property
    def failed(self) -> tuple[InputRow, ...]:
        """The rows of the inputs that were not counted (and so not merged)."""
        return tuple(row for row in self.rows if not row.ok)

    def to_json(self) -> str:
        return _dump(
            {
                "format": SUMMARY_FORMAT,
                "numwords": self.numwords,
                "partitions": self.partitions,
                "total_words": self.total_words,
                "distinct_words": self.distinct_words,
                "top": _top_document(self.top),
                "rows": [row.to_document() for row in self.rows],
            }
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Summary:
        tag = SUMMARY_FORMAT
        document = parse_record(data, tag)
        return cls(
            numwords=_typed(document, "numwords", int, tag),
            partitions=_typed(document, "partitions", int, tag),
            total_words=_typed(document, "total_words", int, tag),
            distinct_words=_typed(document, "distinct_words", int, tag),
            top=_top(_list(document, "top", tag), tag),
            rows=_rows(document, tag),
        )
