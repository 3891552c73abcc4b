"""batchwords' errors; ``str()`` of each is the message a user reads.

The CLI maps each class to one exit code (see ``batchwords.cli``): bad input
or settings 2, not found 1, a service that failed or refused 3.
"""

from __future__ import annotations

from collections.abc import Sequence


class BatchwordsError(Exception):
    """Base class of every error batchwords raises on purpose."""


class ConfigError(BatchwordsError):
    """A setting or an input is missing or wrong; ``problems`` names each bad field."""

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class NotFoundError(BatchwordsError):
    """A job, pool or blob that was asked for does not exist."""


class StorageError(BatchwordsError):
    """Storage refused or failed an operation."""


class BatchServiceError(BatchwordsError):
    """The Batch service refused or failed an operation; ``transient`` when trying again
    later may succeed (unreachable, throttled, a server error)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SubmitError(BatchServiceError):
    """Some tasks could not be added; ``rejected`` maps task id to the reason."""

    def __init__(self, message: str, rejected: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.rejected = rejected or {}


class DeadlineError(BatchServiceError):
    """An operation did not finish within its deadline."""


class PoolError(BatchServiceError):
    """A job's pool cannot run its tasks and no node that could is coming: a resize error (a
    zero core quota), every node's StartTask failed or unusable, or the job's preparation task
    failed on every node. ``str()`` names the pool, the reason and the failing node's stderr."""


class ServiceStartError(BatchwordsError):
    """A local service (Azurite, localbatch) or the nodetask wheelhouse could not be started or built."""
