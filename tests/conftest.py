from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Azurite + localbatch + batchwords fixtures shared by the batchwords and infra tests.
pytest_plugins = ["tests.support.emulators"]

#: localbatch's own tests: each node there keeps its own shared folder, as on Azure.
LOCALBATCH_TESTS = Path(__file__).parent / "localbatch"


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


@pytest.fixture(scope="session")
def node_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The AZ_BATCH_NODE_SHARED_DIR of the session's localbatch nodes (see ``shared_node_installs``)."""
    return tmp_path_factory.mktemp("node-shared")


@pytest.fixture(autouse=True)
def shared_node_installs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every localbatch node of the session (pools, offline runs, their subprocesses) shares one
    AZ_BATCH_NODE_SHARED_DIR: a release is installed there once, by the first StartTask, and each
    later install finds its marker, as an Azure node does on its next job. The install's lock and
    marker are tested with folders of their own (tests/batchwords/test_node_install.py); a test
    that must see a fresh node deletes the variable."""
    if request.node.path.is_relative_to(LOCALBATCH_TESTS):
        return
    monkeypatch.setenv("LOCALBATCH_SHARED_DIR", str(request.getfixturevalue("node_shared_dir")))
