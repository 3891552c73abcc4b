"""The result of one counted file: its table, its JSON form, its counts file."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._contract import ERROR_FORMAT, RESULT_FORMAT
from ._count import WordCounts, ranked_words, top_words

#: Format tag of the full-counts file; bump it when the layout changes.
COUNTS_FORMAT = "nodetask-counts/1"
COUNTS_HEADER = "word\tcount"
#: Deflate level of the counts file. Measured on the 11.8 MB of lines of a million-word
#: vocabulary: level 3 takes 0.25 s for 5.75 MB, level 6 (gzip's default) 0.83 s for
#: 5.32 MB; the counts file is read once, by the merge.
COUNTS_LEVEL = 3
#: From this many words the counts file is sorted and formatted by Arrow
#: (0.15 s instead of 0.45 s for 323k words); below, Python is as fast.
ARROW_MIN_WORDS = 20_000


@dataclass(frozen=True)
class BatchContext:
    """Where the task ran, from the ``AZ_BATCH_*`` variables a Batch node sets."""

    node_id: str | None = None
    task_id: str | None = None
    job_id: str | None = None
    pool_id: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> BatchContext:
        env = os.environ if environ is None else environ
        return cls(
            node_id=env.get("AZ_BATCH_NODE_ID") or None,
            task_id=env.get("AZ_BATCH_TASK_ID") or None,
            job_id=env.get("AZ_BATCH_JOB_ID") or None,
            pool_id=env.get("AZ_BATCH_POOL_ID") or None,
        )

    def as_dict(self) -> dict[str, str | None]:
        return {"node": self.node_id, "task": self.task_id, "job": self.job_id, "pool": self.pool_id}

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


def record_fields(record: object, format_tag: str) -> dict[str, Any]:
    """``record`` as the JSON object of a record tagged ``format_tag``; anything else
    raises ``ValueError``."""
    if not isinstance(record, dict) or record.get("format") != format_tag:
        raise ValueError(f"not a {format_tag} record")
    return record


def parse_record(data: str | bytes, format_tag: str) -> dict[str, Any]:
    """The JSON object of a record tagged ``format_tag``; anything else raises ``ValueError``."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not a {format_tag} record: {exc}") from exc
    return record_fields(document, format_tag)


