"""Task dependencies (``dependsOn``) as the service runs them; callers hold the lock.

A task that depends on others stays ``active`` but out of the scheduler's queue until
every task it depends on has completed and *satisfied* it: a task satisfies its
dependents when the exit options that applied to it (``_exit_conditions``) say
``dependencyAction: satisfy``, which is the default for a success only. A dependent of a
task that failed with ``block`` (the default) waits for good, as on the service. A task
named in ``taskIds`` that does not exist (yet) keeps its dependents waiting; a range
(``taskIdRanges``, inclusive) takes in the tasks that exist whose ids are integers in it
(``4``, ``04`` and ``004`` are all task 4, and the first of them to satisfy it does).

Cheap for jobs of many tasks: each waiting task keeps the set of what it still waits
for, and a task's completion touches only the tasks that name it (and those with ranges).
Released tasks are handed to the scheduler at its next pass (``take_ready``), so the
tasks of one add-collection all exist before any of them is released.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._errors import BatchError, invalid_property
from ._exit_conditions import INT32, check_range, exit_actions
from ._store import Document

#: The combined length of a task's ``dependsOn.taskIds`` (TaskDependencyListTooLong beyond it).
MAX_TASK_ID_CHARACTERS = 64000
_INTEGER = re.compile(r"-?[0-9]+")


def integer_id(task_id: str) -> int | None:
    """The integer a task id stands for in ranges (leading zeros ignored), if any."""
    if _INTEGER.fullmatch(task_id):
        value = int(task_id)
        if value in INT32:
            return value
    return None


def check_depends_on(body: dict[str, Any]) -> None:
    """A task's dependsOn, as far as it can be checked without its job."""
    depends_on = body.get("dependsOn")
    if depends_on is None:
        return
    if not isinstance(depends_on, dict):
        raise invalid_property("dependsOn", depends_on, "The value must be an object.")
    ids = depends_on.get("taskIds")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
            raise invalid_property("dependsOn.taskIds", ids, "The value must be a list of task ids.")
        if sum(len(item) for item in ids) > MAX_TASK_ID_CHARACTERS:
            raise BatchError(
                400,
                "TaskDependencyListTooLong",
                "A task was specified as depending on other tasks, but the list of dependencies was "
                "too long to be stored.",
                {"MaxLimit": str(MAX_TASK_ID_CHARACTERS)},
            )
    ranges = depends_on.get("taskIdRanges")
    if ranges is None:
        return
    if not isinstance(ranges, list) or not all(isinstance(item, dict) for item in ranges):
        raise invalid_property("dependsOn.taskIdRanges", ranges, "The value must be a list of ranges.")
    for index, item in enumerate(ranges):
        check_range(item, f"dependsOn.taskIdRanges[{index}]")


def check_depends_on_for_job(body: dict[str, Any], job: Document) -> None:
    if body.get("dependsOn") is not None and not job.get("usesTaskDependencies"):
        raise BatchError(
            400,
            "TaskDependenciesNotSpecifiedOnJob",
            "A task was specified as depending on other tasks, but the job did not specify that it "
            "would use task dependencies.",
        )


@dataclass
class _Waiting:
    """What a waiting task still waits for."""

    #: The named tasks that have not satisfied it, and every task it names.
    ids: set[str]
    named: frozenset[str]
    ranges: list[tuple[int, int]]
    #: The integers in its ranges of existing tasks none of which has satisfied it.
    values: set[int] = field(default_factory=set)

    def covers(self, value: int) -> bool:
        return any(start <= value <= end for start, end in self.ranges)


@dataclass
class _JobDependencies:
    satisfied: set[str] = field(default_factory=set)
    #: Existing tasks with integer ids, by their integer (and the integers, sorted).
    by_value: dict[int, set[str]] = field(default_factory=dict)
    values: list[int] = field(default_factory=list)
    waiting: dict[str, _Waiting] = field(default_factory=dict)
    #: Waiting tasks by a task id they name, and those with ranges.
    named_by: dict[str, set[str]] = field(default_factory=dict)
    ranged: set[str] = field(default_factory=set)
    ready: dict[str, None] = field(default_factory=dict)

    def value_satisfied(self, value: int) -> bool:
        return any(task_id in self.satisfied for task_id in self.by_value.get(value, ()))

    def ranged_covering(self, value: int) -> Iterable[_Waiting]:
        return [w for task_id in self.ranged if (w := self.waiting[task_id]).covers(value)]

    def settle(self, task_id: str) -> None:
        waiting = self.waiting.get(task_id)
        if waiting is not None and not waiting.ids and not waiting.values:
            self.ready[task_id] = None


