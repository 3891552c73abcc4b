"""batchwords: the client library everything else uses to talk to Batch and Storage.

Its API is ``__all__`` below (``docs/library.md``);
``batchwords.deploy`` holds what the Pulumi program builds on. The core (this
package outside ``offline`` and ``cli``) imports neither the Pulumi program
nor localbatch; ``batchwords.offline`` runs the pipeline on the emulators and
``batchwords.cli`` is the command line.
"""

from __future__ import annotations

from ._batch import Batch
from ._credentials import Credentials, resolve_credentials, sign_in
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
from ._packing import TASK_BYTES, parse_size
from ._results import JobResults, TaskResult
from ._spec import JobSpec
from ._storage import BlobInfo, Storage
from ._tasks import TaskLimits
from ._types import JobInfo, TaskCounts

__version__ = "0.1.0"

__all__ = [
    "TASK_BYTES",
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
    "NotFoundError",
    "PoolError",
    "ServiceStartError",
    "Storage",
    "StorageError",
    "SubmitError",
    "Submitted",
    "TaskCounts",
    "TaskLimits",
    "TaskResult",
    "__version__",
    "parse_size",
    "resolve_credentials",
    "select_inputs",
    "sign_in",
]
