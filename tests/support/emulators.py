"""Azurite + localbatch + batchwords fixtures (a pytest plugin): the emulators, a pool with nodetask."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from batchwords import Batch, Credentials, JobSet, JobSpec, Storage, TaskLimits
from batchwords._pool import pool_options
from batchwords.deploy import NodetaskRelease, locked_files, nodetask_start_task
from batchwords.offline import Azurite, build_wheelhouse, emulator_credentials, start_azurite
from localbatch import LocalBatch, Realism
from tests.support.words import DATA


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite blob service for the whole test session, stopped at its end."""
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def blob_service(azurite: Azurite) -> BlobServiceClient:
    """A Shared Key client for the emulator's account (the test's admin view)."""
    return BlobServiceClient(
        azurite.account_url, credential={"account_name": azurite.account, "account_key": azurite.key}
    )


@pytest.fixture(scope="session")
def wheelhouse(private_cache: None) -> Path:
    """The nodetask wheel, its dependencies and their lock, as a pool's StartTask installs them offline:
    the wheelhouse ``batchwords run`` builds in the session's cache folder (tests/conftest.py), so the
    tests' pools and runs share one build and one release, which their nodes install once."""
    first, *_ = build_wheelhouse(lambda _: None)
    return first.parent


@dataclass
class Emulators:
    localbatch: LocalBatch
    storage: Storage
    batch: Batch
    credentials: Credentials
    suffix: str
    #: The nodetask release of the ``pool`` fixture's StartTask; every spec's jobs install it too.
    release: NodetaskRelease | None = None

    def spec(self, **overrides: object) -> JobSpec:
        values: dict[str, object] = {
            "job_set": f"words-{self.suffix}",
            "pool_id": "pool",
            "input_container": f"input-{self.suffix}",
            "output_container": f"output-{self.suffix}",
            "numwords": 10,
            "limits": TaskLimits(max_retries=1),
            "nodetask": self.release,
            # One task per input: tests of packing ask for it (tests/batchwords/test_packing.py).
            "task_bytes": 1,
        }
        values.update(overrides)
        return JobSpec(**values)  # type: ignore[arg-type]

    def job_set(self, spec: JobSpec, **options: float) -> JobSet:
        return JobSet(self.batch, self.storage, spec, **options)  # type: ignore[arg-type]

    def inputs(self, spec: JobSpec) -> dict[str, str]:
        """Every blob of the spec's input container, name -> MD5."""
        return {blob.name: blob.md5 for blob in self.storage.list_blobs(spec.input_container)}


@pytest.fixture
def emulators(azurite: Azurite, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Emulators]:
    """localbatch on the session's Azurite, its deletes quick; ``@pytest.mark.realism(task_counts_lag=3,
    ...)`` makes it as slow or as unreliable as Azure in those parts (see ``localbatch.Realism``)."""
    marker = request.node.get_closest_marker("realism")
    # Without a marker, deletes end in a tenth of a second (the service's ``deleting`` takes one).
    realism = Realism(**marker.kwargs) if marker else Realism(delete_delay=0.1)
    with LocalBatch(tmp_path / "localbatch", scheduler_interval=0.05, realism=realism) as localbatch:
        credentials = emulator_credentials(localbatch, azurite, "test emulators")
        storage = Storage(azurite.account_url, credentials.storage)
        batch = Batch(localbatch.endpoint, credentials.batch, retry_backoff=0.01, poll_interval=0.1)
        yield Emulators(localbatch, storage, batch, credentials, uuid.uuid4().hex[:8])


def install_pool(
    storage: Storage,
    batch: Batch,
    blob_service: BlobServiceClient,
    wheelhouse: Path,
    app: str,
    *,
    pool_id: str = "pool",
    nodes: int = 1,
    slots: int = 2,
) -> NodetaskRelease:
    """A localbatch pool whose StartTask installs the real nodetask wheels; returns their release.

    They are read anonymously from a public container, as Azure's nodes read them with
    the pool identity: no SAS, so none can reach a Pulumi state in the provider tests.
    """
    blob_service.create_container(app, public_access="blob")
    uploaded = storage.upload_folder(wheelhouse, app)
    release = NodetaskRelease.of(
        locked_files(wheelhouse),
        {blob.name: storage.blob_url(app, blob.name) for blob, _ in uploaded},
        python=sys.executable,
        attempts=1,
    )
    start_task = nodetask_start_task(release, elevated=False, max_retries=0)
    batch.create_pool(pool_options(pool_id, nodes=nodes, slots=slots, start_task=start_task.to_batch_model()))
    batch.wait_for_pool(pool_id, timeout=120)
    return release


@pytest.fixture
def pool(emulators: Emulators, wheelhouse: Path, blob_service: BlobServiceClient) -> str:
    """A localbatch pool with nodetask installed; every ``emulators.spec()`` installs the same release."""
    emulators.release = install_pool(
        emulators.storage, emulators.batch, blob_service, wheelhouse, f"app-{emulators.suffix}"
    )
    return "pool"


def upload_samples(emulators: Emulators, spec: JobSpec, folder: Path = DATA) -> dict[str, str]:
    """The sample texts in the spec's input container; returns them as name -> MD5."""
    emulators.storage.ensure_container(spec.input_container)
    return {blob.name: blob.md5 for blob, _ in emulators.storage.upload_folder(folder, spec.input_container)}


def nodetask_props(release: NodetaskRelease) -> dict[str, Any]:
    from infra.batch_job import nodetask_props as props  # only the provider tests call this

    return props(release)


def batch_job_props(
    emulators: Emulators, folder: Path = DATA, spec: JobSpec | None = None, **overrides: Any
) -> dict[str, Any]:
    """A BatchJob resource's properties over the texts of ``folder`` already in the spec's input container."""
    spec = spec or emulators.spec()
    names = {path.name for path in folder.glob("*.txt")}
    blobs = emulators.storage.list_blobs(spec.input_container)
    props: dict[str, Any] = {
        "job_id": spec.job_set,
        "pool_id": "pool",
        "batch_endpoint": emulators.localbatch.endpoint,
        "storage_endpoint": emulators.storage.account_url,
        "input_container": spec.input_container,
        "output_container": spec.output_container,
        "inputs": {blob.name: blob.md5 for blob in blobs if blob.name in names},
        "numwords": 5,
        "max_retries": 1,
        "wait": True,
        "wait_timeout_seconds": 120,
        "nodetask": nodetask_props(emulators.release) if emulators.release else None,
    }
    props.update(overrides)
    return props
