"""Errors of nodetask and the exit codes a Batch job can act on."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes; a Batch task's exit conditions are keyed on these."""

    OK = 0
    #: A bug in nodetask itself: report it.
    INTERNAL = 1
    #: Bad command line or settings: fix the task definition, do not retry.
    USAGE = 2
    #: The input file is missing, unreadable, binary, not UTF-8 or has no words.
    BAD_INPUT = 3
    #: Storage refused the request (SAS expired or lacking permission, container
    #: missing): issue a new SAS or fix the destination, do not retry as is.
    STORAGE_REFUSED = 4
    #: Storage could not be reached or failed transiently: retry the task.
    STORAGE_UNAVAILABLE = 5
    #: A different result already exists under the output name: do not retry;
    #: pass --overwrite to replace it on purpose.
    OUTPUT_CONFLICT = 6
    #: A result the merge needs is absent or unreadable: a map task wrote no results
    #: (the exit code of its inputs' rows in the summary), or a partition file or a
    #: reduce task's result is missing. Rerun the task that should have written it.
    NO_RESULTS = 7


class NodetaskError(Exception):
    """Base class; ``str()`` is the message a user reads."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(NodetaskError):
    exit_code = ExitCode.USAGE


class InputError(NodetaskError):
    exit_code = ExitCode.BAD_INPUT


class StorageRefusedError(NodetaskError):
    exit_code = ExitCode.STORAGE_REFUSED


class StorageUnavailableError(NodetaskError):
    exit_code = ExitCode.STORAGE_UNAVAILABLE


class OutputConflictError(NodetaskError):
    exit_code = ExitCode.OUTPUT_CONFLICT


class NoResultsError(NodetaskError):
    """A result the merge reads is absent or unreadable; the message names the blob."""

    exit_code = ExitCode.NO_RESULTS


# -- what both engines say of an input that is no text ---------------------


def decode_error(path: str, position: int, errors: str) -> InputError:
    return InputError(
        f"{path}: not valid UTF-8 at byte offset {position}; convert the file to "
        "UTF-8, or pass --errors replace to count it with undecodable bytes "
        "replaced by U+FFFD"
    )


def binary_error(path: str, position: int) -> InputError:
    return InputError(
        f"{path}: looks like a binary file (NUL byte at offset {position}); give nodetask a text file"
    )


def long_token_error(path: str, limit: int, position: int) -> InputError:
    return InputError(
        f"{path}: a single word longer than {limit:,} characters ends near byte offset "
        f"{position}; this is not a text file nodetask can count"
    )
