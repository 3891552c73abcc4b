"""Job operations: create, update, terminate and delete, on validated bodies; callers hold the lock."""

from __future__ import annotations

import shutil
from typing import Any

from ._documents import find_job, job_defaults, new_job, touch, transition
from ._errors import BatchError, exists
from ._node_env import job_root, nodes_root
from ._runtime import Runtime
from ._scheduler import Scheduler
from ._store import Document

UPDATABLE = (
    "priority",
    "constraints",
    "onAllTasksComplete",
    "metadata",
    "maxParallelTasks",
    "allowTaskPreemption",
)


def _being_deleted() -> BatchError:
    return BatchError(
        409,
        "JobBeingDeleted",
        "The specified job has been marked for deletion and is being garbage collected.",
    )


def _completed() -> BatchError:
    return BatchError(409, "JobCompleted", "The specified job is already in a completed state.")


class Jobs:
    """The account's jobs; ending their tasks is the scheduler's part."""

    def __init__(self, runtime: Runtime, scheduler: Scheduler) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._scheduler = scheduler

    def create(self, job_id: str, body: dict[str, Any]) -> Document:
        if job_id in self._store.jobs:
            if self._store.jobs[job_id]["state"] == "deleting":
                raise _being_deleted()
            raise exists("job", "JobExists")
        job = new_job(self._runtime.base_url, body)
        self._store.put("job", job_id, job)
        self._store.tasks.setdefault(job_id, {})
        return job

    def get(self, job_id: str) -> Document:
        return find_job(self._store, job_id)

    def active(self, job_id: str) -> Document:
        """The job, if it still takes tasks."""
        job = self.get(job_id)
        if job["state"] == "completed":
            raise _completed()
        if job["state"] in ("terminating", "deleting"):
            raise BatchError(
                409,
                "JobBeingTerminated" if job["state"] == "terminating" else "JobBeingDeleted",
                f"The specified job is {job['state']}.",
            )
        return job

    def update(self, job_id: str, body: dict[str, Any], replace: bool) -> None:
        """PATCH sets the properties given; PUT (``replace``) resets the others too."""
        job = self.get(job_id)
        if job["state"] in ("completed", "terminating", "deleting"):
            raise _completed()
        for name in UPDATABLE:
            if name in body or replace:
                job[name] = body.get(name)
        if job.get("onAllTasksComplete") is None:
            job["onAllTasksComplete"] = "noaction"
        job["onAllTasksComplete"] = str(job["onAllTasksComplete"]).lower()
        if job.get("priority") is None:
            job["priority"] = 0
        job_defaults(job)
        touch(job)
        self._store.put("job", job_id, job)
        self._scheduler.complete_job_if_done(job_id)

    def terminate(self, job_id: str, reason: str | None) -> None:
        job = self.get(job_id)
        if job["state"] == "completed":
            raise _completed()
        if job["state"] in ("terminating", "deleting"):
            self.active(job_id)  # JobBeingTerminated, JobBeingDeleted
        self._scheduler.end_job(job_id, reason or "UserTerminate")

    def delete(self, job_id: str) -> None:
        """Mark the job ``deleting`` and end its tasks; ``remove`` takes it away later, as the
        service does (meanwhile a second delete or a create of the same id is refused)."""
        job = self.get(job_id)
        if job["state"] == "deleting":
            raise _being_deleted()
        transition(job, "deleting")
        for task_id, task in self._store.tasks.get(job_id, {}).items():
            if task["state"] in ("running", "preparing"):
                self._scheduler.end_task(
                    job_id, task_id, task, "TaskEnded", "The task was ended: its job was deleted."
                )
        self._store.put("job", job_id, job)
        self._scheduler.forget_job(job_id)
        self._scheduler.releases.start(job_id)  # its release tasks, unless they ran

    def remove(self, job_id: str) -> bool:
        """The end of a deletion: the job and its tasks leave the store; ``delete_files`` follows."""
        job = self._store.jobs.get(job_id)
        if job is None or job["state"] != "deleting":
            return False
        self._store.delete("job", job_id)
        return True

    def delete_files(self, job_id: str) -> None:
        for pool_dir in nodes_root(self._runtime.data_dir).glob("*"):
            for node_dir in pool_dir.glob("*"):
                shutil.rmtree(node_dir / job_root(job_id), ignore_errors=True)
