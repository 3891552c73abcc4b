"""What a job set produced: every input's outcome and the exact merged top N, from one summary.

The reduce on Batch (``_reduce``) writes the job's ``summary.json``; this
reads that one blob, whatever the corpus's size, and Batch's task list for
where and when each task ran and why a task failed. Records are read through
nodetask's contract (``Summary``, ``InputRow``), never spelled again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from azure.batch import models as batch_models

import nodetask

from ._batch import Batch
from ._deadline import text
from ._exceptions import StorageError
from ._reduce import is_reduce_task, summary_blob
from ._storage import Storage
from ._tasks import task_inputs, task_prefix


@dataclass(frozen=True)
class Where:
    """Where a job set's results are: its output container and its prefix there (``SET/``)."""

    job_set: str
    container: str


@dataclass(frozen=True)
class TaskResult:
    """One input's outcome (in the map task that counted it) and, when it succeeded, its result."""

    task_id: str
    input_name: str
    state: str
    exit_code: int | None
    #: The map task's results table (``results.json``), when the input was counted.
    output_url: str | None
    #: nodetask's result record, when it was counted.
    result: nodetask.Result | None = None
    failure: str | None = None
    stderr_tail: str | None = None
    #: Where and when its task ran (its last attempt), as Batch reports it.
    node_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    #: The input's content-addressed id.
    input_id: str = ""

    @property
    def duration(self) -> float | None:
        """Seconds from start to end of its task's last attempt, when both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


@dataclass(frozen=True)
class JobResults:
    tasks: list[TaskResult]
    top_words: list[tuple[str, int]]
    total_words: int
    distinct_words: int
    #: Why there is no merged answer (a reduce task failed, the summary is lost), else None.
    failure: str | None = None
    #: The summary blob the answer was read from.
    summary_blob: str | None = None

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks if task.failure is not None]


@dataclass
class _Task:
    """A task of the job set as Batch lists it, and the job it is in."""

    job_id: str
    task: batch_models.BatchTask
    #: Its stderr tail once read: a pack's inputs share one read.
    tail: str | None = field(default=None, init=False)
    read: bool = field(default=False, init=False)

    @property
    def failure(self) -> str | None:
        info = self.task.execution_info
        if self.task.state != "completed" or info is None or info.result != "failure":
            return None
        why = info.failure_info
        return f"{why.code}: {why.message}" if why else f"exit code {info.exit_code}"

    def stderr_tail(self, batch: Batch) -> str | None:
        if not self.read:
            self.tail, self.read = batch.stderr_tail(self.job_id, str(self.task.id)), True
        return self.tail


def _listed(batch: Batch, job_ids: Sequence[str]) -> tuple[dict[str, _Task], list[_Task]]:
    """(map tasks by id, the last job's reduce tasks). A map task in several jobs (counted
    again by a follow-up while the first still ran) is taken from the latest."""
    maps: dict[str, _Task] = {}
    reduces: list[_Task] = []
    for job_id in job_ids:
        for task in batch.tasks(job_id):
            if not is_reduce_task(str(task.id)):
                maps[str(task.id)] = _Task(job_id, task)
            elif job_id == job_ids[-1]:
                reduces.append(_Task(job_id, task))
    return maps, reduces


def _names(maps: Mapping[str, _Task]) -> dict[str, tuple[str, str]]:
    """Input id -> (blob name, map task id), from the tasks' resource files: Batch's own record."""
    return {
        input_id: (name, task_id)
        for task_id, listed in maps.items()
        for input_id, name in task_inputs(listed.task)
    }


def _from_task(batch: Batch, listed: _Task | None, task_id: str, input_id: str, name: str) -> TaskResult:
    """An input's outcome as far as its map task tells (no result read)."""
    if listed is None:
        return TaskResult(task_id, name, "unknown", None, None, input_id=input_id)
    task, info = listed.task, listed.task.execution_info
    failure = listed.failure
    return TaskResult(
        task_id=task_id,
        input_name=name,
        state=text(task.state),
        exit_code=info.exit_code if info is not None else None,
        output_url=None,
        failure=failure,
        stderr_tail=listed.stderr_tail(batch) if failure else None,
        node_id=task.node_info.node_id if task.node_info is not None else None,
        start_time=info.start_time if info is not None else None,
        end_time=info.end_time if info is not None else None,
        input_id=input_id,
    )


def running_results(batch: Batch, job_ids: Sequence[str], current: Mapping[str, str]) -> list[TaskResult]:
    """Every current input (id -> blob name) as far as its map task tells, while the job set runs."""
    return _running(batch, _listed(batch, job_ids)[0], current)


