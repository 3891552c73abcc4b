"""Job preparation tasks: run on a node before the first task of their job there.

As the service does it: a task assigned to a node where its job's preparation
task has not yet succeeded waits in ``preparing`` while that runs (once per job
and node, with its own retries; a resource file that fails to download is not
retried). If it fails and ``waitForSuccess`` holds, the task goes back to
``active`` and the node takes no task of that job until it is reimaged. A
reimaged (preempted, removed) node runs it again, a rebooted one too unless
``rerunOnNodeRebootAfterSuccess`` is false and it had succeeded. Unlike the
service, tasks wait for it even when ``waitForSuccess`` is false (they run
whatever its result). Each run is recorded per node for
``jobpreparationandreleasetaskstatus``. Methods other than ``ensure`` expect
the caller to hold the lock.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from . import _runner
from ._documents import exit_code_failure
from ._node_env import batch_vars, node_dir, task_root
from ._runtime import Runtime
from ._store import Document
from ._timeutil import limit_seconds, stamp

DEFAULT_ID = "jobpreparation"
INFO = "jobPreparationTaskExecutionInfo"


def prep_dir(data_dir: Path, pool_id: str, node_id: str, job: Document) -> Path:
    return node_dir(data_dir, pool_id, node_id) / task_root(job["id"], job["jobPreparationTask"]["id"])


def prep_variables(data_dir: Path, pool_id: str, node_id: str, job: Document) -> dict[str, str]:
    """What the job's tasks see of its preparation task (none without one)."""
    if not job.get("jobPreparationTask"):
        return {}
    where = prep_dir(data_dir, pool_id, node_id, job)
    return {"AZ_BATCH_JOB_PREP_DIR": str(where), "AZ_BATCH_JOB_PREP_WORKING_DIR": str(where / "wd")}


