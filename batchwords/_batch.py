"""One Batch account (Azure Batch or localbatch), through azure-batch: jobs, tasks and pools.

The only module that holds an azure-batch client; everything else asks it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models import CreateTasksError
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.core.polling import LROPoller

from ._deadline import BoundedRetry, Deadline, Policy, batch_error, error_code, text
from ._exceptions import BatchServiceError, ConfigError, DeadlineError, NotFoundError, SubmitError
from ._pool_health import PoolWatch, wait_for_pool
from ._reduce import in_reduce_stage
from ._roles import job_role_applied
from ._types import JobInfo, Say, TaskCounts

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 2048
#: Seconds one poll of a wait may take even when the wait's own timeout is shorter.
MIN_POLL = 10.0
#: How long a delete that another request started is waited for (Batch deletes pools in minutes).
DELETE_WAIT = 1800.0
TERMINAL_JOB_STATES = {"completed", "deleting", "terminating"}
#: Job metadata naming the set a job belongs to (follow-up jobs share their set's output prefix).
JOB_SET_METADATA = "batchwords-job-set"


class Batch:
    """One Batch account; the CLI, the Pulumi provider and the offline run share it."""

    def __init__(
        self,
        endpoint: str,
        credential: AzureNamedKeyCredential | TokenCredential,
        *,
        retry_backoff: float = 0.8,
        policies: Sequence[Policy] = (),
        deadline: float | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        #: Seconds between the polls of a terminate or delete under way (Azure's take seconds to
        #: minutes; a local emulator's well under one).
        self.poll_interval = poll_interval
        # The SDK annotates polling_interval as int; azure-core's pollers sleep any number of seconds.
        self._polling: dict[str, Any] = {"polling_interval": poll_interval}
        if not isinstance(credential, AzureNamedKeyCredential) and not self.endpoint.startswith("https://"):
            raise ConfigError(
                f"Batch endpoint {self.endpoint} is not https: Entra ID tokens go over https only; use the "
                "account's https endpoint, or Shared Key (BATCHWORDS_BATCH_KEY...) for localbatch"
            )
        self._credential = credential
        self._retry_backoff = retry_backoff
        self._policies = list(policies)
        # The SDK's pipeline retries throttling (429/503, honouring Retry-After, but never
        # past ``deadline``); azure-core retries a bad status only 3 times by default.
        retry = BoundedRetry(
            deadline, retry_status=8, retry_backoff_factor=retry_backoff, retry_backoff_max=30
        )
        self._client = BatchClient(
            self.endpoint,
            credential,
            retry_policy=retry,
            per_retry_policies=self._policies,
            connection_timeout=10,
            read_timeout=60,
        )

    def with_deadline(self, seconds: float, server_errors: int, what: str = "the submission") -> Batch:
        """The same account behind one deadline (no request starts and no retry pause ends
        after it) and one budget of server errors (a submission)."""
        limit = Deadline(seconds, server_errors, what)
        return Batch(
            self.endpoint,
            self._credential,
            retry_backoff=self._retry_backoff,
            policies=[*self._policies, limit],
            deadline=limit.deadline,
            poll_interval=self.poll_interval,
        )

    # -- jobs --------------------------------------------------------------

    def ensure_job(
        self,
        job_id: str,
        pool_id: str,
        job_set: str,
        max_wall_clock: timedelta,
        preparation: batch_models.BatchJobPreparationTask | None = None,
    ) -> str:
        """Create the job (noAction until its tasks are in, ended by Batch after
        ``max_wall_clock``, ``preparation`` run on each node first), or adopt it;
        returns its state."""
        try:
            self._client.create_job(
                batch_models.BatchJobCreateOptions(
                    id=job_id,
                    pool_info=batch_models.BatchPoolInfo(pool_id=pool_id),
                    constraints=batch_models.BatchJobConstraints(max_wall_clock_time=max_wall_clock),
                    all_tasks_complete_mode="noaction",
                    # The reduce waits for the map tasks, and a failed reduce ends the job
                    # through its exit options (see docs/design.md).
                    uses_task_dependencies=True,
                    task_failure_mode="performexitoptionsjobaction",
                    job_preparation_task=preparation,
                    metadata=[batch_models.BatchMetadataItem(name=JOB_SET_METADATA, value=job_set)],
                )
            )
            return "active"
        except ResourceExistsError:
            job = self.get_job(job_id)
            if job.pool_id != pool_id:
                raise ConfigError(
                    f"job {job_id} exists on another pool ({job.pool_id}); choose another job id"
                ) from None
            logger.info("adopting existing job %s (%s)", job_id, job.state)
            return job.state
        except AzureError as exc:
            raise batch_error(f"creating job {job_id}", exc, self.endpoint) from exc

    def get_job(self, job_id: str) -> JobInfo:
        try:
            return _job_info(self._client.get_job(job_id))
        except ResourceNotFoundError as exc:
            raise NotFoundError(f"not found: job {job_id} does not exist in {self.endpoint}") from exc
        except AzureError as exc:
            raise batch_error(f"reading job {job_id}", exc, self.endpoint) from exc

    def wait_for_job_role(self) -> None:
        """With Entra ID, wait (bounded, saying why) until the caller's job role applies: a
        submission's first call. Shared Key carries every right."""
        if not isinstance(self._credential, AzureNamedKeyCredential):
            job_role_applied(self.endpoint, lambda: next(iter(self._client.list_jobs(max_results=1)), None))

    def list_jobs(self) -> list[JobInfo]:
        try:
            return [_job_info(job) for job in self._client.list_jobs()]
        except AzureError as exc:
            raise batch_error("listing the jobs", exc, self.endpoint) from exc

    def task_ids(self, job_id: str) -> set[str]:
        """The ids of a job's tasks; none if the job is gone."""
        try:
            return {str(task.id) for task in self._client.list_tasks(job_id, select=["id"])}
        except ResourceNotFoundError:
            return set()
        except AzureError as exc:
            raise batch_error(f"listing the tasks of job {job_id}", exc, self.endpoint) from exc

    def add_tasks(self, job_id: str, tasks: list[batch_models.BatchTaskCreateOptions]) -> None:
        try:
            self._client.create_tasks(job_id, tasks, max_concurrency=4)
        except CreateTasksError as exc:
            rejected = {
                str(result.task_id): f"{result.error.code}: {result.error.message}"
                if result.error
                else text(result.status)
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

    def end_when_done(self, job_id: str) -> None:
        """Switch the job to terminate once all its tasks are complete."""
        try:
            self._client.update_job(
                job_id, batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob")
            )
        except AzureError as exc:
            raise batch_error(
                f"switching job {job_id} to end when its tasks are done", exc, self.endpoint
            ) from exc

    def task_counts(
        self, job_ids: Sequence[str], reduce_tasks: Mapping[str, int] | None = None
    ) -> TaskCounts:
        """One request per job, however many tasks it has; a missing job counts nothing.
        ``reduce_tasks``: how many of each job's tasks are its reduce stage (see ``with_reduce``)."""
        total = TaskCounts()
        for job_id in job_ids:
            try:
                counts = self._client.get_job_task_counts(job_id).task_counts
            except ResourceNotFoundError:
                continue
            except AzureError as exc:
                raise batch_error(f"reading the task counts of job {job_id}", exc, self.endpoint) from exc
            job = TaskCounts(counts.active, counts.running, counts.completed, counts.succeeded, counts.failed)
            total = total + (job.with_reduce(reduce_tasks[job_id]) if reduce_tasks else job)
        return total

    def wait(
        self,
        job_ids: Sequence[str],
        *,
        timeout: float,
        poll_interval: float = 5.0,
        progress: Callable[[TaskCounts], None] | None = None,
    ) -> tuple[TaskCounts, bool]:
        """Poll until every task of the jobs is completed, or ``timeout`` passes; a pool that
        cannot run their tasks ends it early with ``PoolError`` (see ``_pool_health``).

        Task counts are cheap (one request per job) but "may not always be up to
        date": right after a submission they can still say zero. So the jobs are
        done only when the counts have completed every task a list query found at
        the start, and a list query at the end confirms it; the counts returned
        then are the list's. Never raises on timeout: returns the last counts and
        whether everything completed, so a caller can report what is known.
        """
        deadline = time.monotonic() + timeout
        # Every request and retry pause ends by the deadline (a zero timeout gets MIN_POLL
        # seconds, to read the counts once).
        bounded = self.with_deadline(timeout or MIN_POLL, server_errors=1_000_000, what="the wait")
        expected: int | None = None
        reduce_tasks: dict[str, int] = {}
        counts = TaskCounts()
        watch = PoolWatch(job_ids)
        while True:
            problem: BatchServiceError | None = None
            try:
                if expected is None:
                    ids = {job_id: bounded.task_ids(job_id) for job_id in job_ids}
                    reduce_tasks = {job: sum(map(in_reduce_stage, found)) for job, found in ids.items()}
                    expected = sum(len(found) for found in ids.values())
                counts = bounded.task_counts(job_ids, reduce_tasks)
                if counts.completed >= expected and counts.active == counts.running == 0:
                    listed = bounded.listed_counts(job_ids)
                    if listed.active == listed.running == 0:
                        if progress is not None:
                            progress(listed)
                        return listed, True
                elif counts.active and not counts.running and bounded.ended(job_ids):
                    # A job ended early (a failed reduce terminates it) keeps the tasks that
                    # never started active for good: it is done all the same.
                    listed = bounded.listed_counts(job_ids)
                    if progress is not None:
                        progress(listed)
                    return listed, True
                if progress is not None:
                    progress(counts)
                watch.check(bounded, counts)
            except DeadlineError:
                if expected is None:  # not one answer in the whole wait: say so
                    problem = BatchServiceError(
                        f"the Batch service at {self.endpoint} did not answer within the wait's "
                        f"{timeout:.0f} s (throttled or failing)",
                        transient=True,
                    )
            except BatchServiceError as exc:
                if not exc.transient:
                    raise
                problem = exc  # unreachable or failing for now: try again until the deadline
                logger.warning("%s; trying again until the wait ends", exc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if problem is not None:
                    raise BatchServiceError(f"{problem} (tried for {timeout:.0f} s)", transient=True)
                return counts, False
            time.sleep(min(poll_interval, remaining))

    def ended(self, job_ids: Sequence[str]) -> bool:
        """Whether every job is completed (or gone): none will run another task."""
        for job_id in job_ids:
            try:
                if self.get_job(job_id).state not in TERMINAL_JOB_STATES:
                    return False
            except NotFoundError:
                continue
        return True

    def listed_counts(self, job_ids: Sequence[str]) -> TaskCounts:
        """Task counts from listing every task: exact, but one page per 1,000 tasks."""
        total = TaskCounts()
        for job_id in job_ids:
            job, reduce = TaskCounts(), 0
            for task in self.tasks(job_id):
                state = text(task.state)
                info = task.execution_info
                done = state == "completed"
                failed = done and info is not None and text(info.result) == "failure"
                reduce += in_reduce_stage(str(task.id))
                job = job + TaskCounts(
                    active=int(state == "active"),
                    running=int(state in ("running", "preparing")),
                    completed=int(done),
                    succeeded=int(done and not failed),
                    failed=int(failed),
                )
            total = total + job.with_reduce(reduce)
        return total

    def tasks(self, job_id: str) -> list[batch_models.BatchTask]:
        """Every task of a job (id, inputs, state, execution info, node, dependencies); none if the
        job is gone."""
        try:
            fields = ["id", "displayName", "state", "executionInfo", "nodeInfo", "resourceFiles", "dependsOn"]
            return list(self._client.list_tasks(job_id, select=fields))
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise batch_error(f"listing the tasks of job {job_id}", exc, self.endpoint) from exc

    def stderr_tail(self, job_id: str, task_id: str) -> str | None:
        try:
            data = b"".join(self._client.download_task_file(job_id, task_id, "stderr.txt"))
        except AzureError:
            return None  # the node may be gone; the failure info still says what happened
        return data[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")

    def preparation_status(self, job_id: str) -> list[batch_models.BatchJobPreparationAndReleaseTaskStatus]:
        """Where the job's preparation task ran and how; none for a job without one, or gone."""
        try:
            return list(self._client.list_job_preparation_and_release_task_status(job_id))
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            if error_code(exc) == "JobPreparationTaskOrReleaseTaskNotSpecified":
                return []
            raise batch_error(f"listing the preparation tasks of job {job_id}", exc, self.endpoint) from exc

    def preparation_failures(self, job_id: str) -> list[str]:
        """Each node where the job's preparation task (installing nodetask) failed, with its
        exit code and the end of its stderr: such a node takes none of the job's tasks."""
        found = []
        for status in self.preparation_status(job_id):
            info = status.job_preparation_task_execution_info
            if info is None or text(info.result) != "failure":
                continue
            where = f"{info.task_root_directory}/stderr.txt"
            tail = self.node_file_tail(str(status.pool_id), str(status.node_id), where)
            reason = info.failure_info.message if info.failure_info else ""
            found.append(
                f"node {status.node_id}: exit code {info.exit_code}"
                + (f", {reason}" if reason else "")
                + (f"; stderr: {tail}" if tail else "")
            )
        return found

    def cancel(self, job_id: str) -> bool:
        """Terminate a job; True if it was running, False if already done or gone."""
        try:
            job = self._client.get_job(job_id)
            if job.state in TERMINAL_JOB_STATES:
                return False
            # azure-batch 15.1 cannot send this request without a body, and does
            # not export the body's model from azure.batch.models.
            options = BatchJobTerminateOptions(termination_reason="UserTerminate")
            self._client.begin_terminate_job(job_id, options, **self._polling).result()
            return True
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            if error_code(exc) == "JobCompleted":
                return False
            raise batch_error(f"terminating job {job_id}", exc, self.endpoint) from exc

    def delete(self, job_id: str) -> bool:
        """Delete a job; deleting one that is already gone is success (returns False)."""
        return self._deleted(
            f"job {job_id}",
            lambda: self._client.begin_delete_job(job_id, **self._polling),
            lambda: self._client.get_job(job_id, select=["id", "state"]),
        )

    # -- pools -------------------------------------------------------------

    def create_pool(self, options: batch_models.BatchPoolCreateOptions) -> None:
        """Create a pool. When a retried create finds the pool, it is ours if it is the same
        pool (the service's answer to the first try was lost); any other is refused."""
        try:
            self._client.create_pool(options)
        except ResourceExistsError as exc:
            pool = self._client.get_pool(str(options.id))
            start = pool.start_task.command_line if pool.start_task else None
            wanted = options.start_task.command_line if options.start_task else None
            if (pool.vm_size or "").lower() != options.vm_size.lower() or start != wanted:
                raise batch_error(f"creating pool {options.id}", exc, self.endpoint) from exc
        except AzureError as exc:
            raise batch_error(f"creating pool {options.id}", exc, self.endpoint) from exc

    def wait_for_pool(self, pool_id: str, *, timeout: float, say: Say | None = None) -> None:
        """Wait until every node is idle; a failed StartTask raises with the tail of its stderr."""
        wait_for_pool(self, pool_id, timeout=timeout, say=say)

    def pool(self, pool_id: str) -> batch_models.BatchPool | None:
        """The pool's allocation state and resize errors; None if it does not exist."""
        try:
            fields = ["id", "state", "allocationState", "allocationStateTransitionTime", "resizeErrors"]
            return self._client.get_pool(pool_id, select=[*fields, "enableAutoScale"])
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise batch_error(f"reading pool {pool_id}", exc, self.endpoint) from exc

    def nodes(self, pool_id: str) -> list[batch_models.BatchNode]:
        """The pool's nodes: state, StartTask info, errors."""
        try:
            return list(self._client.list_nodes(pool_id))
        except AzureError as exc:
            raise batch_error(f"listing the nodes of pool {pool_id}", exc, self.endpoint) from exc

    def node_file_tail(self, pool_id: str, node_id: str, path: str) -> str:
        """The end of a file on a node; empty if it cannot be read (the node may be gone)."""
        try:
            data = b"".join(self._client.download_node_file(pool_id, node_id, path))
        except AzureError:
            return ""
        return data[-STDERR_TAIL_BYTES:].decode("utf-8", errors="replace").strip()

    def delete_pool(self, pool_id: str) -> bool:
        """Delete a pool; one that is already gone is success (returns False)."""
        return self._deleted(
            f"pool {pool_id}",
            lambda: self._client.begin_delete_pool(pool_id, **self._polling),
            lambda: self._client.get_pool(pool_id, select=["id", "state"]),
        )

    def _deleted(self, what: str, begin: Callable[[], LROPoller[None]], get: Callable[[], object]) -> bool:
        """Run a delete to its end; True if it deleted something, False if it was already gone.
        One already being deleted (a retry whose first answer was lost, or another client's
        delete) is waited for, as the delete's own poller would."""
        try:
            begin().result()
            return True
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            if error_code(exc) not in ("JobBeingDeleted", "PoolBeingDeleted"):
                raise batch_error(f"deleting {what}", exc, self.endpoint) from exc
        deadline = time.monotonic() + DELETE_WAIT
        while time.monotonic() < deadline:
            try:
                get()
            except ResourceNotFoundError:
                return True
            except AzureError as exc:
                raise batch_error(f"deleting {what}", exc, self.endpoint) from exc
            time.sleep(self.poll_interval)
        raise DeadlineError(f"{what} was still being deleted after {DELETE_WAIT:.0f} s")


def _job_info(job: batch_models.BatchJob) -> JobInfo:
    job_set = next(
        (str(item.value) for item in job.metadata or [] if item.name == JOB_SET_METADATA), str(job.id)
    )
    return JobInfo(
        id=str(job.id),
        state=text(job.state),
        pool_id=job.pool_info.pool_id if job.pool_info else None,
        created=job.creation_time,
        job_set=job_set,
    )
