from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Azurite + localbatch + batchwords fixtures shared by the batchwords and infra tests.
pytest_plugins = ["tests.support.emulators"]


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs keep their nodetask wheelhouse in the user's cache folder: the tests keep theirs in
    a folder of the session (built once, shared by every run of the session, subprocesses too)."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before
