"""The shape of a conformance case, and the localbatch the cases ask (``World``)."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from localbatch import LocalBatch
from tests.support.batch import signed_headers, wait_for

API_VERSION = "2024-07-01.20.0"
VM_SIZE = "standard_d2s_v3"
VM_CONFIGURATION = {
    "imageReference": {
        "publisher": "canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "latest",
    },
    "nodeAgentSKUId": "batch.node.ubuntu 24.04",
}
ECHO = "/bin/sh -c 'echo hi'"

#: Headers every operation's swagger response declares (client-request-id: when asked for).
COMMON_HEADERS = ("request-id", "client-request-id")
#: The swagger's headers of an answer about one entity, and of a create or a change of one.
ENTITY_HEADERS = ("ETag", "Last-Modified")
CHANGE_HEADERS = ("ETag", "Last-Modified", "DataServiceId")
#: The headers FileGetFromTask/FileGetFromNode and their GetProperties examples show.
FILE_HEADERS = (
    "ocp-creation-time",
    "Last-Modified",
    "ocp-batch-file-isdirectory",
    "Content-Length",
    "Content-Type",
)
ODATA = "odata.metadata"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str = ""
    body: Any = None


@dataclass(frozen=True)
class Gap:
    """What the example shows that localbatch lacks (and should have)."""

    reason: str
    headers: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    #: The route of localbatch's app the request goes to: "METHOD /path/{param}".
    route: str
    example: str
    request: Callable[[World], Request]
    status: int
    headers: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    values: Mapping[str, object] = field(default_factory=dict)
    gaps: tuple[Gap, ...] = ()


def each(*paths: str) -> tuple[str, ...]:
    """The paths in every item of a list response's ``value``."""
    return tuple(f"value/*/{path}" for path in paths)


def each_file(*paths: str) -> tuple[str, ...]:
    """The paths in every file (not directory) item of a files listing."""
    return tuple(f"value/[isDirectory=false]/{path}" for path in paths)


def filtered(expression: str) -> str:
    return "$filter=" + quote(expression)


class World:
    """The entities the cases ask about, in one localbatch: a pool of one node with a StartTask,
    a job with a preparation task on it, and a task of that job that ran; a pool without nodes
    where tasks stay active. A case that changes or removes what it asks about makes its own."""

    POOL = "pool"
    PARKED = "parked"
    JOB = "job"
    TASK = "t"

    def __init__(self, batch: LocalBatch) -> None:
        self.batch = batch
        self.node_id = ""
        self._ids = itertools.count(1)

    def send(self, request: Request) -> requests.Response:
        """The request, Shared Key signed, asking for the client-request-id back."""
        query = f"api-version={API_VERSION}" + (f"&{request.query}" if request.query else "")
        data = None if request.body is None else json.dumps(request.body).encode()
        extra = {"client-request-id": str(uuid.uuid4()), "return-client-request-id": "true"}
        if data is not None:
            extra["Content-Type"] = "application/json; odata=minimalmetadata"
            extra["Content-Length"] = str(len(data))
        headers = signed_headers(self.batch, request.method, request.path, query, extra)
        url = f"{self.batch.endpoint}{request.path}?{query}"
        return requests.request(request.method, url, data=data, headers=headers, timeout=30)

    def ok(self, request: Request) -> Any:
        """Send a request that sets a case up: it must succeed; its JSON body, if any."""
        response = self.send(request)
        assert response.ok, f"{request.method} {request.path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def fresh(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # -- setting up --------------------------------------------------------

    def start(self) -> World:
        self.add_pool(self.POOL, nodes=1, startTask={"commandLine": "/bin/sh -c 'echo start'"})
        self.add_pool(self.PARKED)
        self.node_id = self.wait_nodes(self.POOL)[0]
        self.add_job(self.JOB, self.POOL, jobPreparationTask={"commandLine": "/bin/sh -c 'echo prep'"})
        self.add_task(self.JOB, self.TASK)
        self.wait_task(self.JOB, self.TASK)
        return self

    def add_pool(self, pool_id: str, nodes: int = 0, **extra: Any) -> str:
        body = {
            "id": pool_id,
            "vmSize": VM_SIZE,
            "virtualMachineConfiguration": VM_CONFIGURATION,
            "targetDedicatedNodes": nodes,
            **extra,
        }
        self.ok(Request("POST", "/pools", body=body))
        return pool_id

    def add_autoscale_pool(self, pool_id: str, formula: str = "$TargetDedicatedNodes = 0;") -> str:
        body = {
            "id": pool_id,
            "vmSize": VM_SIZE,
            "virtualMachineConfiguration": VM_CONFIGURATION,
            "enableAutoScale": True,
            "autoScaleFormula": formula,
        }
        self.ok(Request("POST", "/pools", body=body))
        return pool_id

    def add_job(self, job_id: str, pool_id: str, **extra: Any) -> str:
        self.ok(Request("POST", "/jobs", body={"id": job_id, "poolInfo": {"poolId": pool_id}, **extra}))
        return job_id

    def add_task(self, job_id: str, task_id: str, command_line: str = ECHO) -> str:
        self.ok(Request("POST", f"/jobs/{job_id}/tasks", body={"id": task_id, "commandLine": command_line}))
        return task_id

    def wait_nodes(self, pool_id: str) -> list[str]:
        """The pool's node ids once every node is idle and its StartTask (if any) has ended."""

        def settled() -> list[str] | None:
            nodes = self.ok(Request("GET", f"/pools/{pool_id}/nodes"))["value"]
            done = all(
                node["state"] == "idle"
                and node.get("startTaskInfo", {}).get("state", "completed") == "completed"
                for node in nodes
            )
            return [node["id"] for node in nodes] if nodes and done else None

        return list(wait_for(settled))

    def wait_task(self, job_id: str, task_id: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            task: dict[str, Any] = self.ok(Request("GET", f"/jobs/{job_id}/tasks/{task_id}"))
            return task if task["state"] == "completed" else None

        return dict(wait_for(done))

    def parked_task(self) -> tuple[str, str]:
        """(job, task): a task that stays active, its job's pool having no nodes."""
        job_id = self.add_job(self.fresh("parked-job"), self.PARKED)
        return job_id, self.add_task(job_id, "t")

    def finished_task(self) -> tuple[str, str, dict[str, Any]]:
        """(job, task, the task's document): a task of a job of its own that ran on the pool."""
        job_id = self.add_job(self.fresh("job"), self.POOL)
        task_id = self.add_task(job_id, "t")
        return job_id, task_id, self.wait_task(job_id, task_id)

    def completed_job(self) -> str:
        """A job terminated (without a reason given), and completed."""
        job_id = self.add_job(self.fresh("job"), self.POOL)
        self.ok(Request("POST", f"/jobs/{job_id}/terminate"))
        wait_for(lambda: self.ok(Request("GET", f"/jobs/{job_id}"))["state"] == "completed")
        return job_id
