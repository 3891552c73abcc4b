"""A job set: the first job over a set of inputs and its follow-ups, as one thing with one output.

A Batch job that has completed takes no new tasks, so inputs added or changed
later go to a follow-up job (``SET``, ``SET-1``, ``SET-2``, ...). Every job of
the set writes under the output prefix ``SET/``, task ids are
content-addressed, and the outputs always cover exactly the current inputs.
The Pulumi provider, the offline run and the CLI all go through this type.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nodetask

from ._batch import TERMINAL_JOB_STATES, Batch
from ._exceptions import BatchServiceError, ConfigError, DeadlineError, StorageError
from ._packing import plan_tasks
from ._reduce import SUMMARY_TASK, is_reduce_task, manifest_blob, partitions_for, reduce_stages
from ._results import JobResults, TaskResult, Where, collect, running_results
from ._spec import NUMWORDS, JobSpec
from ._storage import BlobInfo, Storage, sas_lifetime
from ._tasks import build_task, check_inputs, input_id_for, task_prefix
from ._types import TaskCounts

logger = logging.getLogger(__name__)


def jobs_up_to(job_set: str, job_id: str) -> list[str]:
    """The ids of a set's jobs from its first to ``job_id``: ``SET``, ``SET-1``, ..."""
    number = job_id.removeprefix(f"{job_set}-")
    if job_id == job_set or not number.isdigit():
        return [job_id]
    return [job_set, *(f"{job_set}-{index}" for index in range(1, int(number) + 1))]


