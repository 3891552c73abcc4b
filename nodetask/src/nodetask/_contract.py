"""What a nodetask run leaves behind: the names of its result files and where its SAS comes from.

Clients (batchwords) find and read results through these functions, the
counts-file reader and the ranking, never by spelling them again.
"""

from __future__ import annotations

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
