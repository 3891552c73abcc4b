"""Helpers for tests that drive localbatch with the azure-batch SDK or raw requests."""

from __future__ import annotations

import shlex
import socket
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any, cast

from azure.batch import BatchClient
from azure.batch import models as batch_models

from batchwords._pool import pool_options
from localbatch import LocalBatch
from localbatch._auth import sign, string_to_sign

PYTHON = shlex.quote(sys.executable)


def py(code: str) -> str:
    """A task command line that runs ``code`` with this Python (no shell involved)."""
    return f"{PYTHON} -c {shlex.quote(code)}"


def signed_headers(
    batch: LocalBatch, method: str, path: str, query: str = "", extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Headers for a raw request, signed with the account key as the SDK signs them."""
    headers = {"ocp-date": formatdate(usegmt=True), **(extra or {})}
    text = string_to_sign(method, path, query, headers.items(), batch.account)
    headers["Authorization"] = f"SharedKey {batch.account}:{sign(batch.key, text)}"
    return headers


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released): for a service to
    come back on after a restart, or for a client to find closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def make_pool(
    client: BatchClient,
    pool_id: str = "pool",
    *,
    nodes: int = 1,
    slots: int = 1,
    start_task: batch_models.BatchStartTask | None = None,
) -> None:
    client.create_pool(pool_options(pool_id, nodes=nodes, slots=slots, start_task=start_task))


def make_job(client: BatchClient, job_id: str = "job", pool_id: str = "pool", **extra: Any) -> None:
    client.create_job(
        batch_models.BatchJobCreateOptions(
            id=job_id, pool_info=batch_models.BatchPoolInfo(pool_id=pool_id), **extra
        )
    )


def wait_idle(client: BatchClient, pool_id: str = "pool") -> list[batch_models.BatchNode]:
    def ready() -> list[batch_models.BatchNode] | None:
        nodes = list(client.list_nodes(pool_id))
        return nodes if nodes and all(node.state == "idle" for node in nodes) else None

    return cast(list[batch_models.BatchNode], wait_for(ready))


def wait_task_done(
    client: BatchClient, job_id: str, task_id: str, timeout: float = 30.0
) -> batch_models.BatchTask:
    return cast(
        batch_models.BatchTask,
        wait_for(
            lambda: (task := client.get_task(job_id, task_id)).state == "completed" and task, timeout=timeout
        ),
    )
