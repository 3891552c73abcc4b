"""The offline run: the 2016 tutorial's nine steps against Azurite and localbatch.

1 start the services, 2 create the containers, 3 upload the nodetask wheels
and 4 the inputs, 5 create a pool whose StartTask installs nodetask, 6 submit
the job through the BatchJob provider's create verb (what `pulumi up` runs),
7 monitor it, 8 download the outputs, 9 delete the containers, the job and the
pool, and stop the services.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.batch import BatchClient
from azure.core.exceptions import AzureError

from infra.batch_job import _BatchJobProvider  # the same verb `pulumi up` runs
from localbatch import AutoStorage, LocalBatch

from ._azurite import start_azurite
from ._credentials import (
    BATCH_ACCOUNT_ENV,
    BATCH_KEY_ENV,
    STORAGE_ACCOUNT_ENV,
    STORAGE_KEY_ENV,
    resolve_credentials,
)
from ._exceptions import BatchServiceError, ConfigError
from ._jobs import JobManager, JobResults, JobSpec, TaskCounts
from ._local import start_detached, state_dir, stop_local
from ._pool import nodetask_start_task, pool_options
from ._storage import Storage

POOL_ID = "batchwords-local"
JOB_ID = "batchwords-local"
CONTAINERS = {"application": "application", "input": "input", "output": "output"}
STAGES = ("start services", "upload", "pool ready", "tasks", "download")
PYTHON_ENV = "BATCHWORDS_NODE_PYTHON"

Say = Callable[[str], None]


@dataclass
class RunResult:
    results: JobResults
    outputs: list[Path]
    timings: dict[str, float]


@contextmanager
def services(
    work_dir: Path, *, keep: bool, endpoints: tuple[str, str] | None = None
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Given endpoints (credentials from the environment), in-process services
    stopped on exit, or (``keep``) detached ones recorded for `--local`,
    stopped only if the run fails."""
    if endpoints is not None:
        yield endpoints[0], endpoints[1], {}
        return
    if not keep:
        with local_services(work_dir) as started:
            yield started
        return
    state = start_detached(work_dir)
    try:
        yield state["batch_endpoint"], state["storage_endpoint"], state["env"]
    except BaseException:
        stop_local()
        raise


