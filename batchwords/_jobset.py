"""A job set: the first job over a set of inputs and its follow-ups, as one thing with one output.

A Batch job that has completed takes no new tasks, so inputs added or changed
later go to a follow-up job (``SET``, ``SET-1``, ``SET-2``, ...). Every job of
the set writes under the output prefix ``SET/``, task ids are
content-addressed, and the outputs always cover exactly the current inputs.
The Pulumi provider, the offline run and the CLI all go through this type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ._batch import TERMINAL_JOB_STATES, Batch
from ._exceptions import BatchServiceError, ConfigError, DeadlineError
from ._packing import plan_tasks
from ._results import JobResults, TaskResult, collect, task_results
from ._spec import NUMWORDS, JobSpec
from ._storage import BlobInfo, Storage, sas_lifetime
from ._tasks import build_task, check_inputs, input_id_for
from ._types import TaskCounts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    job_id: str
    added: list[str]
    already_there: list[str]


@dataclass(frozen=True)
class JobSetOutputs:
    """What is known about a job set: the stack outputs of the BatchJob resource."""

    job_ids: list[str]
    #: running, succeeded or failed
    state: str
    task_counts: TaskCounts
    #: Per current input (blob name): its task's outcome.
    tasks: dict[str, TaskResult]
    top_words: list[tuple[str, int]]
    total_words: int
    distinct_words: int = 0
    #: How many top words each input's result and the merged list hold: the job's numwords.
    numwords: int = NUMWORDS

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks.values() if task.failure is not None]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for Pulumi's state and for JSON (never a key or SAS)."""
        return {
            "job_ids": list(self.job_ids),
            "state": self.state,
            "task_counts": asdict(self.task_counts) | {"total": self.task_counts.total},
            "tasks": {
                name: {
                    "task_id": task.task_id,
                    "state": task.state,
                    "exit_code": task.exit_code,
                    "output_url": task.output_url,
                    "failure": task.failure,
                }
                for name, task in self.tasks.items()
            },
            "top_words": [[word, count] for word, count in self.top_words],
            "total_words": self.total_words,
        }