class Preparations:
    """Every job's preparation task on every node."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._attempts: dict[tuple[str, str], _runner.Attempt] = {}

    def _info(self, job_id: str, node_id: str) -> Document | None:
        doc = self._store.preps.get(job_id, {}).get(node_id)
        return doc[INFO] if doc else None

    def needed(self, job: Document, node_id: str) -> bool:
        """The job's tasks on the node wait for its preparation task first."""
        info = self._info(job["id"], node_id)
        return bool(job.get("jobPreparationTask")) and (info is None or info["state"] != "completed")

    def blocks(self, job: Document, node_id: str) -> bool:
        """The node takes no task of the job: the preparation task failed there."""
        prep = job.get("jobPreparationTask") or {}
        info = self._info(job["id"], node_id)
        return (
            bool(prep)
            and prep.get("waitForSuccess", True)
            and info is not None
            and info["state"] == "completed"
            and info["result"] == "failure"
        )

    def status(self, job_id: str) -> list[Document]:
        return list(self._store.preps.get(job_id, {}).values())

    def attempts(self) -> list[_runner.Attempt]:
        return list(self._attempts.values())

    def forget_job(self, job_id: str) -> None:
        """The job ends: its running preparation tasks too."""
        for (job, node), attempt in list(self._attempts.items()):
            if job == job_id:
                attempt.kill()
                del self._attempts[(job, node)]

    def forget_node(self, node_id: str, *, reimaged: bool) -> None:
        """The node reboots or is reimaged: which preparation tasks run again there."""
        for (job_id, node), attempt in list(self._attempts.items()):
            if node == node_id:
                attempt.kill()
                del self._attempts[(job_id, node)]
        for job_id, docs in list(self._store.preps.items()):
            doc = docs.get(node_id)
            if doc is None:
                continue
            job = self._store.jobs.get(job_id) or {}
            rerun = (job.get("jobPreparationTask") or {}).get("rerunOnNodeRebootAfterSuccess", True)
            kept = not reimaged and not rerun and doc[INFO].get("result") == "success"
            if not kept:
                self._store.delete("prep", node_id, parent=job_id)

    def ensure(self, job_id: str, pool_id: str, node_id: str) -> bool:
        """Run the job's preparation task on the node unless it ran; without the lock held.

        Returns whether the job's tasks may run on the node.
        """
        with self._store.lock:
            lock = self._locks.setdefault((job_id, node_id), threading.Lock())
        with lock:
            with self._store.lock:
                job = self._store.jobs.get(job_id)
                node = self._store.nodes.get(pool_id, {}).get(node_id)
                if job is None or node is None or job["state"] != "active":
                    return False
                prep = copy.deepcopy(job["jobPreparationTask"])
                info = self._info(job_id, node_id)
                if info is not None and info["state"] == "completed":
                    return info["result"] == "success" or not prep.get("waitForSuccess", True)
                attempt = _runner.Attempt()
                self._attempts[(job_id, node_id)] = attempt
                task_dir = prep_dir(self._runtime.data_dir, pool_id, node_id, job)
                relative = task_root(job_id, prep["id"])
                doc: Document = {
                    "poolId": pool_id,
                    "nodeId": node_id,
                    "nodeUrl": node["url"],
                    INFO: {
                        "startTime": stamp(),
                        "state": "running",
                        "taskRootDirectory": relative,
                        "taskRootDirectoryUrl": f"{node['url']}/files/{relative}",
                        "retryCount": 0,
                    },
                }
                self._store.put("prep", node_id, doc, parent=job_id)
                variables = batch_vars(self._runtime, pool_id, node_id, task_dir, task_dir / "wd")
                variables.update(AZ_BATCH_JOB_ID=job_id, AZ_BATCH_TASK_ID=prep["id"])
                variables.update(prep_variables(self._runtime.data_dir, pool_id, node_id, job))
                env = _runner.task_environment(
                    variables,
                    [*(job.get("commonEnvironmentSettings") or []), *(prep.get("environmentSettings") or [])],
                )
            outcome = self._run(prep, attempt, task_dir, env, doc)
            with self._store.lock:
                if outcome is None or self._attempts.get((job_id, node_id)) is not attempt:
                    return False  # the job ended, or the node went away
                del self._attempts[(job_id, node_id)]
                succeeded = outcome.failure is None and not outcome.timed_out and outcome.exit_code == 0
                info = doc[INFO]
                info.update(
                    state="completed",
                    endTime=stamp(),
                    exitCode=outcome.exit_code,
                    result="success" if succeeded else "failure",
                )
                if outcome.failure is not None:
                    info["failureInfo"] = outcome.failure.failure_info()
                elif not succeeded:
                    info["failureInfo"] = exit_code_failure()
                self._store.put("prep", node_id, doc, parent=job_id)
                return succeeded or not prep.get("waitForSuccess", True)

    def _run(
        self, prep: Document, attempt: _runner.Attempt, task_dir: Path, env: dict[str, str], doc: Document
    ) -> _runner.Outcome | None:
        """Every try of the preparation task; None if it was ended from outside."""
        working_dir = task_dir / "wd"
        working_dir.mkdir(parents=True, exist_ok=True)
        constraints = prep.get("constraints") or {}
        retries = int(constraints.get("maxTaskRetryCount", 0))
        timeout = limit_seconds("maxWallClockTime", constraints.get("maxWallClockTime"))
        try:
            _runner.download_resource_files(
                prep.get("resourceFiles") or [], working_dir, self._runtime.auto_storage
            )
        except _runner.StepFailed as exc:
            return _runner.Outcome(None, exc)  # a pre-processing error: not retried
        while True:
            outcome = attempt.run(
                prep["commandLine"], task_dir=task_dir, working_dir=working_dir, env=env, timeout=timeout
            )
            if outcome.killed or attempt.killed or self._runtime.stopping.is_set():
                return None
            if not _runner.retried(outcome, doc[INFO]["retryCount"], retries):
                return outcome
            with self._store.lock:
                doc[INFO]["retryCount"] += 1
                doc[INFO]["lastRetryTime"] = stamp()
                self._store.put("prep", doc["nodeId"], doc, parent=env["AZ_BATCH_JOB_ID"])
