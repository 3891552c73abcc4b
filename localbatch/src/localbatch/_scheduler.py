"""Tasks on node slots: queueing, assigning, running, finishing, requeueing.

The scheduler thread assigns waiting tasks to free slots; each assigned task
runs on a thread of its own and finishes under the lock. Methods called from
outside the scheduler's own threads expect the caller to hold the lock.
"""

from __future__ import annotations

import copy
import logging
import threading

from . import _runner
from ._dependencies import Dependencies
from ._documents import exit_code_failure, job_pool_id, transition, user_error
from ._exit_conditions import PERFORM_EXIT_OPTIONS, exit_actions
from ._node_env import batch_vars, node_dir, task_root
from ._prep import Preparations, prep_variables
from ._release import Releases
from ._runtime import Runtime
from ._store import Document
from ._timeutil import limit_seconds, now, parse_stamp, stamp

logger = logging.getLogger(__name__)
ACTIVE_NODE_STATES = {"idle", "running"}
RECENT_TASKS = 20


class Scheduler:
    """Which task runs where, and every running task's attempt."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._attempts: dict[tuple[str, str], _runner.Attempt] = {}
        self.preparations = Preparations(runtime)
        self.releases = Releases(runtime)
        #: Active tasks per job in submission order (an ordered set), so a
        #: scheduling pass looks at waiting tasks only, not at every task.
        self._queues: dict[str, dict[str, None]] = {}
        #: Tasks waiting for others (dependsOn): out of the queues until released.
        self.dependencies = Dependencies()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def recover(self) -> None:
        """After a restart: tasks that were running go back to the queue."""
        for job_id, tasks in self._store.tasks.items():
            job = self._store.jobs.get(job_id)
            if job is not None:
                self.dependencies.rebuild(job, tasks)
            for task_id, task in tasks.items():
                if task["state"] in ("running", "preparing"):
                    self.requeue(job_id, task_id, task)
                elif task["state"] == "active" and not self.dependencies.waits(job_id, task_id):
                    self.enqueue(job_id, task_id)
        self.releases.recover()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="localbatch-scheduler", daemon=True)
        self._thread.start()

    def attempts(self) -> list[_runner.Attempt]:
        return [*self._attempts.values(), *self.preparations.attempts(), *self.releases.attempts()]

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    # -- the queue -------------------------------------------------------

    def enqueue(self, job_id: str, task_id: str) -> None:
        self._queues.setdefault(job_id, {})[task_id] = None

    def forget_job(self, job_id: str) -> None:
        self._queues.pop(job_id, None)
        self.dependencies.forget_job(job_id)
        self.preparations.forget_job(job_id)

    def forget_task(self, job_id: str, task_id: str, task: Document) -> None:
        """The task is being deleted: end its attempt and free its slots."""
        attempt = self._attempts.pop((job_id, task_id), None)
        if attempt is not None:
            attempt.kill()
            self._release_slots(task)
        self._queues.get(job_id, {}).pop(task_id, None)
        self.dependencies.removed(job_id, task_id)

    def requeue(self, job_id: str, task_id: str, task: Document) -> None:
        """Back to the queue, its attempt (if it runs) ended."""
        attempt = self._attempts.pop((job_id, task_id), None)
        if attempt is not None:
            attempt.kill()
        if task["state"] in ("running", "preparing"):
            self._release_slots(task)
        execution = task["executionInfo"]
        execution["requeueCount"] = execution.get("requeueCount", 0) + 1
        execution.pop("startTime", None)
        transition(task, "active")
        self._store.put("task", task_id, task, parent=job_id)
        self.enqueue(job_id, task_id)

    def requeue_node_tasks(self, node_id: str, *, reimaged: bool) -> None:
        """The node goes away or restarts: its running tasks go back to the queue, and its
        job preparation tasks run again as the service reruns them."""
        self.preparations.forget_node(node_id, reimaged=reimaged)
        for (job_id, task_id), attempt in list(self._attempts.items()):
            task = self._store.tasks.get(job_id, {}).get(task_id)
            if task and task.get("nodeInfo", {}).get("nodeId") == node_id:
                attempt.kill()
                self.requeue(job_id, task_id, task)

    def end_node_tasks(self, node_id: str, message: str) -> None:
        """The node leaves with ``terminate``: its running tasks end, failed, and run no more."""
        for job_id, task_id in list(self._attempts):
            task = self._store.tasks.get(job_id, {}).get(task_id)
            if task and task.get("nodeInfo", {}).get("nodeId") == node_id:
                self.end_task(job_id, task_id, task, "TaskEnded", message)
                self.complete_job_if_done(job_id)

    # -- ending tasks and jobs -------------------------------------------

    def end_task(self, job_id: str, task_id: str, task: Document, code: str, message: str) -> None:
        """Complete the task as failed with ``code``, ending its attempt if it runs."""
        self._queues.get(job_id, {}).pop(task_id, None)
        attempt = self._attempts.pop((job_id, task_id), None)
        if attempt is not None:
            attempt.kill()
        if task["state"] in ("running", "preparing"):
            self._release_slots(task)
        task["executionInfo"].update(endTime=stamp(), result="failure", failureInfo=user_error(code, message))
        transition(task, "completed")
        self._store.put("task", task_id, task, parent=job_id)
        self.dependencies.completed(job_id, task)

    def end_job(self, job_id: str, reason: str) -> None:
        """End the job's running tasks; it completes once its release tasks (if any) ended."""
        job = self._store.jobs[job_id]
        transition(job, "terminating")
        self.preparations.forget_job(job_id)
        for task_id, task in self._store.tasks.get(job_id, {}).items():
            if task["state"] in ("running", "preparing"):
                self.end_task(job_id, task_id, task, "TaskEnded", "The task was terminated with its job.")
        job["executionInfo"]["terminateReason"] = reason
        self._store.put("job", job_id, job)
        self.releases.start(job_id)

    def settle_disabling(self, job: Document) -> None:
        """A ``disabling`` job none of whose tasks runs any more is ``disabled``."""
        if job["state"] != "disabling":
            return
        tasks = self._store.tasks.get(job["id"], {}).values()
        if not any(task["state"] in ("running", "preparing") for task in tasks):
            transition(job, "disabled")
            self._store.put("job", job["id"], job)

    def complete_job_if_done(self, job_id: str) -> None:
        """``onAllTasksComplete: terminateJob``: end the job once every task completed."""
        job = self._store.jobs.get(job_id)
        if job is None or job["state"] != "active" or job.get("onAllTasksComplete") != "terminatejob":
            return
        if all(task["state"] == "completed" for task in self._store.tasks.get(job_id, {}).values()):
            self.end_job(job_id, "AllTasksComplete")

    def _take_job_action(self, job_id: str, task: Document) -> None:
        """The jobAction of the completed task's exit options, in a job that performs them:
        ``terminate`` ends it (``TaskFailed``), ``disable`` disables it, requeueing its running tasks."""
        job = self._store.jobs.get(job_id)
        if job is None or str(job.get("onTaskFailure") or "").lower() != PERFORM_EXIT_OPTIONS:
            return
        action = exit_actions(task).job
        if action == "terminate" and job["state"] in ("active", "disabling", "disabled"):
            self.end_job(job_id, "TaskFailed")
        elif action == "disable" and job["state"] == "active":
            transition(job, "disabling")
            self._store.put("job", job_id, job)
            for other_id, other in list(self._store.tasks.get(job_id, {}).items()):
                if other["state"] in ("running", "preparing"):
                    self.requeue(job_id, other_id, other)
            self.settle_disabling(job)

    # -- scheduling ------------------------------------------------------

    def _loop(self) -> None:
        wake = self._runtime.wake
        while not self._runtime.stopping.is_set():
            with wake:
                try:
                    self._schedule()
                except Exception:
                    logger.exception("scheduling failed")
                wake.wait(timeout=self._runtime.interval)

    def _schedule(self) -> None:
        store = self._store
        with store.transaction():
            for job_id, job in store.jobs.items():
                for task_id in self.dependencies.take_ready(job_id):
                    self.enqueue(job_id, task_id)
                if job["state"] == "disabling":
                    self.settle_disabling(job)
                if job["state"] in ("active", "disabled") and self._out_of_time(job):
                    self.end_job(job_id, "MaxWallClockTimeExpiry")
                if job["state"] != "active":
                    continue
                pool_id = job_pool_id(job)
                pool = store.pools.get(pool_id)
                nodes = store.nodes.get(pool_id, {})
                if pool is None or pool["state"] != "active" or not nodes:
                    continue
                slots = pool["taskSlotsPerNode"]
                queue = self._queues.get(job_id)
                tasks = store.tasks.get(job_id, {})
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
                        and not self.preparations.blocks(job, node["id"])
                    ]
                    if not free:
                        break
                    del queue[task_id]
                    # Spread: the node with the most free slots takes the task.
                    node = min(free, key=lambda n: (n["runningTaskSlotsCount"], n["id"]))
                    self._assign(job, task_id, task, pool_id, node)

    @staticmethod
    def _out_of_time(job: Document) -> bool:
        """The job ran past its ``constraints.maxWallClockTime`` (counted from its start)."""
        limit = limit_seconds("maxWallClockTime", (job.get("constraints") or {}).get("maxWallClockTime"))
        started = (job.get("executionInfo") or {}).get("startTime")
        if limit is None or not started:
            return False
        return (now() - parse_stamp(str(started))).total_seconds() > limit

    def _assign(self, job: Document, task_id: str, task: Document, pool_id: str, node: Document) -> None:
        job_id = job["id"]
        relative = task_root(job_id, task_id)
        node["runningTasksCount"] += 1
        node["runningTaskSlotsCount"] += task.get("requiredSlots", 1)
        node["totalTasksRun"] += 1
        if node["state"] == "idle":
            transition(node, "running")
        recent = {"taskUrl": task["url"], "jobId": job_id, "taskId": task_id, "taskState": "running"}
        node["recentTasks"] = [*node.get("recentTasks", [])[-(RECENT_TASKS - 1) :], recent]
        self._store.put("node", node["id"], node, parent=pool_id)
        task["nodeInfo"] = {
            "affinityId": node["affinityId"],
            "nodeUrl": node["url"],
            "poolId": pool_id,
            "nodeId": node["id"],
            "taskRootDirectory": relative,
            "taskRootDirectoryUrl": f"{node['url']}/files/{relative}",
        }
        task["executionInfo"]["startTime"] = stamp()
        task["executionInfo"].pop("endTime", None)
        transition(task, "preparing" if self.preparations.needed(job, node["id"]) else "running")
        self._store.put("task", task_id, task, parent=job_id)
        attempt = _runner.Attempt()
        self._attempts[(job_id, task_id)] = attempt
        self._runtime.spawn(self._run, job_id, task_id, pool_id, node["id"], attempt, name=f"task-{task_id}")

    def _prepared(
        self, job_id: str, task_id: str, pool_id: str, node_id: str, attempt: _runner.Attempt
    ) -> bool:
        """A ``preparing`` task: the job's preparation task on the node first, then ``running``;
        back to ``active`` when the node may not run the job's tasks."""
        ready = self.preparations.ensure(job_id, pool_id, node_id)
        with self._runtime.wake:
            task = self._store.tasks.get(job_id, {}).get(task_id)
            if task is None or self._attempts.get((job_id, task_id)) is not attempt:
                return False
            if not ready:
                self.requeue(job_id, task_id, task)
                self._runtime.wake.notify_all()
                return False
            task["executionInfo"]["startTime"] = stamp()
            transition(task, "running")
            self._store.put("task", task_id, task, parent=job_id)
            return True

    def _run(self, job_id: str, task_id: str, pool_id: str, node_id: str, attempt: _runner.Attempt) -> None:
        with self._store.lock:
            preparing = self._store.tasks.get(job_id, {}).get(task_id, {}).get("state") == "preparing"
        if preparing and not self._prepared(job_id, task_id, pool_id, node_id, attempt):
            return
        with self._store.lock:
            task = copy.deepcopy(self._store.tasks[job_id][task_id])
            job = self._store.jobs[job_id]
            task_dir = (
                node_dir(self._runtime.data_dir, pool_id, node_id) / task["nodeInfo"]["taskRootDirectory"]
            )
            working_dir = task_dir / "wd"
            env_settings = [
                *(job.get("commonEnvironmentSettings") or []),
                *(task.get("environmentSettings") or []),
            ]
            variables = batch_vars(self._runtime, pool_id, node_id, task_dir, working_dir)
            variables.update(AZ_BATCH_JOB_ID=job_id, AZ_BATCH_TASK_ID=task_id)
            variables.update(prep_variables(self._runtime.data_dir, pool_id, node_id, job))
        working_dir.mkdir(parents=True, exist_ok=True)
        constraints = task.get("constraints") or {}
        limit = limit_seconds("maxWallClockTime", constraints.get("maxWallClockTime"))
        started = parse_stamp(task["executionInfo"]["startTime"])
        outcome: _runner.Outcome
        try:
            _runner.download_resource_files(
                task.get("resourceFiles") or [], working_dir, self._runtime.auto_storage
            )
            remaining = limit - (now() - started).total_seconds() if limit is not None else None
            outcome = attempt.run(
                task["commandLine"],
                task_dir=task_dir,
                working_dir=working_dir,
                env=_runner.task_environment(variables, env_settings),
                timeout=max(0.0, remaining) if remaining is not None else None,
            )
        except _runner.StepFailed as exc:
            outcome = _runner.Outcome(None, exc)
        if outcome.killed or attempt.killed or self._runtime.stopping.is_set():
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
        wake = self._runtime.wake
        with wake:
            task = self._store.tasks.get(job_id, {}).get(task_id)
            if task is None or self._attempts.get((job_id, task_id)) is not attempt:
                return
            del self._attempts[(job_id, task_id)]
            self._release_slots(task)
            execution = task["executionInfo"]
            execution["exitCode"] = outcome.exit_code
            execution.pop("failureInfo", None)
            node = self._store.nodes.get(task["nodeInfo"]["poolId"], {}).get(task["nodeInfo"]["nodeId"])
            if node is not None and succeeded:
                node["totalTasksSucceeded"] += 1
            retries = int(task["constraints"].get("maxTaskRetryCount", 0))
            if _runner.retried(outcome, execution["retryCount"], retries):
                execution["retryCount"] += 1
                execution["lastRetryTime"] = stamp()
                transition(task, "active")
                self.enqueue(job_id, task_id)
            else:
                execution["endTime"] = stamp()
                execution["result"] = "success" if succeeded else "failure"
                if outcome.failure is not None:
                    execution["failureInfo"] = outcome.failure.failure_info()
                elif outcome.timed_out:
                    execution["failureInfo"] = user_error(
                        "MaxWallClockTimeExpiry",
                        "The task ran longer than its maxWallClockTime and was terminated.",
                    )
                elif not succeeded:
                    execution["failureInfo"] = exit_code_failure()
                transition(task, "completed")
            self._store.put("task", task_id, task, parent=job_id)
            if task["state"] == "completed":
                self.dependencies.completed(job_id, task)
                self._take_job_action(job_id, task)
            self.complete_job_if_done(job_id)
            wake.notify_all()

    def _release_slots(self, task: Document) -> None:
        info = task.get("nodeInfo") or {}
        node = self._store.nodes.get(info.get("poolId", ""), {}).get(info.get("nodeId", ""))
        if node is not None:
            node["runningTasksCount"] = max(0, node["runningTasksCount"] - 1)
            node["runningTaskSlotsCount"] = max(
                0, node["runningTaskSlotsCount"] - task.get("requiredSlots", 1)
            )
            if node["runningTasksCount"] == 0 and node["state"] == "running":
                transition(node, "idle")
            self._store.put("node", node["id"], node, parent=info["poolId"])
