"""What the Batch client hands out: task counts, a job's facts, and the callback that reports
progress. Plain data, shared by ``Batch`` and the pool checks it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

Say = Callable[[str], None]


@dataclass(frozen=True)
class TaskCounts:
    active: int = 0
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed

    def __add__(self, other: TaskCounts) -> TaskCounts:
        return TaskCounts(
            self.active + other.active,
            self.running + other.running,
            self.completed + other.completed,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
        )


@dataclass(frozen=True)
class JobInfo:
    id: str
    state: str
    pool_id: str | None
    created: datetime | None
    #: The job set whose output prefix the job writes under.
    job_set: str
