"""What the Batch REST specification's examples show for each operation localbatch serves.

Azure/azure-rest-api-specs keeps, under
``specification/batch/data-plane/Batch/stable/<version>/examples/``, one or more
example exchanges per operation. Each ``Case`` below is distilled from one of
them by hand (the file is named in ``example``, as ``<version>/<file>``): the
status code, the response headers and the body fields the example shows, and
how to ask localbatch the same question (``request``).

Rules of the distillation:

- Headers: those the example shows, plus ``request-id`` and ``client-request-id``
  (every operation's swagger response declares them; the latter comes back when
  the request says ``return-client-request-id: true``). For the operations
  whose response in the swagger of 2024-07-01.20.0 (``BatchService.json``) was
  read (Pool_Add, Pool_Get, Pool_Exists, Pool_Delete, Pool_Resize,
  ComputeNode_Get, ComputeNode_Reboot, Job_Add, Job_Terminate), the headers it
  declares for one entity are required too: ``ETag`` and ``Last-Modified`` of
  a GET or HEAD of an entity, and ``DataServiceId`` as well of a create or a
  change of one. A list's declared ``ETag`` is not required (a list is no
  entity, and no example shows one).
- Body fields: paths with ``/`` between keys (``startTask/commandLine``);
  ``*`` is every item of a list (there must be one), ``[key=json]`` every item
  whose ``key`` is that JSON value (there must be one). A field must be present
  and not null. ``odata.metadata`` is required of lists and of entity GETs, as
  the service sends it (the examples leave it out).
- Only fields localbatch can honestly produce for the request sent: a pool
  created without autoscale has no autoScaleFormula, a job never disabled has
  no previousState, a job without a release task has no release task status.
- A field or header the example (or swagger) shows that localbatch lacks and
  should have is a ``Gap``: it stays in the expectation, checked on its own and
  expected to fail (strict), so the gap is on record and closing it shows.
- ``values``: enumerations and constants whose value the example shows and
  that apply to the request sent, compared exactly (the service's casing).
"""

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


# -- requests that need more than an id --------------------------------------


def _reboot(world: World) -> Request:
    pool_id = world.add_pool(world.fresh("pool"), nodes=1)
    (node_id,) = world.wait_nodes(pool_id)
    return Request("POST", f"/pools/{pool_id}/nodes/{node_id}/reboot", body={"nodeRebootOption": "terminate"})


def _delete_node_file(world: World) -> Request:
    _, _, task = world.finished_task()
    info = task["nodeInfo"]
    path = f"/pools/{info['poolId']}/nodes/{info['nodeId']}/files/{info['taskRootDirectory']}/stdout.txt"
    return Request("DELETE", path, "recursive=false")


def _delete_task_file(world: World) -> Request:
    job_id, task_id, _ = world.finished_task()
    return Request("DELETE", f"/jobs/{job_id}/tasks/{task_id}/files/stdout.txt", "recursive=false")


def _delete_task(world: World) -> Request:
    job_id, task_id = world.parked_task()
    return Request("DELETE", f"/jobs/{job_id}/tasks/{task_id}")


def _terminate_task(world: World) -> Request:
    job_id, task_id = world.parked_task()
    return Request("POST", f"/jobs/{job_id}/tasks/{task_id}/terminate")


#: The body JobPatch.json and JobUpdate.json send.
JOB_CHANGES = {
    "priority": 100,
    "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": -1},
    "poolInfo": {"poolId": World.POOL},
}

# -- what the examples show ---------------------------------------------------

#: PoolGet_Basic.json's pool (PoolList_Basic.json's, with the VM configuration instead of a
#: cloud service one), less what a pool created without it lacks on the service too.
POOL_FIELDS = (
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "allocationState",
    "allocationStateTransitionTime",
    "vmSize",
    "resizeTimeout",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "enableAutoScale",
    "startTask/commandLine",
    "taskSlotsPerNode",
    "virtualMachineConfiguration/imageReference/publisher",
    "virtualMachineConfiguration/imageReference/offer",
    "virtualMachineConfiguration/imageReference/sku",
    "virtualMachineConfiguration/imageReference/version",
    "virtualMachineConfiguration/nodeAgentSKUId",
)
POOL_VALUES = {"state": "active", "allocationState": "steady", "enableAutoScale": False}
POOL_DEFAULT_FIELDS = ("enableInterNodeCommunication", "taskSchedulingPolicy/nodeFillType")
START_TASK_DEFAULT_FIELDS = (
    "startTask/userIdentity/autoUser/scope",
    "startTask/userIdentity/autoUser/elevationLevel",
    "startTask/maxTaskRetryCount",
    "startTask/waitForSuccess",
)

