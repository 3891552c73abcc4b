"""Jobs on Azure Batch (or localbatch): submit, monitor, collect, cancel, delete."""

from __future__ import annotations

import enum
import gzip
import heapq
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models import CreateTasksError
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from ._credentials import Credentials
from ._exceptions import BatchServiceError, ConfigError, DeadlineError, StorageError, SubmitError
from ._storage import BlobInfo, Storage, sas_lifetime
from ._tasks import NODETASK_COMMAND, TaskLimits, build_task, output_prefix, plan_tasks

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 2048
TERMINAL_JOB_STATES = {"completed", "deleting", "terminating"}

CountsCallback = Callable[["TaskCounts"], None]


@dataclass(frozen=True)
class TaskCounts:
    active: int = 0
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed

    def __add__(self, other: TaskCounts) -> TaskCounts:
        return TaskCounts(
            self.active + other.active,
            self.running + other.running,
            self.completed + other.completed,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
        )


@dataclass(frozen=True)
class JobSpec:
    """What to run: which pool, inputs and outputs, and each task's limits."""

    job_set: str
    pool_id: str
    input_container: str
    output_container: str
    numwords: int = 10
    limits: TaskLimits = field(default_factory=TaskLimits)
    sas_lifetime: timedelta | None = None
    nodetask_command: str = NODETASK_COMMAND

    def __post_init__(self) -> None:
        if self.numwords < 1:
            raise ConfigError(f"numwords must be at least 1 (got {self.numwords})")


@dataclass(frozen=True)
class Submitted:
    job_id: str
    added: list[str]
    already_there: list[str]


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


@dataclass(frozen=True)
class JobResults:
    tasks: list[TaskResult]
    top_words: list[tuple[str, int]]
    total_words: int
    distinct_words: int

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks if task.failure is not None]


