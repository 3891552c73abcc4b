"""batchwords: the client library everything else uses to talk to Batch and Storage."""

from __future__ import annotations

from ._credentials import Credentials, resolve_credentials, sign_in
from ._exceptions import (
    BatchServiceError,
    BatchwordsError,
    ConfigError,
    DeadlineError,
    StorageError,
    SubmitError,
)
from ._jobs import JobManager, JobResults, JobSpec, Submitted, TaskCounts, TaskResult, merge_counts, top_words
from ._pool import (
    NODE_AGENT_SKU,
    UBUNTU_IMAGE,
    install_command,
    install_script,
    nodetask_start_task,
    pool_options,
)
from ._storage import BlobInfo, Storage, sas_lifetime
from ._tasks import TaskLimits, build_task, plan_tasks, task_id_for

__all__ = [
    "NODE_AGENT_SKU",
    "UBUNTU_IMAGE",
    "BatchServiceError",
    "BatchwordsError",
    "BlobInfo",
    "ConfigError",
    "Credentials",
    "DeadlineError",
    "JobManager",
    "JobResults",
    "JobSpec",
    "Storage",
    "StorageError",
    "SubmitError",
    "Submitted",
    "TaskCounts",
    "TaskLimits",
    "TaskResult",
    "build_task",
    "install_command",
    "install_script",
    "merge_counts",
    "nodetask_start_task",
    "plan_tasks",
    "pool_options",
    "resolve_credentials",
    "sas_lifetime",
    "sign_in",
    "task_id_for",
    "top_words",
]