class JobSet:
    """Submits a job set's inputs, waits for it boundedly and reports its outputs."""

    def __init__(
        self,
        batch: Batch,
        storage: Storage,
        spec: JobSpec,
        job_ids: Sequence[str] = (),
        *,
        submit_timeout: float = 600.0,
        server_error_budget: int = 20,
    ) -> None:
        self.batch = batch
        self.storage = storage
        self.spec = spec
        self.job_ids = list(job_ids)
        self.submit_timeout = submit_timeout
        self.server_error_budget = server_error_budget

    def submit(
        self, inputs: Mapping[str, str], *, known: Mapping[str, str] | None = None
    ) -> Submitted | None:
        """Submit every input (blob name -> base64 MD5) not in ``known`` (what earlier jobs ran).

        The first submission creates the job ``SET``; later ones a follow-up
        job. Returns None when nothing is new. The inputs must be in the input
        container with the given MD5s.
        """
        check_inputs(inputs)
        done = {input_id_for(name, md5) for name, md5 in (known or {}).items()}
        new = sorted(name for name, md5 in inputs.items() if input_id_for(name, md5) not in done)
        if not new:
            return None
        blobs = self._input_blobs({name: inputs[name] for name in new})
        job_id = f"{self.spec.job_set}-{len(self.job_ids)}" if self.job_ids else self.spec.job_set
        submitted = self._submit_job(job_id, blobs)
        self.job_ids.append(job_id)
        return submitted

    def _input_blobs(self, inputs: Mapping[str, str]) -> list[BlobInfo]:
        container = self.spec.input_container
        by_name = {blob.name: blob for blob in self.storage.list_blobs(container)}
        missing = [name for name in inputs if name not in by_name]
        if missing:
            raise ConfigError(
                f"inputs not found in container {container}: {', '.join(missing)}; upload them first"
            )
        stale = [name for name, md5 in inputs.items() if by_name[name].md5 != md5]
        if stale:
            raise ConfigError(
                f"inputs changed in Storage since they were read: {', '.join(stale)}; submit them again"
            )
        return [by_name[name] for name in inputs]

    def _submit_job(self, job_id: str, inputs: list[BlobInfo]) -> Submitted:
        """Create (or adopt) one job, add its tasks (small inputs packed), then let it end itself."""
        spec = self.spec
        plans = plan_tasks(inputs, task_bytes=spec.task_bytes, slots=spec.pool_slots)
        planned = {plan.task_id for plan in plans}
        lifetime = sas_lifetime(
            spec.limits.max_wall_clock,
            spec.limits.max_retries,
            job_wall_clock=spec.job_max_wall_clock,
            requested=spec.sas_lifetime,
        )
        self.storage.ensure_container(spec.output_container)
        output_sas = self.storage.output_sas(spec.output_container, lifetime)
        sign = self.storage.input_sas_url
        input_urls = {blob.name: sign(spec.input_container, blob.name, lifetime) for blob in inputs}
        tasks = [
            build_task(
                plan,
                input_urls=input_urls,
                output_container_url=f"{self.storage.account_url}/{spec.output_container}",
                output_sas=output_sas,
                job_set=spec.job_set,
                numwords=spec.numwords,
                limits=spec.limits,
                nodetask_command=spec.command,
            )
            for plan in plans
        ]
        # A job role assigned by this `pulumi up` may take minutes to apply: waited for first.
        self.batch.wait_for_job_role()
        # One deadline and one budget of server errors for the whole submission.
        batch = self.batch.with_deadline(self.submit_timeout, self.server_error_budget)
        try:
            state = batch.ensure_job(
                job_id, spec.pool_id, spec.job_set, spec.job_max_wall_clock, spec.preparation_task()
            )
            existing = batch.task_ids(job_id)
            to_add = [task for task in tasks if task.id not in existing]
            if state in TERMINAL_JOB_STATES:
                if to_add:
                    raise BatchServiceError(
                        f"job {job_id} is {state} and takes no new tasks ({len(to_add)} missing, e.g. "
                        f"{to_add[0].id}); submit them to a new job id"
                    )
                return Submitted(job_id, [], sorted(existing & planned))
            if to_add:
                batch.add_tasks(job_id, to_add)
            batch.end_when_done(job_id)
        except DeadlineError as exc:
            raise DeadlineError(
                f"submitting job {job_id}: {exc}. Nothing is lost: submitting again adds only the "
                "missing tasks (task ids are deterministic)"
            ) from exc
        return Submitted(job_id, [str(task.id) for task in to_add], sorted(existing & planned))

    def wait(
        self,
        *,
        timeout: float,
        poll_interval: float = 5.0,
        progress: Callable[[TaskCounts], None] | None = None,
    ) -> tuple[TaskCounts, bool]:
        """Wait for every job of the set, at most ``timeout`` seconds (see ``Batch.wait``)."""
        return self.batch.wait(self.job_ids, timeout=timeout, poll_interval=poll_interval, progress=progress)

    def results(self, input_ids: set[str] | None = None) -> JobResults:
        """Every input's outcome and the exact merged top N (over ``input_ids`` only, when given)."""
        return collect(self.batch, self.storage, self.spec, self.job_ids, input_ids)

    def outputs(
        self,
        inputs: Mapping[str, str],
        *,
        wait_timeout: float = 0,
        poll_interval: float = 2.0,
        progress: Callable[[TaskCounts], None] | None = None,
    ) -> JobSetOutputs:
        """Wait up to ``wait_timeout`` seconds, then report what is known about the current ``inputs``."""
        counts, done = self.wait(timeout=max(wait_timeout, 0), poll_interval=poll_interval, progress=progress)
        current = {input_id_for(name, md5): name for name, md5 in inputs.items()}
        top: list[tuple[str, int]] = []
        total = distinct = 0
        if done:
            results = self.results(set(current))
            reported = results.tasks
            if {task.input_id for task in reported} == set(current):
                top, total, distinct = results.top_words, results.total_words, results.distinct_words
        else:
            reported = [
                task
                for task in task_results(
                    self.batch, self.storage, self.spec, self.job_ids, read_outputs=False
                )
                if task.input_id in current
            ]
        tasks = {current[task.input_id]: task for task in reported}
        failed = any(task.failure for task in tasks.values())
        state = "running" if not done else ("failed" if failed else "succeeded")
        return JobSetOutputs(
            list(self.job_ids), state, counts, tasks, top, total, distinct, numwords=self.spec.numwords
        )

    def delete(self, *, outputs: bool = True) -> None:
        """Terminate and delete every job of the set and (``outputs``) its output blobs;
        what is gone already is fine."""
        for job_id in self.job_ids:
            self.batch.cancel(job_id)
            self.batch.delete(job_id)
        if outputs:
            self.storage.delete_prefix(self.spec.output_container, f"{self.spec.job_set}/")
