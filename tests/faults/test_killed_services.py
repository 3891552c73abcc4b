"""Services killed mid-run: localbatch down 2 s and 20 s, Azurite killed mid-run and after the
last task. Whatever happens, the outcome is exact or says what is missing: never silently wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import BlobServiceClient

from batchwords import Batch, JobSet, JobSetOutputs, JobSpec, Storage, StorageError, TaskLimits
from batchwords.offline import Azurite, start_azurite
from localbatch import KEY_ENV, LocalBatch, new_key
from tests.support.batch import free_port
from tests.support.emulators import install_pool
from tests.support.words import DATA, all_words

pytestmark = pytest.mark.azurite
#: Copies of the sample texts, so that a run lasts long enough to be interrupted.
COPIES = 4


def inputs_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for copy in range(COPIES):
        for path in DATA.glob("*.txt"):
            (folder / f"{path.stem}-{copy}.txt").write_bytes(path.read_bytes())
    return folder


def expected_total() -> int:
    return COPIES * sum(all_words(DATA).values())


def assert_exact_or_named(outputs: JobSetOutputs) -> None:
    """The one acceptable pair of outcomes: every result there and exact, or the job set
    failed and each missing result is named (never a success with a smaller total)."""
    if outputs.state == "succeeded":
        assert not outputs.failed
        assert outputs.total_words == expected_total()
    else:
        assert outputs.state == "failed"
        # Named: each input whose result is missing, or the job's missing summary.
        assert outputs.failed or outputs.failure
        assert all(task.failure for task in outputs.failed)
        if not outputs.failed:
            assert outputs.top_words == []
            assert outputs.total_words == 0


class Server:
    """`localbatch serve` as its own process, killed with SIGKILL and started again on its port."""

    def __init__(self, data: Path, port: int, key: str) -> None:
        self.data, self.port, self.key = data, port, key
        self.process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localbatch",
                "serve",
                "--data-dir",
                str(self.data),
                "--port",
                f"{self.port}",
            ],
            env={**os.environ, KEY_ENV: self.key},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        assert "at http://127.0.0.1" in self.process.stdout.readline()

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "localbatch", free_port(), new_key())
    running.start()
    yield running
    running.stop()


def submit(
    batch: Batch, storage: Storage, blob_service: BlobServiceClient, wheelhouse: Path, tmp_path: Path
) -> tuple[JobSet, dict[str, str]]:
    release = install_pool(storage, batch, blob_service, wheelhouse, "app", nodes=1, slots=1)
    # One task per input (task_bytes=1), so the run can be killed with some tasks done and some not.
    spec = JobSpec(
        "killed", "pool", "input", "output", limits=TaskLimits(max_retries=3), nodetask=release, task_bytes=1
    )
    storage.ensure_container("input")
    inputs = {blob.name: blob.md5 for blob, _ in storage.upload_folder(inputs_folder(tmp_path), "input")}
    job_set = JobSet(batch, storage, spec)
    job_set.submit(inputs)
    return job_set, inputs


def wait_for_progress(batch: Batch, job_id: str) -> None:
    """Until the run is under way: some tasks completed, some not."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        counts = batch.task_counts([job_id])
        if 0 < counts.completed < counts.total:
            return
        time.sleep(0.05)
    raise AssertionError("the run never got under way")


@pytest.mark.parametrize("down", [2, 20])
def test_localbatch_killed_mid_run_and_restarted(server, own_azurite, wheelhouse, tmp_path, down):
    batch = Batch(server.endpoint, AzureNamedKeyCredential("localbatch", server.key), retry_backoff=0.05)
    storage, blob_service = clients(own_azurite)
    job_set, inputs = submit(batch, storage, blob_service, wheelhouse, tmp_path)
    wait_for_progress(batch, "killed")
    server.kill()
    time.sleep(down)
    server.start()  # the store survives; running tasks are requeued, nodes boot again
    outputs = job_set.outputs(inputs, wait_timeout=240, poll_interval=0.5)
    assert outputs.state == "succeeded", [task.failure for task in outputs.failed]
    assert outputs.total_words == expected_total()
    assert set(outputs.tasks) == set(inputs)


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Azurite]:
    """A private Azurite (the session's must stay up), on a port it can come back to."""
    server = start_azurite(tmp_path / "azurite", port=free_port())
    yield server
    server.stop()


def clients(azurite: Azurite) -> tuple[Storage, BlobServiceClient]:
    key = {"account_name": azurite.account, "account_key": azurite.key}
    storage = Storage(azurite.account_url, AzureNamedKeyCredential(azurite.account, azurite.key))
    return storage, BlobServiceClient(azurite.account_url, credential=key)


def restart(azurite: Azurite, tmp_path: Path, down: float) -> Azurite:
    azurite.process.kill()  # SIGKILL: no chance to save anything
    azurite.process.wait()
    time.sleep(down)
    port = int(azurite.blob_endpoint.rsplit(":", 1)[1])
    return start_azurite(tmp_path / "azurite", port=port)


@pytest.mark.parametrize("when", ["mid-run", "after the last task"])
def test_azurite_killed_and_restarted(own_azurite, wheelhouse, tmp_path, when):
    storage, blob_service = clients(own_azurite)
    with LocalBatch(tmp_path / "localbatch", scheduler_interval=0.05) as localbatch:
        batch = Batch(localbatch.endpoint, localbatch.credential, retry_backoff=0.05)
        job_set, inputs = submit(batch, storage, blob_service, wheelhouse, tmp_path)
        if when == "mid-run":
            wait_for_progress(batch, "killed")
        else:
            assert job_set.wait(timeout=240, poll_interval=0.2)[1]
        again = restart(own_azurite, tmp_path, down=2)
        try:
            # Azurite keeps its index in memory and saves it now and then: after a SIGKILL,
            # blobs and whole containers written since can be gone. Then either the outputs
            # name every missing result, or reading them names the missing container.
            outcome: JobSetOutputs | StorageError
            try:
                outcome = job_set.outputs(inputs, wait_timeout=240, poll_interval=0.5)
            except StorageError as exc:
                outcome = exc
            if isinstance(outcome, StorageError):
                assert "container output does not exist" in str(outcome)
            else:
                assert outcome.state != "running"
                assert_exact_or_named(outcome)
        finally:
            again.stop()
