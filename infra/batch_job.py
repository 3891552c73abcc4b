"""The ``BatchJob`` dynamic resource: one word-count job set per stack, submitted by ``pulumi up``.

A thin adapter: props -> ``batchwords.JobSet`` -> outputs. The provider holds
no state and no secret: every verb builds its clients from the environment
(Shared Key for the emulators, else azure-identity), so nothing secret is
pickled into the state. Follow-up jobs, validation, the bounded wait and the
outputs are the core's (see ``batchwords.JobSet``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

import batchwords
from batchwords import deploy
from infra import dynamic
from infra.config import JOB_PARAMETERS, job_spec

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
    "job_max_wall_clock_hours",
    "wait",
    "wait_timeout_seconds",
    # A new release reaches the jobs submitted from now on (their preparation task installs it).
    "nodetask",
    # How inputs are packed into tasks: for the tasks submitted from now on.
    "task_bytes",
    "pool_slots",
    # Another deployer: the verbs from now on check their credentials against the new one.
    "principal_id",
)
OUTPUT_FIELDS = ("job_ids", "state", "task_counts", "tasks", "top_words", "total_words")
REQUIRED = ("job_id", "pool_id", "batch_endpoint", "storage_endpoint", "input_container", "output_container")
#: This resource's prop for each field the core names in a problem (the others keep their name).
_PROPS = {field: prop for field, (_, prop) in JOB_PARAMETERS.items()}


#: The ``nodetask`` prop's shape, as its errors name it.
NODETASK_SHAPE = "{digest, files: {file name: {url, sha256}}, identity?, python?}"


def nodetask_release(value: Any) -> deploy.NodetaskRelease | None:
    """The ``nodetask`` prop: ``NODETASK_SHAPE``, every wheel and the lock with its sha256.

    State from before releases carried hashes (``{digest, wheels: {name: URL},
    use_index}``) reads as no release: it only comes back as an update's old
    inputs, which name jobs and inputs and never install anything.
    """
    if value is None:
        return None
    try:
        if "files" not in value and "wheels" in value:
            return None
        return deploy.NodetaskRelease(
            digest=str(value["digest"]),
            files=tuple(
                (str(name), str(file["url"]), str(file["sha256"]))
                for name, file in dict(value["files"]).items()
            ),
            identity=str(value["identity"]) if value.get("identity") else None,
            python=str(value.get("python") or "python3"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise batchwords.ConfigError(
            f"nodetask must be {NODETASK_SHAPE} ({exc!r})",
            [("nodetask", f"must be {NODETASK_SHAPE} ({exc!r})")],
        ) from exc


def job_props(spec: batchwords.JobSpec) -> dict[str, Any]:
    """The job parameter props for a spec (what ``BatchJobInputs.parse`` reads back)."""
    values = {
        "job_set": spec.job_set,
        "numwords": spec.numwords,
        "max_wall_clock": spec.limits.max_wall_clock // timedelta(minutes=1),
        "max_retries": spec.limits.max_retries,
        "retention": spec.limits.retention // timedelta(hours=1),
        "job_max_wall_clock": spec.job_max_wall_clock // timedelta(hours=1),
        "task_bytes": spec.task_bytes,
        "pool_slots": spec.pool_slots,
    }
    return {_PROPS[field]: value for field, value in values.items()}


def nodetask_props(release: deploy.NodetaskRelease) -> dict[str, Any]:
    """The ``nodetask`` prop for a release (what ``nodetask_release`` reads back)."""
    return {
        "digest": release.digest,
        "files": {name: {"url": url, "sha256": sha256} for name, url, sha256 in release.files},
        "identity": release.identity,
        "python": release.python,
    }


@dataclass(frozen=True)
class BatchJobInputs:
    """The resource's inputs, parsed and checked (by the core) at the top of every verb."""

    spec: batchwords.JobSpec
    inputs: dict[str, str]
    batch_endpoint: str
    storage_endpoint: str
    wait_timeout_seconds: int
    #: The object id the program granted the data roles to (None: not checked).
    principal_id: str | None = None

    @classmethod
    def parse(cls, props: Mapping[str, Any]) -> BatchJobInputs:
        """The inputs, or one ``ConfigError`` whose ``problems`` name every bad field."""
        missing = [name for name in (*REQUIRED, "inputs") if props.get(name) is None]
        if missing:
            problems = [(name, "is required") for name in missing]
            raise batchwords.ConfigError(f"BatchJob needs {', '.join(missing)}", problems)
        inputs = {str(name): str(md5) for name, md5 in dict(props["inputs"]).items()}
        timeout = int(props.get("wait_timeout_seconds", 1800))
        problems = list(deploy.input_problems(inputs))
        if timeout < 0:
            problems.append(("wait_timeout_seconds", f"must not be negative (got {timeout})"))
        spec = release = principal = None
        try:
            principal = dynamic.principal_id(props)
        except batchwords.ConfigError as exc:
            problems += exc.problems
        try:
            release = nodetask_release(props.get("nodetask"))
        except batchwords.ConfigError as exc:
            problems += exc.problems
        try:
            # A prop left out (or from state older than it) takes JobSpec's default.
            spec = job_spec(
                {field: _number(props.get(prop), field) for field, prop in _PROPS.items()},
                pool_id=str(props["pool_id"]),
                input_container=str(props["input_container"]),
                output_container=str(props["output_container"]),
                nodetask=release,
            )
        except batchwords.ConfigError as exc:
            problems = [(_PROPS.get(name, name), reason) for name, reason in exc.problems] + problems
        if problems or spec is None:
            raise batchwords.ConfigError("; ".join(f"{name} {reason}" for name, reason in problems), problems)
        wait = bool(props.get("wait", True))
        return cls(
            spec,
            inputs,
            str(props["batch_endpoint"]),
            str(props["storage_endpoint"]),
            timeout * wait,
            principal,
        )

    def job_set(self, job_ids: list[str] | None = None) -> batchwords.JobSet:
        """Clients for this call only: nothing is kept on the (pickled) provider. Entra ID
        credentials must act as the principal that got the roles, else this fails at once."""
        credentials = batchwords.resolve_credentials()
        deploy.require_principal(credentials, self.principal_id)
        batch = batchwords.Batch(self.batch_endpoint, credentials.batch)
        storage = batchwords.Storage(self.storage_endpoint, credentials.storage)
        return batchwords.JobSet(batch, storage, self.spec, job_ids or [])

    def outputs(self, job_set: batchwords.JobSet, *, wait: bool) -> dict[str, Any]:
        last = [""]

        def progress(counts: batchwords.TaskCounts) -> None:
            # A Python dynamic provider has no engine connection to log through: its stderr
            # reaches only Pulumi's verbose log (`pulumi up --logtostderr -v=9`).
            line = f"{counts.completed}/{counts.total} tasks done, {counts.failed} failed"
            if counts.reduce is not None:
                maps, reduce = counts.map, counts.reduce
                line += f" (map {maps.completed}/{maps.total}, reduce {reduce.completed}/{reduce.total})"
            if line != last[0]:
                last[0] = line
                print(f"batchwords: job set {self.spec.job_set}: {line}", file=sys.stderr, flush=True)

        timeout = self.wait_timeout_seconds if wait else 0
        return job_set.outputs(self.inputs, wait_timeout=timeout, progress=progress).to_dict()


