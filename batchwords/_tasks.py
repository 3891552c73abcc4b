"""Turning input blobs into Batch tasks that run nodetask."""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from azure.batch import models as batch_models
from azure.storage.blob import BlobClient

import nodetask

from ._exceptions import ConfigError
from ._storage import BlobInfo

#: nodetask on the node's PATH: for jobs given no release to install (see ``JobSpec.nodetask``).
NODETASK_COMMAND = "nodetask"
#: A map task that failed (after its retries) does not hold up the reduce, which merges the
#: inputs that were counted; the summary names the others.
MAP_EXIT = batch_models.ExitOptions(job_action="none", dependency_action="satisfy")
MAX_ID = 64
MAX_WALL_CLOCK = timedelta(days=7)
HASH_CHARS = 10
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TaskLimits:
    """Every task's retry count, wall-clock limit and retention time (checked by ``JobSpec``)."""

    max_wall_clock: timedelta = timedelta(minutes=30)
    max_retries: int = 2
    retention: timedelta = timedelta(days=1)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.max_retries < 1:
            found.append(("max_retries", f"must be at least 1: nodes get preempted (got {self.max_retries})"))
        if not timedelta(0) < self.max_wall_clock <= MAX_WALL_CLOCK:
            found.append(
                ("max_wall_clock", f"must be more than 0 and at most 7 days (got {self.max_wall_clock})")
            )
        if self.retention <= timedelta(0):
            found.append(("retention", f"must be positive (got {self.retention})"))
        return found


@dataclass(frozen=True)
class TaskPlan:
    """One task and the inputs it counts: (input id, blob) in name order."""

    task_id: str
    inputs: tuple[tuple[str, BlobInfo], ...]

    @property
    def display_name(self) -> str:
        first = self.inputs[0][1].name
        more = len(self.inputs) - 1
        return (first if not more else f"{first} and {more} more")[:1024]

    @property
    def size(self) -> int:
        return sum(blob.size for _, blob in self.inputs)


def input_id_for(name: str, md5: str) -> str:
    """An input's valid, deterministic, content-addressed id: the sanitised name and a short
    content hash. It names the input's output prefix, and the task of an input that runs alone."""
    try:
        digest = base64.b64decode(md5, validate=True).hex()[:HASH_CHARS]
    except binascii.Error:
        digest = ""
    if not digest:
        raise ConfigError(f"input {name!r} has no MD5 in Storage; upload it again with batchwords")
    stem = _NOT_ID.sub("-", name).strip("-_") or "input"
    return f"{stem[: MAX_ID - HASH_CHARS - 1]}-{digest}"


def input_problems(inputs: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is wrong with a set of inputs (blob name -> base64 MD5): each as ("inputs", reason)."""
    if not inputs:
        return [("inputs", "is empty: give at least one input blob")]
    found: list[tuple[str, str]] = []
    planned: dict[str, str] = {}
    for name, md5 in sorted(inputs.items()):
        try:
            input_id = input_id_for(name, md5)
        except ConfigError as exc:
            found.append(("inputs", str(exc)))
            continue
        # Batch ids are case-insensitive: "A.txt" and "a.txt" would share a task id.
        other = planned.setdefault(input_id.lower(), name)
        if other != name:
            found.append(
                ("inputs", f"{other!r} and {name!r} both map to task id {input_id}: rename one of them")
            )
    return found


def check_inputs(inputs: Mapping[str, str]) -> None:
    """Bad inputs raise one ``ConfigError`` naming each problem (see ``input_problems``)."""
    problems = input_problems(inputs)
    if problems:
        raise ConfigError("; ".join(reason for _, reason in problems), problems)


def node_path(input_id: str, blob_name: str) -> str:
    """Where an input lands on the node: a folder of its own (inputs of one task may share
    a base name), under its base name, as nodetask names outputs by it."""
    return f"input/{input_id}/{blob_name.rsplit('/', 1)[-1]}"


def task_prefix(job_set: str, task_id: str) -> str:
    """Where a map task's results go: ``SET/tasks/TASK/``."""
    return f"{job_set}/tasks/{task_id}/"


def exit_conditions(options: batch_models.ExitOptions) -> batch_models.ExitConditions:
    """``options`` for every failure: a non-zero exit, a failed download, a failed upload
    (Batch applies ``default`` to non-zero exit codes only; exit code 0 always satisfies)."""
    return batch_models.ExitConditions(
        default=options, pre_processing_error=options, file_upload_error=options
    )


def build_task(
    plan: TaskPlan,
    *,
    input_urls: Mapping[str, str],
    output_container_url: str,
    output_sas: str,
    job_set: str,
    numwords: int,
    partitions: int,
    limits: TaskLimits,
    nodetask_command: str = NODETASK_COMMAND,
) -> batch_models.BatchTaskCreateOptions:
    """One map task: its inputs as resource files, nodetask over all of them, writing one
    results table and ``partitions`` count partitions under the task's own prefix
    (docs/design.md), the SAS in the environment. ``input_urls``: blob name -> URL with a
    read SAS."""
    arguments: list[str] = []
    for input_id, blob in plan.inputs:
        arguments += ["--input", node_path(input_id, blob.name), input_id]
    arguments += [
        "--task-output",
        task_prefix(job_set, plan.task_id),
        "--partitions",
        str(partitions),
        "--numwords",
        str(numwords),
        "--container-url",
        output_container_url,
        "--quiet",
    ]
    # /bin/sh expands the node's shared directory; every argument is quoted.
    script = f"exec {nodetask_command} " + " ".join(shlex.quote(argument) for argument in arguments)
    return batch_models.BatchTaskCreateOptions(
        id=plan.task_id,
        display_name=plan.display_name,
        command_line=f"/bin/sh -c {shlex.quote(script)}",
        resource_files=[
            batch_models.ResourceFile(
                http_url=input_urls[blob.name], file_path=node_path(input_id, blob.name)
            )
            for input_id, blob in plan.inputs
        ],
        environment_settings=[batch_models.EnvironmentSetting(name=nodetask.SAS_ENV, value=output_sas)],
        constraints=batch_models.BatchTaskConstraints(
            max_wall_clock_time=limits.max_wall_clock,
            retention_time=limits.retention,
            max_task_retry_count=limits.max_retries,
        ),
        exit_conditions=exit_conditions(MAP_EXIT),
    )


def task_inputs(task: batch_models.BatchTask) -> list[tuple[str, str]]:
    """(input id, blob name) of every input a task counts, from its resource files: the
    service's own record. A task from before packing (``input/NAME``) is its input's id."""
    found: list[tuple[str, str]] = []
    for resource in task.resource_files or []:
        if not resource.http_url or not resource.file_path:
            continue
        name = BlobClient.from_blob_url(resource.http_url).blob_name
        parts = resource.file_path.split("/")
        input_id = parts[1] if len(parts) == 3 and parts[0] == "input" else str(task.id)
        found.append((input_id, name))
    return found
