"""localbatch: a local Azure Batch service that the unmodified Azure SDK talks to."""

from __future__ import annotations

from ._app import SUPPORTED_API_VERSIONS
from ._errors import BatchError
from ._runner import AutoStorage
from ._server import LocalBatch, new_key
from ._service import BatchService

__all__ = ["SUPPORTED_API_VERSIONS", "AutoStorage", "BatchError", "BatchService", "LocalBatch", "new_key"]
