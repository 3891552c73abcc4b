"""The ``BatchJob`` dynamic resource: one word-count job per stack, submitted by ``pulumi up``.

A thin adapter over :mod:`batchwords`. The provider holds no state and no
secret: every verb builds its clients from the environment (Shared Key for the
emulators, else azure-identity), so nothing secret is pickled into the state.

Deltas: a Batch job that has completed takes no new tasks, so when the inputs
change, ``update`` submits the new or changed inputs to a follow-up job
(``JOB``, ``JOB-1``, ``JOB-2``, ...). Every job of the set writes under the same
output prefix ``JOB/``, task ids are content-addressed, and the outputs (task
table, merged top words) always cover exactly the current inputs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import pulumi
import pulumi.dynamic

import batchwords

logger = logging.getLogger(__name__)

#: Changing any of these starts a new job set (the old one is deleted first).
REPLACE_FIELDS = (
    "job_id",
    "pool_id",
    "numwords",
    "batch_endpoint",
    "storage_endpoint",
    "input_container",
    "output_container",
)
#: Changing only these updates the job set in place.
UPDATE_FIELDS = (
    "inputs",
    "max_wall_clock_minutes",
    "max_retries",
    "retention_hours",
    "wait",
    "wait_timeout_seconds",
)
#: Leaves room for the follow-up suffix within Batch's 64 characters.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,60}")
OUTPUT_FIELDS = ("job_ids", "state", "task_counts", "tasks", "top_words", "total_words")


@dataclass(frozen=True)
class BatchJobInputs:
    """The resource's inputs, parsed and checked at the top of every verb."""

    job_id: str
    pool_id: str
    batch_endpoint: str
    storage_endpoint: str
    input_container: str
    inputs: dict[str, str]
    output_container: str
    numwords: int = 10
    max_wall_clock_minutes: int = 30
    max_retries: int = 2
    retention_hours: int = 24
    wait: bool = True
    wait_timeout_seconds: int = 1800

    @classmethod
    def parse(cls, props: dict[str, Any]) -> BatchJobInputs:
        fields = {name: props[name] for name in cls.__dataclass_fields__ if props.get(name) is not None}
        missing = [
            name for name in ("job_id", "pool_id", "batch_endpoint", "storage_endpoint") if name not in fields
        ]
        missing += [name for name in ("input_container", "output_container", "inputs") if name not in fields]
        if missing:
            raise batchwords.ConfigError(f"BatchJob needs {', '.join(missing)}")
        for name in (
            "numwords",
            "max_wall_clock_minutes",
            "max_retries",
            "retention_hours",
            "wait_timeout_seconds",
        ):
            if name in fields:
                fields[name] = int(fields[name])
        fields["inputs"] = {str(k): str(v) for k, v in dict(fields["inputs"]).items()}
        fields["wait"] = bool(fields.get("wait", True))
        return cls(**fields)

    def failures(self) -> list[tuple[str, str]]:
        """(field, reason) for every bad value."""
        problems: list[tuple[str, str]] = []
        if self.numwords < 1:
            problems.append(("numwords", f"must be at least 1 (got {self.numwords})"))
        if self.max_retries < 1:
            problems.append(
                ("max_retries", f"must be at least 1: preempted nodes need retries (got {self.max_retries})")
            )
        if not 0 < self.max_wall_clock_minutes <= 7 * 24 * 60:
            problems.append(
                ("max_wall_clock_minutes", f"must be 1 to 10080 (got {self.max_wall_clock_minutes})")
            )
        if self.retention_hours < 1:
            problems.append(("retention_hours", f"must be at least 1 (got {self.retention_hours})"))
        if self.wait_timeout_seconds < 0:
            problems.append(
                ("wait_timeout_seconds", f"must not be negative (got {self.wait_timeout_seconds})")
            )
        if not self.inputs:
            problems.append(("inputs", "is empty: give at least one input blob"))
        for name, md5 in self.inputs.items():
            if not md5:
                problems.append(("inputs", f"input {name!r} has no MD5"))
        try:
            batchwords.plan_tasks([batchwords.BlobInfo(n, 0, m, "") for n, m in self.inputs.items() if m])
        except batchwords.ConfigError as exc:
            problems.append(("inputs", str(exc)))
        if not JOB_ID.fullmatch(self.job_id):
            problems.append(("job_id", f"must be 1 to 60 letters, digits, '-' or '_' (got {self.job_id!r})"))
        return problems

    def spec(self) -> batchwords.JobSpec:
        return batchwords.JobSpec(
            job_set=self.job_id,
            pool_id=self.pool_id,
            input_container=self.input_container,
            output_container=self.output_container,
            numwords=self.numwords,
            limits=batchwords.TaskLimits(
                max_wall_clock=timedelta(minutes=self.max_wall_clock_minutes),
                max_retries=self.max_retries,
                retention=timedelta(hours=self.retention_hours),
            ),
        )


