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

import nodetask

from ._exceptions import ConfigError
from ._storage import BlobInfo

#: nodetask on the node's PATH: for jobs given no release to install (see ``JobSpec.nodetask``).
NODETASK_COMMAND = "nodetask"
#: nodetask writes its result as JSON; collecting reads it by ``nodetask.result_name``.
OUTPUT_FORMAT = "json"
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


def task_id_for(name: str, md5: str) -> str:
    """A valid, deterministic Batch task id: the sanitised name and a short content hash."""
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
            task_id = task_id_for(name, md5)
        except ConfigError as exc:
            found.append(("inputs", str(exc)))
            continue
        other = planned.setdefault(task_id, name)
        if other != name:
            found.append(
                ("inputs", f"{other!r} and {name!r} both map to task id {task_id}: rename one of them")
            )
    return found


def check_inputs(inputs: Mapping[str, str]) -> None:
    """Bad inputs raise one ``ConfigError`` naming each problem (see ``input_problems``)."""
    problems = input_problems(inputs)
    if problems:
        raise ConfigError("; ".join(reason for _, reason in problems), problems)


def plan_tasks(inputs: list[BlobInfo]) -> dict[str, BlobInfo]:
    """Task id for every input; bad inputs raise one ``ConfigError`` naming each problem."""
    check_inputs({blob.name: blob.md5 for blob in inputs})
    return {task_id_for(blob.name, blob.md5): blob for blob in inputs}


def node_path(blob_name: str) -> str:
    """Where an input lands on the node: its base name, as nodetask names outputs by it."""
    return "input/" + blob_name.rsplit("/", 1)[-1]


def output_prefix(job_set: str, task_id: str) -> str:
    """Where a task writes: every job of a set shares the prefix ``JOB_SET/``."""
    return f"{job_set}/{task_id}/"


def result_blob_names(job_set: str, task_id: str, input_name: str) -> tuple[str, str]:
    """The (result, counts) blobs a task over ``input_name`` uploads, by nodetask's contract."""
    prefix = output_prefix(job_set, task_id)
    base = input_name.rsplit("/", 1)[-1]
    return prefix + nodetask.result_name(base, OUTPUT_FORMAT), prefix + nodetask.counts_name(base)


def build_task(
    task_id: str,
    blob: BlobInfo,
    *,
    input_url: str,
    output_container_url: str,
    output_sas: str,
    job_set: str,
    numwords: int,
    limits: TaskLimits,
    nodetask_command: str = NODETASK_COMMAND,
) -> batch_models.BatchTaskCreateOptions:
    """One task: the input as a resource file, nodetask on it, the SAS in the environment."""
    arguments = [
        "--filepath",
        node_path(blob.name),
        "--numwords",
        str(numwords),
        "--container-url",
        output_container_url,
        "--blob-prefix",
        output_prefix(job_set, task_id),
        "--format",
        OUTPUT_FORMAT,
        "--quiet",
    ]
    # /bin/sh expands the node's shared directory; every argument is quoted.
    script = f"exec {nodetask_command} " + " ".join(shlex.quote(argument) for argument in arguments)
    return batch_models.BatchTaskCreateOptions(
        id=task_id,
        display_name=blob.name[:1024],
        command_line=f"/bin/sh -c {shlex.quote(script)}",
        resource_files=[batch_models.ResourceFile(http_url=input_url, file_path=node_path(blob.name))],
        environment_settings=[batch_models.EnvironmentSetting(name=nodetask.SAS_ENV, value=output_sas)],
        constraints=batch_models.BatchTaskConstraints(
            max_wall_clock_time=limits.max_wall_clock,
            retention_time=limits.retention,
            max_task_retry_count=limits.max_retries,
        ),
    )
