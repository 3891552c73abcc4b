"""The Batch account as one facade: the only thing the HTTP layer calls.

``BatchService`` owns the account's lock: every operation takes it, then
hands the work to its rooms (pools, nodes, jobs, tasks, the scheduler, the
faults). Documents change under the scheduler's threads, so reads hand the
documents to a ``view`` (rendering, filtering) that runs under the lock too.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from ._autopools import AutoPools
from ._documents import find_pool, rebase_urls
from ._errors import BatchError
from ._faults import Faults
from ._job_control import JobControl
from ._jobs import Jobs
from ._lagging import LaggingCounts
from ._nodes import Nodes
from ._pools import Pools
from ._realism import Realism
from ._runner import AutoStorage
from ._runtime import Runtime
from ._scaling import Scaling
from ._schedule_service import JobScheduleService
from ._scheduler import Scheduler
from ._schedules import JobHooks
from ._store import Document
from ._task_control import TaskControl
from ._tasks import Tasks
from ._validate import (
    check_job,
    check_job_update,
    check_pool,
    check_pool_resize,
    check_remove_nodes,
    check_task,
    check_task_collection,
)
from ._validate_schedules import check_pool_info

T = TypeVar("T")
logger = logging.getLogger(__name__)


class BatchService:
    """All state and behaviour of one local Batch account."""

    def __init__(
        self,
        data_dir: Path,
        account: str,
        *,
        auto_storage: AutoStorage | None = None,
        scheduler_interval: float = 0.5,
        realism: Realism | None = None,
        autoscale_period: float | None = None,
        shared_dir: Path | None = None,
    ) -> None:
        self.realism = realism or Realism()
        #: What the realism profile did so far ("transient error", "lost answer", "preemption").
        self.events: Counter[str] = Counter()
        self._events_lock = threading.Lock()
        self._counts = LaggingCounts(self.realism.task_counts_lag)
        self._runtime = Runtime(
            data_dir, account, auto_storage, scheduler_interval, self.realism, shared_dir=shared_dir
        )
        self._store = self._runtime.store
        self._lock = self._runtime.wake
        self._faults = Faults()
        self._scheduler = Scheduler(self._runtime)
        self._nodes = Nodes(self._runtime, self._faults, self._scheduler)
        self._pools = Pools(self._runtime, self._nodes, Scaling(self._runtime, self._nodes, autoscale_period))
        self._jobs = Jobs(self._runtime, self._scheduler)
        self._tasks = Tasks(self._runtime, self._scheduler, self._jobs)
        self._job_control = JobControl(self._store, self._jobs, self._scheduler)
        self._task_control = TaskControl(self._store, self._jobs, self._scheduler)
        self._auto_pools = AutoPools(self._runtime, self._pools, self._jobs, self.delete_pool)
        #: Job schedules (their own facade): ``service.job_schedules.create(body)`` and so on.
        self.job_schedules = JobScheduleService(
            self._runtime,
            JobHooks(self._auto_pools.create_job, self.terminate_job, self.delete_job),
            self._auto_pools.expire,
        )

    @property
    def data_dir(self) -> Path:
        return self._runtime.data_dir

    @property
    def account(self) -> str:
        return self._runtime.account

    @property
    def base_url(self) -> str:
        """The service's endpoint, as documents' urls spell it (empty until ``start``)."""
        return self._runtime.base_url

    # -- lifecycle -------------------------------------------------------

    def start(self, base_url: str) -> None:
        """Recover the stored state at ``base_url`` and start scheduling."""
        self._runtime.base_url = base_url
        with self._store.transaction():
            rebase_urls(self._store, base_url)
            self._scheduler.recover()
            self._nodes.recover()
            self.job_schedules.recover(base_url)
            # Deletions the last run did not finish end now.
            unfinished = [("job", i) for i, d in self._store.jobs.items() if d["state"] == "deleting"]
            unfinished += [("pool", i) for i, d in self._store.pools.items() if d["state"] == "deleting"]
        for kind, ident in unfinished:
            self._runtime.spawn(self._finish_delete, kind, ident, name=f"delete-{kind}-{ident}")
        self._scheduler.start()
        self._runtime.spawn(self._pools.scaling.loop, name="autoscale")
        self._runtime.spawn(self.job_schedules.run, name="job-schedules")
        if self.realism.preemption_rate:
            self._runtime.spawn(self._preempt_at_random, name="preemption")

    def stop(self) -> None:
        """Stop scheduling and end every process; running tasks stay 'running'
        in the store and are requeued on the next start, as on node recovery."""
        self._runtime.stopping.set()
        with self._lock:
            self._lock.notify_all()
            attempts = [*self._scheduler.attempts(), *self._nodes.attempts()]
        for attempt in attempts:
            attempt.kill()
        self._runtime.join_threads(timeout=10)
        self._scheduler.join(timeout=10)
        self._store.close()

    def notify(self) -> None:
        """Wake the scheduler."""
        with self._lock:
            self._lock.notify_all()

    def record(self, event: str, detail: str) -> None:
        """Count (and log) something the realism profile did."""
        with self._events_lock:
            self.events[event] += 1
        logger.info("realism: %s: %s", event, detail)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the lock for a change, then wake the scheduler to act on it."""
        with self._lock:
            yield
            self._lock.notify_all()

    # -- pools and nodes -------------------------------------------------

    def create_pool(self, body: dict[str, Any]) -> Document:
        pool_id = check_pool(body)
        with self._store.transaction():
            return self._pools.create(pool_id, body)

    def get_pool(self, pool_id: str, view: Callable[[Document], T]) -> T:
        with self._lock:
            return view(find_pool(self._store, pool_id))

    def list_pools(self, view: Callable[[list[Document]], T]) -> T:
        with self._lock:
            return view(list(self._store.pools.values()))

    def resize_pool(self, pool_id: str, body: dict[str, Any]) -> None:
        check_pool_resize(body)
        with self._store.transaction():
            self._pools.resize(pool_id, body)

    def stop_resize(self, pool_id: str) -> None:
        with self._store.transaction():
            self._pools.stop_resize(pool_id)

    def remove_nodes(self, pool_id: str, body: dict[str, Any]) -> None:
        check_remove_nodes(body)
        with self._changing(), self._store.transaction():
            self._pools.remove_nodes(pool_id, body)

    def patch_pool(self, pool_id: str, body: dict[str, Any], replace: bool = False) -> None:
        """PATCH (what the body names) or updateproperties (``replace``: all of it)."""
        with self._store.transaction():
            self._pools.patch(pool_id, body, replace)

    def enable_autoscale(self, pool_id: str, body: dict[str, Any]) -> None:
        with self._changing(), self._store.transaction():
            self._pools.enable_autoscale(pool_id, body)

    def disable_autoscale(self, pool_id: str) -> None:
        with self._store.transaction():
            self._pools.disable_autoscale(pool_id)

    def evaluate_autoscale(self, pool_id: str, formula: object) -> dict[str, Any]:
        with self._lock:
            return self._pools.evaluate_autoscale(pool_id, formula)

    def delete_pool(self, pool_id: str) -> None:
        """The pool goes through ``deleting`` for ``delete_delay`` seconds, then is gone."""
        with self._store.transaction():
            self._pools.delete(pool_id)
        self._runtime.spawn(self._finish_delete, "pool", pool_id, name=f"delete-pool-{pool_id}")

    def nodes_of(self, pool_id: str) -> list[Document]:
        """The pool's nodes (none for a pool without any); re-entrant under a view."""
        with self._lock:
            return list(self._store.nodes.get(pool_id, {}).values())

    def get_node(self, pool_id: str, node_id: str, view: Callable[[Document], T]) -> T:
        with self._lock:
            return view(self._nodes.get(pool_id, node_id))

    def list_nodes(self, pool_id: str, view: Callable[[list[Document]], T]) -> T:
        with self._lock:
            find_pool(self._store, pool_id)
            return view(list(self._store.nodes.get(pool_id, {}).values()))

    def node_dir(self, pool_id: str, node_id: str) -> Path:
        """The node's root directory (its files); the node must exist."""
        with self._lock:
            self._nodes.get(pool_id, node_id)
        return self._nodes.directory(pool_id, node_id)

    def node_shared_dir(self, pool_id: str, node_id: str) -> Path:
        """The node's AZ_BATCH_NODE_SHARED_DIR: its own, or the one every node shares (``shared_dir``)."""
        return self._runtime.shared_dir or self.node_dir(pool_id, node_id) / "shared"

    def reboot_node(self, pool_id: str, node_id: str) -> None:
        with self._changing():
            self._nodes.reboot(pool_id, node_id)

    def preempt_node(self, pool_id: str, node_id: str) -> None:
        """Fault: the node is preempted; its running tasks are requeued, and it rejoins."""
        with self._lock:
            self._nodes.evict(pool_id, node_id, "preempted")
        self._nodes.rejoin_later(pool_id, node_id)

    def _preempt_at_random(self) -> None:
        """The realism profile's preemptions: each node at risk, at its rate, while it works."""
        tick = 1.0
        while not self._runtime.stopping.wait(tick):
            with self._lock:
                at_risk = [
                    (pool_id, node_id)
                    for pool_id, nodes in self._store.nodes.items()
                    for node_id, node in nodes.items()
                    if node["state"] in ("idle", "running")
                    and (self.realism.preempt_dedicated or not node["isDedicated"])
                ]
            for pool_id, node_id in at_risk:
                if self.realism.preempts(tick):
                    with suppress(BatchError):  # the node or its pool went away meanwhile
                        self.preempt_node(pool_id, node_id)
                        self.record("preemption", f"node {node_id} of pool {pool_id}")

    # -- jobs ------------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> Document:
        job_id = check_job(body)
        check_pool_info(body["poolInfo"], "poolInfo.", on_schedule=False)
        return self._auto_pools.create_job(job_id, body)

    def get_job(self, job_id: str, view: Callable[[Document], T]) -> T:
        with self._lock:
            return view(self._jobs.get(job_id))

    def list_jobs(self, view: Callable[[list[Document]], T]) -> T:
        with self._lock:
            return view(list(self._store.jobs.values()))

    def update_job(self, job_id: str, body: dict[str, Any], replace: bool = False) -> None:
        check_job_update(body)
        with self._changing():
            self._jobs.update(job_id, body, replace)

    def terminate_job(self, job_id: str, reason: str | None = None) -> None:
        with self._changing():
            self._jobs.terminate(job_id, reason)

    def disable_job(self, job_id: str, body: Any) -> None:
        with self._changing():
            self._job_control.disable(job_id, body)

    def enable_job(self, job_id: str) -> None:
        with self._changing():
            self._job_control.enable(job_id)

    def delete_job(self, job_id: str) -> None:
        """The job goes through ``deleting`` for ``delete_delay`` seconds, then is gone."""
        with self._lock:
            self._jobs.delete(job_id)
            self._counts.forget(job_id)
        self._runtime.spawn(self._finish_delete, "job", job_id, name=f"delete-job-{job_id}")

    def _finish_delete(self, kind: str, ident: str) -> None:
        if self._runtime.stopping.wait(self.realism.delete_delay):
            return  # the next start finishes it (see ``start``)
        if kind == "job" and not self._scheduler.releases.wait(ident):
            return  # its release tasks had not ended; the next start finishes it
        with self._lock:
            removed = self._jobs.remove(ident) if kind == "job" else self._pools.remove(ident)
        if removed:
            (self._jobs.delete_files if kind == "job" else self._pools.delete_files)(ident)

    def list_preparation_status(self, job_id: str, view: Callable[[list[Document]], T]) -> T:
        """Where the job's preparation (and release) task ran, and how
        (jobpreparationandreleasetaskstatus)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if not job.get("jobPreparationTask"):
                raise BatchError(
                    409,
                    "JobPreparationTaskOrReleaseTaskNotSpecified",
                    "The specified job does not have a job preparation task or a job release task.",
                )
            return view(self._scheduler.preparations.status(job_id))

    def task_counts(self, job_id: str) -> dict[str, Any]:
        """The job's task counts; with a lag, as they were that many seconds ago."""
        with self._lock:
            return self._counts.serve(job_id, self._tasks.counts(job_id))

    # -- tasks -----------------------------------------------------------

    def create_task(self, job_id: str, body: dict[str, Any]) -> Document:
        check_task(body)
        with self._changing():
            return self._tasks.create(job_id, body)

    def create_tasks(self, job_id: str, bodies: list[Any]) -> list[dict[str, Any]]:
        check_task_collection(bodies)
        with self._changing():
            return self._tasks.create_many(job_id, bodies)

    def get_task(self, job_id: str, task_id: str, view: Callable[[Document], T]) -> T:
        with self._lock:
            return view(self._tasks.get(job_id, task_id))

    def list_tasks(self, job_id: str, view: Callable[[list[Document]], T]) -> T:
        with self._lock:
            return view(self._tasks.in_job(job_id))

    def terminate_task(self, job_id: str, task_id: str) -> None:
        with self._changing():
            self._tasks.terminate(job_id, task_id)

    def delete_task(self, job_id: str, task_id: str) -> None:
        with self._changing():
            self._tasks.delete(job_id, task_id)

    def update_task(self, job_id: str, task_id: str, body: Any) -> None:
        with self._lock:
            self._task_control.update(job_id, task_id, body)

    def reactivate_task(self, job_id: str, task_id: str) -> None:
        with self._changing():
            self._task_control.reactivate(job_id, task_id)

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        """The task's directory on its node, or None before it was assigned one."""
        with self._lock:
            return self._tasks.directory(job_id, task_id)

    # -- faults (for tests; never part of the Batch API) -----------------

    def throttle(self, count: int, status: int = 503, retry_after: int | None = None) -> None:
        """Fault: refuse the next ``count`` Batch requests with ``status``."""
        with self._lock:
            self._faults.throttle(count, status, retry_after)

    def take_throttle(self) -> tuple[int, int | None] | None:
        """``(status, retry_after)`` if this request is to be refused (counts it)."""
        with self._lock:
            return self._faults.take_throttle()

    def fail_start_tasks(self, pool_id: str, count: int) -> None:
        """Fault: the next ``count`` StartTask runs in the pool fail with exit code 1."""
        with self._lock:
            self._faults.fail_start_tasks(pool_id, count)
