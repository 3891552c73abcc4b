"""Disabling and enabling jobs; callers hold the lock.

As the service does it: a disabled job starts no task (the scheduler schedules
``active`` jobs only) but still takes new ones. ``disable`` moves an ``active``
job to ``disabling`` and deals with its running tasks as ``disableTasks`` says:
``requeue`` ends them and puts them back in the queue (``requeueCount`` counts
it), ``terminate`` ends them as failed (``TaskEnded``) for good, ``wait`` lets
them finish. Once none runs, the job is ``disabled``. Disabling a ``disabling``
or ``disabled`` job again is accepted (its running tasks get the new option);
any other state is a 409. ``enable`` moves a disabled job back to ``active``
(``previousState`` ``disabled``, as the service's JobList example shows), and
its queued tasks run again.
"""

from __future__ import annotations

from typing import Any

from ._documents import transition
from ._errors import BatchError, invalid_property, missing_property
from ._jobs import Jobs
from ._scheduler import Scheduler
from ._store import Store

DISABLE_OPTIONS = ("requeue", "terminate", "wait")
RUNNING = ("running", "preparing")


def check_disable(body: object) -> str:
    """The ``disableTasks`` option of a disable request (required), lower-cased."""
    option = body.get("disableTasks") if isinstance(body, dict) else None
    if option is None or option == "":
        raise missing_property("disableTasks")
    if not isinstance(option, str) or option.lower() not in DISABLE_OPTIONS:
        raise invalid_property("disableTasks", option, "The value must be requeue, terminate or wait.")
    return option.lower()


class JobControl:
    """Disable and enable, over the jobs and the scheduler that runs their tasks."""

    def __init__(self, store: Store, jobs: Jobs, scheduler: Scheduler) -> None:
        self._store = store
        self._jobs = jobs
        self._scheduler = scheduler

    def disable(self, job_id: str, body: Any) -> None:
        option = check_disable(body)
        job = self._jobs.active(job_id)  # completed, terminating, deleting: the service's 409s
        if job["state"] == "active":
            transition(job, "disabling")
            self._store.put("job", job_id, job)
        for task_id, task in list(self._store.tasks.get(job_id, {}).items()):
            if task["state"] not in RUNNING:
                continue
            if option == "requeue":
                self._scheduler.requeue(job_id, task_id, task)
            elif option == "terminate":
                self._scheduler.end_task(
                    job_id, task_id, task, "TaskEnded", "The task was terminated: its job was disabled."
                )
        self._scheduler.settle_disabling(job)

    def enable(self, job_id: str) -> None:
        job = self._jobs.active(job_id)
        if job["state"] not in ("disabled", "disabling"):
            raise BatchError(
                409,
                "OperationInvalidForCurrentState",
                f"The specified job is {job['state']}: only a disabled job can be enabled.",
            )
        transition(job, "active")
        self._store.put("job", job_id, job)
        # Tasks terminated while it was disabled may have been its last.
        self._scheduler.complete_job_if_done(job_id)
