"""batchwords' errors; ``str()`` of each is the message a user reads."""

from __future__ import annotations


class BatchwordsError(Exception):
    """Base class of every error batchwords raises on purpose."""


class ConfigError(BatchwordsError):
    """A setting is missing or wrong (endpoint, credential, limit, input)."""


class StorageError(BatchwordsError):
    """Storage refused or failed an operation."""


class BatchServiceError(BatchwordsError):
    """The Batch service refused or failed an operation."""


class SubmitError(BatchServiceError):
    """Some tasks could not be added; ``rejected`` maps task id to the reason."""

    def __init__(self, message: str, rejected: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.rejected = rejected or {}


class DeadlineError(BatchServiceError):
    """An operation did not finish within its deadline."""