class _Deadline(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Ends a submission at its deadline or after its budget of server errors.

    azure-batch's ``create_tasks`` requeues a chunk that fails with 5xx forever;
    raising here makes it record the error and stop.
    """

    def __init__(self, seconds: float, server_errors: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.budget = server_errors

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlineError(f"the submission did not finish within {self.seconds:.0f} s")

    def on_response(
        self, request: PipelineRequest[HttpRequest], response: PipelineResponse[HttpRequest, HttpResponse]
    ) -> None:
        if response.http_response.status_code >= 500:
            self.budget -= 1
            if self.budget < 0:
                raise DeadlineError(
                    f"the Batch service kept failing ({response.http_response.status_code}) "
                    "beyond the retry budget"
                )


def _text(value: object) -> str:
    """An SDK enum's wire value ("completed"), not its repr ("BatchTaskState.COMPLETED")."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _batch_error(action: str, exc: AzureError) -> BatchServiceError:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or type(exc).__name__
    message = getattr(error, "message", None) or str(exc)
    return BatchServiceError(f"{action} failed ({code}): {str(message).splitlines()[0]}")


def merge_counts(files: list[bytes]) -> Counter[str]:
    """Sum nodetask full-counts files (gzip TSV, a ``word<TAB>count`` header)."""
    merged: Counter[str] = Counter()
    for data in files:
        lines = gzip.decompress(data).decode("utf-8").split("\n")
        if lines[0] != "word\tcount":
            raise StorageError(
                "an output counts file has no 'word<TAB>count' header; was it written by nodetask?"
            )
        for line in lines[1:]:
            if line:
                word, _, count = line.rpartition("\t")
                merged[word] += int(count)
    return merged


def top_words(counts: Counter[str], numwords: int) -> list[tuple[str, int]]:
    """Count descending, then the word: the same order as nodetask's."""
    return heapq.nsmallest(numwords, counts.items(), key=lambda item: (-item[1], item[0]))


class JobManager:
    """Submits and follows batchwords jobs; the CLI and the Pulumi provider share it."""

    def __init__(
        self,
        batch_endpoint: str,
        storage: Storage,
        credentials: Credentials,
        *,
        submit_timeout: float = 600.0,
        server_error_budget: int = 20,
        retry_backoff: float = 0.8,
        policies: Sequence[SansIOHTTPPolicy[HttpRequest, HttpResponse]] = (),
    ) -> None:
        self.batch_endpoint = batch_endpoint.rstrip("/")
        self.storage = storage
        self.credentials = credentials
        self.submit_timeout = submit_timeout
        self.server_error_budget = server_error_budget
        self.retry_backoff = retry_backoff
        self.policies = list(policies)
        self.client = self._client()

    def _client(self, *policies: SansIOHTTPPolicy[HttpRequest, HttpResponse]) -> BatchClient:
        # The SDK's pipeline retries throttling (429/503, honouring Retry-After);
        # azure-core retries a bad status only 3 times by default.
        return BatchClient(
            self.batch_endpoint,
            self.credentials.batch,
            retry_status=8,
            retry_backoff_factor=self.retry_backoff,
            retry_backoff_max=30,
            per_retry_policies=[*self.policies, *policies],
        )

    # -- submit ------------------------------------------------------------

    def input_blobs(self, spec: JobSpec, names: list[str] | None = None) -> list[BlobInfo]:
        blobs = self.storage.list_blobs(spec.input_container)
        if names is not None:
            by_name = {blob.name: blob for blob in blobs}
            missing = [name for name in names if name not in by_name]
            if missing:
                raise ConfigError(
                    f"inputs not found in container {spec.input_container}: {', '.join(missing)}; "
                    "upload them first"
                )
            blobs = [by_name[name] for name in names]
        if not blobs:
            raise ConfigError(f"container {spec.input_container} has no inputs; upload some text files first")
        return blobs

    def ensure_job(self, job_id: str, spec: JobSpec, *, client: BatchClient | None = None) -> str:
        """Create the job (noAction until its tasks are in), or adopt it; returns its state."""
        client = client or self.client
        try:
            client.create_job(
                batch_models.BatchJobCreateOptions(
                    id=job_id,
                    pool_info=batch_models.BatchPoolInfo(pool_id=spec.pool_id),
                    all_tasks_complete_mode="noaction",
                    metadata=[batch_models.BatchMetadataItem(name="batchwords-job-set", value=spec.job_set)],
                )
            )
            return "active"
        except ResourceExistsError:
            job = client.get_job(job_id)
            pool = job.pool_info.pool_id if job.pool_info else None
            if pool != spec.pool_id:
                raise ConfigError(
                    f"job {job_id} exists on another pool ({pool}); choose another job id"
                ) from None
            logger.info("adopting existing job %s (%s)", job_id, job.state)
            return _text(job.state)
        except HttpResponseError as exc:
            raise _batch_error(f"creating job {job_id}", exc) from exc

    def submit(self, job_id: str, spec: JobSpec, inputs: list[BlobInfo]) -> Submitted:
        """Create (or adopt) the job, add one task per input, then let it end itself."""
        planned = plan_tasks(inputs)
        lifetime = sas_lifetime(
            spec.limits.max_wall_clock, spec.limits.max_retries, requested=spec.sas_lifetime
        )
        self.storage.ensure_container(spec.output_container)
        output_sas = self.storage.output_sas(spec.output_container, lifetime)
        output_url = f"{self.storage.account_url}/{spec.output_container}"
        tasks = [
            build_task(
                task_id,
                blob,
                input_url=self.storage.input_sas_url(spec.input_container, blob.name, lifetime),
                output_container_url=output_url,
                output_sas=output_sas,
                job_set=spec.job_set,
                numwords=spec.numwords,
                limits=spec.limits,
                nodetask_command=spec.nodetask_command,
            )
            for task_id, blob in planned.items()
        ]
        # One deadline and one budget of server errors for the whole submission.
        client = self._client(_Deadline(self.submit_timeout, self.server_error_budget))
        try:
            state = self.ensure_job(job_id, spec, client=client)
            existing = self._existing_task_ids(job_id, client)
            to_add = [task for task in tasks if task.id not in existing]
            if state in TERMINAL_JOB_STATES:
                if to_add:
                    raise BatchServiceError(
                        f"job {job_id} is {state} and takes no new tasks ({len(to_add)} missing, e.g. "
                        f"{to_add[0].id}); submit them to a new job id"
                    )
                return Submitted(job_id, [], sorted(existing & set(planned)))
            if to_add:
                self._add_tasks(job_id, to_add, client)
            client.update_job(
                job_id, batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob")
            )
        except DeadlineError as exc:
            raise DeadlineError(
                f"submitting job {job_id}: {exc}. Nothing is lost: submitting again adds only the "
                "missing tasks (task ids are deterministic)"
            ) from exc
        except HttpResponseError as exc:
            raise _batch_error(f"switching job {job_id} to end when its tasks are done", exc) from exc
        return Submitted(job_id, [str(task.id) for task in to_add], sorted(existing & set(planned)))

    def _existing_task_ids(self, job_id: str, client: BatchClient) -> set[str]:
        try:
            return {str(task.id) for task in client.list_tasks(job_id, select=["id"])}
        except HttpResponseError as exc:
            raise _batch_error(f"listing the tasks of job {job_id}", exc) from exc

    def _add_tasks(
        self, job_id: str, tasks: list[batch_models.BatchTaskCreateOptions], client: BatchClient
    ) -> None:
        try:
            client.create_tasks(job_id, tasks, max_concurrency=4)
        except CreateTasksError as exc:
            rejected = {
                str(result.task_id): f"{result.error.code}: {result.error.message}"
                if result.error
                else _text(result.status)
                for result in exc.failure_tasks
            }
            errors = list(exc.errors)
            deadline = next((error for error in errors if isinstance(error, DeadlineError)), None)
            if deadline is not None:
                pending = len(exc.pending_tasks)
                raise DeadlineError(f"{deadline}, with {pending} of {len(tasks)} tasks not added") from exc
            if rejected:
                listing = "; ".join(f"{task_id} ({reason})" for task_id, reason in sorted(rejected.items()))
                raise SubmitError(
                    f"the Batch service rejected {len(rejected)} task(s): {listing}", rejected
                ) from exc
            first = errors[0] if errors else exc
            raise BatchServiceError(f"adding tasks to job {job_id} failed: {first}") from exc

    # -- monitor -----------------------------------------------------------

    def task_counts(self, job_ids: list[str]) -> TaskCounts:
        """One request per job, however many tasks it has."""
        total = TaskCounts()
        for job_id in job_ids:
            try:
                counts = self.client.get_job_task_counts(job_id).task_counts
            except ResourceNotFoundError:
                continue
            except HttpResponseError as exc:
                raise _batch_error(f"reading the task counts of job {job_id}", exc) from exc
            total = total + TaskCounts(
                counts.active, counts.running, counts.completed, counts.succeeded, counts.failed
            )
        return total

    def wait(
        self,
        job_ids: list[str],
        *,
        timeout: float,
        poll_interval: float = 5.0,
        progress: CountsCallback | None = None,
    ) -> tuple[TaskCounts, bool]:
        """Poll task counts until every task is completed or ``timeout`` passes.

        Returns the last counts and whether everything completed; never raises
        on timeout, so a caller can report what is known.
        """
        deadline = time.monotonic() + timeout
        while True:
            counts = self.task_counts(job_ids)
            if progress is not None:
                progress(counts)
            if counts.active == counts.running == 0:
                return counts, True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return counts, False
            time.sleep(min(poll_interval, remaining))

    # -- collect -----------------------------------------------------------

    def task_results(
        self,
        job_ids: list[str],
        spec: JobSpec,
        *,
        read_outputs: bool = True,
        outputs: list[BlobInfo] | None = None,
    ) -> list[TaskResult]:
        """Every task of the jobs; ``outputs`` is the job set's output listing, if already read."""
        results: list[TaskResult] = []
        if outputs is None:
            outputs = self.storage.list_blobs(spec.output_container, f"{spec.job_set}/")
        by_name = {blob.name: blob for blob in outputs}
        for job_id in job_ids:
            try:
                tasks = list(
                    self.client.list_tasks(job_id, select=["id", "displayName", "state", "executionInfo"])
                )
            except ResourceNotFoundError:
                continue
            except HttpResponseError as exc:
                raise _batch_error(f"listing the tasks of job {job_id}", exc) from exc
            for task in tasks:
                results.append(self._task_result(job_id, task, spec, by_name, read_outputs=read_outputs))
        return sorted(results, key=lambda result: result.task_id)

    def _task_result(
        self,
        job_id: str,
        task: batch_models.BatchTask,
        spec: JobSpec,
        outputs: dict[str, BlobInfo],
        *,
        read_outputs: bool,
    ) -> TaskResult:
        task_id = str(task.id)
        info = task.execution_info
        prefix = output_prefix(spec.job_set, task_id)
        result_blob = next(
            (
                blob
                for name, blob in outputs.items()
                if name.startswith(prefix) and name.endswith("_OUTPUT.json")
            ),
            None,
        )
        failure = None
        stderr_tail = None
        if task.state == "completed" and info is not None and info.result == "failure":
            failure_info = info.failure_info
            failure = (
                f"{failure_info.code}: {failure_info.message}"
                if failure_info
                else f"exit code {info.exit_code}"
            )
            stderr_tail = self._stderr_tail(job_id, task_id)
        result = None
        if read_outputs and result_blob is not None and failure is None:
            result = json.loads(self.storage.read_blob(spec.output_container, result_blob.name))
        return TaskResult(
            task_id=task_id,
            input_name=str(task.display_name or task_id),
            state=_text(task.state),
            exit_code=info.exit_code if info is not None else None,
            output_url=result_blob.url if result_blob is not None else None,
            result=result,
            failure=failure,
            stderr_tail=stderr_tail,
        )

    def _stderr_tail(self, job_id: str, task_id: str) -> str | None:
        try:
            data = b"".join(self.client.download_task_file(job_id, task_id, "stderr.txt"))
        except AzureError:
            return None  # the node may be gone; the failure info still says what happened
        return data[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")

    def collect(self, job_ids: list[str], spec: JobSpec, task_ids: set[str] | None = None) -> JobResults:
        """Every task's outcome and the exact merged top N over all inputs
        (or over ``task_ids`` only, when given)."""
        outputs = self.storage.list_blobs(spec.output_container, f"{spec.job_set}/")  # listed once
        tasks = [
            task
            for task in self.task_results(job_ids, spec, outputs=outputs)
            if task_ids is None or task.task_id in task_ids
        ]
        counts_files = [blob.name for blob in outputs if blob.name.endswith("_COUNTS.tsv.gz")]
        succeeded = {task.task_id for task in tasks if task.failure is None and task.result is not None}
        wanted = [name for name in counts_files if name.split("/")[1] in succeeded]
        merged = merge_counts([self.storage.read_blob(spec.output_container, name) for name in wanted])
        return JobResults(
            tasks=tasks,
            top_words=top_words(merged, spec.numwords),
            total_words=sum(merged.values()),
            distinct_words=len(merged),
        )

    # -- cancel / delete ---------------------------------------------------

    def cancel(self, job_id: str) -> bool:
        """Terminate a job; True if it was running, False if already done or gone."""
        try:
            job = self.client.get_job(job_id)
            if job.state in TERMINAL_JOB_STATES:
                return False
            # azure-batch 15.1 cannot send this request without a body, and does
            # not export the body's model from azure.batch.models.
            options = BatchJobTerminateOptions(termination_reason="UserTerminate")
            self.client.begin_terminate_job(job_id, options, polling_interval=1).result()
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if getattr(exc.error, "code", None) == "JobCompleted":
                return False
            raise _batch_error(f"terminating job {job_id}", exc) from exc

    def delete(self, job_id: str) -> bool:
        """Delete a job; deleting one that is already gone is success (returns False)."""
        try:
            self.client.begin_delete_job(job_id, polling_interval=1).result()
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            raise _batch_error(f"deleting job {job_id}", exc) from exc