def _manager(inputs: BatchJobInputs) -> batchwords.JobManager:
    """Clients for this call only: nothing is kept on the (pickled) provider."""
    credentials = batchwords.resolve_credentials()
    storage = batchwords.Storage(inputs.storage_endpoint, credentials.storage)
    return batchwords.JobManager(inputs.batch_endpoint, storage, credentials)


def _input_blobs(manager: batchwords.JobManager, inputs: BatchJobInputs) -> list[batchwords.BlobInfo]:
    blobs = manager.input_blobs(inputs.spec(), sorted(inputs.inputs))
    stale = [blob.name for blob in blobs if blob.md5 != inputs.inputs[blob.name]]
    if stale:
        raise batchwords.ConfigError(
            f"inputs changed in Storage since the program read them: {', '.join(stale)}; "
            "run `pulumi up` again"
        )
    return blobs


def _outputs(
    manager: batchwords.JobManager, inputs: BatchJobInputs, job_ids: list[str], *, wait: bool
) -> dict[str, Any]:
    """Wait (bounded) if asked, then report what is known."""
    spec = inputs.spec()
    if wait and inputs.wait_timeout_seconds > 0:
        counts, done = manager.wait(job_ids, timeout=inputs.wait_timeout_seconds, poll_interval=2.0)
    else:
        counts = manager.task_counts(job_ids)
        done = counts.active == counts.running == 0
    current = {batchwords.task_id_for(name, md5): name for name, md5 in inputs.inputs.items()}
    top: list[list[Any]] = []
    total = 0
    if done:
        results = manager.collect(job_ids, spec, set(current))
        reported = results.tasks
        if {task.task_id for task in reported} == set(current):
            top = [[word, count] for word, count in results.top_words]
            total = results.total_words
    else:
        reported = [
            t for t in manager.task_results(job_ids, spec, read_outputs=False) if t.task_id in current
        ]
    tasks = {
        current[task.task_id]: {
            "task_id": task.task_id,
            "state": task.state,
            "exit_code": task.exit_code,
            "output_url": task.output_url,
            "failure": task.failure,
        }
        for task in reported
    }
    failed = sum(1 for task in tasks.values() if task["failure"])
    state = "running" if not done else ("failed" if failed else "succeeded")
    return {
        "job_ids": job_ids,
        "state": state,
        "task_counts": asdict(counts) | {"total": counts.total},
        "tasks": tasks,
        "top_words": top,
        "total_words": total,
    }


def _follow_up_id(job_id: str, existing: list[str]) -> str:
    return f"{job_id}-{len(existing)}"


