"""Whether a job's pool can run its tasks: its resize errors and its nodes' states.

A wait that read task counts only could not see a pool that never gets a node:
its tasks stay active, and the wait ran out its whole timeout. As Azure reports
it: a resize that could not get nodes (a zero core quota, ``AllocationFailed``,
a timeout) ends with the pool ``steady`` and the reason in ``resizeErrors``; a
node whose StartTask failed (with ``waitForSuccess``) is ``starttaskfailed``; a
node is ``unusable`` for a reason in its ``errors`` (an application package or
container that failed, a full disk), or, without one, while Batch cannot reach
it and tries to recover it; and a node where the job's preparation task failed
takes none of that job's tasks. No node left that can run the tasks, and none
coming, is a ``PoolError`` with the reason and the failing node's stderr.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from azure.batch import models as batch_models

from ._deadline import text
from ._exceptions import BatchServiceError, NotFoundError, PoolError
from ._types import JobInfo, Say, TaskCounts

logger = logging.getLogger(__name__)

#: Seconds between the checks of a wait: the first at once, then twice as long each time up to this.
CHECK_EVERY = 30.0
#: Seconds an ``unusable`` node without errors (one Batch tries to recover) is given.
UNUSABLE_GRACE = 300.0
#: What to do about a resize error, by code (the codes of the Batch SDKs' PoolResizeErrorCodes).
QUOTA_HINT = (
    "the Batch account's core quota (dedicatedCoreQuota, lowPriorityCoreQuota) is too small for "
    "the pool: ask for more (Azure portal: the Batch account's Quotas) or ask for fewer or smaller nodes"
)
HINTS = {
    "AccountCoreQuotaReached": QUOTA_HINT,
    "AccountLowPriorityCoreQuotaReached": QUOTA_HINT,
    "AccountSpotCoreQuotaReached": QUOTA_HINT,
    "AllocationFailed": "Azure had no room for the VM size: try again later, or another VM size or region",
    "AllocationTimedOut": "the nodes did not come within the resize timeout: try again, or ask for fewer",
}


class PoolReader(Protocol):
    """What the pool checks read from Batch (``Batch`` does it)."""

    def get_job(self, job_id: str) -> JobInfo: ...

    def pool(self, pool_id: str) -> batch_models.BatchPool | None: ...

    def nodes(self, pool_id: str) -> list[batch_models.BatchNode]: ...

    def node_file_tail(self, pool_id: str, node_id: str, path: str) -> str: ...

    def preparation_status(
        self, job_id: str
    ) -> list[batch_models.BatchJobPreparationAndReleaseTaskStatus]: ...

    def preparation_failures(self, job_id: str) -> list[str]: ...


@dataclass(frozen=True)
class PoolHealth:
    """What a pool says about its nodes, and why none can run a job's tasks (``problem``)."""

    pool_id: str
    exists: bool = True
    #: steady or resizing
    allocation_state: str = ""
    #: How many nodes are in each state ("idle": 2, "starttaskfailed": 1).
    node_states: dict[str, int] = field(default_factory=dict)
    #: The last resize's errors, "Code: message".
    resize_errors: list[str] = field(default_factory=list)
    #: Why no node can run the job's tasks and none is coming, with the failing node's stderr;
    #: None while one can, or may yet.
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.pool_id,
            "exists": self.exists,
            "allocation_state": self.allocation_state,
            "node_states": dict(self.node_states),
            "resize_errors": list(self.resize_errors),
            "problem": self.problem,
        }

    def lines(self) -> list[str]:
        """For people: the pool's state in one line, then each resize error and the problem."""
        if not self.exists:
            return [f"pool {self.pool_id}: does not exist (the job's tasks wait for it)"]
        nodes = _listing(self.node_states) or "none"
        found = [f"pool {self.pool_id}: {self.allocation_state}; nodes: {nodes}"]
        found += [f"resize error: {error}" for error in self.resize_errors]
        return found + ([f"cannot run the job's tasks: {self.problem}"] if self.problem else [])


def pool_health(
    batch: PoolReader, pool_id: str, job_ids: Sequence[str] = (), *, since: datetime | None = None
) -> PoolHealth:
    """Read the pool, its nodes and where ``job_ids``' preparation task failed. A resize error
    of an autoscale pool counts only if it came after ``since`` (the jobs' creation): an older
    one is stale, as the next evaluation resizes the pool for the new tasks."""
    pool = batch.pool(pool_id)
    if pool is None:
        return PoolHealth(pool_id, exists=False)
    nodes = batch.nodes(pool_id)
    allocation = text(pool.allocation_state or "")
    errors = [f"{error.code}: {error.message}" for error in pool.resize_errors or []]
    states = _states(nodes)
    if allocation == "resizing":
        return PoolHealth(pool_id, True, allocation, states, errors)  # nodes may be coming
    stale = bool(pool.enable_auto_scale) and since is not None and _before(pool, since)
    dead = [node for node in nodes if _dead(node)]
    alive = [node for node in nodes if not _dead(node)]
    problem = None
    if not nodes and errors and not stale:
        codes = [str(error.code) for error in pool.resize_errors or []]
        hint = next((HINTS[code] for code in codes if code in HINTS), "")
        problem = f"pool {pool_id} has no node: its last resize failed ({'; '.join(errors)})"
        problem += f"; {hint}" if hint else ""
    elif nodes and not alive:
        why = _why(batch, pool_id, dead[0])
        problem = f"no node of pool {pool_id} can run tasks ({_listing(_states(dead))}): {why}"
    elif alive:
        problem = _preparation_problem(batch, pool_id, job_ids, alive)
    return PoolHealth(pool_id, True, allocation, states, errors, problem)


