"""Updating and reactivating tasks; callers hold the lock.

As the service does it: an update (PUT) sets a task's ``constraints``, the only
property it changes; constraints left out take their defaults (the job's
``maxTaskRetryCount``, no wall-clock limit, 7 days' retention). Reactivation
puts a completed task that failed back in the queue, ``active``, with its retry
count reset to 0 and its previous exit code, failure and result gone; it is
refused for a task that is not completed (``TaskNotCompleted``), one that
succeeded (``TaskSucceeded``), and a job that is completed, terminating or
deleting (``JobCompleted``, ``JobBeingTerminated``, ``JobBeingDeleted``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._documents import find_task, touch, transition
from ._errors import BatchError
from ._store import Store
from ._timeutil import UNLIMITED_TEXT
from ._validate import check_constraints

if TYPE_CHECKING:
    from ._jobs import Jobs
    from ._scheduler import Scheduler

#: What reactivation takes from a task's executionInfo (retryCount goes back to 0).
FORGOTTEN = ("startTime", "endTime", "exitCode", "failureInfo", "result", "lastRetryTime")


def check_task_update(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
    check_constraints(body.get("constraints"), "constraints")
    return body


class TaskControl:
    """Update and reactivate, over the jobs and the scheduler that runs their tasks."""

    def __init__(self, store: Store, jobs: Jobs, scheduler: Scheduler) -> None:
        self._store = store
        self._jobs = jobs
        self._scheduler = scheduler

    def update(self, job_id: str, task_id: str, body: Any) -> None:
        given = check_task_update(body).get("constraints") or {}
        task = find_task(self._store, job_id, task_id)
        job_constraints = self._jobs.get(job_id).get("constraints") or {}
        task["constraints"] = {
            "maxWallClockTime": UNLIMITED_TEXT,
            "retentionTime": "P7D",
            "maxTaskRetryCount": job_constraints.get("maxTaskRetryCount", 0),
            **{name: value for name, value in given.items() if value is not None},
        }
        touch(task)
        self._store.put("task", task_id, task, parent=job_id)

    def reactivate(self, job_id: str, task_id: str) -> None:
        self._jobs.active(job_id)  # completed, terminating, deleting: the service's 409s
        task = find_task(self._store, job_id, task_id)
        if task["state"] != "completed":
            raise BatchError(
                409,
                "TaskNotCompleted",
                "The specified task is not in a completed state, and the requested operation can be "
                "performed only on completed tasks.",
            )
        execution = task["executionInfo"]
        if execution.get("result") == "success":
            raise BatchError(
                409,
                "TaskSucceeded",
                "The specified task has already completed successfully, and the requested operation "
                "cannot be performed on successful tasks.",
            )
        for name in FORGOTTEN:
            execution.pop(name, None)
        execution["retryCount"] = 0
        self._scheduler.dependencies.reopened(job_id, task_id)
        transition(task, "active")
        self._store.put("task", task_id, task, parent=job_id)
        self._scheduler.enqueue(job_id, task_id)
