"""What the Pulumi program builds on: the core's deploy-facing names.

``infra`` (the Pulumi program, its dynamic resources and ``preflight``)
imports only ``batchwords`` (the library's API) and this module, never the
core's private modules. These names serve the deployment, not a library user:
the pool's image, node agent and StartTask, the nodetask release and the
wheels it is built from, the blob and input checks the resources run, and the
endpoints preflight reads.
"""

from __future__ import annotations

from ._credentials import require_principal
from ._endpoints import endpoint_gone
from ._env import ARM_ENDPOINT, PRICES_ENDPOINT
from ._pool import (
    NODE_AGENT_SKU,
    UBUNTU_IMAGE,
    NodetaskRelease,
    StartTask,
    nodetask_start_task,
    preparation_task,
    release_digest,
    wheels_digest,
)
from ._storage import md5_base64
from ._tasks import input_problems
from ._wheels import NodeFile, locked_files, nodetask_wheel

__all__ = [
    "ARM_ENDPOINT",
    "NODE_AGENT_SKU",
    "PRICES_ENDPOINT",
    "UBUNTU_IMAGE",
    "NodeFile",
    "NodetaskRelease",
    "StartTask",
    "endpoint_gone",
    "input_problems",
    "locked_files",
    "md5_base64",
    "nodetask_start_task",
    "nodetask_wheel",
    "preparation_task",
    "release_digest",
    "require_principal",
    "wheels_digest",
]
