"""nodetask: the word counter that runs on every Batch compute node."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._contract import (
    ERROR_FORMAT,
    MANIFEST_NAME,
    MAX_PARTITIONS,
    PARTITION_FORMAT,
    READ_SAS_ENV,
    REDUCE_MANIFEST_FORMAT,
    RESULT_FORMAT,
    SAS_ENV,
    SUMMARY_FORMAT,
    SUMMARY_NAME,
    TASK_RESULTS_FORMAT,
    TASK_RESULTS_NAME,
    counts_name,
    error_name,
    is_result_name,
    partition_name,
    partition_of,
    partition_result_name,
    result_name,
)
from ._count import WordCounts, count_file, top_words
from ._exceptions import (
    ExitCode,
    InputError,
    NodetaskError,
    NoResultsError,
    OutputConflictError,
    StorageRefusedError,
    StorageUnavailableError,
    UsageError,
)
from ._report import BatchContext, ErrorRecord, Result, WordCountReport, counts_file_bytes, read_counts_file
from ._tasks_contract import InputRow, PartitionResult, ReduceManifest, ReduceSource, Summary, TaskResults

if TYPE_CHECKING:
    from ._partitions import input_counts
    from ._upload import OutputBlob, ResultUploader

__version__ = "0.1.0"
#: Imported on first use: azure-storage-blob costs ~35 MB and 0.3 s to import and
#: pyarrow ~0.13 s; a local count of a small file needs neither.
_LAZY = {"OutputBlob": "_upload", "ResultUploader": "_upload", "input_counts": "_partitions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'nodetask' has no attribute {name!r}")


__all__ = [
    "ERROR_FORMAT",
    "MANIFEST_NAME",
    "MAX_PARTITIONS",
    "PARTITION_FORMAT",
    "READ_SAS_ENV",
    "REDUCE_MANIFEST_FORMAT",
    "RESULT_FORMAT",
    "SAS_ENV",
    "SUMMARY_FORMAT",
    "SUMMARY_NAME",
    "TASK_RESULTS_FORMAT",
    "TASK_RESULTS_NAME",
    "BatchContext",
    "ErrorRecord",
    "ExitCode",
    "InputError",
    "InputRow",
    "NoResultsError",
    "NodetaskError",
    "OutputBlob",
    "OutputConflictError",
    "PartitionResult",
    "ReduceManifest",
    "ReduceSource",
    "Result",
    "ResultUploader",
    "StorageRefusedError",
    "StorageUnavailableError",
    "Summary",
    "TaskResults",
    "UsageError",
    "WordCountReport",
    "WordCounts",
    "__version__",
    "count_file",
    "counts_file_bytes",
    "counts_name",
    "error_name",
    "input_counts",
    "is_result_name",
    "partition_name",
    "partition_of",
    "partition_result_name",
    "read_counts_file",
    "result_name",
    "top_words",
]
