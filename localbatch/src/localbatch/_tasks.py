"""Task operations: add, add a collection, terminate, delete, count; callers hold the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._dependencies import check_depends_on_for_job
from ._documents import find_task, new_task
from ._errors import BatchError, exists
from ._exit_conditions import check_exit_conditions_for_job
from ._jobs import Jobs
from ._node_env import node_dir
from ._runtime import Runtime
from ._scheduler import Scheduler
from ._store import Document
from ._validate import check_task

TASK_STATES = ("active", "running", "completed", "succeeded", "failed")


def check_for_job(body: dict[str, Any], job: Document) -> None:
    """What the task asks of its job: task dependencies, and exit options it performs."""
    check_depends_on_for_job(body, job)
    check_exit_conditions_for_job(body, job)


class Tasks:
    """The tasks of every job; running them is the scheduler's part."""

    def __init__(self, runtime: Runtime, scheduler: Scheduler, jobs: Jobs) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._scheduler = scheduler
        self._jobs = jobs

    def create(self, job_id: str, body: dict[str, Any]) -> Document:
        """Add one validated task to an active job."""
        job = self._jobs.active(job_id)
        check_for_job(body, job)
        if body["id"] in self._store.tasks.setdefault(job_id, {}):
            raise exists("task", "TaskExists")
        return self._add(job_id, job, body)

    def create_many(self, job_id: str, bodies: list[Any]) -> list[dict[str, Any]]:
        """Add a collection: each task is checked on its own and gets its own result."""
        job = self._jobs.active(job_id)
        tasks = self._store.tasks.setdefault(job_id, {})
        results: list[dict[str, Any]] = []
        with self._store.transaction():
            for body in bodies:
                task_id = body.get("id") if isinstance(body, dict) else None
                try:
                    check_task(body)
                    check_for_job(body, job)
                    if body["id"] in tasks:
                        raise exists("task", "TaskExists")
                except BatchError as exc:
                    error = exc.body()
                    error.pop("odata.metadata")
                    error["message"]["value"] = exc.message
                    results.append({"status": "clienterror", "taskId": task_id, "error": error})
                    continue
                task = self._add(job_id, job, body)
                results.append(
                    {
                        "status": "success",
                        "taskId": task["id"],
                        "eTag": task["eTag"],
                        "lastModified": task["lastModified"],
                        "location": task["url"],
                    }
                )
        return results

    def _add(self, job_id: str, job: Document, body: dict[str, Any]) -> Document:
        task = new_task(self._runtime.base_url, job_id, job, body)
        self._store.put("task", task["id"], task, parent=job_id)
        if not self._scheduler.dependencies.add(job, task):
            self._scheduler.enqueue(job_id, task["id"])
        return task

    def get(self, job_id: str, task_id: str) -> Document:
        return find_task(self._store, job_id, task_id)

    def in_job(self, job_id: str) -> list[Document]:
        self._jobs.get(job_id)
        return list(self._store.tasks.get(job_id, {}).values())

    def terminate(self, job_id: str, task_id: str) -> None:
        task = self.get(job_id, task_id)
        if task["state"] != "completed":
            self._scheduler.end_task(
                job_id, task_id, task, "TaskEnded", "The task was terminated by a request."
            )
            self._scheduler.complete_job_if_done(job_id)

    def delete(self, job_id: str, task_id: str) -> None:
        task = self.get(job_id, task_id)
        self._scheduler.forget_task(job_id, task_id, task)
        self._store.delete("task", task_id, parent=job_id)
        self._scheduler.complete_job_if_done(job_id)

    def counts(self, job_id: str) -> dict[str, Any]:
        """Tasks and their slots per state, as the taskcounts operation reports them."""
        self._jobs.get(job_id)
        counts = dict.fromkeys(TASK_STATES, 0)
        slots = dict(counts)
        for task in self._store.tasks.get(job_id, {}).values():
            state = "running" if task["state"] in ("running", "preparing") else task["state"]
            counts[state] += 1
            slots[state] += task.get("requiredSlots", 1)
            if state == "completed":
                result = "succeeded" if task["executionInfo"].get("result") == "success" else "failed"
                counts[result] += 1
                slots[result] += task.get("requiredSlots", 1)
        return {"taskCounts": counts, "taskSlotCounts": slots}

    def directory(self, job_id: str, task_id: str) -> Path | None:
        """The task's directory on its node, once it has been assigned one."""
        info = self.get(job_id, task_id).get("nodeInfo")
        if not info:
            return None
        return node_dir(self._runtime.data_dir, str(info["poolId"]), str(info["nodeId"])) / str(
            info["taskRootDirectory"]
        )