@contextmanager
def local_services(work_dir: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Azurite and localbatch on free loopback ports; stopped on exit, whatever happens.

    Yields the Batch endpoint, the blob account URL and the Shared Key
    environment for batchwords' credential function.
    """
    azurite = start_azurite(work_dir / "azurite")
    try:
        storage = AutoStorage(azurite.account_url, azurite.account, azurite.key)
        with LocalBatch(work_dir / "localbatch", auto_storage=storage, scheduler_interval=0.1) as batch:
            env = {
                BATCH_ACCOUNT_ENV: batch.account,
                BATCH_KEY_ENV: batch.key,
                STORAGE_ACCOUNT_ENV: azurite.account,
                STORAGE_KEY_ENV: azurite.key,
            }
            yield batch.endpoint, azurite.account_url, env
    finally:
        azurite.stop()


def build_wheelhouse(project: Path, folder: Path, say: Say) -> list[Path]:
    """nodetask and its dependencies as wheels (offline nodes install from them)."""
    wheels = sorted(folder.glob("*.whl"))
    if any(w.name.startswith("nodetask-") for w in wheels):
        return wheels
    source = project / "nodetask"
    if not (source / "pyproject.toml").exists():
        raise ConfigError(f"no nodetask wheels in {folder} and no nodetask source in {project}")
    say(f"building the nodetask wheelhouse in {folder} (once)")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--wheel-dir",
            str(folder),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ConfigError(f"building the nodetask wheels failed: {proc.stderr.strip()[-800:]}")
    return sorted(folder.glob("*.whl"))


def _wait_for_pool(client: BatchClient, pool_id: str, timeout: float, say: Say) -> None:
    deadline = time.monotonic() + timeout
    last: list[str] = []
    while time.monotonic() < deadline:
        nodes = list(client.list_nodes(pool_id))
        states = sorted(str(getattr(node.state, "value", node.state)) for node in nodes)
        if states != last:
            say(f"pool {pool_id}: nodes {', '.join(states) or 'none yet'}")
            last = states
        failed = [
            node for node in nodes if str(getattr(node.state, "value", node.state)) == "starttaskfailed"
        ]
        if failed:
            node = failed[0]
            try:
                tail = b"".join(client.download_node_file(pool_id, str(node.id), "startup/stderr.txt"))[
                    -1500:
                ]
            except AzureError:
                tail = b""
            info = node.start_task_info
            raise BatchServiceError(
                f"the StartTask that installs nodetask failed on node {node.id} (exit code "
                f"{info.exit_code if info else '?'}); its stderr ends with:\n{tail.decode(errors='replace')}"
            )
        if nodes and all(str(getattr(node.state, "value", node.state)) == "idle" for node in nodes):
            return
        time.sleep(0.2)
    raise BatchServiceError(f"pool {pool_id} was not ready within {timeout:.0f} s")


def run_offline(
    data_dir: Path,
    *,
    numwords: int,
    output_dir: Path,
    project: Path,
    nodes: int = 2,
    slots: int = 2,
    wait_timeout: float = 900,
    keep: bool = False,
    endpoints: tuple[str, str] | None = None,
    say: Say = print,
    progress: Callable[[TaskCounts], None] | None = None,
) -> RunResult:
    """The whole pipeline offline; the services are stopped even when it fails."""
    if not data_dir.is_dir():
        raise ConfigError(f"input folder {data_dir} does not exist; give a folder of text files")
    inputs = sorted(p for p in data_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not inputs:
        raise ConfigError(f"input folder {data_dir} has no files")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    wheels = build_wheelhouse(project, project / "build" / "wheelhouse", say)
    if keep:
        work = state_dir() / "services"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="batchwords-run-"))
    saved = {
        name: os.environ.get(name)
        for name in (BATCH_ACCOUNT_ENV, BATCH_KEY_ENV, STORAGE_ACCOUNT_ENV, STORAGE_KEY_ENV)
    }
    try:
        with services(work, keep=keep, endpoints=endpoints) as (batch_endpoint, storage_url, env):
            timings["start services"] = time.perf_counter() - started
            say(f"services: Batch {batch_endpoint}, Storage {storage_url}")
            os.environ.update(env)  # the provider builds its clients from the environment
            credentials = resolve_credentials()
            storage = Storage(storage_url, credentials.storage)
            manager = JobManager(batch_endpoint, storage, credentials)
            mark = time.perf_counter()
            for container in CONTAINERS.values():
                storage.ensure_container(container)
            app = storage.upload_folder(wheels[0].parent, CONTAINERS["application"])
            uploaded = storage.upload_folder(
                data_dir, CONTAINERS["input"], progress=lambda i, n, name: say(f"upload {i}/{n}: {name}")
            )
            timings["upload"] = time.perf_counter() - mark
            mark = time.perf_counter()
            wheel_urls = [
                (blob.name, storage.input_sas_url(CONTAINERS["application"], blob.name, timedelta(hours=2)))
                for blob, _ in app
                if blob.name.endswith(".whl")
            ]
            manager.client.create_pool(
                pool_options(
                    POOL_ID,
                    nodes=nodes,
                    slots=slots,
                    start_task=nodetask_start_task(
                        wheel_urls, offline=True, python=os.environ.get(PYTHON_ENV) or sys.executable
                    ),
                )
            )
            _wait_for_pool(manager.client, POOL_ID, 300, say)
            timings["pool ready"] = time.perf_counter() - mark
            mark = time.perf_counter()
            props: dict[str, Any] = {
                "job_id": JOB_ID,
                "pool_id": POOL_ID,
                "batch_endpoint": batch_endpoint,
                "storage_endpoint": storage_url,
                "input_container": CONTAINERS["input"],
                "output_container": CONTAINERS["output"],
                "inputs": {blob.name: blob.md5 for blob, _ in uploaded},
                "numwords": numwords,
                "wait": False,
            }
            provider = _BatchJobProvider()
            check = provider.check({}, props)
            if check.failures:
                raise ConfigError("; ".join(f.reason for f in check.failures))
            provider.create(props)
            counts, done = manager.wait([JOB_ID], timeout=wait_timeout, poll_interval=0.5, progress=progress)
            timings["tasks"] = time.perf_counter() - mark
            if not done:
                raise BatchServiceError(f"the job did not finish within {wait_timeout:.0f} s ({counts})")
            mark = time.perf_counter()
            spec = JobSpec(
                job_set=JOB_ID,
                pool_id=POOL_ID,
                input_container=CONTAINERS["input"],
                output_container=CONTAINERS["output"],
                numwords=numwords,
            )
            results = manager.collect([JOB_ID], spec)
            outputs = storage.download(CONTAINERS["output"], output_dir, prefix=f"{JOB_ID}/")
            timings["download"] = time.perf_counter() - mark
            if keep:
                say(f"kept the containers, job {JOB_ID} and pool {POOL_ID}; the services stay up for --local")
            else:
                manager.cancel(JOB_ID)
                manager.delete(JOB_ID)
                manager.client.begin_delete_pool(POOL_ID, polling_interval=1).result()
                for container in CONTAINERS.values():
                    storage.delete_container(container)
            return RunResult(results, outputs, timings)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
