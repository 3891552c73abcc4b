"""The account's documents: finding them, making them, and changing their state.

Every document is the service's own JSON shape; a change gets a new eTag and
lastModified, and a state change records the previous state as the service does.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ._errors import not_found
from ._store import Document, Store
from ._timeutil import UNLIMITED_TEXT, stamp

#: Who runs a task, a StartTask or a preparation task when the request does not say (the
#: documented default: the pool's auto-user, not an administrator).
AUTO_USER = {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}


def _task_defaults(task: Document) -> None:
    """The defaults the service fills in on every kind of task."""
    task.setdefault("userIdentity", copy.deepcopy(AUTO_USER))
    constraints = task.setdefault("constraints", {})
    constraints.setdefault("maxWallClockTime", UNLIMITED_TEXT)
    constraints.setdefault("maxTaskRetryCount", 0)


def etag() -> str:
    """Unquoted, as the service writes them (``0x8D4EDFEBFADF4AB``)."""
    return f"0x{uuid.uuid4().hex[:15].upper()}"


def touch(doc: Document) -> None:
    doc["eTag"] = etag()
    doc["lastModified"] = stamp()


def transition(doc: Document, state: str) -> None:
    if doc.get("state") != state:
        doc["previousState"] = doc.get("state")
        doc["previousStateTransitionTime"] = doc.get("stateTransitionTime")
        doc["state"] = state
        doc["stateTransitionTime"] = stamp()
    touch(doc)


def user_error(code: str, message: str) -> dict[str, str]:
    """A task's or StartTask's failureInfo for a failure of the user's own making."""
    return {"category": "usererror", "code": code, "message": message}


def exit_code_failure() -> dict[str, str]:
    return user_error("FailureExitCode", "The task exited with an exit code representing a failure")


# -- urls ----------------------------------------------------------------


def pool_url(base_url: str, pool_id: str) -> str:
    return f"{base_url}/pools/{pool_id}"


def node_url(base_url: str, pool_id: str, node_id: str) -> str:
    return f"{pool_url(base_url, pool_id)}/nodes/{node_id}"


def job_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/jobs/{job_id}"


def task_url(base_url: str, job_id: str, task_id: str) -> str:
    return f"{job_url(base_url, job_id)}/tasks/{task_id}"


def rebase_urls(store: Store, base_url: str) -> None:
    """The port changes between runs: point every document's url at this one."""
    for pool_id, pool in store.pools.items():
        pool["url"] = pool_url(base_url, pool_id)
        store.put("pool", pool_id, pool)
        for node_id, node in store.nodes.get(pool_id, {}).items():
            node["url"] = node_url(base_url, pool_id, node_id)
    for job_id, job in store.jobs.items():
        job["url"] = job_url(base_url, job_id)
        store.put("job", job_id, job)
        for task_id, task in store.tasks.get(job_id, {}).items():
            task["url"] = task_url(base_url, job_id, task_id)
            store.put("task", task_id, task, parent=job_id)


# -- lookups -------------------------------------------------------------


def _find(docs: dict[str, Document], ident: str, kind: str) -> Document:
    doc = docs.get(ident)
    if doc is None:
        raise not_found(kind, f"{kind.capitalize()}NotFound")
    return doc


def find_pool(store: Store, pool_id: str) -> Document:
    return _find(store.pools, pool_id, "pool")


def find_node(store: Store, pool_id: str, node_id: str) -> Document:
    find_pool(store, pool_id)
    return _find(store.nodes.get(pool_id, {}), node_id, "node")


def find_job(store: Store, job_id: str) -> Document:
    return _find(store.jobs, job_id, "job")


def job_pool_id(job: Document) -> str:
    """The pool the job's tasks run on: its poolInfo's poolId, or the auto pool made for it
    (only executionInfo names that one, as on the service)."""
    given = (job.get("poolInfo") or {}).get("poolId")
    return str((job.get("executionInfo") or {}).get("poolId") or given or "")


def find_task(store: Store, job_id: str, task_id: str) -> Document:
    find_job(store, job_id)
    return _find(store.tasks.get(job_id, {}), task_id, "task")


# -- new documents -------------------------------------------------------


