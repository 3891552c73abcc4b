"""What the Batch client hands out: task counts, a job's facts, and the callback that reports
progress. Plain data, shared by ``Batch`` and the pool checks it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

Say = Callable[[str], None]


@dataclass(frozen=True)
class TaskCounts:
    active: int = 0
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    #: The reduce stage's part of these counts (``with_reduce``); None when not known.
    reduce: TaskCounts | None = field(default=None, compare=False)

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed

    def as_dict(self) -> dict[str, int]:
        """The counts as plain data (the stages left out), with the total."""
        return {
            "active": self.active,
            "running": self.running,
            "completed": self.completed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "total": self.total,
        }

    def with_reduce(self, reduce_tasks: int) -> TaskCounts:
        """One job's counts with its reduce stage's part: its ``reduce_tasks`` tasks run only
        once every map task has completed (Batch's task dependencies), so the first
        completions are the map's and the rest the reduce's."""
        maps = max(0, self.total - reduce_tasks)
        done = max(0, self.completed - maps)
        running = self.running if self.completed >= maps else 0
        return replace(self, reduce=TaskCounts(reduce_tasks - done - running, running, done))

    @property
    def map(self) -> TaskCounts:
        """The map stage's part (everything when the reduce's is not known)."""
        if self.reduce is None:
            return self
        return TaskCounts(
            self.active - self.reduce.active,
            self.running - self.reduce.running,
            self.completed - self.reduce.completed,
        )

    def __add__(self, other: TaskCounts) -> TaskCounts:
        reduce = None
        if self.reduce is not None or other.reduce is not None:
            reduce = (self.reduce or TaskCounts()) + (other.reduce or TaskCounts())
        return TaskCounts(
            self.active + other.active,
            self.running + other.running,
            self.completed + other.completed,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
            reduce,
        )


@dataclass(frozen=True)
class JobInfo:
    id: str
    state: str
    pool_id: str | None
    created: datetime | None
    #: The job set whose output prefix the job writes under.
    job_set: str
