"""What a job set produced: every task's outcome and the exact merged top N.

Results are found and read through nodetask's output contract (result and
counts file names, the counts-file reader, the ranking), never spelled again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.batch import models as batch_models

import nodetask

from ._batch import Batch, text
from ._exceptions import StorageError
from ._spec import JobSpec
from ._storage import BlobInfo, Storage
from ._tasks import result_blob_names


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome and, when it succeeded, its nodetask result."""

    task_id: str
    input_name: str
    state: str
    exit_code: int | None
    output_url: str | None
    result: dict[str, Any] | None = None
    failure: str | None = None
    stderr_tail: str | None = None
    #: The blob of the task's full counts, when it is there.
    counts_blob: str | None = None
    #: Where and when it ran (its last attempt), as Batch reports it.
    node_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end of its last attempt, when both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


@dataclass(frozen=True)
class JobResults:
    tasks: list[TaskResult]
    top_words: list[tuple[str, int]]
    total_words: int
    distinct_words: int

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks if task.failure is not None]


def merge_counts(files: list[bytes]) -> Counter[str]:
    """Sum nodetask full-counts files exactly."""
    merged: Counter[str] = Counter()
    for data in files:
        try:
            merged.update(nodetask.read_counts_file(data))
        except ValueError as exc:
            raise StorageError(f"an output counts file is not nodetask's: {exc}") from exc
    return merged


def missing_results(batch: Batch, job_id: str, job_set: str, present: set[str]) -> list[str]:
    """The result blobs that the job's succeeded tasks wrote and that are not in ``present``."""
    return [
        name
        for task in batch.tasks(job_id)
        if task.state == "completed"
        and task.execution_info is not None
        and task.execution_info.result == "success"
        for name in result_blob_names(job_set, str(task.id), str(task.display_name or task.id))
        if name not in present
    ]


def task_results(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    job_ids: Sequence[str],
    *,
    read_outputs: bool = True,
    outputs: list[BlobInfo] | None = None,
) -> list[TaskResult]:
    """Every task of the jobs; ``outputs`` is the job set's output listing, if already read."""
    if outputs is None:
        outputs = storage.list_blobs(spec.output_container, f"{spec.job_set}/")
    by_name = {blob.name: blob for blob in outputs}
    results = [
        _task_result(batch, storage, spec, task, job_id=job_id, outputs=by_name, read_outputs=read_outputs)
        for job_id in job_ids
        for task in batch.tasks(job_id)
    ]
    return sorted(results, key=lambda result: result.task_id)


def _task_result(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    task: batch_models.BatchTask,
    *,
    job_id: str,
    outputs: dict[str, BlobInfo],
    read_outputs: bool,
) -> TaskResult:
    task_id = str(task.id)
    input_name = str(task.display_name or task_id)
    result_name, counts_name = result_blob_names(spec.job_set, task_id, input_name)
    result_blob = outputs.get(result_name)
    info = task.execution_info
    failure = None
    stderr_tail = None
    if task.state == "completed" and info is not None and info.result == "failure":
        failure_info = info.failure_info
        failure = (
            f"{failure_info.code}: {failure_info.message}" if failure_info else f"exit code {info.exit_code}"
        )
        stderr_tail = batch.stderr_tail(job_id, task_id)
    elif task.state == "completed" and info is not None and info.result == "success":
        # Success is the result blobs, not the exit code: a blob lost after the task
        # (deleted, or Storage restarted without it) is a failure to report, never a gap.
        missing = [name for name in (result_name, counts_name) if name not in outputs]
        if missing:
            failure = (
                f"ResultMissing: the task succeeded but {', '.join(missing)} is not in container "
                f"{spec.output_container}; submit the input again to recompute it"
            )
    result = None
    if read_outputs and result_blob is not None and failure is None:
        result = json.loads(storage.read_blob(spec.output_container, result_blob.name))
    return TaskResult(
        task_id=task_id,
        input_name=input_name,
        state=text(task.state),
        exit_code=info.exit_code if info is not None else None,
        output_url=result_blob.url if result_blob is not None else None,
        result=result,
        failure=failure,
        stderr_tail=stderr_tail,
        counts_blob=counts_name if counts_name in outputs else None,
        node_id=task.node_info.node_id if task.node_info is not None else None,
        start_time=info.start_time if info is not None else None,
        end_time=info.end_time if info is not None else None,
    )


def collect(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    job_ids: Sequence[str],
    task_ids: set[str] | None = None,
) -> JobResults:
    """Every task's outcome and the exact merged top N over all inputs (or ``task_ids`` only)."""
    outputs = storage.list_blobs(spec.output_container, f"{spec.job_set}/")  # listed once
    tasks = [
        task
        for task in task_results(batch, storage, spec, job_ids, outputs=outputs)
        if task_ids is None or task.task_id in task_ids
    ]
    merged = merge_counts(
        [
            storage.read_blob(spec.output_container, task.counts_blob)
            for task in tasks
            if task.failure is None and task.result is not None and task.counts_blob is not None
        ]
    )
    return JobResults(
        tasks=tasks,
        top_words=nodetask.top_words(merged, spec.numwords),
        total_words=sum(merged.values()),
        distinct_words=len(merged),
    )