#: NodeGet_Basic.json's node (NodeList.json's items add runningTaskSlotsCount).
NODE_FIELDS = (
    "id",
    "url",
    "state",
    "schedulingState",
    "stateTransitionTime",
    "lastBootTime",
    "allocationTime",
    "ipAddress",
    "affinityId",
    "vmSize",
    "totalTasksRun",
    "totalTasksSucceeded",
    "runningTasksCount",
    "isDedicated",
    "startTask/commandLine",
    "startTaskInfo/state",
    "startTaskInfo/startTime",
    "startTaskInfo/endTime",
    "startTaskInfo/exitCode",
    "startTaskInfo/retryCount",
    "nodeAgentInfo/version",
    "nodeAgentInfo/lastUpdateTime",
)
NODE_VALUES = {
    "state": "idle",
    "schedulingState": "enabled",
    "isDedicated": True,
    "startTaskInfo/state": "completed",
    "startTaskInfo/exitCode": 0,
    "startTaskInfo/retryCount": 0,
}

#: JobList.json's job, less previousState (the example's job was disabled and enabled again).
JOB_FIELDS = (
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "priority",
    "poolInfo/poolId",
    "executionInfo/startTime",
    "executionInfo/poolId",
    "onAllTasksComplete",
    "onTaskFailure",
)
JOB_VALUES = {"priority": 0, "onAllTasksComplete": "noaction", "onTaskFailure": "noaction"}
JOB_DEFAULT_FIELDS = (
    "maxParallelTasks",
    "allowTaskPreemption",
    "usesTaskDependencies",
    "constraints/maxWallClockTime",
    "constraints/maxTaskRetryCount",
)

#: TaskGet.json's and TaskList.json's task, less multiInstanceSettings (not sent).
TASK_FIELDS = (
    "id",
    "url",
    "eTag",
    "creationTime",
    "lastModified",
    "state",
    "stateTransitionTime",
    "commandLine",
    "constraints/retentionTime",
    "constraints/maxTaskRetryCount",
    "requiredSlots",
    "executionInfo/retryCount",
    "executionInfo/requeueCount",
)
TASK_VALUES = {
    "constraints/maxTaskRetryCount": 0,
    "executionInfo/retryCount": 0,
    "executionInfo/requeueCount": 0,
}
TASK_DEFAULT_FIELDS = (
    "userIdentity/autoUser/scope",
    "userIdentity/autoUser/elevationLevel",
    "constraints/maxWallClockTime",
)

#: FileListFromTask.json's and FileListFromNode.json's entries.
FILE_LIST_FIELDS = (
    ODATA,
    *each("name", "url", "isDirectory"),
    *each_file(
        "properties/creationTime",
        "properties/lastModified",
        "properties/contentLength",
        "properties/contentType",
    ),
)

#: AccountListPoolNodeCounts.json's counts, per kind of node.
NODE_STATES = (
    "creating",
    "deallocated",
    "deallocating",
    "idle",
    "leavingPool",
    "offline",
    "preempted",
    "rebooting",
    "reimaging",
    "running",
    "starting",
    "startTaskFailed",
    "unknown",
    "unusable",
    "waitingForStartTask",
    "upgradingOS",
    "total",
)
#: JobGetTaskCounts.json's counts.
TASK_STATES = ("active", "running", "completed", "succeeded", "failed")
#: JobListPreparationAndReleaseTaskStatus.json's preparation task (no release task is sent).
PREPARATION_FIELDS = (
    "state",
    "startTime",
    "endTime",
    "taskRootDirectory",
    "taskRootDirectoryUrl",
    "exitCode",
    "retryCount",
)