def new_pool(base_url: str, body: dict[str, Any]) -> Document:
    pool = copy.deepcopy(body)
    pool.setdefault("taskSlotsPerNode", 1)
    pool.setdefault("targetDedicatedNodes", 0)
    pool.setdefault("targetLowPriorityNodes", 0)
    pool.setdefault("enableAutoScale", False)
    pool.setdefault("resizeTimeout", "PT15M")
    pool.setdefault("enableInterNodeCommunication", False)
    pool.setdefault("taskSchedulingPolicy", {"nodeFillType": "spread"})
    new_pool_defaults(pool)
    pool.update(
        url=pool_url(base_url, pool["id"]),
        creationTime=stamp(),
        state="active",
        stateTransitionTime=stamp(),
        allocationState="steady",
        allocationStateTransitionTime=stamp(),
        currentDedicatedNodes=0,
        currentLowPriorityNodes=0,
    )
    touch(pool)
    return pool


def new_pool_defaults(pool: Document) -> None:
    """The defaults of a pool's StartTask (on create, and after it is changed)."""
    start_task = pool.get("startTask")
    if start_task:
        start_task.setdefault("userIdentity", copy.deepcopy(AUTO_USER))
        start_task.setdefault("maxTaskRetryCount", 0)
        start_task.setdefault("waitForSuccess", True)


def new_node(base_url: str, pool_id: str, pool: Document, dedicated: bool) -> Document:
    node_id = f"tvmps_{uuid.uuid4().hex}_{'d' if dedicated else 'p'}"
    return {
        "id": node_id,
        "url": node_url(base_url, pool_id, node_id),
        "state": "starting",
        "schedulingState": "enabled",
        "stateTransitionTime": stamp(),
        "allocationTime": stamp(),
        "ipAddress": "127.0.0.1",
        "affinityId": f"TVM:{node_id}",
        "vmSize": pool["vmSize"],
        "isDedicated": dedicated,
        "totalTasksRun": 0,
        "totalTasksSucceeded": 0,
        "runningTasksCount": 0,
        "runningTaskSlotsCount": 0,
        "recentTasks": [],
        "nodeAgentInfo": {"version": "localbatch", "lastUpdateTime": stamp()},
    }


def new_job(base_url: str, body: dict[str, Any]) -> Document:
    job = copy.deepcopy(body)
    job.setdefault("priority", 0)
    job.setdefault("onAllTasksComplete", "noaction")
    job.setdefault("onTaskFailure", "noaction")
    job["onAllTasksComplete"] = job["onAllTasksComplete"].lower()
    job["onTaskFailure"] = str(job["onTaskFailure"]).lower()
    job_defaults(job)
    job.setdefault("usesTaskDependencies", False)
    prep = job.get("jobPreparationTask")
    if prep:
        prep.setdefault("id", "jobpreparation")
        prep.setdefault("waitForSuccess", True)
        prep.setdefault("rerunOnNodeRebootAfterSuccess", True)
        _task_defaults(prep)
    release = job.get("jobReleaseTask")
    if release:
        release.setdefault("id", "jobrelease")
        release.setdefault("maxWallClockTime", "PT15M")
        release.setdefault("retentionTime", "P7D")
        release.setdefault("userIdentity", copy.deepcopy(AUTO_USER))
    job.update(
        url=job_url(base_url, job["id"]),
        creationTime=stamp(),
        state="active",
        stateTransitionTime=stamp(),
        # An auto pool's id comes later (AutoPools.attach); poolInfo keeps no poolId then.
        executionInfo={"startTime": stamp(), "poolId": body["poolInfo"].get("poolId")},
    )
    touch(job)
    return job


def job_defaults(job: Document) -> None:
    """What a job without these properties has (on create, and after a PUT that leaves them out)."""
    if job.get("maxParallelTasks") is None:
        job["maxParallelTasks"] = -1
    if job.get("metadata") is None:
        job["metadata"] = []
    if job.get("allowTaskPreemption") is None:
        job["allowTaskPreemption"] = False
    if job.get("constraints") is None:
        job["constraints"] = {}
    job["constraints"].setdefault("maxWallClockTime", UNLIMITED_TEXT)
    job["constraints"].setdefault("maxTaskRetryCount", 0)


def new_task(base_url: str, job_id: str, job: Document, body: dict[str, Any]) -> Document:
    task = copy.deepcopy(body)
    constraints = task.setdefault("constraints", {})
    job_constraints = job.get("constraints") or {}
    constraints.setdefault("maxTaskRetryCount", job_constraints.get("maxTaskRetryCount", 0))
    constraints.setdefault("retentionTime", "P7D")
    _task_defaults(task)
    task.setdefault("requiredSlots", 1)
    task.update(
        url=task_url(base_url, job_id, task["id"]),
        creationTime=stamp(),
        state="active",
        stateTransitionTime=stamp(),
        executionInfo={"retryCount": 0, "requeueCount": 0},
    )
    touch(task)
    return task