class Dependencies:
    """Every job's dependencies (jobs with ``usesTaskDependencies`` only)."""

    def __init__(self) -> None:
        self._jobs: dict[str, _JobDependencies] = {}

    def add(self, job: Document, task: Document) -> bool:
        """A new task of the job; True if it must wait for others (then it is not queued)."""
        if not job.get("usesTaskDependencies"):
            return False
        deps = self._jobs.setdefault(job["id"], _JobDependencies())
        self._exists(deps, task["id"])
        depends_on = task.get("dependsOn")
        if depends_on is None or task["state"] != "active":
            return False
        ranges = [(item["start"], item["end"]) for item in depends_on.get("taskIdRanges") or []]
        named = frozenset(depends_on.get("taskIds") or [])
        waiting = _Waiting({name for name in named if name not in deps.satisfied}, named, ranges)
        for start, end in ranges:
            low, high = bisect.bisect_left(deps.values, start), bisect.bisect_right(deps.values, end)
            waiting.values.update(v for v in deps.values[low:high] if not deps.value_satisfied(v))
        deps.waiting[task["id"]] = waiting
        for name in named:
            deps.named_by.setdefault(name, set()).add(task["id"])
        if ranges:
            deps.ranged.add(task["id"])
        deps.settle(task["id"])
        return True

    @staticmethod
    def _exists(deps: _JobDependencies, task_id: str) -> None:
        """A task with an integer id now exists: ranges over it wait for it too."""
        value = integer_id(task_id)
        if value is None:
            return
        aliases = deps.by_value.setdefault(value, set())
        if not aliases:
            bisect.insort(deps.values, value)
            for waiting in deps.ranged_covering(value):
                waiting.values.add(value)
        aliases.add(task_id)

    def completed(self, job_id: str, task: Document) -> None:
        """The task completed: it leaves the waiting (if it waited), and satisfies its
        dependents if its exit options say so."""
        deps = self._jobs.get(job_id)
        if deps is None:
            return
        task_id = task["id"]
        self._stop_waiting(deps, task_id)
        if task_id in deps.satisfied or exit_actions(task).dependency != "satisfy":
            return
        value = integer_id(task_id)
        newly = value is not None and not deps.value_satisfied(value)
        deps.satisfied.add(task_id)
        for name in deps.named_by.get(task_id, ()):
            if name in deps.waiting:
                deps.waiting[name].ids.discard(task_id)
                deps.settle(name)
        if newly and value is not None:
            for name in list(deps.ranged):
                if deps.waiting[name].covers(value):
                    deps.waiting[name].values.discard(value)
                    deps.settle(name)

    def reopened(self, job_id: str, task_id: str) -> None:
        """The completed task runs again (reactivated): it satisfies nothing until it completes."""
        deps = self._jobs.get(job_id)
        if deps is None or task_id not in deps.satisfied:
            return
        deps.satisfied.discard(task_id)
        self._unsatisfied(deps, task_id)

    def removed(self, job_id: str, task_id: str) -> None:
        """The task was deleted: named, it is missing again; in a range, it no longer counts."""
        deps = self._jobs.get(job_id)
        if deps is None:
            return
        self._stop_waiting(deps, task_id)
        if task_id in deps.satisfied:
            deps.satisfied.discard(task_id)
            self._unsatisfied(deps, task_id)
        value = integer_id(task_id)
        aliases = deps.by_value.get(value) if value is not None else None
        if value is None or aliases is None:
            return
        aliases.discard(task_id)
        if not aliases:
            del deps.by_value[value]
            deps.values.pop(bisect.bisect_left(deps.values, value))
            for waiting_id in list(deps.ranged):
                if deps.waiting[waiting_id].covers(value):
                    deps.waiting[waiting_id].values.discard(value)
                    deps.settle(waiting_id)

    @staticmethod
    def _unsatisfied(deps: _JobDependencies, task_id: str) -> None:
        for name in deps.named_by.get(task_id, ()):
            if name in deps.waiting:
                deps.waiting[name].ids.add(task_id)
        value = integer_id(task_id)
        if value is not None and not deps.value_satisfied(value):
            for waiting in deps.ranged_covering(value):
                waiting.values.add(value)

    @staticmethod
    def _stop_waiting(deps: _JobDependencies, task_id: str) -> None:
        waiting = deps.waiting.pop(task_id, None)
        if waiting is None:
            return
        deps.ranged.discard(task_id)
        deps.ready.pop(task_id, None)
        for name in waiting.named:
            dependents = deps.named_by.get(name)
            if dependents is not None:
                dependents.discard(task_id)
                if not dependents:
                    del deps.named_by[name]

    def take_ready(self, job_id: str) -> list[str]:
        """The job's waiting tasks whose dependencies are all satisfied now (they wait no more)."""
        deps = self._jobs.get(job_id)
        if deps is None or not deps.ready:
            return []
        released = [
            task_id
            for task_id in deps.ready
            if (waiting := deps.waiting.get(task_id)) is not None and not waiting.ids and not waiting.values
        ]
        deps.ready.clear()
        for task_id in released:
            self._stop_waiting(deps, task_id)
        return released

    def waits(self, job_id: str, task_id: str) -> bool:
        deps = self._jobs.get(job_id)
        return deps is not None and task_id in deps.waiting

    def forget_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def rebuild(self, job: Document, tasks: dict[str, Document]) -> None:
        """After a restart: the job's tasks as they are in the store (completed ones first, so
        that the waiting tasks see what satisfied them)."""
        self._jobs.pop(job["id"], None)
        if not job.get("usesTaskDependencies"):
            return
        deps = self._jobs.setdefault(job["id"], _JobDependencies())
        for task_id, task in tasks.items():
            self._exists(deps, task_id)
            if task["state"] == "completed" and exit_actions(task).dependency == "satisfy":
                deps.satisfied.add(task_id)
        for task in tasks.values():
            if task["state"] == "active":
                self.add(job, task)
