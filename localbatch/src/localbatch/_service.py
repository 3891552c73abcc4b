"""The Batch account: pools with local nodes, jobs, tasks, and their scheduling."""

from __future__ import annotations

import copy
import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _runner
from ._errors import BatchError, exists, invalid_property, missing_property, not_found
from ._store import Document, Store
from ._timeutil import UNLIMITED, now, parse_duration, parse_stamp, stamp
from ._validate import check_constraints, check_id, check_int, check_resource_files, check_task, require

logger = logging.getLogger(__name__)
MAX_TASKS_PER_COLLECTION = 100
ACTIVE_NODE_STATES = {"idle", "running"}
RECENT_TASKS = 20


def etag() -> str:
    return f'"0x{uuid.uuid4().hex[:15].upper()}"'


def _touch(doc: Document) -> None:
    doc["eTag"] = etag()
    doc["lastModified"] = stamp()


def _transition(doc: Document, state: str) -> None:
    if doc.get("state") != state:
        doc["previousState"] = doc.get("state")
        doc["previousStateTransitionTime"] = doc.get("stateTransitionTime")
        doc["state"] = state
        doc["stateTransitionTime"] = stamp()
    _touch(doc)


@dataclass
class Faults:
    """Faults injected on demand, for tests (never part of the Batch API)."""

    throttle_remaining: int = 0
    throttle_status: int = 503
    retry_after: int | None = None
    start_task_failures: dict[str, int] = field(default_factory=dict)

    def take_throttle(self) -> tuple[int, int | None] | None:
        if self.throttle_remaining <= 0:
            return None
        self.throttle_remaining -= 1
        return self.throttle_status, self.retry_after