@dataclass(frozen=True)
class Result:
    """The result record of one counted input (``RESULT_FORMAT``): what nodetask writes
    and what its clients read, through ``to_json`` and ``from_json``."""

    input: str
    bytes_read: int
    sha256: str
    numwords: int
    ignore_case: bool
    errors: str
    total_words: int
    distinct_words: int
    #: The ``numwords`` most frequent words and their counts, ranked.
    top: tuple[tuple[str, int], ...]
    elapsed_seconds: float = 0.0
    #: Where it ran (``BatchContext.as_dict``), None when not on a Batch node.
    batch: dict[str, str | None] | None = None

    def stable_fields(self) -> dict[str, object]:
        """The fields that depend only on the input and the options."""
        return {
            "input": self.input,
            "bytes_read": self.bytes_read,
            "sha256": self.sha256,
            "numwords": self.numwords,
            "ignore_case": self.ignore_case,
            "errors": self.errors,
            "total_words": self.total_words,
            "distinct_words": self.distinct_words,
            "top": [{"word": word, "count": count} for word, count in self.top],
        }

    def to_document(self) -> dict[str, object]:
        """The record as a JSON object (what :meth:`to_json` writes, and what a
        task's results nest per input)."""
        document: dict[str, object] = {"format": RESULT_FORMAT, **self.stable_fields()}
        document["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        document["batch"] = self.batch
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_document(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, data: str | bytes) -> Result:
        """Parse what :meth:`to_json` wrote; anything else raises ``ValueError``."""
        return cls.from_document(parse_record(data, RESULT_FORMAT))

    @classmethod
    def from_document(cls, record: object) -> Result:
        """Read what :meth:`to_document` gave; anything else raises ``ValueError``."""
        document = record_fields(record, RESULT_FORMAT)
        try:
            return cls(
                input=str(document["input"]),
                bytes_read=int(document["bytes_read"]),
                sha256=str(document["sha256"]),
                numwords=int(document["numwords"]),
                ignore_case=bool(document["ignore_case"]),
                errors=str(document["errors"]),
                total_words=int(document["total_words"]),
                distinct_words=int(document["distinct_words"]),
                top=tuple((str(item["word"]), int(item["count"])) for item in document["top"]),
                elapsed_seconds=float(document.get("elapsed_seconds") or 0.0),
                batch=document.get("batch"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a {RESULT_FORMAT} record: {exc!r}") from exc


@dataclass(frozen=True)
class ErrorRecord:
    """The record of an input nodetask could not count (``ERROR_FORMAT``): the same bytes
    on every retry, read by clients through ``from_json``."""

    input: str
    exit_code: int
    error: str

    def to_document(self) -> dict[str, object]:
        """The record as a JSON object (what :meth:`to_json` writes)."""
        return {"format": ERROR_FORMAT, "input": self.input, "exit_code": self.exit_code, "error": self.error}

    def to_json(self) -> str:
        return json.dumps(self.to_document(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, data: str | bytes) -> ErrorRecord:
        """Parse what :meth:`to_json` wrote; anything else raises ``ValueError``."""
        return cls.from_document(parse_record(data, ERROR_FORMAT))

    @classmethod
    def from_document(cls, record: object) -> ErrorRecord:
        """Read what :meth:`to_document` gave; anything else raises ``ValueError``."""
        document = record_fields(record, ERROR_FORMAT)
        try:
            return cls(str(document["input"]), int(document["exit_code"]), str(document["error"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a {ERROR_FORMAT} record: {exc!r}") from exc


@dataclass(frozen=True)
class WordCountReport:
    """Everything nodetask reports about one input file."""

    input_name: str
    counts: WordCounts
    numwords: int
    ignore_case: bool
    errors: str
    elapsed_seconds: float
    batch: BatchContext = field(default_factory=BatchContext)

    @property
    def top(self) -> list[tuple[str, int]]:
        return top_words(self.counts.counts, self.numwords)

    def result(self) -> Result:
        """The result record this report writes."""
        return Result(
            input=self.input_name,
            bytes_read=self.counts.bytes_read,
            sha256=self.counts.sha256,
            numwords=self.numwords,
            ignore_case=self.ignore_case,
            errors=self.errors,
            total_words=self.counts.total_words,
            distinct_words=self.counts.distinct_words,
            top=tuple(self.top),
            elapsed_seconds=self.elapsed_seconds,
            batch=self.batch.as_dict() if self.batch else None,
        )

    def digest(self) -> str:
        """SHA-256 over the result itself, leaving out where and how fast it ran.

        Two runs over the same bytes with the same options have the same digest
        even on different nodes; the upload uses it to recognise a retried task.
        """
        canonical = json.dumps(self.result().stable_fields(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def to_json(self) -> str:
        return self.result().to_json()

    def to_text(self) -> str:
        rule = "-" * 48
        lines = [f"Top {self.numwords} words of {self.input_name}", rule]
        for label, value in (
            ("Node", self.batch.node_id),
            ("Task", self.batch.task_id),
            ("Job", self.batch.job_id),
            ("Pool", self.batch.pool_id),
        ):
            if value:
                lines.append(f"{label + ':':<7}{value}")
        case = "case-insensitive" if self.ignore_case else "case-sensitive"
        lines += [
            f"Input: {self.counts.bytes_read:,} bytes, sha256 {self.counts.sha256}",
            f"Words: {self.counts.total_words:,} total, {self.counts.distinct_words:,} distinct ({case})",
            rule,
        ]
        top = self.top
        if top:
            width = max(4, *(len(word) for word, _ in top))
            count_width = max(5, len(f"{top[0][1]:,}"))
            lines.append(f"{'rank':>4}  {'word':<{width}}  {'count':>{count_width}}")
            for rank, (word, count) in enumerate(top, start=1):
                lines.append(f"{rank:>4}  {word:<{width}}  {count:>{count_width},}")
        else:
            lines.append("(no words)")
        return "\n".join(lines) + "\n"


def _ranked_lines(counts: Mapping[str, int]) -> bytes:
    """Every ``word<TAB>count`` line in rank order, newline-terminated."""
    if hasattr(counts, "ranked_lines") or len(counts) >= ARROW_MIN_WORDS:
        try:
            from ._arrow import ranked_lines  # noqa: PLC0415 (imported once counting used it)
        except ImportError:
            pass
        else:
            return bytes(ranked_lines(counts)) + b"\n"
    return "".join(f"{word}\t{counts[word]}\n" for word in ranked_words(counts)).encode("utf-8")


def counts_file_bytes(counts: WordCounts) -> bytes:
    """Every word and its count, gzip-compressed TSV, byte-for-byte reproducible.

    Layout: a ``word<TAB>count`` header, then one line per word in rank order.
    Words never contain tabs or newlines (they are split on whitespace), so
    merging many files is a plain sum per word.
    """
    body = (COUNTS_HEADER + "\n").encode("utf-8")
    if counts.counts:
        body += _ranked_lines(counts.counts)
    buffer = io.BytesIO()
    # mtime=0, no file name and one write (deflate's output depends on how its
    # input is cut): the same counts always give the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=COUNTS_LEVEL) as gz:
        gz.write(body)
    return buffer.getvalue()


def read_counts_file(data: bytes) -> dict[str, int]:
    """Parse what :func:`counts_file_bytes` wrote."""
    lines = gzip.decompress(data).decode("utf-8").split("\n")
    if lines[0] != COUNTS_HEADER:
        raise ValueError(f"not a {COUNTS_FORMAT} file: header is {lines[0][:40]!r}")
    counts: dict[str, int] = {}
    for line in lines[1:]:
        if line:
            word, _, count = line.rpartition("\t")
            counts[word] = int(count)
    return counts
