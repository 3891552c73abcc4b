"""localbatch: a local Azure Batch service that the unmodified Azure SDK talks to."""

from __future__ import annotations

from ._env import AUTO_STORAGE_KEY_ENV, KEY_ENV
from ._errors import BatchError
from ._protocol import SUPPORTED_API_VERSIONS
from ._realism import Realism
from ._runner import AutoStorage
from ._server import LocalBatch, new_key
from ._service import BatchService

__all__ = [
    "AUTO_STORAGE_KEY_ENV",
    "KEY_ENV",
    "SUPPORTED_API_VERSIONS",
    "AutoStorage",
    "BatchError",
    "BatchService",
    "LocalBatch",
    "Realism",
    "new_key",
]