def _running(batch: Batch, maps: Mapping[str, _Task], current: Mapping[str, str]) -> list[TaskResult]:
    names = _names(maps)
    found = [
        _from_task(batch, maps.get(names[input_id][1]), names[input_id][1], input_id, name)
        if input_id in names
        else TaskResult("", name, "unknown", None, None, input_id=input_id)
        for input_id, name in current.items()
    ]
    return sorted(found, key=lambda result: (result.input_name, result.task_id))


def _reduce_failure(batch: Batch, reduces: list[_Task], blob: str, container: str) -> tuple[str, str | None]:
    """Why the job has no summary, and the failed task's stderr tail."""
    for listed in sorted(reduces, key=lambda item: str(item.task.id)):
        failure = listed.failure
        if failure is not None:
            task_id = str(listed.task.id)
            return f"the reduce task {task_id} failed: {failure}", listed.stderr_tail(batch)
    return (
        f"ResultMissing: the job's summary {container}/{blob} does not exist; submit the inputs again "
        "to gather them",
        None,
    )


def _from_row(seen: TaskResult, row: nodetask.InputRow, table_url: str) -> TaskResult:
    """An input's outcome from its summary row; ``seen``: what its map task tells."""
    if row.ok:
        return replace(
            seen, exit_code=0, output_url=table_url, result=row.result, failure=None, stderr_tail=None
        )
    error = row.error
    if error is not None and error.exit_code != nodetask.ExitCode.NO_RESULTS:
        # The input's own error (nodetask could not count it) names it best.
        return replace(
            seen, exit_code=error.exit_code, failure=f"InputError: {error.error}", stderr_tail=None
        )
    # Its task wrote nothing: Batch's failure of that task and its stderr explain it.
    return replace(seen, failure=seen.failure or (error.error if error else "the input has no result"))


def _reported(
    batch: Batch,
    storage: Storage,
    where: Where,
    *,
    row: nodetask.InputRow | None,
    input: tuple[str, str],
    maps: Mapping[str, _Task],
) -> TaskResult:
    """An input (id, blob name) as the summary reports it, or a failure when it does not."""
    input_id, name = input
    if row is None:
        gap = "NotGathered: the job set's summary does not cover it; submit the inputs again"
        return TaskResult("", name, "unknown", None, None, failure=gap, input_id=input_id)
    task_id = row.task_id or ""
    table = task_prefix(where.job_set, task_id) + nodetask.TASK_RESULTS_NAME
    seen = _from_task(batch, maps.get(task_id), task_id, input_id, name)
    return _from_row(seen, row, storage.blob_url(where.container, table))


def collect(
    batch: Batch,
    storage: Storage,
    where: Where,
    job_ids: Sequence[str],
    current: Mapping[str, str] | None = None,
) -> JobResults:
    """Every input's outcome and the exact merged top N, read from the last job's summary;
    ``current`` (input id -> blob name): the inputs to report, by default the summary's."""
    maps, reduces = _listed(batch, job_ids)
    names = _names(maps)
    blob = summary_blob(where.job_set, job_ids[-1])
    data = storage.read_blob_if_exists(where.container, blob)
    wanted = dict(current) if current is not None else {key: value[0] for key, value in names.items()}
    if data is None:
        failure, tail = _reduce_failure(batch, reduces, blob, where.container)
        tasks = _running(batch, maps, wanted)
        return JobResults(tasks, [], 0, 0, failure=failure + (f"\n{tail}" if tail else ""), summary_blob=None)
    try:
        summary = nodetask.Summary.from_json(data)
    except ValueError as exc:
        raise StorageError(f"{where.container}/{blob} is not nodetask's summary: {exc}") from exc
    rows = {row.id: row for row in summary.rows}
    if current is None:
        wanted = {row.id: names.get(row.id, (row.id, ""))[0] for row in summary.rows}
    tasks = [
        _reported(batch, storage, where, row=rows.get(input_id), input=(input_id, name), maps=maps)
        for input_id, name in wanted.items()
    ]
    tasks.sort(key=lambda result: (result.input_name, result.task_id))
    if set(rows) != set(wanted):
        # The summary gathered other inputs: its totals are not these inputs'.
        return JobResults(tasks, [], 0, 0, summary_blob=blob)
    return JobResults(
        tasks, list(summary.top), summary.total_words, summary.distinct_words, summary_blob=blob
    )
