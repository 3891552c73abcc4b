"""What a job set produced: every task's outcome and the exact merged top N.

Results are found and read through nodetask's output contract (result and
counts file names, the counts-file reader, the ranking), never spelled again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from azure.batch import models as batch_models

import nodetask

from ._batch import Batch
from ._deadline import text
from ._exceptions import StorageError
from ._spec import JobSpec
from ._storage import BlobInfo, Storage
from ._tasks import error_blob_name, result_blob_names, task_inputs


@dataclass(frozen=True)
class TaskResult:
    """One input's outcome (in the task that counted it) and, when it succeeded, its result."""

    task_id: str
    input_name: str
    state: str
    exit_code: int | None
    output_url: str | None
    #: nodetask's result record, when it was read.
    result: nodetask.Result | None = None
    failure: str | None = None
    stderr_tail: str | None = None
    #: The blob of the task's full counts, when it is there.
    counts_blob: str | None = None
    #: Where and when it ran (its last attempt), as Batch reports it.
    node_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    #: The input's content-addressed id: its results' prefix (the task id when it ran alone).
    input_id: str = ""
    #: The blob of its nodetask result, when it was counted.
    result_blob: str | None = None

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
    """The result blobs of the inputs the job's succeeded tasks counted that are not in ``present``."""
    return [
        name
        for task in batch.tasks(job_id)
        if task.state == "completed"
        and task.execution_info is not None
        and task.execution_info.result == "success"
        for input_id, input_name in _inputs_of(task)
        for name in result_blob_names(job_set, input_id, input_name)
        if name not in present
    ]


def _inputs_of(task: batch_models.BatchTask) -> list[tuple[str, str]]:
    task_id = str(task.id)
    return task_inputs(task) or [(task_id, str(task.display_name or task_id))]


def task_results(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    job_ids: Sequence[str],
    *,
    read_outputs: bool = True,
    outputs: list[BlobInfo] | None = None,
) -> list[TaskResult]:
    """Every input of the jobs' tasks; ``outputs`` is the job set's output listing, if already read."""
    if outputs is None:
        outputs = storage.list_blobs(spec.output_container, f"{spec.job_set}/")
    by_name = {blob.name: blob for blob in outputs}
    results = [
        result
        for job_id in job_ids
        for task in batch.tasks(job_id)
        for result in _input_results(batch, storage, spec, task, job_id=job_id, outputs=by_name)
    ]
    if read_outputs:
        # Every counted input's result, read many at a time (thousands of small blobs).
        names = [result.result_blob for result in results if result.result_blob and not result.failure]
        documents = storage.read_blobs(spec.output_container, names)
        results = [
            replace(result, result=_result(documents, spec.output_container, result.result_blob))
            if result.result_blob in documents
            else result
            for result in results
        ]
    return sorted(results, key=lambda result: (result.input_name, result.task_id))


def _task_failure(batch: Batch, job_id: str, task: batch_models.BatchTask) -> tuple[str | None, str | None]:
    """(failure, stderr tail) of a task that completed with a failure, else (None, None)."""
    info = task.execution_info
    if task.state != "completed" or info is None or info.result != "failure":
        return None, None
    why = info.failure_info
    failure = f"{why.code}: {why.message}" if why else f"exit code {info.exit_code}"
    return failure, batch.stderr_tail(job_id, str(task.id))


def _result(documents: dict[str, bytes], container: str, blob: str | None) -> nodetask.Result:
    """A result blob read through nodetask's contract."""
    try:
        return nodetask.Result.from_json(documents[str(blob)])
    except ValueError as exc:
        raise StorageError(f"{container}/{blob} is not a nodetask result: {exc}") from exc


def _input_error(storage: Storage, container: str, blob: str) -> tuple[str, int | None]:
    """The failure and exit code nodetask recorded for an input it could not count."""
    try:
        record = nodetask.ErrorRecord.from_json(storage.read_blob(container, blob))
    except ValueError as exc:
        raise StorageError(f"{container}/{blob} is not a nodetask error record: {exc}") from exc
    return f"InputError: {record.error}", record.exit_code


def _input_results(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    task: batch_models.BatchTask,
    *,
    job_id: str,
    outputs: dict[str, BlobInfo],
) -> list[TaskResult]:
    """One result per input of a task: an input's own blobs decide its outcome, so one
    input that could not be counted fails alone, and the task's failure is reported for
    the inputs that have no result."""
    task_id = str(task.id)
    info = task.execution_info
    completed = task.state == "completed" and info is not None
    task_failure, stderr_tail = _task_failure(batch, job_id, task)
    results = []
    for input_id, input_name in _inputs_of(task):
        result_name, counts_name = result_blob_names(spec.job_set, input_id, input_name)
        error_name = error_blob_name(spec.job_set, input_id, input_name)
        counted = result_name in outputs and counts_name in outputs
        failure = None
        # A counted input succeeded, whatever became of the others in its task.
        exit_code = 0 if completed and counted else info.exit_code if info is not None else None
        if completed and not counted:
            if error_name in outputs:
                failure, exit_code = _input_error(storage, spec.output_container, error_name)
            elif task_failure is not None:
                failure = task_failure
            else:
                # Success is the result blobs, not the exit code: a blob lost after the task
                # (deleted, or Storage restarted without it) is a failure to report, never a gap.
                missing = [name for name in (result_name, counts_name) if name not in outputs]
                failure = (
                    f"ResultMissing: the task succeeded but {', '.join(missing)} is not in container "
                    f"{spec.output_container}; submit the input again to recompute it"
                )
        result_blob = outputs.get(result_name)
        results.append(
            TaskResult(
                task_id=task_id,
                input_name=input_name,
                state=text(task.state),
                exit_code=exit_code,
                output_url=result_blob.url if result_blob is not None else None,
                failure=failure,
                stderr_tail=stderr_tail if failure is not None and failure == task_failure else None,
                counts_blob=counts_name if counts_name in outputs else None,
                node_id=task.node_info.node_id if task.node_info is not None else None,
                start_time=info.start_time if info is not None else None,
                end_time=info.end_time if info is not None else None,
                input_id=input_id,
                result_blob=result_name if counted else None,
            )
        )
    return results


def collect(
    batch: Batch,
    storage: Storage,
    spec: JobSpec,
    job_ids: Sequence[str],
    input_ids: set[str] | None = None,
) -> JobResults:
    """Every input's outcome and the exact merged top N over all inputs (or ``input_ids`` only)."""
    outputs = storage.list_blobs(spec.output_container, f"{spec.job_set}/")  # listed once
    tasks = [
        task
        for task in task_results(batch, storage, spec, job_ids, outputs=outputs)
        if input_ids is None or task.input_id in input_ids
    ]
    counted = [
        task.counts_blob
        for task in tasks
        if task.failure is None and task.result is not None and task.counts_blob is not None
    ]
    merged = merge_counts(list(storage.read_blobs(spec.output_container, counted).values()))
    return JobResults(
        tasks=tasks,
        top_words=nodetask.top_words(merged, spec.numwords),
        total_words=sum(merged.values()),
        distinct_words=len(merged),
    )
