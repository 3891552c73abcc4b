"""A pool's local nodes: growing and shrinking, booting with the StartTask, evicting.

A node is a directory tree under the data folder. Booting runs the pool's
StartTask on a thread of its own; evicting (reboot, preemption) puts the
node's running tasks back in the scheduler's queue. Methods called from
outside the nodes' own threads expect the caller to hold the lock.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from . import _runner
from ._documents import exit_code_failure, find_node, new_node, transition
from ._faults import Faults
from ._node_env import NODE_DIRS, batch_vars, node_dir
from ._realism import RESIZE_ERRORS
from ._runtime import Runtime
from ._scheduler import Scheduler
from ._store import Document
from ._timeutil import stamp

#: Stands, among a pool's nodes being allocated, for an allocation that will fail (the realism
#: profile's ``allocation_failure``): no node id looks like it.
FAILING = "(failing allocation)"


class Nodes:
    """Every pool's nodes and the StartTask attempts running on them."""

    def __init__(self, runtime: Runtime, faults: Faults, scheduler: Scheduler) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._faults = faults
        self._scheduler = scheduler
        self._attempts: dict[tuple[str, str], _runner.Attempt] = {}
        #: Nodes being allocated (the realism profile's allocation delay), per pool.
        self._allocating: dict[str, set[str]] = {}

    def recover(self) -> None:
        """After a restart: every node reboots, with no task running."""
        for pool_id, nodes in self._store.nodes.items():
            for node_id, node in nodes.items():
                node["runningTasksCount"] = 0
                node["runningTaskSlotsCount"] = 0
                self._boot(pool_id, node_id, node)

    def attempts(self) -> list[_runner.Attempt]:
        return list(self._attempts.values())

    def get(self, pool_id: str, node_id: str) -> Document:
        return find_node(self._store, pool_id, node_id)

    def directory(self, pool_id: str, node_id: str) -> Path:
        return node_dir(self._runtime.data_dir, pool_id, node_id)

    # -- pool size -------------------------------------------------------

    def resize(self, pool_id: str, deallocation: str = "requeue") -> None:
        """Add or remove nodes until the pool has its target counts; removed nodes leave as
        ``deallocation`` says (see ``leave``)."""
        pool = self._store.pools[pool_id]
        nodes = self._store.nodes.setdefault(pool_id, {})
        for dedicated, target in (
            (True, pool["targetDedicatedNodes"]),
            (False, pool["targetLowPriorityNodes"]),
        ):
            current = [
                node_id
                for node_id, node in nodes.items()
                if node["isDedicated"] == dedicated and node["state"] != "leavingpool"
            ]
            if target > len(current) and self._runtime.realism.allocation_failure:
                self._fail_allocation(pool_id)
                continue
            for _ in range(target - len(current)):
                node = new_node(self._runtime.base_url, pool_id, pool, dedicated)
                self._store.put("node", node["id"], node, parent=pool_id)
                if self._runtime.realism.allocation_delay:
                    self._allocating.setdefault(pool_id, set()).add(node["id"])
                    self._runtime.spawn(self._allocate, pool_id, node["id"], name=f"allocate-{node['id']}")
                else:
                    self._boot(pool_id, node["id"], node)
            # Shrink idle nodes first.
            surplus = len(current) - target
            for node_id in sorted(current, key=lambda n: nodes[n]["runningTasksCount"])[: max(0, surplus)]:
                self.leave(pool_id, node_id, deallocation)
        self.count(pool_id)

    def count(self, pool_id: str) -> None:
        """The pool's current node counts (nodes still leaving count) and allocation state."""
        pool, nodes = self._store.pools[pool_id], self._store.nodes.get(pool_id, {})
        pool["currentDedicatedNodes"] = sum(1 for n in nodes.values() if n["isDedicated"])
        pool["currentLowPriorityNodes"] = sum(1 for n in nodes.values() if not n["isDedicated"])
        self._allocation_state(pool_id, pool)

    def leave(self, pool_id: str, node_id: str, deallocation: str) -> None:
        """The node leaves the pool: at once, its running tasks requeued (``requeue``) or ended
        (``terminate``); or once they are done (``taskcompletion``, ``retaineddata``), taking
        no new ones meanwhile (``leavingpool``, see ``prune``)."""
        node = self.get(pool_id, node_id)
        if deallocation in ("taskcompletion", "retaineddata") and node["runningTasksCount"]:
            node["schedulingState"] = "disabled"
            transition(node, "leavingpool")
            self._store.put("node", node_id, node, parent=pool_id)
            return
        if deallocation == "terminate":
            self._scheduler.end_node_tasks(node_id, "The task was ended: its node left the pool.")
        self.remove(pool_id, node_id)

    def stop_allocating(self, pool_id: str) -> int:
        """stopresize: the nodes still being allocated are not; how many there were."""
        allocating = self._allocating.pop(pool_id, set())
        for node_id in allocating:
            if node_id in self._store.nodes.get(pool_id, {}):
                self.remove(pool_id, node_id)
        return len(allocating)

    def prune(self) -> None:
        """Nodes leaving once their tasks are done go when they are."""
        for pool_id, nodes in list(self._store.nodes.items()):
            leaving = [
                i for i, n in nodes.items() if n["state"] == "leavingpool" and not n["runningTasksCount"]
            ]
            for node_id in leaving:
                self.remove(pool_id, node_id)
            if leaving and pool_id in self._store.pools:
                self.count(pool_id)
                self._store.put("pool", pool_id, self._store.pools[pool_id])

    def _allocation_state(self, pool_id: str, pool: Document) -> None:
        """``resizing`` while nodes are being allocated, then ``steady``."""
        state = "resizing" if self._allocating.get(pool_id) else "steady"
        if pool.get("allocationState") != state:
            pool["allocationState"] = state
            pool["allocationStateTransitionTime"] = stamp()

    def _fail_allocation(self, pool_id: str) -> None:
        """The realism profile's allocation failure: no node comes; the resize ends (after the
        allocation delay, ``resizing`` meanwhile) ``steady`` with the error, as on the service."""
        if not self._runtime.realism.allocation_delay:
            self._resize_failed(pool_id)
        elif FAILING not in self._allocating.setdefault(pool_id, set()):
            self._allocating[pool_id].add(FAILING)
            self._runtime.spawn(self._allocate, pool_id, FAILING, name=f"allocate-{pool_id}")

    def _resize_failed(self, pool_id: str) -> None:
        code = str(self._runtime.realism.allocation_failure)
        pool = self._store.pools[pool_id]
        pool["resizeErrors"] = [{"code": code, "message": RESIZE_ERRORS[code]}]
        self._store.put("pool", pool_id, pool)

    def _allocate(self, pool_id: str, node_id: str) -> None:
        """The realism profile: a new node boots after the allocation delay."""
        if self._runtime.stopping.wait(self._runtime.realism.allocation_delay):
            return
        wake = self._runtime.wake
        with wake:
            failing = node_id == FAILING and node_id in self._allocating.get(pool_id, set())
            self._allocating.get(pool_id, set()).discard(node_id)
            node = self._store.nodes.get(pool_id, {}).get(node_id)
            pool = self._store.pools.get(pool_id)
            if failing and pool is not None:
                self._resize_failed(pool_id)
            if node is not None and node["state"] == "starting":
                self._boot(pool_id, node_id, node)
            if pool is not None:
                self._allocation_state(pool_id, pool)
                self._store.put("pool", pool_id, pool)
            wake.notify_all()

    def remove(self, pool_id: str, node_id: str) -> None:
        self._allocating.get(pool_id, set()).discard(node_id)
        self._scheduler.requeue_node_tasks(node_id, reimaged=True)
        start_attempt = self._attempts.pop((pool_id, node_id), None)
        if start_attempt:
            start_attempt.kill()
        self._store.delete("node", node_id, parent=pool_id)
        shutil.rmtree(self.directory(pool_id, node_id), ignore_errors=True)

    # -- eviction --------------------------------------------------------

    def reboot(self, pool_id: str, node_id: str) -> None:
        node = self.evict(pool_id, node_id, "rebooting")
        self._boot(pool_id, node_id, node)

    def evict(self, pool_id: str, node_id: str, state: str) -> Document:
        """Requeue the node's running tasks and put it in ``state``."""
        node = self.get(pool_id, node_id)
        # A preempted spot node comes back as a new VM; a rebooted one keeps its disk.
        self._scheduler.requeue_node_tasks(node_id, reimaged=state != "rebooting")
        node["runningTasksCount"] = 0
        node["runningTaskSlotsCount"] = 0
        transition(node, state)
        self._store.put("node", node_id, node, parent=pool_id)
        return node

    def rejoin_later(self, pool_id: str, node_id: str) -> None:
        """A preempted node boots again after one scheduling interval (and the allocation delay)."""
        self._runtime.spawn(self._rejoin, pool_id, node_id, name=f"rejoin-{node_id}")

    def _rejoin(self, pool_id: str, node_id: str) -> None:
        if self._runtime.stopping.wait(self._runtime.interval + self._runtime.realism.allocation_delay):
            return
        wake = self._runtime.wake
        with wake:
            node = self._store.nodes.get(pool_id, {}).get(node_id)
            if node is not None and node["state"] == "preempted":
                self._boot(pool_id, node_id, node)
                wake.notify_all()

    # -- boot and StartTask ----------------------------------------------

    def _boot(self, pool_id: str, node_id: str, node: Document) -> None:
        """(Re)start a node: run the pool's StartTask, then take tasks."""
        root = self.directory(pool_id, node_id)
        for sub in NODE_DIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        node["lastBootTime"] = stamp()
        start_task = self._store.pools[pool_id].get("startTask")
        if not start_task:
            transition(node, "idle")
        else:
            node["startTask"] = start_task
            node["startTaskInfo"] = {"state": "running", "startTime": stamp(), "retryCount": 0}
            transition(node, "waitingforstarttask" if start_task.get("waitForSuccess") else "idle")
            attempt = _runner.Attempt()
            self._attempts[(pool_id, node_id)] = attempt
            self._runtime.spawn(self._run_start_task, pool_id, node_id, attempt, name=f"start-{node_id}")
        self._store.put("node", node_id, node, parent=pool_id)

    def _run_start_task(self, pool_id: str, node_id: str, attempt: _runner.Attempt) -> None:
        store = self._store
        with store.lock:
            start_task = copy.deepcopy(store.pools[pool_id]["startTask"])
        if self._runtime.stopping.wait(self._runtime.realism.start_task_latency):
            return
        task_dir = self.directory(pool_id, node_id) / "startup"
        working_dir = task_dir / "wd"
        working_dir.mkdir(parents=True, exist_ok=True)
        max_retries = int(start_task.get("maxTaskRetryCount", 0))
        retry = 0
        while True:
            outcome = self._start_task_attempt(
                pool_id, node_id, start_task, attempt, task_dir=task_dir, working_dir=working_dir
            )
            if outcome is None or self._runtime.stopping.is_set():
                return  # the node went away or the service stopped
            succeeded = outcome.failure is None and outcome.exit_code == 0
            if not _runner.retried(outcome, retry, max_retries):
                break
            retry += 1
            with store.transaction():
                node = store.nodes.get(pool_id, {}).get(node_id)
                if node is None:
                    return
                node["startTaskInfo"]["retryCount"] = retry
                node["startTaskInfo"]["lastRetryTime"] = stamp()
                store.put("node", node_id, node, parent=pool_id)
        wake = self._runtime.wake
        with wake:
            node = store.nodes.get(pool_id, {}).get(node_id)
            if node is None or self._attempts.get((pool_id, node_id)) is not attempt:
                return
            del self._attempts[(pool_id, node_id)]
            info = node["startTaskInfo"]
            info.update(state="completed", endTime=stamp(), result="success" if succeeded else "failure")
            info["exitCode"] = outcome.exit_code
            if not succeeded:
                info["failureInfo"] = (
                    outcome.failure.failure_info() if outcome.failure else exit_code_failure()
                )
                if start_task.get("waitForSuccess"):
                    transition(node, "starttaskfailed")
            elif node["state"] == "waitingforstarttask":
                transition(node, "idle")
            store.put("node", node_id, node, parent=pool_id)
            wake.notify_all()

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
        with self._store.lock:
            if pool_id not in self._store.nodes or node_id not in self._store.nodes[pool_id]:
                return None
            injected = self._faults.take_start_task_failure(pool_id)
            env = _runner.task_environment(
                batch_vars(self._runtime, pool_id, node_id, task_dir, working_dir),
                start_task.get("environmentSettings") or [],
            )
        if injected:
            with (task_dir / "stderr.txt").open("a", encoding="utf-8") as err:
                err.write("localbatch: injected StartTask failure\n")
            return _runner.Outcome(1)
        try:
            _runner.download_resource_files(
                start_task.get("resourceFiles") or [], working_dir, self._runtime.auto_storage
            )
        except _runner.StepFailed as exc:
            return _runner.Outcome(None, exc)
        return attempt.run(
            start_task["commandLine"], task_dir=task_dir, working_dir=working_dir, env=env, timeout=None
        )
