"""What a job set runs, checked in one place: its ids, task limits and word count (inputs: ``_tasks``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from azure.batch import models as batch_models

import nodetask

from ._exceptions import ConfigError
from ._packing import TASK_BYTES
from ._pool import NodetaskRelease, preparation_task
from ._tasks import NODETASK_COMMAND, TaskLimits

#: A job set's id; room is left for a follow-up job's suffix within Batch's 64 characters.
JOB_SET_ID = re.compile(r"[A-Za-z0-9_-]{1,60}")
#: A job's wall-clock limit: its SAS outlive it by a margin, within a user delegation key's 7 days.
MAX_JOB_WALL_CLOCK = timedelta(days=6)
#: How many top words a job reports by default (per input and merged).
NUMWORDS = 10


@dataclass(frozen=True)
class JobSpec:
    """What a job set runs: which pool, inputs and outputs, and each task's limits.

    Construction checks every field at once; the ``ConfigError`` it raises
    names each bad field in ``problems``. Every default and limit of a job
    parameter lives here: the stack config, ``BatchJob`` and the CLI map onto it.
    """

    #: Batch's limit on task slots per node (the pool's, spread over by ``pool_slots``).
    MAX_SLOTS_PER_NODE: ClassVar[int] = 256

    job_set: str
    pool_id: str
    input_container: str
    output_container: str
    numwords: int = NUMWORDS
    limits: TaskLimits = field(default_factory=TaskLimits)
    #: Ends each job of the set (and its cost) however long its tasks wait for nodes.
    job_max_wall_clock: timedelta = timedelta(hours=24)
    sas_lifetime: timedelta | None = None
    #: The nodetask release every job of the set installs on its nodes (a preparation task)
    #: and its tasks run; None runs ``nodetask_command`` as the nodes have it.
    nodetask: NodetaskRelease | None = None
    nodetask_command: str = NODETASK_COMMAND
    #: Input bytes per task: smaller inputs are packed together up to this (see ``_packing``).
    task_bytes: int = TASK_BYTES
    #: The pool's task slots (nodes x slots per node): a small job is spread over them.
    pool_slots: int = 1
    #: How many partitions the reduce merges (a power of two up to 64); None: chosen from
    #: the inputs' size (``_reduce.partitions_for``).
    partitions: int | None = None

    @property
    def command(self) -> str:
        """How the tasks run nodetask."""
        return self.nodetask.command if self.nodetask else self.nodetask_command

    def preparation_task(self) -> batch_models.BatchJobPreparationTask | None:
        return preparation_task(self.nodetask) if self.nodetask else None

    def __post_init__(self) -> None:
        found: list[tuple[str, str]] = []
        if not JOB_SET_ID.fullmatch(self.job_set):
            found.append(("job_set", f"must be 1 to 60 letters, digits, '-' or '_' (got {self.job_set!r})"))
        for name in ("pool_id", "input_container", "output_container"):
            if not getattr(self, name):
                found.append((name, "must not be empty"))
        if self.numwords < 1:
            found.append(("numwords", f"must be at least 1 (got {self.numwords})"))
        if self.task_bytes < 1:
            found.append(("task_bytes", f"must be at least 1 byte (got {self.task_bytes})"))
        if self.pool_slots < 1:
            found.append(("pool_slots", f"must be at least 1 (got {self.pool_slots})"))
        most = nodetask.MAX_PARTITIONS
        if self.partitions is not None and not (
            1 <= self.partitions <= most and self.partitions & (self.partitions - 1) == 0
        ):
            found.append(("partitions", f"must be a power of two from 1 to {most} (got {self.partitions})"))
        found += self.limits.problems()
        hours = MAX_JOB_WALL_CLOCK // timedelta(hours=1)
        if self.job_max_wall_clock > MAX_JOB_WALL_CLOCK:
            got = self.job_max_wall_clock / timedelta(hours=1)
            found.append(
                ("job_max_wall_clock", f"must be at most {hours} hours (6 days) (got {got:g} hours)")
            )
        elif self.job_max_wall_clock < self.limits.max_wall_clock:
            found.append(
                (
                    "job_max_wall_clock",
                    f"must be at least the task wall-clock limit ({self.limits.max_wall_clock}) "
                    f"(got {self.job_max_wall_clock})",
                )
            )
        if found:
            raise ConfigError("; ".join(f"{name} {reason}" for name, reason in found), found)

    @classmethod
    def problems_of(cls, **fields: Any) -> list[tuple[str, str]]:
        """What is wrong with some fields alone, the others at their defaults: for a caller
        that checks its settings before it knows the job's names."""
        names = dict.fromkeys(("job_set", "pool_id", "input_container", "output_container"), "checked")
        try:
            cls(**(names | fields))
        except ConfigError as exc:
            return list(exc.problems)
        return []