CASES: tuple[Case, ...] = (
    # -- pools ----------------------------------------------------------------
    Case(
        name="Pool_List",
        route="GET /pools",
        example="2024-02-01.19.0/PoolList_Basic.json (also 2023-05-01.17.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", "/pools", filtered(f"id eq '{world.POOL}'")),
        status=200,
        fields=(ODATA, *each(*POOL_FIELDS), *each(*POOL_DEFAULT_FIELDS), *each(*START_TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in POOL_VALUES.items()},
    ),
    Case(
        name="Pool_Add",
        route="POST /pools",
        example="2024-02-01.19.0/PoolAdd_VirtualMachineConfiguration.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "POST",
            "/pools",
            body={
                "id": world.fresh("pool"),
                "vmSize": VM_SIZE,
                "virtualMachineConfiguration": VM_CONFIGURATION,
                "resizeTimeout": "PT15M",
                "targetDedicatedNodes": 0,
                "targetLowPriorityNodes": 0,
                "taskSlotsPerNode": 3,
                "enableAutoScale": False,
                "metadata": [{"name": "myproperty", "value": "myvalue"}],
            },
        ),
        status=201,
        headers=CHANGE_HEADERS,  # the example: request-id, ETag, Last-Modified; swagger: DataServiceId
    ),
    Case(
        name="Pool_Get",
        route="GET /pools/{pool_id}",
        example="2022-10-01.16.0/PoolGet_Basic.json",
        request=lambda world: Request("GET", f"/pools/{world.POOL}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
        fields=(ODATA, *POOL_FIELDS, *POOL_DEFAULT_FIELDS, *START_TASK_DEFAULT_FIELDS),
        values=POOL_VALUES,
    ),
    Case(
        name="Pool_Exists",
        route="HEAD /pools/{pool_id}",
        example="2024-07-01.20.0/PoolExists.json (response 200; also 2023-05-01.17.0, 2022-01-01.15.0)",
        request=lambda world: Request("HEAD", f"/pools/{world.POOL}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
    ),
    Case(
        name="Pool_Exists-404",
        route="HEAD /pools/{pool_id}",
        example="2024-07-01.20.0/PoolExists.json (response 404)",
        request=lambda world: Request("HEAD", "/pools/no-such-pool"),
        status=404,
    ),
    Case(
        name="Pool_Delete",
        route="DELETE /pools/{pool_id}",
        example="2022-10-01.16.0/PoolDelete.json (also 2022-01-01.15.0)",
        request=lambda world: Request("DELETE", f"/pools/{world.add_pool(world.fresh('pool'))}"),
        status=202,
    ),
    Case(
        name="Pool_Resize",
        route="POST /pools/{pool_id}/resize",
        example="2023-05-01.17.0/PoolResize.json (also 2022-10-01.16.0, 2022-01-01.15.0)",
        request=lambda world: Request(
            "POST",
            f"/pools/{world.add_pool(world.fresh('pool'))}/resize",
            body={"targetDedicatedNodes": 1, "targetLowPriorityNodes": 0},
        ),
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    # -- nodes ----------------------------------------------------------------
    Case(
        name="ComputeNode_List",
        route="GET /pools/{pool_id}/nodes",
        example="2023-11-01.18.0/NodeList.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/pools/{world.POOL}/nodes"),
        status=200,
        fields=(ODATA, *each(*NODE_FIELDS, "runningTaskSlotsCount"), *each(*START_TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in NODE_VALUES.items()},
    ),
    Case(
        name="ComputeNode_Get",
        route="GET /pools/{pool_id}/nodes/{node_id}",
        example="2023-11-01.18.0/NodeGet_Basic.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/pools/{world.POOL}/nodes/{world.node_id}"),
        status=200,
        headers=ENTITY_HEADERS,  # swagger
        fields=(ODATA, *NODE_FIELDS, *START_TASK_DEFAULT_FIELDS),
        values=NODE_VALUES,
    ),
    Case(
        name="ComputeNode_Reboot",
        route="POST /pools/{pool_id}/nodes/{node_id}/reboot",
        example="2023-11-01.18.0/NodeReboot.json (also 2022-01-01.15.0)",
        request=_reboot,
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    # -- node files -----------------------------------------------------------
    Case(
        name="File_ListFromComputeNode",
        route="GET /pools/{pool_id}/nodes/{node_id}/files",
        example="2024-07-01.20.0/FileListFromNode.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        # recursive, so that files show (a Linux node's root holds only directories)
        request=lambda world: Request(
            "GET", f"/pools/{world.POOL}/nodes/{world.node_id}/files", "recursive=true"
        ),
        status=200,
        fields=FILE_LIST_FIELDS,
    ),
    Case(
        name="File_GetFromComputeNode",
        route="GET /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2023-11-01.18.0/FileGetFromNode.json (also 2023-05-01.17.0)",
        request=lambda world: Request(
            "GET", f"/pools/{world.POOL}/nodes/{world.node_id}/files/startup/stdout.txt"
        ),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_GetPropertiesFromComputeNode",
        route="HEAD /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2023-11-01.18.0/FileGetPropertiesFromNode.json (also 2022-01-01.15.0)",
        request=lambda world: Request(
            "HEAD", f"/pools/{world.POOL}/nodes/{world.node_id}/files/startup/stdout.txt"
        ),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_DeleteFromComputeNode",
        route="DELETE /pools/{pool_id}/nodes/{node_id}/files/{file_path:path}",
        example="2024-07-01.20.0/FileDeleteFromNode.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        request=_delete_node_file,
        status=200,
    ),
    # -- jobs -----------------------------------------------------------------
    Case(
        name="Job_List",
        route="GET /jobs",
        example="2024-07-01.20.0/JobList.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", "/jobs", filtered(f"id eq '{world.JOB}'")),
        status=200,
        fields=(ODATA, *each(*JOB_FIELDS), *each(*JOB_DEFAULT_FIELDS)),
        values={
            "value/*/state": "active",
            **{f"value/*/{path}": value for path, value in JOB_VALUES.items()},
        },
    ),
    Case(
        name="Job_Add",
        route="POST /jobs",
        example="2023-11-01.18.0/JobAdd_Basic.json (also 2024-02-01.19.0, 2023-05-01.17.0)",
        request=lambda world: Request(
            "POST",
            "/jobs",
            body={"id": world.fresh("job"), "priority": 0, "poolInfo": {"poolId": world.POOL}},
        ),
        status=201,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_Get",
        route="GET /jobs/{job_id}",
        # The example's job is a terminated one, as is this one.
        example="2024-07-01.20.0/JobGet.json (also 2023-11-01.18.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/jobs/{world.completed_job()}"),
        status=200,
        fields=(
            ODATA,
            *JOB_FIELDS,
            "previousState",
            "previousStateTransitionTime",
            "executionInfo/endTime",
            "executionInfo/terminateReason",
            *JOB_DEFAULT_FIELDS,
        ),
        values={"state": "completed", "executionInfo/terminateReason": "UserTerminate", **JOB_VALUES},
    ),
    Case(
        name="Job_Patch",
        route="PATCH /jobs/{job_id}",
        example="2024-07-01.20.0/JobPatch.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "PATCH", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}", body=JOB_CHANGES
        ),
        status=200,
    ),
    Case(
        name="Job_Update",
        route="PUT /jobs/{job_id}",
        example="2024-07-01.20.0/JobUpdate.json (also 2022-10-01.16.0, 2022-01-01.15.0)",
        request=lambda world: Request(
            "PUT", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}", body=JOB_CHANGES
        ),
        status=200,
    ),
    Case(
        name="Job_Delete",
        route="DELETE /jobs/{job_id}",
        example="2024-02-01.19.0/JobDelete.json (also 2023-11-01.18.0, 2023-05-01.17.0)",
        request=lambda world: Request("DELETE", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}"),
        status=202,
    ),
    Case(
        name="Job_Terminate",
        route="POST /jobs/{job_id}/terminate",
        example="2024-02-01.19.0/JobTerminate.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}/terminate",
            body={"terminateReason": "User supplied termination reason"},
        ),
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_GetTaskCounts",
        route="GET /jobs/{job_id}/taskcounts",
        example="2024-02-01.19.0/JobGetTaskCounts.json (also 2023-11-01.18.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/taskcounts"),
        status=200,
        fields=tuple(f"{kind}/{state}" for kind in ("taskCounts", "taskSlotCounts") for state in TASK_STATES),
    ),
    Case(
        name="Job_ListPreparationAndReleaseTaskStatus",
        route="GET /jobs/{job_id}/jobpreparationandreleasetaskstatus",
        example="2024-07-01.20.0/JobListPreparationAndReleaseTaskStatus.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/jobpreparationandreleasetaskstatus"),
        status=200,
        fields=(
            ODATA,
            *each("poolId", "nodeId", "nodeUrl"),
            *each(*(f"jobPreparationTaskExecutionInfo/{name}" for name in PREPARATION_FIELDS)),
        ),
        values={
            "value/*/jobPreparationTaskExecutionInfo/state": "completed",
            "value/*/jobPreparationTaskExecutionInfo/exitCode": 0,
            "value/*/jobPreparationTaskExecutionInfo/retryCount": 0,
        },
    ),
    # -- tasks ----------------------------------------------------------------
    Case(
        name="Task_Add",
        route="POST /jobs/{job_id}/tasks",
        example="2023-11-01.18.0/TaskAdd_Basic.json (also 2022-10-01.16.0)",
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.PARKED)}/tasks",
            body={"id": "task1", "commandLine": "/bin/sh -c 'echo task1'"},
        ),
        status=201,
    ),
    Case(
        name="Task_AddCollection",
        route="POST /jobs/{job_id}/addtaskcollection",
        example=(
            "2023-11-01.18.0/TaskAddCollection_Basic.json "
            "(and 2024-07-01.20.0/TaskAddCollection_Complex.json)"
        ),
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.PARKED)}/addtaskcollection",
            body={"value": [{"id": "simple1", "commandLine": ECHO}, {"id": "simple2", "commandLine": ECHO}]},
        ),
        status=200,
        fields=each("status", "taskId", "eTag", "lastModified", "location"),
        values={"value/*/status": "success"},
    ),
    Case(
        name="Task_List",
        route="GET /jobs/{job_id}/tasks",
        example="2023-05-01.17.0/TaskList.json",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks"),
        status=200,
        fields=(ODATA, *each(*TASK_FIELDS), *each(*TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in TASK_VALUES.items()},
    ),
    Case(
        name="Task_Get",
        route="GET /jobs/{job_id}/tasks/{task_id}",
        example="2024-02-01.19.0/TaskGet.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks/{world.TASK}"),
        status=200,
        fields=(ODATA, *TASK_FIELDS, *TASK_DEFAULT_FIELDS),
        values=TASK_VALUES,
    ),
    Case(
        name="Task_Delete",
        route="DELETE /jobs/{job_id}/tasks/{task_id}",
        example="2024-02-01.19.0/TaskDelete.json (also 2023-11-01.18.0, 2023-05-01.17.0)",
        request=_delete_task,
        status=200,
    ),
    Case(
        name="Task_Terminate",
        route="POST /jobs/{job_id}/tasks/{task_id}/terminate",
        example="2024-02-01.19.0/TaskTerminate.json (also 2023-05-01.17.0)",
        request=_terminate_task,
        status=204,
    ),
    # -- task files -----------------------------------------------------------
    Case(
        name="File_ListFromTask",
        route="GET /jobs/{job_id}/tasks/{task_id}/files",
        example="2024-07-01.20.0/FileListFromTask.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        request=lambda world: Request(
            "GET", f"/jobs/{world.JOB}/tasks/{world.TASK}/files", "recursive=false"
        ),
        status=200,
        fields=FILE_LIST_FIELDS,
    ),
    Case(
        name="File_GetFromTask",
        route="GET /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-07-01.20.0/FileGetFromTask.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks/{world.TASK}/files/stdout.txt"),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_GetPropertiesFromTask",
        route="HEAD /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-02-01.19.0/FileGetPropertiesFromTask.json (also 2023-05-01.17.0, 2022-10-01.16.0)",
        request=lambda world: Request("HEAD", f"/jobs/{world.JOB}/tasks/{world.TASK}/files/stdout.txt"),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_DeleteFromTask",
        route="DELETE /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-02-01.19.0/FileDeleteFromTask.json",
        request=_delete_task_file,
        status=200,
    ),
    # -- the account ----------------------------------------------------------
    Case(
        name="Account_ListSupportedImages",
        route="GET /supportedimages",
        example="2023-11-01.18.0/AccountListSupportedImages.json (also 2022-01-01.15.0)",
        request=lambda world: Request("GET", "/supportedimages"),
        status=200,
        fields=(
            ODATA,
            *each(
                "nodeAgentSKUId",
                "imageReference/publisher",
                "imageReference/offer",
                "imageReference/sku",
                "imageReference/version",
                "verificationType",
                "osType",
            ),
        ),
        values={"value/*/osType": "linux", "value/*/verificationType": "verified"},
    ),
    Case(
        name="Account_ListPoolNodeCounts",
        route="GET /nodecounts",
        example="2024-07-01.20.0/AccountListPoolNodeCounts.json (also 2024-02-01.19.0, 2023-05-01.17.0)",
        request=lambda world: Request("GET", "/nodecounts"),
        status=200,
        fields=(
            ODATA,
            *each("poolId"),
            *each(*(f"{kind}/{state}" for kind in ("dedicated", "lowPriority") for state in NODE_STATES)),
        ),
    ),
)