class BatchService:
    """All state and behaviour of one local Batch account."""

    def __init__(
        self,
        data_dir: Path,
        account: str,
        *,
        auto_storage: _runner.AutoStorage | None = None,
        scheduler_interval: float = 0.5,
    ) -> None:
        self.data_dir = data_dir
        self.account = account
        self.auto_storage = auto_storage
        self.base_url = ""
        self.faults = Faults()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(data_dir / "localbatch.db")
        self._wake = threading.Condition(self.store.lock)
        self._attempts: dict[tuple[str, str], _runner.Attempt] = {}
        #: Active tasks per job in submission order (an ordered set), so a
        #: scheduling pass looks at waiting tasks only, not at every task.
        self._queues: dict[str, dict[str, None]] = {}
        self._node_attempts: dict[tuple[str, str], _runner.Attempt] = {}
        self._threads: set[threading.Thread] = set()
        self._stopping = threading.Event()
        self._interval = scheduler_interval
        self._scheduler: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self, base_url: str) -> None:
        self.base_url = base_url
        self._recover()
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name="localbatch-scheduler", daemon=True
        )
        self._scheduler.start()

    def stop(self) -> None:
        """Stop scheduling and end every process; running tasks stay 'running'
        in the store and are requeued on the next start, as on node recovery."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
            attempts = [*self._attempts.values(), *self._node_attempts.values()]
        for attempt in attempts:
            attempt.kill()
        for thread in list(self._threads):
            thread.join(timeout=10)
        if self._scheduler is not None:
            self._scheduler.join(timeout=10)
        self.store.close()

    def _recover(self) -> None:
        with self.store.transaction():
            self._rebase_urls()
            for job_id, tasks in self.store.tasks.items():
                for task_id, task in tasks.items():
                    if task["state"] in ("running", "preparing"):
                        self._requeue(job_id, task_id, task)
                    elif task["state"] == "active":
                        self._queues.setdefault(job_id, {})[task_id] = None
            for pool_id, nodes in self.store.nodes.items():
                for node_id, node in nodes.items():
                    node["runningTasksCount"] = 0
                    node["runningTaskSlotsCount"] = 0
                    self._boot_node(pool_id, node_id, node)

    def _rebase_urls(self) -> None:
        """The port changes between runs: point every document's url at this one."""
        for pool_id, pool in self.store.pools.items():
            pool["url"] = f"{self.base_url}/pools/{pool_id}"
            self.store.put("pool", pool_id, pool)
            for node_id, node in self.store.nodes.get(pool_id, {}).items():
                node["url"] = f"{self.base_url}/pools/{pool_id}/nodes/{node_id}"
        for job_id, job in self.store.jobs.items():
            job["url"] = f"{self.base_url}/jobs/{job_id}"
            self.store.put("job", job_id, job)
            for task_id, task in self.store.tasks.get(job_id, {}).items():
                task["url"] = f"{self.base_url}/jobs/{job_id}/tasks/{task_id}"
                self.store.put("task", task_id, task, parent=job_id)

    def _spawn(self, target: Any, *args: Any, name: str) -> None:
        def run() -> None:
            try:
                target(*args)
            except Exception:
                logger.exception("%s failed", name)
            finally:
                self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.add(thread)
        thread.start()

    def notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # -- pools -----------------------------------------------------------

    def create_pool(self, body: dict[str, Any]) -> Document:
        pool_id = check_id(body.get("id"))
        require(body, "vmSize")
        vm = body.get("virtualMachineConfiguration")
        if not isinstance(vm, dict):
            raise missing_property("virtualMachineConfiguration")
        require(vm, "nodeAgentSKUId", "virtualMachineConfiguration.")
        if not isinstance(vm.get("imageReference"), dict):
            raise missing_property("virtualMachineConfiguration.imageReference")
        if body.get("enableAutoScale"):
            raise invalid_property(
                "enableAutoScale",
                True,
                "localbatch does not evaluate autoscale formulas; give targetDedicatedNodes and "
                "targetLowPriorityNodes instead.",
            )
        check_int(body, "targetDedicatedNodes", minimum=0)
        check_int(body, "targetLowPriorityNodes", minimum=0)
        check_int(body, "taskSlotsPerNode", minimum=1, maximum=256)
        start_task = body.get("startTask")
        if start_task is not None:
            require(start_task, "commandLine", "startTask.")
            check_resource_files(start_task.get("resourceFiles"), "startTask.resourceFiles")
            check_int(start_task, "maxTaskRetryCount", minimum=-1)
        with self.store.transaction():
            if pool_id in self.store.pools:
                raise exists("pool", "PoolExists")
            pool = copy.deepcopy(body)
            pool.setdefault("taskSlotsPerNode", 1)
            pool.setdefault("targetDedicatedNodes", 0)
            pool.setdefault("targetLowPriorityNodes", 0)
            pool.setdefault("enableAutoScale", False)
            pool.setdefault("resizeTimeout", "PT15M")
            pool.update(
                url=f"{self.base_url}/pools/{pool_id}",
                creationTime=stamp(),
                state="active",
                stateTransitionTime=stamp(),
                allocationState="steady",
                allocationStateTransitionTime=stamp(),
                currentDedicatedNodes=0,
                currentLowPriorityNodes=0,
            )
            _touch(pool)
            self.store.put("pool", pool_id, pool)
            self._resize_nodes(pool_id)
        return pool

    def get_pool(self, pool_id: str) -> Document:
        pool = self.store.pools.get(pool_id)
        if pool is None:
            raise not_found("pool", "PoolNotFound")
        return pool

    def resize_pool(self, pool_id: str, body: dict[str, Any]) -> None:
        check_int(body, "targetDedicatedNodes", minimum=0)
        check_int(body, "targetLowPriorityNodes", minimum=0)
        with self.store.transaction():
            pool = self._live_pool(pool_id)
            for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
                if body.get(name) is not None:
                    pool[name] = body[name]
            _touch(pool)
            self._resize_nodes(pool_id)
            self.store.put("pool", pool_id, pool)

    def delete_pool(self, pool_id: str) -> None:
        with self.store.transaction():
            self._live_pool(pool_id)
            for node_id in list(self.store.nodes.get(pool_id, {})):
                self._remove_node(pool_id, node_id)
            self.store.delete("pool", pool_id)
        shutil.rmtree(self.data_dir / "nodes" / pool_id, ignore_errors=True)

    def _live_pool(self, pool_id: str) -> Document:
        pool = self.get_pool(pool_id)
        if pool["state"] == "deleting":
            raise BatchError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion.")
        return pool

    def _resize_nodes(self, pool_id: str) -> None:
        pool = self.store.pools[pool_id]
        nodes = self.store.nodes.setdefault(pool_id, {})
        for dedicated, target in (
            (True, pool["targetDedicatedNodes"]),
            (False, pool["targetLowPriorityNodes"]),
        ):
            current = [node_id for node_id, node in nodes.items() if node["isDedicated"] == dedicated]
            for _ in range(target - len(current)):
                node_id = f"tvmps_{uuid.uuid4().hex}_{'d' if dedicated else 'p'}"
                node = {
                    "id": node_id,
                    "url": f"{self.base_url}/pools/{pool_id}/nodes/{node_id}",
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
                self.store.put("node", node_id, node, parent=pool_id)
                self._boot_node(pool_id, node_id, node)
            # Shrink idle nodes first; tasks on removed busy nodes are requeued.
            surplus = len(current) - target
            for node_id in sorted(current, key=lambda n: nodes[n]["runningTasksCount"])[: max(0, surplus)]:
                self._remove_node(pool_id, node_id)
        pool["currentDedicatedNodes"] = sum(1 for n in nodes.values() if n["isDedicated"])
        pool["currentLowPriorityNodes"] = sum(1 for n in nodes.values() if not n["isDedicated"])

    def _remove_node(self, pool_id: str, node_id: str) -> None:
        self._requeue_node_tasks(node_id)
        start_attempt = self._node_attempts.pop((pool_id, node_id), None)
        if start_attempt:
            start_attempt.kill()
        self.store.delete("node", node_id, parent=pool_id)
        shutil.rmtree(self.node_dir(pool_id, node_id), ignore_errors=True)

    # -- nodes -----------------------------------------------------------

    def node_dir(self, pool_id: str, node_id: str) -> Path:
        return self.data_dir / "nodes" / pool_id / node_id

    def get_node(self, pool_id: str, node_id: str) -> Document:
        self.get_pool(pool_id)
        node = self.store.nodes.get(pool_id, {}).get(node_id)
        if node is None:
            raise not_found("node", "NodeNotFound")
        return node

    def _boot_node(self, pool_id: str, node_id: str, node: Document) -> None:
        """(Re)start a node: run the pool's StartTask, then take tasks."""
        root = self.node_dir(pool_id, node_id)
        for sub in ("startup", "shared", "workitems", "home"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        node["lastBootTime"] = stamp()
        start_task = self.store.pools[pool_id].get("startTask")
        if not start_task:
            _transition(node, "idle")
        else:
            node["startTask"] = start_task
            node["startTaskInfo"] = {"state": "running", "startTime": stamp(), "retryCount": 0}
            _transition(node, "waitingforstarttask" if start_task.get("waitForSuccess") else "idle")
            attempt = _runner.Attempt()
            self._node_attempts[(pool_id, node_id)] = attempt
            self._spawn(self._run_start_task, pool_id, node_id, attempt, name=f"start-{node_id}")
        self.store.put("node", node_id, node, parent=pool_id)

    def _batch_vars(self, pool_id: str, node_id: str, task_dir: Path, working_dir: Path) -> dict[str, str]:
        root = self.node_dir(pool_id, node_id)
        node = self.store.nodes[pool_id][node_id]
        return {
            "AZ_BATCH_ACCOUNT_NAME": self.account,
            "AZ_BATCH_ACCOUNT_URL": self.base_url,
            "AZ_BATCH_POOL_ID": pool_id,
            "AZ_BATCH_NODE_ID": node_id,
            "AZ_BATCH_NODE_IS_DEDICATED": "true" if node["isDedicated"] else "false",
            "AZ_BATCH_NODE_ROOT_DIR": str(root),
            "AZ_BATCH_NODE_SHARED_DIR": str(root / "shared"),
            "AZ_BATCH_NODE_STARTUP_DIR": str(root / "startup"),
            "AZ_BATCH_TASK_DIR": str(task_dir),
            "AZ_BATCH_TASK_WORKING_DIR": str(working_dir),
            "HOME": str(root / "home"),
        }

    def _run_start_task(self, pool_id: str, node_id: str, attempt: _runner.Attempt) -> None:
        with self.store.lock:
            start_task = copy.deepcopy(self.store.pools[pool_id]["startTask"])
        root = self.node_dir(pool_id, node_id)
        task_dir = root / "startup"
        working_dir = task_dir / "wd"
        working_dir.mkdir(parents=True, exist_ok=True)
        max_retries = int(start_task.get("maxTaskRetryCount", 0))
        retry = 0
        while True:
            outcome = self._start_task_attempt(
                pool_id, node_id, start_task, attempt, task_dir=task_dir, working_dir=working_dir
            )
            if outcome is None or self._stopping.is_set():
                return  # the node went away or the service stopped
            succeeded = outcome.failure is None and outcome.exit_code == 0
            if succeeded or (max_retries != -1 and retry >= max_retries):
                break
            retry += 1
            with self.store.transaction():
                node = self.store.nodes.get(pool_id, {}).get(node_id)
                if node is None:
                    return
                node["startTaskInfo"]["retryCount"] = retry
                node["startTaskInfo"]["lastRetryTime"] = stamp()
                self.store.put("node", node_id, node, parent=pool_id)
        with self._wake:
            node = self.store.nodes.get(pool_id, {}).get(node_id)
            if node is None or self._node_attempts.get((pool_id, node_id)) is not attempt:
                return
            del self._node_attempts[(pool_id, node_id)]
            info = node["startTaskInfo"]
            info.update(state="completed", endTime=stamp(), result="success" if succeeded else "failure")
            info["exitCode"] = outcome.exit_code
            if not succeeded:
                info["failureInfo"] = (
                    outcome.failure.failure_info()
                    if outcome.failure
                    else {
                        "category": "usererror",
                        "code": "FailureExitCode",
                        "message": "The task exited with an exit code representing a failure",
                    }
                )
                if start_task.get("waitForSuccess"):
                    _transition(node, "starttaskfailed")
            elif node["state"] == "waitingforstarttask":
                _transition(node, "idle")
            self.store.put("node", node_id, node, parent=pool_id)
            self._wake.notify_all()

    def _start_task_attempt(
        self,
        pool_id: str,
        node_id: str,
        start_task: Document,
        attempt: _runner.Attempt,
        *,
        task_dir: Path,
        working_dir: Path,
    ) -> _runner.Outcome | None:
        with self.store.lock:
            if pool_id not in self.store.nodes or node_id not in self.store.nodes[pool_id]:
                return None
            injected = self.faults.start_task_failures.get(pool_id, 0)
            if injected:
                self.faults.start_task_failures[pool_id] = injected - 1
            env = _runner.task_environment(
                self._batch_vars(pool_id, node_id, task_dir, working_dir),
                start_task.get("environmentSettings") or [],
            )
        if injected:
            with (task_dir / "stderr.txt").open("a", encoding="utf-8") as err:
                err.write("localbatch: injected StartTask failure\n")
            return _runner.Outcome(1)
        try:
            _runner.download_resource_files(
                start_task.get("resourceFiles") or [], working_dir, self.auto_storage
            )
        except _runner.StepFailed as exc:
            return _runner.Outcome(None, exc)
        return attempt.run(
            start_task["commandLine"], task_dir=task_dir, working_dir=working_dir, env=env, timeout=None
        )

    def throttle(self, count: int, status: int = 503, retry_after: int | None = None) -> None:
        """Fault: refuse the next ``count`` Batch requests with ``status``."""
        with self.store.lock:
            self.faults.throttle_remaining = count
            self.faults.throttle_status = status
            self.faults.retry_after = retry_after

    def fail_start_tasks(self, pool_id: str, count: int) -> None:
        """Fault: the next ``count`` StartTask runs in the pool fail with exit code 1."""
        with self.store.lock:
            self.faults.start_task_failures[pool_id] = count

    def _evict(self, pool_id: str, node_id: str, state: str) -> Document:
        """Requeue the node's running tasks and put it in ``state``."""
        node = self.get_node(pool_id, node_id)
        self._requeue_node_tasks(node_id)
        node["runningTasksCount"] = 0
        node["runningTaskSlotsCount"] = 0
        _transition(node, state)
        self.store.put("node", node_id, node, parent=pool_id)
        return node

    def reboot_node(self, pool_id: str, node_id: str) -> None:
        with self._wake:
            node = self._evict(pool_id, node_id, "rebooting")
            self._boot_node(pool_id, node_id, node)
            self._wake.notify_all()

    def preempt_node(self, pool_id: str, node_id: str) -> None:
        """Fault: the node is preempted; its running tasks are requeued, and it rejoins."""
        with self._wake:
            self._evict(pool_id, node_id, "preempted")
        self._spawn(self._rejoin, pool_id, node_id, name=f"rejoin-{node_id}")

    def _rejoin(self, pool_id: str, node_id: str) -> None:
        time.sleep(self._interval)
        with self._wake:
            node = self.store.nodes.get(pool_id, {}).get(node_id)
            if node is not None and node["state"] == "preempted":
                self._boot_node(pool_id, node_id, node)
                self._wake.notify_all()

    def _requeue_node_tasks(self, node_id: str) -> None:
        for (job_id, task_id), attempt in list(self._attempts.items()):
            task = self.store.tasks.get(job_id, {}).get(task_id)
            if task and task.get("nodeInfo", {}).get("nodeId") == node_id:
                attempt.kill()
                self._requeue(job_id, task_id, task)

    # -- jobs ------------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> Document:
        job_id = check_id(body.get("id"))
        pool_info = body.get("poolInfo")
        if not isinstance(pool_info, dict):
            raise missing_property("poolInfo")
        if pool_info.get("autoPoolSpecification"):
            raise invalid_property(
                "poolInfo.autoPoolSpecification", "...", "localbatch needs an existing poolId."
            )
        require(pool_info, "poolId", "poolInfo.")
        check_constraints(body.get("constraints"), "constraints")
        self._check_on_all_complete(body.get("onAllTasksComplete"))
        with self.store.transaction():
            if job_id in self.store.jobs:
                raise exists("job", "JobExists")
            job = copy.deepcopy(body)
            job.setdefault("priority", 0)
            job.setdefault("onAllTasksComplete", "noaction")
            job.setdefault("onTaskFailure", "noaction")
            job["onAllTasksComplete"] = job["onAllTasksComplete"].lower()
            job.update(
                url=f"{self.base_url}/jobs/{job_id}",
                creationTime=stamp(),
                state="active",
                stateTransitionTime=stamp(),
                executionInfo={"startTime": stamp(), "poolId": pool_info["poolId"]},
            )
            _touch(job)
            self.store.put("job", job_id, job)
            self.store.tasks.setdefault(job_id, {})
        return job

    @staticmethod
    def _check_on_all_complete(value: object) -> None:
        if value is not None and str(value).lower() not in ("noaction", "terminatejob"):
            raise invalid_property("onAllTasksComplete", value, "The value must be noAction or terminateJob.")

    def get_job(self, job_id: str) -> Document:
        job = self.store.jobs.get(job_id)
        if job is None:
            raise not_found("job", "JobNotFound")
        return job

    def update_job(self, job_id: str, body: dict[str, Any], replace: bool = False) -> None:
        self._check_on_all_complete(body.get("onAllTasksComplete"))
        check_constraints(body.get("constraints"), "constraints")
        with self._wake:
            job = self.get_job(job_id)
            if job["state"] in ("completed", "terminating", "deleting"):
                raise BatchError(409, "JobCompleted", "The specified job is already in a completed state.")
            for name in ("priority", "constraints", "onAllTasksComplete", "metadata", "maxParallelTasks"):
                if name in body or replace:
                    job[name] = body.get(name)
            if job.get("onAllTasksComplete") is None:
                job["onAllTasksComplete"] = "noaction"
            job["onAllTasksComplete"] = str(job["onAllTasksComplete"]).lower()
            _touch(job)
            self.store.put("job", job_id, job)
            self._maybe_complete_job(job_id)
            self._wake.notify_all()

    def terminate_job(self, job_id: str, reason: str | None = None) -> None:
        with self._wake:
            job = self.get_job(job_id)
            if job["state"] == "completed":
                raise BatchError(409, "JobCompleted", "The specified job is already in a completed state.")
            self._terminate_job(job_id, reason or "UserTerminate")
            self._wake.notify_all()

    def _terminate_job(self, job_id: str, reason: str) -> None:
        job = self.store.jobs[job_id]
        _transition(job, "terminating")
        for task_id, task in self.store.tasks.get(job_id, {}).items():
            if task["state"] in ("running", "preparing"):
                self._end_task(job_id, task_id, task, "TaskEnded", "The task was terminated with its job.")
        job["executionInfo"].update(endTime=stamp(), terminateReason=reason)
        _transition(job, "completed")
        self.store.put("job", job_id, job)

    def delete_job(self, job_id: str) -> None:
        with self._wake:
            job = self.get_job(job_id)
            _transition(job, "deleting")
            for task_id, task in self.store.tasks.get(job_id, {}).items():
                if task["state"] in ("running", "preparing"):
                    self._end_task(
                        job_id, task_id, task, "TaskEnded", "The task was ended: its job was deleted."
                    )
            self.store.delete("job", job_id)
            self._queues.pop(job_id, None)
        for pool_dir in (self.data_dir / "nodes").glob("*"):
            for node_dir in pool_dir.glob("*"):
                shutil.rmtree(node_dir / "workitems" / job_id, ignore_errors=True)

    def _maybe_complete_job(self, job_id: str) -> None:
        job = self.store.jobs.get(job_id)
        if job is None or job["state"] != "active" or job.get("onAllTasksComplete") != "terminatejob":
            return
        if all(task["state"] == "completed" for task in self.store.tasks.get(job_id, {}).values()):
            self._terminate_job(job_id, "AllTasksComplete")

    # -- tasks -----------------------------------------------------------

    def _active_job(self, job_id: str) -> Document:
        job = self.get_job(job_id)
        if job["state"] == "completed":
            raise BatchError(409, "JobCompleted", "The specified job is already in a completed state.")
        if job["state"] in ("terminating", "deleting"):
            raise BatchError(
                409,
                "JobBeingTerminated" if job["state"] == "terminating" else "JobBeingDeleted",
                f"The specified job is {job['state']}.",
            )
        return job

    def _new_task(self, job_id: str, body: dict[str, Any]) -> Document:
        task = copy.deepcopy(body)
        constraints = task.setdefault("constraints", {})
        job_constraints = self.store.jobs[job_id].get("constraints") or {}
        constraints.setdefault("maxTaskRetryCount", job_constraints.get("maxTaskRetryCount", 0))
        constraints.setdefault("retentionTime", "P7D")
        task.setdefault("requiredSlots", 1)
        task.update(
            url=f"{self.base_url}/jobs/{job_id}/tasks/{task['id']}",
            creationTime=stamp(),
            state="active",
            stateTransitionTime=stamp(),
            executionInfo={"retryCount": 0, "requeueCount": 0},
        )
        _touch(task)
        return task

    def create_task(self, job_id: str, body: dict[str, Any]) -> Document:
        check_task(body)
        with self._wake:
            self._active_job(job_id)
            tasks = self.store.tasks.setdefault(job_id, {})
            if body["id"] in tasks:
                raise exists("task", "TaskExists")
            task = self._new_task(job_id, body)
            self.store.put("task", task["id"], task, parent=job_id)
            self._queues.setdefault(job_id, {})[task["id"]] = None
            self._wake.notify_all()
        return task

    def create_tasks(self, job_id: str, bodies: list[Any]) -> list[dict[str, Any]]:
        if len(bodies) > MAX_TASKS_PER_COLLECTION:
            raise BatchError(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
                {"MaxLimit": str(MAX_TASKS_PER_COLLECTION)},
            )
        results: list[dict[str, Any]] = []
        with self._wake:
            self._active_job(job_id)
            tasks = self.store.tasks.setdefault(job_id, {})
            with self.store.transaction():
                for body in bodies:
                    task_id = body.get("id") if isinstance(body, dict) else None
                    try:
                        check_task(body)
                        if body["id"] in tasks:
                            raise exists("task", "TaskExists")
                    except BatchError as exc:
                        error = exc.body()
                        error.pop("odata.metadata")
                        error["message"]["value"] = exc.message
                        results.append({"status": "clienterror", "taskId": task_id, "error": error})
                        continue
                    task = self._new_task(job_id, body)
                    self.store.put("task", task["id"], task, parent=job_id)
                    self._queues.setdefault(job_id, {})[task["id"]] = None
                    results.append(
                        {
                            "status": "success",
                            "taskId": task["id"],
                            "eTag": task["eTag"],
                            "lastModified": task["lastModified"],
                            "location": task["url"],
                        }
                    )
            self._wake.notify_all()
        return results

    def get_task(self, job_id: str, task_id: str) -> Document:
        self.get_job(job_id)
        task = self.store.tasks.get(job_id, {}).get(task_id)
        if task is None:
            raise not_found("task", "TaskNotFound")
        return task

    def list_tasks(self, job_id: str) -> list[Document]:
        self.get_job(job_id)
        return list(self.store.tasks.get(job_id, {}).values())

    def terminate_task(self, job_id: str, task_id: str) -> None:
        with self._wake:
            task = self.get_task(job_id, task_id)
            if task["state"] != "completed":
                self._end_task(job_id, task_id, task, "TaskEnded", "The task was terminated by a request.")
                self._maybe_complete_job(job_id)
            self._wake.notify_all()

    def delete_task(self, job_id: str, task_id: str) -> None:
        with self._wake:
            task = self.get_task(job_id, task_id)
            attempt = self._attempts.pop((job_id, task_id), None)
            if attempt is not None:
                attempt.kill()
                self._release_slots(task)
            self.store.delete("task", task_id, parent=job_id)
            self._queues.get(job_id, {}).pop(task_id, None)
            self._maybe_complete_job(job_id)
            self._wake.notify_all()

    def task_counts(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            self.get_job(job_id)
            counts = {"active": 0, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}
            slots = dict(counts)
            for task in self.store.tasks.get(job_id, {}).values():
                state = "running" if task["state"] in ("running", "preparing") else task["state"]
                counts[state] += 1
                slots[state] += task.get("requiredSlots", 1)
                if state == "completed":
                    result = "succeeded" if task["executionInfo"].get("result") == "success" else "failed"
                    counts[result] += 1
                    slots[result] += task.get("requiredSlots", 1)
        return {"taskCounts": counts, "taskSlotCounts": slots}

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        task = self.get_task(job_id, task_id)
        info = task.get("nodeInfo")
        if not info:
            return None
        return Path(info["taskRootDirectoryPath"])

    def _release_slots(self, task: Document) -> None:
        info = task.get("nodeInfo") or {}
        node = self.store.nodes.get(info.get("poolId", ""), {}).get(info.get("nodeId", ""))
        if node is not None:
            node["runningTasksCount"] = max(0, node["runningTasksCount"] - 1)
            node["runningTaskSlotsCount"] = max(
                0, node["runningTaskSlotsCount"] - task.get("requiredSlots", 1)
            )
            if node["runningTasksCount"] == 0 and node["state"] == "running":
                _transition(node, "idle")
            self.store.put("node", node["id"], node, parent=info["poolId"])

    def _requeue(self, job_id: str, task_id: str, task: Document) -> None:
        self._attempts.pop((job_id, task_id), None)
        if task["state"] in ("running", "preparing"):
            self._release_slots(task)
        execution = task["executionInfo"]
        execution["requeueCount"] = execution.get("requeueCount", 0) + 1
        execution.pop("startTime", None)
        _transition(task, "active")
        self.store.put("task", task_id, task, parent=job_id)
        self._queues.setdefault(job_id, {})[task_id] = None

    def _end_task(self, job_id: str, task_id: str, task: Document, code: str, message: str) -> None:
        self._queues.get(job_id, {}).pop(task_id, None)
        attempt = self._attempts.pop((job_id, task_id), None)
        if attempt is not None:
            attempt.kill()
        if task["state"] in ("running", "preparing"):
            self._release_slots(task)
        task["executionInfo"].update(
            endTime=stamp(),
            result="failure",
            failureInfo={"category": "usererror", "code": code, "message": message},
        )
        _transition(task, "completed")
        self.store.put("task", task_id, task, parent=job_id)

    # -- scheduling --------------------------------------------------------

    def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                try:
                    self._schedule()
                except Exception:
                    logger.exception("scheduling failed")
                self._wake.wait(timeout=self._interval)

    def _schedule(self) -> None:
        with self.store.transaction():
            for job_id, job in self.store.jobs.items():
                if job["state"] != "active":
                    continue
                pool_id = job["poolInfo"]["poolId"]
                pool = self.store.pools.get(pool_id)
                nodes = self.store.nodes.get(pool_id, {})
                if pool is None or pool["state"] != "active" or not nodes:
                    continue
                slots = pool["taskSlotsPerNode"]
                queue = self._queues.get(job_id)
                tasks = self.store.tasks.get(job_id, {})
                while queue:
                    task_id = next(iter(queue))
                    task = tasks.get(task_id)
                    if task is None or task["state"] != "active":
                        del queue[task_id]
                        continue
                    need = task.get("requiredSlots", 1)
                    free = [
                        node
                        for node in nodes.values()
                        if node["state"] in ACTIVE_NODE_STATES
                        and node["schedulingState"] == "enabled"
                        and slots - node["runningTaskSlotsCount"] >= need
                    ]
                    if not free:
                        break
                    del queue[task_id]
                    # Spread: the node with the most free slots takes the task.
                    node = min(free, key=lambda n: (n["runningTaskSlotsCount"], n["id"]))
                    self._assign(job_id, task_id, task, pool_id, node)

    def _assign(self, job_id: str, task_id: str, task: Document, pool_id: str, node: Document) -> None:
        root = self.node_dir(pool_id, node["id"])
        task_dir = root / "workitems" / job_id / "job-1" / task_id
        node["runningTasksCount"] += 1
        node["runningTaskSlotsCount"] += task.get("requiredSlots", 1)
        node["totalTasksRun"] += 1
        if node["state"] == "idle":
            _transition(node, "running")
        recent = {"taskUrl": task["url"], "jobId": job_id, "taskId": task_id, "taskState": "running"}
        node["recentTasks"] = [*node.get("recentTasks", [])[-(RECENT_TASKS - 1) :], recent]
        self.store.put("node", node["id"], node, parent=pool_id)
        task["nodeInfo"] = {
            "affinityId": node["affinityId"],
            "nodeUrl": node["url"],
            "poolId": pool_id,
            "nodeId": node["id"],
            "taskRootDirectory": f"workitems/{job_id}/job-1/{task_id}",
            "taskRootDirectoryUrl": f"{node['url']}/files/workitems/{job_id}/job-1/{task_id}",
            "taskRootDirectoryPath": str(task_dir),
        }
        task["executionInfo"]["startTime"] = stamp()
        task["executionInfo"].pop("endTime", None)
        _transition(task, "running")
        self.store.put("task", task_id, task, parent=job_id)
        attempt = _runner.Attempt()
        self._attempts[(job_id, task_id)] = attempt
        self._spawn(self._run_task, job_id, task_id, pool_id, node["id"], attempt, name=f"task-{task_id}")

    def _run_task(
        self, job_id: str, task_id: str, pool_id: str, node_id: str, attempt: _runner.Attempt
    ) -> None:
        with self.store.lock:
            task = copy.deepcopy(self.store.tasks[job_id][task_id])
            job = self.store.jobs[job_id]
            task_dir = Path(task["nodeInfo"]["taskRootDirectoryPath"])
            working_dir = task_dir / "wd"
            env_settings = [
                *(job.get("commonEnvironmentSettings") or []),
                *(task.get("environmentSettings") or []),
            ]
            batch_vars = self._batch_vars(pool_id, node_id, task_dir, working_dir)
            batch_vars.update(AZ_BATCH_JOB_ID=job_id, AZ_BATCH_TASK_ID=task_id)
        working_dir.mkdir(parents=True, exist_ok=True)
        constraints = task.get("constraints") or {}
        limit = (
            parse_duration("maxWallClockTime", constraints["maxWallClockTime"])
            if constraints.get("maxWallClockTime")
            else UNLIMITED
        )
        started = parse_stamp(task["executionInfo"]["startTime"])
        outcome: _runner.Outcome
        try:
            _runner.download_resource_files(task.get("resourceFiles") or [], working_dir, self.auto_storage)
            remaining = (started + limit - now()).total_seconds() if limit != UNLIMITED else None
            outcome = attempt.run(
                task["commandLine"],
                task_dir=task_dir,
                working_dir=working_dir,
                env=_runner.task_environment(batch_vars, env_settings),
                timeout=max(0.0, remaining) if remaining is not None else None,
            )
        except _runner.StepFailed as exc:
            outcome = _runner.Outcome(None, exc)
        if outcome.killed or attempt.killed or self._stopping.is_set():
            return  # requeued, terminated or deleted by whoever killed it
        succeeded = outcome.failure is None and not outcome.timed_out and outcome.exit_code == 0
        if outcome.failure is None and task.get("outputFiles"):
            try:
                _runner.upload_output_files(task["outputFiles"], working_dir, succeeded)
            except _runner.StepFailed as exc:
                outcome.failure = exc
                succeeded = False
        self._finish(job_id, task_id, attempt, outcome, succeeded)

    def _finish(
        self, job_id: str, task_id: str, attempt: _runner.Attempt, outcome: _runner.Outcome, succeeded: bool
    ) -> None:
        with self._wake:
            task = self.store.tasks.get(job_id, {}).get(task_id)
            if task is None or self._attempts.get((job_id, task_id)) is not attempt:
                return
            del self._attempts[(job_id, task_id)]
            self._release_slots(task)
            execution = task["executionInfo"]
            execution["exitCode"] = outcome.exit_code
            execution.pop("failureInfo", None)
            node = self.store.nodes.get(task["nodeInfo"]["poolId"], {}).get(task["nodeInfo"]["nodeId"])
            if node is not None and succeeded:
                node["totalTasksSucceeded"] += 1
            retries = int(task["constraints"].get("maxTaskRetryCount", 0))
            retryable = outcome.failure is None and not outcome.timed_out and not succeeded
            if retryable and (retries == -1 or execution["retryCount"] < retries):
                execution["retryCount"] += 1
                execution["lastRetryTime"] = stamp()
                _transition(task, "active")
                self._queues.setdefault(job_id, {})[task_id] = None
            else:
                execution["endTime"] = stamp()
                execution["result"] = "success" if succeeded else "failure"
                if outcome.failure is not None:
                    execution["failureInfo"] = outcome.failure.failure_info()
                elif outcome.timed_out:
                    execution["failureInfo"] = {
                        "category": "usererror",
                        "code": "MaxWallClockTimeExpiry",
                        "message": "The task ran longer than its maxWallClockTime and was terminated.",
                    }
                elif not succeeded:
                    execution["failureInfo"] = {
                        "category": "usererror",
                        "code": "FailureExitCode",
                        "message": "The task exited with an exit code representing a failure",
                    }
                _transition(task, "completed")
            self.store.put("task", task_id, task, parent=job_id)
            self._maybe_complete_job(job_id)
            self._wake.notify_all()
