"""Turning input blobs into Batch tasks that run nodetask."""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from datetime import timedelta

from azure.batch import models as batch_models

from ._exceptions import ConfigError
from ._storage import BlobInfo

#: Where the pool's StartTask installs nodetask (expanded by /bin/sh on the node).
NODETASK_COMMAND = '"$AZ_BATCH_NODE_SHARED_DIR/batchwords/venv/bin/nodetask"'
#: nodetask reads its output SAS from this variable, never from its command line.
SAS_ENV = "NODETASK_SAS_TOKEN"
MAX_ID = 64
HASH_CHARS = 10
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TaskLimits:
    """Every task's retry count, wall-clock limit and retention time."""

    max_wall_clock: timedelta = timedelta(minutes=30)
    max_retries: int = 2
    retention: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if self.max_retries < 1:
            raise ConfigError(
                f"max task retries must be at least 1 (got {self.max_retries}): nodes get preempted"
            )
        if not timedelta(0) < self.max_wall_clock <= timedelta(days=7):
            raise ConfigError(
                f"the task wall-clock limit must be between 0 and 7 days (got {self.max_wall_clock})"
            )
        if self.retention <= timedelta(0):
            raise ConfigError(f"the task retention time must be positive (got {self.retention})")


def task_id_for(name: str, md5: str) -> str:
    """A valid, deterministic Batch task id: the sanitised name and a short content hash."""
    if not md5:
        raise ConfigError(f"input {name} has no MD5 in Storage; upload it again with batchwords")
    digest = base64.b64decode(md5).hex()[:HASH_CHARS]
    stem = _NOT_ID.sub("-", name).strip("-_") or "input"
    return f"{stem[: MAX_ID - HASH_CHARS - 1]}-{digest}"


def plan_tasks(inputs: list[BlobInfo]) -> dict[str, BlobInfo]:
    """Task id for every input; two inputs that map to one id are an error naming both."""
    planned: dict[str, BlobInfo] = {}
    for blob in inputs:
        task_id = task_id_for(blob.name, blob.md5)
        other = planned.get(task_id)
        if other is not None:
            raise ConfigError(
                f"inputs {other.name!r} and {blob.name!r} both map to task id {task_id}: rename one of them"
            )
        planned[task_id] = blob
    return planned


def local_name(blob_name: str) -> str:
    """The file name of an input on the node: its base name, as nodetask names outputs by it."""
    return "input/" + blob_name.rsplit("/", 1)[-1]


def output_prefix(job_set: str, task_id: str) -> str:
    return f"{job_set}/{task_id}/"


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
        local_name(blob.name),
        "--numwords",
        str(numwords),
        "--container-url",
        output_container_url,
        "--blob-prefix",
        output_prefix(job_set, task_id),
        "--format",
        "json",
        "--quiet",
    ]
    # /bin/sh expands the node's shared directory; every argument is quoted.
    script = f"exec {nodetask_command} " + " ".join(shlex.quote(argument) for argument in arguments)
    return batch_models.BatchTaskCreateOptions(
        id=task_id,
        display_name=blob.name[:1024],
        command_line=f"/bin/sh -c {shlex.quote(script)}",
        resource_files=[batch_models.ResourceFile(http_url=input_url, file_path=local_name(blob.name))],
        environment_settings=[batch_models.EnvironmentSetting(name=SAS_ENV, value=output_sas)],
        constraints=batch_models.BatchTaskConstraints(
            max_wall_clock_time=limits.max_wall_clock,
            retention_time=limits.retention,
            max_task_retry_count=limits.max_retries,
        ),
    )