class _BatchJobProvider(pulumi.dynamic.ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        try:
            inputs = BatchJobInputs.parse(news)
        except (batchwords.ConfigError, TypeError, ValueError) as exc:
            return pulumi.dynamic.CheckResult(news, [pulumi.dynamic.CheckFailure("inputs", str(exc))])
        failures = [
            pulumi.dynamic.CheckFailure(name, f"{name} {reason}") for name, reason in inputs.failures()
        ]
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [name for name in REPLACE_FIELDS if olds.get(name) != news.get(name)]
        updates = [name for name in UPDATE_FIELDS if olds.get(name) != news.get(name)]
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=[name for name in REPLACE_FIELDS if name not in replaces],
            # The replacement reuses the job id and output prefix: delete first.
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        inputs = BatchJobInputs.parse(props)
        manager = _manager(inputs)
        manager.submit(inputs.job_id, inputs.spec(), _input_blobs(manager, inputs))
        outs = _outputs(manager, inputs, [inputs.job_id], wait=inputs.wait)
        return pulumi.dynamic.CreateResult(id_=inputs.job_id, outs={**props, **outs})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        old_inputs = BatchJobInputs.parse(olds)
        inputs = BatchJobInputs.parse(news)
        manager = _manager(inputs)
        job_ids = list(olds.get("job_ids") or [old_inputs.job_id])
        known = {batchwords.task_id_for(name, md5) for name, md5 in old_inputs.inputs.items()}
        new_names = [
            name
            for name, md5 in sorted(inputs.inputs.items())
            if batchwords.task_id_for(name, md5) not in known
        ]
        if new_names:
            blobs = [blob for blob in _input_blobs(manager, inputs) if blob.name in new_names]
            follow_up = _follow_up_id(inputs.job_id, job_ids)
            manager.submit(follow_up, inputs.spec(), blobs)
            job_ids.append(follow_up)
        outs = _outputs(manager, inputs, job_ids, wait=inputs.wait)
        return pulumi.dynamic.UpdateResult(outs={**news, **outs})

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = BatchJobInputs.parse(props)
        manager = _manager(inputs)
        outs = _outputs(manager, inputs, list(props.get("job_ids") or [id_]), wait=False)
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, **outs})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        inputs = BatchJobInputs.parse(props)
        manager = _manager(inputs)
        for job_id in props.get("job_ids") or [id_]:
            manager.cancel(job_id)
            manager.delete(job_id)  # already gone is success
        manager.storage.delete_prefix(inputs.output_container, f"{inputs.job_id}/")


class BatchJob(pulumi.dynamic.Resource):
    """A word-count job over the input blobs, on an existing pool."""

    job_ids: pulumi.Output[list[str]]
    state: pulumi.Output[str]
    task_counts: pulumi.Output[dict[str, int]]
    tasks: pulumi.Output[dict[str, Any]]
    top_words: pulumi.Output[list[Any]]
    total_words: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        job_id: pulumi.Input[str],
        pool_id: pulumi.Input[str],
        batch_endpoint: pulumi.Input[str],
        storage_endpoint: pulumi.Input[str],
        input_container: pulumi.Input[str],
        inputs: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        output_container: pulumi.Input[str],
        numwords: pulumi.Input[int] = 10,
        max_wall_clock_minutes: pulumi.Input[int] = 30,
        max_retries: pulumi.Input[int] = 2,
        retention_hours: pulumi.Input[int] = 24,
        wait: pulumi.Input[bool] = True,
        wait_timeout_seconds: pulumi.Input[int] = 1800,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "job_id": job_id,
            "pool_id": pool_id,
            "batch_endpoint": batch_endpoint,
            "storage_endpoint": storage_endpoint,
            "input_container": input_container,
            "inputs": inputs,
            "output_container": output_container,
            "numwords": numwords,
            "max_wall_clock_minutes": max_wall_clock_minutes,
            "max_retries": max_retries,
            "retention_hours": retention_hours,
            "wait": wait,
            "wait_timeout_seconds": wait_timeout_seconds,
        }
        props.update(dict.fromkeys(OUTPUT_FIELDS))
        super().__init__(_BatchJobProvider(), name, props, opts)
