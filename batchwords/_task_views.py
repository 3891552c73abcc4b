"""Task-level views of one job, as ``az batch task list`` and ``az batch task file download`` give them.

Reads through the one azure-batch client that ``Batch`` holds: each task's
state, exit code, node, times and input(s), and a task's stdout/stderr read
from a byte offset (``ocp-range``), so a follower prints only new bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from azure.batch import models as batch_models
from azure.core.exceptions import AzureError, ResourceNotFoundError

from ._batch import Batch
from ._deadline import batch_error, text
from ._exceptions import NotFoundError
from ._reduce import is_reduce_task
from ._tasks import task_inputs

#: What a task view reads of each task.
TASK_FIELDS = ["id", "displayName", "state", "executionInfo", "nodeInfo", "resourceFiles"]


@dataclass(frozen=True)
class TaskView:
    id: str
    state: str
    #: None until the task has run to its end (or while it waits for a retry).
    exit_code: int | None
    #: success or failure once completed, else None.
    result: str | None
    node: str | None
    start: datetime | None
    end: datetime | None
    #: The input blob(s) the task counts (small inputs are packed into one task).
    inputs: list[str]
    retries: int = 0
    failure: str | None = None
    #: "map" (counts inputs) or "reduce" (gathers them: a gate, a reduce task, the summary).
    stage: str = "map"
    #: What a reduce-stage task does, in words (its display name).
    label: str | None = None

    def duration(self, now: datetime | None = None) -> float | None:
        """Seconds it ran (still running: so far)."""
        if self.start is None:
            return None
        end = self.end or (now or datetime.now(UTC))
        return max((end - self.start).total_seconds(), 0.0)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state,
            "exit_code": self.exit_code,
            "result": self.result,
            "node": self.node,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "duration_seconds": self.duration(),
            "inputs": list(self.inputs),
            "retries": self.retries,
            "failure": self.failure,
            "stage": self.stage,
        }


def task_view(task: batch_models.BatchTask) -> TaskView:
    info = task.execution_info
    node = task.node_info
    # The blobs its resource files fetch (one, or several packed); else what it is called.
    gathers = is_reduce_task(str(task.id))
    inputs = [] if gathers else [name for _, name in task_inputs(task)] or [str(task.display_name or task.id)]
    failure = None
    if info is not None and info.failure_info is not None:
        failure = f"{info.failure_info.code}: {info.failure_info.message}"
    result = text(info.result) if info is not None and info.result is not None else None
    return TaskView(
        id=str(task.id),
        state=text(task.state),
        exit_code=info.exit_code if info is not None else None,
        result=result,
        node=str(node.node_id) if node is not None and node.node_id else None,
        start=info.start_time if info is not None else None,
        end=info.end_time if info is not None else None,
        inputs=inputs,
        retries=info.retry_count if info is not None and info.retry_count else 0,
        failure=failure,
        stage="reduce" if gathers else "map",
        label=str(task.display_name or task.id) if gathers else None,
    )


class TaskViews:
    """Task-level reading of one Batch account."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._client = batch._client

    def tasks(self, job_id: str) -> list[TaskView]:
        """Every task of a job, by id; a job that does not exist is ``NotFoundError``."""
        self.batch.get_job(job_id)
        try:
            listed = self._client.list_tasks(job_id, select=TASK_FIELDS)
            return sorted((task_view(task) for task in listed), key=lambda view: view.id)
        except ResourceNotFoundError as exc:
            raise NotFoundError(f"not found: job {job_id} does not exist in {self.batch.endpoint}") from exc
        except AzureError as exc:
            raise batch_error(f"listing the tasks of job {job_id}", exc, self.batch.endpoint) from exc

    def task(self, job_id: str, task_id: str) -> TaskView:
        """One task; a missing job or task is ``NotFoundError`` naming which."""
        try:
            return task_view(self._client.get_task(job_id, task_id, select=TASK_FIELDS))
        except ResourceNotFoundError as exc:
            self.batch.get_job(job_id)  # names the job if it is the job that is missing
            raise NotFoundError(f"not found: task {task_id} does not exist in job {job_id}") from exc
        except AzureError as exc:
            raise batch_error(f"reading task {task_id} of job {job_id}", exc, self.batch.endpoint) from exc

    def read_file(self, job_id: str, task_id: str, name: str, offset: int = 0) -> bytes | None:
        """The task file's bytes from ``offset`` on (``b""`` when nothing is new); None while the
        file does not exist (the task has not started, or its node is gone)."""
        try:
            size = int(self._client.get_task_file_properties(job_id, task_id, name).content_length or 0)
            if size <= offset:  # asking past the end is an error on the service
                return b""
            return b"".join(
                self._client.download_task_file(job_id, task_id, name, ocp_range=f"bytes={offset}-{size - 1}")
            )
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise batch_error(f"reading {name} of task {task_id}", exc, self.batch.endpoint) from exc