def _before(pool: batch_models.BatchPool, since: datetime) -> bool:
    changed = pool.allocation_state_transition_time
    return changed is not None and changed < since


def _dead(node: batch_models.BatchNode) -> bool:
    state = text(node.state)
    if state == "starttaskfailed":
        return True
    if state != "unusable":
        return False
    if node.errors:
        return True
    entered = node.state_transition_time
    return entered is not None and (datetime.now(UTC) - entered).total_seconds() >= UNUSABLE_GRACE


def _states(nodes: Sequence[batch_models.BatchNode]) -> dict[str, int]:
    return dict(sorted(Counter(text(node.state) for node in nodes).items()))


def _listing(states: dict[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in states.items())


def _why(batch: PoolReader, pool_id: str, node: batch_models.BatchNode) -> str:
    if text(node.state) == "starttaskfailed":
        return str(start_task_failure(batch, pool_id, node))
    errors = "; ".join(f"{error.code}: {error.message}" for error in node.errors or [])
    return f"node {node.id} is unusable" + (f" ({errors})" if errors else ", and Batch could not recover it")


def _preparation_problem(
    batch: PoolReader, pool_id: str, job_ids: Sequence[str], alive: Sequence[batch_models.BatchNode]
) -> str | None:
    """A job whose preparation task failed on every node that could run its tasks."""
    usable = {str(node.id) for node in alive}
    for job_id in job_ids:
        failed = {
            str(status.node_id)
            for status in batch.preparation_status(job_id)
            if status.job_preparation_task_execution_info is not None
            and text(status.job_preparation_task_execution_info.result) == "failure"
        }
        if usable <= failed:
            return (
                f"the job preparation task that installs nodetask failed on every node of pool "
                f"{pool_id} for job {job_id}: " + "; ".join(batch.preparation_failures(job_id))
            )
    return None


def start_task_failure(batch: PoolReader, pool_id: str, node: batch_models.BatchNode) -> PoolError:
    tail = batch.node_file_tail(pool_id, str(node.id), "startup/stderr.txt")
    info = node.start_task_info
    return PoolError(
        f"the StartTask that installs nodetask failed on node {node.id} of pool {pool_id} (exit "
        f"code {info.exit_code if info else '?'}); its stderr ends with:\n{tail}"
    )


def wait_for_pool(batch: PoolReader, pool_id: str, *, timeout: float, say: Say | None = None) -> None:
    """Wait until every node is idle; a failed StartTask raises with the tail of its stderr."""
    deadline = time.monotonic() + timeout
    last: list[str] = []
    while time.monotonic() < deadline:
        nodes = batch.nodes(pool_id)
        states = sorted(text(node.state) for node in nodes)
        if states != last and say is not None:
            say(f"pool {pool_id}: nodes {', '.join(states) or 'none yet'}")
        last = states
        failed = next((node for node in nodes if text(node.state) == "starttaskfailed"), None)
        if failed is not None:
            raise start_task_failure(batch, pool_id, failed)
        if nodes and all(state == "idle" for state in states):
            return
        time.sleep(0.2)
    raise PoolError(f"pool {pool_id} was not ready within {timeout:.0f} s")


class PoolWatch:
    """The pool checks of one wait: only while tasks wait and none runs (a running task proves a
    node works), the first at once, then 1, 2, 4, ... up to ``CHECK_EVERY`` seconds apart."""

    def __init__(self, job_ids: Sequence[str]) -> None:
        self._job_ids = list(job_ids)
        self._pools: dict[str, list[str]] | None = None
        self._since: datetime | None = None
        self._next = 0.0
        self._pause = 1.0

    def check(self, batch: PoolReader, counts: TaskCounts) -> None:
        """Raise ``PoolError`` if no node of the jobs' pool can run their tasks, and none is coming.

        A refusal to read the pool (a caller with a job role that does not cover pools or nodes)
        ends the checks, said once: the wait goes on with task counts, as it did before them.
        """
        now = time.monotonic()
        if counts.active == 0 or counts.running > 0 or now < self._next:
            return
        self._next, self._pause = now + self._pause, min(self._pause * 2, CHECK_EVERY)
        try:
            self._check(batch)
        except PoolError:
            raise
        except BatchServiceError as exc:
            if exc.transient:
                raise  # the wait tries again until its deadline
            logger.warning("%s; the wait goes on without watching the pool", exc)
            self._pools = {}

    def _check(self, batch: PoolReader) -> None:
        if self._pools is None:
            pools: dict[str, list[str]] = {}
            for job_id in self._job_ids:
                try:
                    job = batch.get_job(job_id)
                except NotFoundError:
                    continue
                if job.pool_id:
                    pools.setdefault(job.pool_id, []).append(job_id)
                if job.created is not None and (self._since is None or job.created > self._since):
                    self._since = job.created
            self._pools = pools
        for pool_id, job_ids in self._pools.items():
            problem = pool_health(batch, pool_id, job_ids, since=self._since).problem
            if problem is not None:
                raise PoolError(problem)
