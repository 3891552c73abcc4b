"""Azurite + localbatch + batchwords fixtures: a JobManager on the emulators and a pool with nodetask."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from batchwords import (
    Credentials,
    JobManager,
    JobSpec,
    Storage,
    TaskLimits,
    nodetask_start_task,
    pool_options,
)
from batchwords._azurite import Azurite
from localbatch import LocalBatch
from tests.localbatch.conftest import wait_idle

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nodetask wheel and its dependencies, as a pool's StartTask installs them offline."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-build-isolation",
            "--wheel-dir",
            str(folder),
            str(ROOT / "nodetask"),
        ],
        check=True,
    )
    return folder


@dataclass
class Emulators:
    batch: LocalBatch
    storage: Storage
    credentials: Credentials
    manager: JobManager
    suffix: str

    def spec(self, **overrides: object) -> JobSpec:
        values: dict[str, object] = {
            "job_set": f"words-{self.suffix}",
            "pool_id": "pool",
            "input_container": f"input-{self.suffix}",
            "output_container": f"output-{self.suffix}",
            "numwords": 10,
            "limits": TaskLimits(max_retries=1),
        }
        values.update(overrides)
        return JobSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def emulators(azurite: Azurite, tmp_path: Path) -> Iterator[Emulators]:
    with LocalBatch(tmp_path / "localbatch", scheduler_interval=0.05) as batch:
        credentials = Credentials(
            batch=batch.credential,
            storage=AzureNamedKeyCredential(azurite.account, azurite.key),
            source="test emulators",
        )
        storage = Storage(azurite.account_url, credentials.storage)
        manager = JobManager(batch.endpoint, storage, credentials, submit_timeout=60, retry_backoff=0.01)
        yield Emulators(batch, storage, credentials, manager, uuid.uuid4().hex[:8])


@pytest.fixture
def pool(emulators: Emulators, wheelhouse: Path) -> str:
    """A localbatch pool whose StartTask installs the real nodetask wheel."""
    app = f"app-{emulators.suffix}"
    emulators.storage.ensure_container(app)
    uploaded = emulators.storage.upload_folder(wheelhouse, app)
    wheels = [
        (blob.name, emulators.storage.input_sas_url(app, blob.name, timedelta(hours=1)))
        for blob, _ in uploaded
    ]
    emulators.manager.client.create_pool(
        pool_options("pool", nodes=1, slots=2, start_task=nodetask_start_task(wheels, offline=True))
    )
    nodes = wait_idle(emulators.manager.client)
    assert all(node.start_task_info.result == "success" for node in nodes)
    return "pool"


def upload_samples(emulators: Emulators, spec: JobSpec, folder: Path = DATA) -> None:
    emulators.storage.ensure_container(spec.input_container)
    emulators.storage.upload_folder(folder, spec.input_container)