def _number(value: Any, field: str) -> int | str | None:
    """A job parameter prop: the job id as text, the others whole numbers (None: not given)."""
    if value is None:
        return None
    return str(value) if field == "job_set" else int(value)


def _unknown(value: Any) -> bool:
    """In a preview the engine sends values not known yet (a new pool's name, a wheel's URL
    inside ``nodetask``) as a sentinel, at any depth."""
    if isinstance(value, Mapping):
        return any(_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_unknown(item) for item in value)
    return bool(value == rpc.UNKNOWN)


def _job_ids(id_: str, props: Mapping[str, Any]) -> list[str]:
    return list(props.get("job_ids") or [id_])


class _BatchJobProvider(pulumi.dynamic.ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        if _unknown(news):
            return pulumi.dynamic.CheckResult(news, [])  # a preview: create checks again, known
        try:
            BatchJobInputs.parse(news)
        except batchwords.ConfigError as exc:
            failures = [
                pulumi.dynamic.CheckFailure(name, f"{name} {reason}") for name, reason in exc.problems
            ]
            return pulumi.dynamic.CheckResult(
                news, failures or [pulumi.dynamic.CheckFailure("inputs", str(exc))]
            )
        except (TypeError, ValueError) as exc:
            return pulumi.dynamic.CheckResult(news, [pulumi.dynamic.CheckFailure("inputs", str(exc))])
        return pulumi.dynamic.CheckResult(news, [])

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
        job_set = inputs.job_set()
        job_set.submit(inputs.inputs)
        outs = inputs.outputs(job_set, wait=True)
        return pulumi.dynamic.CreateResult(id_=inputs.spec.job_set, outs={**props, **outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        old = BatchJobInputs.parse(olds)
        inputs = BatchJobInputs.parse(news)
        job_set = inputs.job_set(_job_ids(old.spec.job_set, olds))
        job_set.submit(inputs.inputs, known=old.inputs)
        outs = inputs.outputs(job_set, wait=True)
        return pulumi.dynamic.UpdateResult(outs={**news, **outs})

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        inputs = BatchJobInputs.parse(props)
        outs = inputs.outputs(inputs.job_set(_job_ids(id_, props)), wait=False)
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, **outs})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        inputs = BatchJobInputs.parse(props)
        job_set = inputs.job_set(_job_ids(id_, props))
        # An account deleted outside Pulumi took its jobs (or output blobs) with it.
        if dynamic.gone(inputs.batch_endpoint, "Batch"):
            job_set.job_ids = []
        job_set.delete(outputs=not dynamic.gone(inputs.storage_endpoint, "Storage"))


class BatchJob(pulumi.dynamic.Resource, module="batchwords", name="BatchJob"):
    """A word-count job over the input blobs, on an existing pool. A job parameter left
    None (numwords, the limits, task_bytes, pool_slots) takes ``JobSpec``'s default."""

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
        numwords: pulumi.Input[int] | None = None,
        max_wall_clock_minutes: pulumi.Input[int] | None = None,
        max_retries: pulumi.Input[int] | None = None,
        retention_hours: pulumi.Input[int] | None = None,
        job_max_wall_clock_hours: pulumi.Input[int] | None = None,
        wait: pulumi.Input[bool] = True,
        wait_timeout_seconds: pulumi.Input[int] = 1800,
        nodetask: pulumi.Input[Mapping[str, Any]] | None = None,
        task_bytes: pulumi.Input[int] | None = None,
        pool_slots: pulumi.Input[int] | None = None,
        principal_id: pulumi.Input[str] | None = None,
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
            "job_max_wall_clock_hours": job_max_wall_clock_hours,
            "wait": wait,
            "wait_timeout_seconds": wait_timeout_seconds,
            "nodetask": nodetask,
            "task_bytes": task_bytes,
            "pool_slots": pool_slots,
            # Who the program granted the data roles to: the provider's credentials must be it.
            "principal_id": principal_id,
        }
        props.update(dict.fromkeys(OUTPUT_FIELDS))
        super().__init__(_BatchJobProvider(), name, props, dynamic.keep_state(opts))
