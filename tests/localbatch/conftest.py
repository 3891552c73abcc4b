from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.batch import BatchClient

from localbatch import LocalBatch


@pytest.fixture
def localbatch(tmp_path: Path) -> Iterator[LocalBatch]:
    with LocalBatch(tmp_path / "localbatch", scheduler_interval=0.05) as service:
        yield service


@pytest.fixture
def client(localbatch: LocalBatch) -> BatchClient:
    return BatchClient(localbatch.endpoint, localbatch.credential)
