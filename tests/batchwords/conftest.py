"""Fixtures of the batchwords tests: where the CLI finds its services, or finds none; one sample run."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import batchwords.offline._services as offline_services
from batchwords.cli import main
from batchwords.offline import Azurite, start_azurite
from localbatch import LocalBatch
from tests.support.words import DATA


@pytest.fixture
def target(emulators, azurite, monkeypatch, tmp_path):
    """Shared Key credentials and endpoints from the environment; a private config folder."""
    monkeypatch.setenv("BATCHWORDS_BATCH_ACCOUNT", emulators.localbatch.account)
    monkeypatch.setenv("BATCHWORDS_BATCH_KEY", emulators.localbatch.key)
    monkeypatch.setenv("BATCHWORDS_STORAGE_ACCOUNT", azurite.account)
    monkeypatch.setenv("BATCHWORDS_STORAGE_KEY", azurite.key)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("BATCHWORDS_BATCH_ENDPOINT", raising=False)
    monkeypatch.delenv("BATCHWORDS_STORAGE_ENDPOINT", raising=False)
    return [
        "--batch-endpoint",
        emulators.localbatch.endpoint,
        "--storage-endpoint",
        emulators.storage.account_url,
    ]


@pytest.fixture
def no_target(monkeypatch, tmp_path):
    """No endpoints, no keys, an empty config folder and state folder."""
    for name in (
        "BATCHWORDS_BATCH_ENDPOINT",
        "BATCHWORDS_STORAGE_ENDPOINT",
        "BATCHWORDS_BATCH_ACCOUNT",
        "BATCHWORDS_BATCH_KEY",
        "BATCHWORDS_STORAGE_ACCOUNT",
        "BATCHWORDS_STORAGE_KEY",
        "BATCHWORDS_SIGN_IN",
        "AZURE_SUBSCRIPTION_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("BATCHWORDS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-cli"))
    return tmp_path


@dataclass(frozen=True)
class SampleRun:
    """What one ``batchwords run`` printed and left, and the services it started."""

    code: int
    out: str
    err: str
    #: Its --output-dir.
    folder: Path
    #: The Azurites it started, and how many times a localbatch was stopped.
    azurites: list[Azurite]
    localbatch_stops: int

    def assert_services_stopped(self) -> None:
        assert self.azurites
        for azurite in self.azurites:
            assert azurite.process.poll() is not None
        assert self.localbatch_stops == len(self.azurites)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory, node_shared_dir: Path) -> SampleRun:
    """``batchwords run data --numwords 6 --nodes 1 --output-dir OUT`` from an empty folder, once:
    the tests of what a plain run prints and leaves (tests/batchwords/test_run.py,
    test_run_summary.py) read the same run, its output captured and its services watched."""
    root = tmp_path_factory.mktemp("sample-run")
    project, out = root / "project", root / "out"
    project.mkdir()
    azurites: list[Azurite] = []
    stops: list[LocalBatch] = []
    stop = LocalBatch.stop

    def watched_start(*args: Any, **kwargs: Any) -> Azurite:
        azurites.append(start_azurite(*args, **kwargs))
        return azurites[-1]

    def watched_stop(self: LocalBatch) -> None:
        stops.append(self)
        stop(self)

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(stdout), redirect_stderr(stderr):
        patch.setenv("LOCALBATCH_SHARED_DIR", str(node_shared_dir))  # as shared_node_installs does
        patch.chdir(project)
        patch.setattr(offline_services, "start_azurite", watched_start)
        patch.setattr(LocalBatch, "stop", watched_stop)
        code = main(
            ["run", str(DATA), "--numwords", "6", "--output-dir", str(out), "--nodes", "1", "--counts"]
        )
    return SampleRun(code, stdout.getvalue(), stderr.getvalue(), out, azurites, len(stops))
