"""batchwords: the client library everything else uses to talk to Batch and Storage.

The core (this package outside ``offline`` and ``cli``) imports neither the
Pulumi program nor localbatch; ``batchwords.offline`` runs the pipeline on the
emulators and ``batchwords.cli`` is the command line.
"""

from __future__ import annotations

from ._batch import Batch
from ._credentials import Credentials, require_principal, resolve_credentials, sign_in
from ._endpoints import endpoint_gone
from ._exceptions import (
    BatchServiceError,
    BatchwordsError,
    ConfigError,
    DeadlineError,
    NotFoundError,
    PoolError,
    ServiceStartError,
    StorageError,
    SubmitError,
)
from ._inputs import Inputs, select_inputs
from ._jobset import JobSet, JobSetOutputs, Submitted
from ._packing import TASK_BYTES, parse_size, plan_tasks
from ._pool import (
    NODE_AGENT_SKU,
    UBUNTU_IMAGE,
    NodetaskRelease,
    StartTask,
    nodetask_start_task,
    pool_options,
    preparation_task,
    wheels_digest,
)
from ._results import JobResults, TaskResult, merge_counts
from ._spec import JOB_SET_ID, JobSpec
from ._storage import BlobInfo, Storage, md5_base64, sas_lifetime
from ._tasks import TaskLimits, TaskPlan, build_task, input_id_for, input_problems
from ._types import JobInfo, TaskCounts
from ._wheels import NodeFile, locked_files, nodetask_wheel

__version__ = "0.1.0"

__all__ = [
    "JOB_SET_ID",
    "NODE_AGENT_SKU",
    "TASK_BYTES",
    "UBUNTU_IMAGE",
    "Batch",
    "BatchServiceError",
    "BatchwordsError",
    "BlobInfo",
    "ConfigError",
    "Credentials",
    "DeadlineError",
    "Inputs",
    "JobInfo",
    "JobResults",
    "JobSet",
    "JobSetOutputs",
    "JobSpec",
    "NodeFile",
    "NodetaskRelease",
    "NotFoundError",
    "PoolError",
    "ServiceStartError",
    "StartTask",
    "Storage",
    "StorageError",
    "SubmitError",
    "Submitted",
    "TaskCounts",
    "TaskLimits",
    "TaskPlan",
    "TaskResult",
    "__version__",
    "build_task",
    "endpoint_gone",
    "input_id_for",
    "input_problems",
    "locked_files",
    "md5_base64",
    "merge_counts",
    "nodetask_start_task",
    "nodetask_wheel",
    "parse_size",
    "plan_tasks",
    "pool_options",
    "preparation_task",
    "require_principal",
    "resolve_credentials",
    "sas_lifetime",
    "select_inputs",
    "sign_in",
    "wheels_digest",
]
