"""nodetask: the word counter that runs on every Batch compute node."""

from __future__ import annotations

from ._count import WordCounts, count_file, normalize, top_words
from ._exceptions import (
    ExitCode,
    InputError,
    NodetaskError,
    OutputConflictError,
    StorageRefusedError,
    StorageUnavailableError,
    UsageError,
)
from ._report import BatchContext, WordCountReport, counts_file_bytes, read_counts_file
from ._upload import OutputBlob, ResultUploader

__version__ = "0.1.0"

__all__ = [
    "BatchContext",
    "ExitCode",
    "InputError",
    "NodetaskError",
    "OutputBlob",
    "OutputConflictError",
    "ResultUploader",
    "StorageRefusedError",
    "StorageUnavailableError",
    "UsageError",
    "WordCountReport",
    "WordCounts",
    "__version__",
    "count_file",
    "counts_file_bytes",
    "normalize",
    "read_counts_file",
    "top_words",
]