@dataclass(frozen=True)
class Submitted:
    job_id: str
    #: The map tasks added (each counts one or several inputs).
    added: list[str]
    already_there: list[str]
    #: The tasks after the map that were added: gates, reduce tasks and the summary task.
    gather: list[str] = field(default_factory=list)


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
    #: Why there is no merged answer although the jobs are done (a reduce task failed), else None.
    failure: str | None = None

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks.values() if task.failure is not None]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for Pulumi's state and for JSON (never a key or SAS)."""
        return {
            "job_ids": list(self.job_ids),
            "state": self.state,
            "task_counts": self.task_counts.as_dict(),
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
            "failure": self.failure,
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
        """Submit the job set's current inputs (blob name -> base64 MD5); ``known``: the inputs
        the earlier jobs ran.

        The first submission creates the job ``SET``; later ones a follow-up job,
        whose map tasks count the new and changed inputs and whose reduce merges
        them with what the earlier jobs counted (docs/design.md). Returns None
        when the inputs are what the earlier jobs ran. The inputs must be in the
        input container with the given MD5s.
        """
        check_inputs(inputs)
        current = {input_id_for(name, md5): name for name, md5 in inputs.items()}
        done = {input_id_for(name, md5) for name, md5 in (known or {}).items()}
        if self.job_ids and set(current) == done:
            return None
        listing = {blob.name: blob for blob in self.storage.list_blobs(self.spec.input_container)}
        carried, recount = self._carried(set(current) & done)
        to_map = sorted(current[input_id] for input_id in (set(current) - done) | recount)
        blobs = self._input_blobs(listing, {name: inputs[name] for name in to_map})
        partitions = self.spec.partitions or partitions_for(
            sum(listing[name].size for name in current.values() if name in listing)
        )
        job_id = f"{self.spec.job_set}-{len(self.job_ids)}" if self.job_ids else self.spec.job_set
        submitted = self._submit_job(job_id, blobs, carried, partitions)
        self.job_ids.append(job_id)
        return submitted

    def _carried(self, kept: set[str]) -> tuple[list[nodetask.ReduceSource], set[str]]:
        """What the reduce takes from earlier jobs for the ``kept`` inputs: the sources of the
        last job's manifest whose map task has completed, and the inputs to count again (their
        task is still running, or no manifest names them)."""
        if not kept or not self.job_ids:
            return [], kept
        data = self.storage.read_blob_if_exists(
            self.spec.output_container, manifest_blob(self.spec.job_set, self.job_ids[-1])
        )
        if data is None:
            return [], kept
        try:
            manifest = nodetask.ReduceManifest.from_json(data)
        except ValueError as exc:
            raise StorageError(f"the manifest of job {self.job_ids[-1]} is not nodetask's: {exc}") from exc
        completed = {
            str(task.id)
            for job_id in self.job_ids
            for task in self.batch.tasks(job_id)
            if task.state == "completed"
        }
        carried: list[nodetask.ReduceSource] = []
        covered: set[str] = set()
        for source in manifest.sources:
            taken = tuple(input_id for input_id in source.inputs if input_id in kept)
            if taken and source.task_id in completed:
                carried.append(dataclasses.replace(source, inputs=taken))
                covered.update(taken)
        return carried, kept - covered

    def _input_blobs(self, listing: Mapping[str, BlobInfo], inputs: Mapping[str, str]) -> list[BlobInfo]:
        container = self.spec.input_container
        missing = [name for name in inputs if name not in listing]
        if missing:
            raise ConfigError(
                f"inputs not found in container {container}: {', '.join(missing)}; upload them first"
            )
        stale = [name for name, md5 in inputs.items() if listing[name].md5 != md5]
        if stale:
            raise ConfigError(
                f"inputs changed in Storage since they were read: {', '.join(stale)}; submit them again"
            )
        return [listing[name] for name in inputs]

    def _submit_job(
        self, job_id: str, inputs: list[BlobInfo], carried: list[nodetask.ReduceSource], partitions: int
    ) -> Submitted:
        """Create (or adopt) one job, add its map tasks (small inputs packed), the reduce
        after them, then let the job end itself."""
        spec = self.spec
        plans = plan_tasks(inputs, task_bytes=spec.task_bytes, slots=spec.pool_slots) if inputs else []
        lifetime = sas_lifetime(
            spec.limits.max_wall_clock,
            spec.limits.max_retries,
            job_wall_clock=spec.job_max_wall_clock,
            requested=spec.sas_lifetime,
        )
        self.storage.ensure_container(spec.output_container)
        output_sas = self.storage.output_sas(spec.output_container, lifetime)
        container_url = f"{self.storage.account_url}/{spec.output_container}"
        sign = self.storage.input_sas_url
        input_urls = {blob.name: sign(spec.input_container, blob.name, lifetime) for blob in inputs}
        maps = [
            build_task(
                plan,
                input_urls=input_urls,
                output_container_url=container_url,
                output_sas=output_sas,
                job_set=spec.job_set,
                numwords=spec.numwords,
                partitions=partitions,
                limits=spec.limits,
                nodetask_command=spec.command,
            )
            for plan in plans
        ]
        sources = carried + [
            nodetask.ReduceSource(
                plan.task_id,
                task_prefix(spec.job_set, plan.task_id),
                partitions,
                tuple(sorted(input_id for input_id, _ in plan.inputs)),
            )
            for plan in plans
        ]
        manifest = nodetask.ReduceManifest(
            partitions, spec.numwords, tuple(sorted(sources, key=lambda source: source.task_id))
        )
        stages = [
            maps,
            *reduce_stages(
                job_set=spec.job_set,
                job_id=job_id,
                map_ids=[str(task.id) for task in maps],
                partitions=partitions,
                container_url=container_url,
                write_sas=output_sas,
                read_sas=self.storage.output_read_sas(spec.output_container, lifetime),
                limits=spec.limits,
                command=spec.command,
            ),
        ]
        planned = {str(task.id) for stage in stages for task in stage}
        # A job role assigned by this `pulumi up` may take minutes to apply: waited for first.
        self.batch.wait_for_job_role()
        # One deadline and one budget of server errors for the whole submission.
        batch = self.batch.with_deadline(self.submit_timeout, self.server_error_budget)
        try:
            state = batch.ensure_job(
                job_id, spec.pool_id, spec.job_set, spec.job_max_wall_clock, spec.preparation_task()
            )
            existing = batch.task_ids(job_id)
            to_add = [[task for task in stage if task.id not in existing] for stage in stages]
            missing = [task for stage in to_add for task in stage]
            if state in TERMINAL_JOB_STATES:
                if missing:
                    raise BatchServiceError(
                        f"job {job_id} is {state} and takes no new tasks ({len(missing)} missing, e.g. "
                        f"{missing[0].id}); submit them to a new job id"
                    )
                return Submitted(job_id, [], sorted(existing & planned))
            self._write_manifest(job_id, manifest, adopted=SUMMARY_TASK in existing)
            for stage in to_add:  # parents before the tasks that depend on them
                if stage:
                    batch.add_tasks(job_id, stage)
            batch.end_when_done(job_id)
        except DeadlineError as exc:
            raise DeadlineError(
                f"submitting job {job_id}: {exc}. Nothing is lost: submitting again adds only the "
                "missing tasks (task ids are deterministic)"
            ) from exc
        added = [str(task.id) for task in missing]
        return Submitted(
            job_id,
            [task_id for task_id in added if not is_reduce_task(task_id)],
            sorted(existing & planned),
            [task_id for task_id in added if is_reduce_task(task_id)],
        )

    def _write_manifest(self, job_id: str, manifest: nodetask.ReduceManifest, *, adopted: bool) -> None:
        """The reduce's manifest, before its tasks; a job whose reduce is already in keeps its
        own, and one that gathers other inputs is refused."""
        container, name = self.spec.output_container, manifest_blob(self.spec.job_set, job_id)
        data = manifest.to_json().encode("utf-8")
        if adopted:
            there = self.storage.read_blob_if_exists(container, name)
            if there is not None and there != data:
                raise BatchServiceError(
                    f"job {job_id} already gathers other inputs than these; delete it "
                    f"(batchwords jobs delete {job_id}) and submit again"
                )
            if there is not None:
                return
        self.storage.write_blob(container, name, data, "application/json")

    def wait(
        self,
        *,
        timeout: float,
        poll_interval: float = 5.0,
        progress: Callable[[TaskCounts], None] | None = None,
    ) -> tuple[TaskCounts, bool]:
        """Wait for every job of the set, at most ``timeout`` seconds (see ``Batch.wait``)."""
        return self.batch.wait(self.job_ids, timeout=timeout, poll_interval=poll_interval, progress=progress)

    @property
    def where(self) -> Where:
        """Where the set's results are."""
        return Where(self.spec.job_set, self.spec.output_container)

    def results(self, inputs: Mapping[str, str] | None = None) -> JobResults:
        """Every input's outcome and the exact merged top N, from the last job's summary
        (``inputs``: blob name -> MD5, the inputs to report; by default the summary's)."""
        current = None if inputs is None else {input_id_for(name, md5): name for name, md5 in inputs.items()}
        return collect(self.batch, self.storage, self.where, self.job_ids, current)

    def outputs(
        self,
        inputs: Mapping[str, str],
        *,
        wait_timeout: float = 0,
        poll_interval: float = 2.0,
        progress: Callable[[TaskCounts], None] | None = None,
    ) -> JobSetOutputs:
        """Wait up to ``wait_timeout`` seconds, then report what is known about the current
        ``inputs``: when the jobs are done, the last job's summary, read whole (its size does not
        grow with the vocabulary); before, each input's map task."""
        counts, done = self.wait(timeout=max(wait_timeout, 0), poll_interval=poll_interval, progress=progress)
        current = {input_id_for(name, md5): name for name, md5 in inputs.items()}
        if done:
            results = self.results(inputs)
        else:
            results = JobResults(running_results(self.batch, self.job_ids, current), [], 0, 0)
        tasks = {current[task.input_id]: task for task in results.tasks}
        failed = results.failure is not None or any(task.failure for task in tasks.values())
        state = "running" if not done else ("failed" if failed else "succeeded")
        return JobSetOutputs(
            list(self.job_ids),
            state,
            counts,
            tasks,
            results.top_words,
            results.total_words,
            results.distinct_words,
            numwords=self.spec.numwords,
            failure=results.failure,
        )

    def delete(self, *, outputs: bool = True) -> None:
        """Terminate and delete every job of the set and (``outputs``) its output blobs;
        what is gone already is fine."""
        for job_id in self.job_ids:
            self.batch.cancel(job_id)
            self.batch.delete(job_id)
        if outputs:
            self.storage.delete_prefix(self.spec.output_container, f"{self.spec.job_set}/")
