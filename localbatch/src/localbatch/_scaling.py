"""Autoscale on the service's beat: each autoscale pool's metrics sampled, its formula evaluated
at its interval and its targets applied; on the same beat, nodes that leave once their tasks are
done go. Methods other than ``loop`` expect the caller to hold the lock."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from . import _autoscale
from ._documents import job_pool_id
from ._errors import BatchError, invalid_property
from ._nodes import Nodes
from ._runtime import Runtime
from ._store import Document
from ._timeutil import parse_duration, stamp

#: The service's defaults and limits (the REST reference of enableautoscale).
DEFAULT_INTERVAL = "PT15M"
MIN_INTERVAL, MAX_INTERVAL = 5 * 60.0, 168 * 3600.0
#: "You cannot call this API for the same Pool more than once every 30 seconds."
ENABLE_SPACING = 30.0
#: Seconds of samples a formula can look back on.
HISTORY = 24 * 3600.0
WAITING, RUNNING = ("active",), ("running", "preparing")


def check_interval(text: object, name: str = "autoScaleEvaluationInterval") -> None:
    seconds = parse_duration(name, text).total_seconds()
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise invalid_property(name, text, "The value must be between 5 minutes and 168 hours.")


def check_formula(formula: object) -> str:
    if not isinstance(formula, str) or not formula.strip():
        raise BatchError(
            400,
            "InvalidAutoScalingSettings",
            "An autoScaleFormula is needed to scale the pool automatically.",
        )
    try:
        _autoscale.check(formula)
    except _autoscale.FormulaError as exc:
        raise BatchError(400, exc.code, str(exc)) from exc
    return formula


class Scaling:
    """Samples, evaluations and their schedule, per pool. ``period`` (tests) replaces the
    service's beat: samples every 30 s, evaluations at each pool's interval, enable requests at
    least 30 s apart."""

    def __init__(self, runtime: Runtime, nodes: Nodes, period: float | None = None) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._nodes = nodes
        self._period = period
        self._samples: dict[str, dict[str, deque[tuple[float, float]]]] = {}
        self._sampled: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._enabled: dict[str, float] = {}

    @property
    def beat(self) -> float:
        return min(1.0, self._period) if self._period else 1.0

    def loop(self) -> None:
        wake = self._runtime.wake
        while not self._runtime.stopping.wait(self.beat):
            with self._store.transaction():
                self._nodes.prune()
                for pool_id, pool in list(self._store.pools.items()):
                    if pool.get("enableAutoScale") and pool["state"] == "active":
                        self._tick(pool_id, pool)
                wake.notify_all()

    def _tick(self, pool_id: str, pool: Document) -> None:
        every = self._period or _autoscale.SAMPLE_PERIOD
        if time.time() - self._sampled.get(pool_id, -math.inf) >= every:
            self.sample(pool_id)
        if time.monotonic() >= self._due.get(pool_id, -math.inf):
            self.apply(pool_id, pool)

    # -- metrics ---------------------------------------------------------

    def sample(self, pool_id: str) -> None:
        now = time.time()
        series = self._samples.setdefault(pool_id, {})
        for name, value in self._metrics(pool_id).items():
            history = series.setdefault(name, deque())
            history.append((now, value))
            while history[0][0] < now - HISTORY:
                history.popleft()
        self._sampled[pool_id] = now

    def _metrics(self, pool_id: str) -> dict[str, float]:
        active = running = succeeded = failed = 0
        for job_id, job in self._store.jobs.items():
            if job["state"] != "active" or job_pool_id(job) != pool_id:
                continue
            for task in self._store.tasks.get(job_id, {}).values():
                state = task["state"]
                active += state in WAITING
                running += state in RUNNING
                if state == "completed":
                    ok = task["executionInfo"].get("result") == "success"
                    succeeded, failed = succeeded + ok, failed + (not ok)
        nodes = self._store.nodes.get(pool_id, {}).values()
        return {
            "ActiveTasks": active,
            "RunningTasks": running,
            "PendingTasks": active + running,
            "SucceededTasks": succeeded,
            "FailedTasks": failed,
            "SampleNodeCount": len(nodes),
            "PreemptedNodeCount": sum(node["state"] == "preempted" for node in nodes),
        }

    def _current(self, pool_id: str, pool: Document) -> dict[str, float]:
        nodes = self._store.nodes.get(pool_id, {}).values()
        return {
            "CurrentDedicatedNodes": pool["currentDedicatedNodes"],
            "CurrentLowPriorityNodes": pool["currentLowPriorityNodes"],
            "TargetDedicatedNodes": pool["targetDedicatedNodes"],
            "TargetLowPriorityNodes": pool["targetLowPriorityNodes"],
            "TaskSlotsPerNode": pool["taskSlotsPerNode"],
            "UsableNodeCount": sum(node["state"] in ("idle", "running") for node in nodes),
        }

    # -- evaluating and applying -------------------------------------------

    def evaluate(
        self, pool_id: str, pool: Document, formula: str
    ) -> tuple[dict[str, Any], _autoscale.Evaluation]:
        """An AutoScaleRun of ``formula`` over the pool's samples (one is taken first if none is)."""
        if pool_id not in self._sampled:
            self.sample(pool_id)
        samples = {name: list(values) for name, values in self._samples.get(pool_id, {}).items()}
        try:
            result = _autoscale.evaluate(formula, samples, self._current(pool_id, pool), time.time())
        except _autoscale.FormulaError as exc:
            raise BatchError(400, exc.code, str(exc)) from exc
        run: dict[str, Any] = {"timestamp": stamp(), "results": result.results}
        if result.error is not None:
            run["error"] = result.error
        return run, result

    def apply(self, pool_id: str, pool: Document) -> None:
        """Evaluate the pool's formula and take its targets (an evaluation error keeps them)."""
        run, result = self.evaluate(pool_id, pool, pool["autoScaleFormula"])
        pool["autoScaleRun"] = run
        if result.error is None:
            pool["targetDedicatedNodes"] = result.target_dedicated
            pool["targetLowPriorityNodes"] = result.target_low_priority
            self._nodes.resize(pool_id, result.deallocation or "requeue")
        interval = parse_duration("autoScaleEvaluationInterval", pool["autoScaleEvaluationInterval"])
        self._due[pool_id] = time.monotonic() + (self._period or interval.total_seconds())
        self._store.put("pool", pool_id, pool)

    def enable(self, pool_id: str, pool: Document, formula: str | None, interval: str | None) -> None:
        """Turn autoscale on, or change the formula or interval of a pool that has it."""
        spacing = min(ENABLE_SPACING, self._period) if self._period else ENABLE_SPACING
        if time.monotonic() - self._enabled.get(pool_id, -math.inf) < spacing:
            raise BatchError(
                409,
                "AutoScaleTooManyRequestsToEnable",
                "Enable AutoScale requests for the same pool must be separated by at least 30 seconds.",
            )
        if pool.get("allocationState") == "resizing" and not pool.get("enableAutoScale"):
            raise BatchError(409, "PoolBeingResized", "The specified pool is being resized.")
        if formula is None and not pool.get("enableAutoScale"):
            check_formula(None)
        if formula is not None:
            pool["autoScaleFormula"] = check_formula(formula)
        if interval is not None:
            check_interval(interval)
        pool["autoScaleEvaluationInterval"] = (
            interval or pool.get("autoScaleEvaluationInterval") or DEFAULT_INTERVAL
        )
        pool["enableAutoScale"] = True
        self._enabled[pool_id] = time.monotonic()
        self.apply(pool_id, pool)

    def disable(self, pool_id: str, pool: Document) -> None:
        """Autoscale off: the pool keeps its current targets."""
        pool["enableAutoScale"] = False
        for name in ("autoScaleFormula", "autoScaleEvaluationInterval", "autoScaleRun"):
            pool.pop(name, None)
        self.forget(pool_id)

    def forget(self, pool_id: str, *, deleted: bool = False) -> None:
        """Drop the pool's samples and schedule; a deleted pool's enable time too (a new pool of
        that id may enable autoscale at once; a disabled one keeps the 30 s rule)."""
        for memory in (self._samples, self._sampled, self._due):
            memory.pop(pool_id, None)
        if deleted:
            self._enabled.pop(pool_id, None)
