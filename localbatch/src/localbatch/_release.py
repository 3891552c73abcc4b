"""Job release tasks: run on every node that prepared the job, once the job ends.

As the service does it: when a job with a ``jobReleaseTask`` is terminated (by a
request, or by ``onAllTasksComplete: terminateJob``) or deleted, its release task
runs on each node where the job's preparation task ran and completed (and the
job's tasks could run: not where a failed preparation task kept them off). A node
reimaged since its preparation task ran has no record of it, so it runs no
release task. The release task takes no task slot, runs once (no retries) within
its ``maxWallClockTime`` (15 minutes unless less is given), in its own folder
beside the preparation task's (``workitems/<job>/job-1/<id>``), and sees
``AZ_BATCH_JOB_PREP_DIR`` and ``AZ_BATCH_JOB_PREP_WORKING_DIR``. The job stays
``terminating`` until every release task ended, then completes; a deleted job
stays ``deleting`` until then. Each run is recorded as
``jobReleaseTaskExecutionInfo`` beside the node's preparation task record, for
``jobpreparationandreleasetaskstatus``. Methods other than ``wait`` expect the
caller to hold the lock.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from . import _runner
from ._documents import exit_code_failure, transition, user_error
from ._node_env import batch_vars, node_dir, task_root
from ._prep import INFO as PREP_INFO
from ._prep import prep_variables
from ._runtime import Runtime
from ._store import Document
from ._timeutil import limit_seconds, stamp

DEFAULT_ID = "jobrelease"
DEFAULT_MAX_WALL_CLOCK_TIME = "PT15M"
INFO = "jobReleaseTaskExecutionInfo"


def prepared(job: Document, doc: Document) -> bool:
    """The node's preparation task ran and completed, and the job's tasks could run there."""
    info = doc.get(PREP_INFO) or {}
    wait = (job.get("jobPreparationTask") or {}).get("waitForSuccess", True)
    return info.get("state") == "completed" and (info.get("result") == "success" or not wait)


class Releases:
    """Every ending job's release task on every node that prepared it."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._attempts: dict[tuple[str, str], _runner.Attempt] = {}
        #: The nodes whose release task still runs, per job; set when the last one ends.
        self._running: dict[str, set[str]] = {}
        self._done: dict[str, threading.Event] = {}

    def attempts(self) -> list[_runner.Attempt]:
        return list(self._attempts.values())

    def recover(self) -> None:
        """After a restart: release tasks that were running run again (as after a node reboot),
        and a job left ``terminating`` completes once they end."""
        for job_id, job in self._store.jobs.items():
            if job["state"] not in ("terminating", "deleting"):
                continue
            for doc in self._store.preps.get(job_id, {}).values():
                if (doc.get(INFO) or {}).get("state") == "running":
                    del doc[INFO]
            self.start(job_id)

    def start(self, job_id: str) -> None:
        """The job ends: its release task starts on every node that prepared it (once per job and
        node); a ``terminating`` job completes when none runs (now, if there is none to run)."""
        job = self._store.jobs[job_id]
        release = job.get("jobReleaseTask")
        if release and job_id not in self._running:
            for doc in list(self._store.preps.get(job_id, {}).values()):
                if INFO not in doc and prepared(job, doc):
                    self._launch(job, release, doc)
        self._settle(job_id)

    def wait(self, job_id: str) -> bool:
        """Wait, without the lock, until the job's release tasks ended; False if the service stops."""
        with self._store.lock:
            done = self._done.get(job_id)
        while done is not None and not done.wait(0.1):
            if self._runtime.stopping.is_set():
                return False
        return True

    def _launch(self, job: Document, release: Document, doc: Document) -> None:
        job_id, pool_id, node_id = job["id"], doc["poolId"], doc["nodeId"]
        node = self._store.nodes.get(pool_id, {}).get(node_id)
        if node is None:
            return  # the node left the pool since it prepared the job
        relative = task_root(job_id, release.get("id") or DEFAULT_ID)
        doc[INFO] = {
            "startTime": stamp(),
            "state": "running",
            "taskRootDirectory": relative,
            "taskRootDirectoryUrl": f"{node['url']}/files/{relative}",
        }
        self._store.put("prep", node_id, doc, parent=job_id)
        task_dir = node_dir(self._runtime.data_dir, pool_id, node_id) / relative
        variables = batch_vars(self._runtime, pool_id, node_id, task_dir, task_dir / "wd")
        variables.update(AZ_BATCH_JOB_ID=job_id, AZ_BATCH_TASK_ID=release.get("id") or DEFAULT_ID)
        variables.update(prep_variables(self._runtime.data_dir, pool_id, node_id, job))
        env = _runner.task_environment(
            variables,
            [*(job.get("commonEnvironmentSettings") or []), *(release.get("environmentSettings") or [])],
        )
        attempt = _runner.Attempt()
        self._attempts[(job_id, node_id)] = attempt
        self._running.setdefault(job_id, set()).add(node_id)
        self._done.setdefault(job_id, threading.Event())
        self._runtime.spawn(
            self._run,
            (job_id, node_id),
            copy.deepcopy(release),
            attempt,
            task_dir,
            env,
            name=f"release-{job_id}-{node_id}",
        )

    def _run(
        self,
        where: tuple[str, str],
        release: Document,
        attempt: _runner.Attempt,
        task_dir: Path,
        env: dict[str, str],
    ) -> None:
        """One release task on one node (``where``: job and node), without the lock; recorded
        under it when it ends."""
        job_id, node_id = where
        working_dir = task_dir / "wd"
        working_dir.mkdir(parents=True, exist_ok=True)
        limit = release.get("maxWallClockTime") or DEFAULT_MAX_WALL_CLOCK_TIME
        try:
            _runner.download_resource_files(
                release.get("resourceFiles") or [], working_dir, self._runtime.auto_storage
            )
            outcome = attempt.run(
                release["commandLine"],
                task_dir=task_dir,
                working_dir=working_dir,
                env=env,
                timeout=limit_seconds("maxWallClockTime", limit),
            )
        except _runner.StepFailed as exc:
            outcome = _runner.Outcome(None, exc)
        if outcome.killed or attempt.killed or self._runtime.stopping.is_set():
            return  # the next start runs it again (see ``recover``)
        with self._runtime.wake:
            self._attempts.pop(where, None)
            doc = self._store.preps.get(job_id, {}).get(node_id)
            if doc is not None and INFO in doc:
                doc[INFO].update(_ended(outcome))
                self._store.put("prep", node_id, doc, parent=job_id)
            self._running.get(job_id, set()).discard(node_id)
            self._settle(job_id)
            self._runtime.wake.notify_all()

    def _settle(self, job_id: str) -> None:
        """None of the job's release tasks runs any more: a ``terminating`` job completes."""
        if self._running.get(job_id):
            return
        self._running.pop(job_id, None)
        done = self._done.pop(job_id, None)
        if done is not None:
            done.set()
        job = self._store.jobs.get(job_id)
        if job is not None and job["state"] == "terminating":
            job["executionInfo"]["endTime"] = stamp()
            transition(job, "completed")
            self._store.put("job", job_id, job)


def _ended(outcome: _runner.Outcome) -> Document:
    """What a release task's record gains when it ends."""
    succeeded = outcome.failure is None and not outcome.timed_out and outcome.exit_code == 0
    ended: Document = {
        "state": "completed",
        "endTime": stamp(),
        "result": "success" if succeeded else "failure",
    }
    if outcome.exit_code is not None:
        ended["exitCode"] = outcome.exit_code
    if outcome.failure is not None:
        ended["failureInfo"] = outcome.failure.failure_info()
    elif outcome.timed_out:
        ended["failureInfo"] = user_error(
            "MaxWallClockTimeExpiry", "The job release task ran longer than its maxWallClockTime."
        )
    elif not succeeded:
        ended["failureInfo"] = exit_code_failure()
    return ended
