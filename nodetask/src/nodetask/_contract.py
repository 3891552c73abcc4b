"""What a nodetask run leaves behind: the names of its result files and where its SAS comes from.

Clients (batchwords) find and read results through these functions, the
counts-file reader and the ranking, never by spelling them again.
"""

from __future__ import annotations

import zlib
from pathlib import PurePosixPath

#: nodetask reads its output SAS from this variable, never from its command line.
SAS_ENV = "NODETASK_SAS_TOKEN"
#: Format tag of the JSON result.
RESULT_FORMAT = "nodetask-result/1"
#: Format tag of the record of an input nodetask could not count.
ERROR_FORMAT = "nodetask-error/1"


def result_name(input_name: str, output_format: str = "json") -> str:
    """The result file of an input: ``book_OUTPUT.json`` (json) or ``book_OUTPUT.txt`` (text)."""
    path = PurePosixPath(input_name)
    suffix = ".json" if output_format == "json" else path.suffix
    return f"{path.stem}_OUTPUT{suffix}"


def counts_name(input_name: str) -> str:
    """The full-counts file of an input: ``book_COUNTS.tsv.gz``."""
    return f"{PurePosixPath(input_name).stem}_COUNTS.tsv.gz"


def error_name(input_name: str) -> str:
    """The record of an input that could not be counted: ``book_ERROR.json``."""
    return f"{PurePosixPath(input_name).stem}_ERROR.json"


def is_result_name(file_name: str) -> bool:
    """Whether a file is one of nodetask's results (never an input)."""
    return file_name.endswith(("_COUNTS.tsv.gz", "_ERROR.json")) or PurePosixPath(file_name).stem.endswith(
        "_OUTPUT"
    )


# -- map, reduce, summary (docs/design.md) ------------------------------------

#: The merge reads the map tasks' blobs with a read SAS from this variable; it writes
#: its own results with the create+write SAS of :data:`SAS_ENV`.
READ_SAS_ENV = "NODETASK_READ_SAS"
#: A map task's row per input, written after its partitions.
TASK_RESULTS_NAME = "results.json"
#: What the client writes for the reduce: its partitions, numwords and sources.
MANIFEST_NAME = "manifest.json"
#: The summary task's result, beside the manifest.
SUMMARY_NAME = "summary.json"
#: Partition counts are powers of two up to this.
MAX_PARTITIONS = 64
#: Format tags of the records of the map, the reduce and the summary.
TASK_RESULTS_FORMAT = "nodetask-task-results/1"
REDUCE_MANIFEST_FORMAT = "nodetask-reduce-manifest/1"
PARTITION_FORMAT = "nodetask-partition/1"
SUMMARY_FORMAT = "nodetask-summary/1"


def check_partitions(partitions: int) -> int:
    """``partitions`` itself when it is a power of two from 1 to :data:`MAX_PARTITIONS`;
    ``ValueError`` otherwise."""
    if isinstance(partitions, bool) or not isinstance(partitions, int):
        raise ValueError(f"partitions must be a whole number, not {partitions!r}")
    if not 1 <= partitions <= MAX_PARTITIONS or partitions & (partitions - 1):
        raise ValueError(f"partitions must be a power of two from 1 to {MAX_PARTITIONS}, not {partitions}")
    return partitions


def _part(p: int, partitions: int) -> str:
    check_partitions(partitions)
    if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < partitions:
        raise ValueError(f"partition must be from 0 to {partitions - 1}, not {p!r}")
    return f"part-{p:05d}-of-{partitions:05d}"


def partition_name(p: int, partitions: int) -> str:
    """A map task's counts of partition ``p`` of ``partitions``: ``part-00003-of-00004.parquet``."""
    return _part(p, partitions) + ".parquet"


def partition_result_name(p: int, partitions: int) -> str:
    """The reduce's result for partition ``p`` of ``partitions``: ``part-00003-of-00004.json``."""
    return _part(p, partitions) + ".json"


def partition_of(word: str, partitions: int) -> int:
    """The partition of a word: the CRC-32 of its UTF-8 bytes modulo ``partitions``, the
    same on every node and in every release."""
    return zlib.crc32(word.encode("utf-8")) % partitions
