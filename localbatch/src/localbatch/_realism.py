"""The realism profile: localbatch as slow and as unreliable as Azure Batch, on demand.

Each behaviour is the service's own, scaled from its minutes down to seconds so
that tests stay short; each can be turned on alone. ``Realism()`` is localbatch
as kind as it can be (only deletes take their short while); ``Realism.azure()``
turns everything on together.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any

#: Seconds a deleted job or pool stays ``deleting`` before it is gone, as on the service.
DELETE_DELAY = 1.0
#: The resize errors ``allocation_failure`` can end a resize with: code -> message, as the
#: Batch SDKs' PoolResizeErrorCodes describe them.
RESIZE_ERRORS = {
    "AccountCoreQuotaReached": "The specified account has reached core quota",
    "AccountLowPriorityCoreQuotaReached": "The specified account has reached low priority core quota",
    "AccountSpotCoreQuotaReached": "The specified account has reached spot core quota",
    "AllocationFailed": "Desired number of nodes could not be allocated",
    "AllocationTimedOut": "Desired number of nodes could not be allocated as the resize timeout was reached",
}


@dataclass(frozen=True)
class Realism:
    """What localbatch does as the service does, and how much of it.

    - ``task_counts_lag``: task counts are served as they were this many seconds
      ago ("may not always be up to date", the service says).
    - ``allocation_delay``: seconds a new node stays ``starting`` (and its pool
      ``resizing``) before it boots.
    - ``start_task_latency``: seconds between a node's boot and its StartTask.
    - ``error_rate``: the fraction of Batch requests answered with a transient
      500 or 503. Half of those that change something are answered so only after
      the change was made, as when the service's answer is lost on the way.
    - ``preemption_rate``: preemptions per Spot node per minute; its running
      tasks are requeued and it boots again. ``preempt_dedicated`` puts
      dedicated nodes at the same risk (a stand-in for host failures).
    - ``delete_delay``: seconds a deleted job or pool stays ``deleting``.
    - ``allocation_failure``: a resize error code (``RESIZE_ERRORS``, e.g.
      ``AccountCoreQuotaReached``, as a new account's zero core quota gives): every resize
      that adds nodes adds none and ends (after the allocation delay) ``steady`` with that
      error in the pool's ``resizeErrors``. Off in ``azure()``: no pool would get a node.
    - ``seed``: makes the random choices repeatable.
    """

    task_counts_lag: float = 0.0
    allocation_delay: float = 0.0
    start_task_latency: float = 0.0
    error_rate: float = 0.0
    preemption_rate: float = 0.0
    preempt_dedicated: bool = False
    delete_delay: float = DELETE_DELAY
    allocation_failure: str | None = None
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _random_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.startswith("_") or isinstance(value, bool | str) or value is None:
                continue
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"realism: {item.name} must be a number of at least 0 (got {value})")
        if self.error_rate >= 1:
            raise ValueError(f"realism: error_rate is a fraction below 1 (got {self.error_rate})")
        if self.allocation_failure is not None and self.allocation_failure not in RESIZE_ERRORS:
            raise ValueError(
                f"realism: allocation_failure is one of {', '.join(RESIZE_ERRORS)} "
                f"(got {self.allocation_failure!r})"
            )
        if self.seed is not None:
            self._random.seed(self.seed)

    @classmethod
    def azure(cls, **overrides: Any) -> Realism:
        """Every behaviour on, at figures that make each one happen within a short test."""
        profile: dict[str, Any] = {
            "task_counts_lag": 3.0,
            "allocation_delay": 2.0,
            "start_task_latency": 1.0,
            "error_rate": 0.03,
            "preemption_rate": 2.0,
            "delete_delay": 5.0,
        }
        profile.update(overrides)
        return cls(**profile)

    def as_kwargs(self) -> dict[str, Any]:
        """The profile's parts by name: ``Realism(**profile.as_kwargs()) == profile``."""
        return {item.name: getattr(self, item.name) for item in fields(self) if not item.name.startswith("_")}

    def chance(self, probability: float) -> bool:
        """True with ``probability`` (thread-safe, repeatable with a seed)."""
        if probability <= 0:
            return False
        with self._random_lock:
            return self._random.random() < probability

    def choice(self, options: tuple[int, ...]) -> int:
        with self._random_lock:
            return self._random.choice(options)

    def preempts(self, seconds: float) -> bool:
        """Whether a node at risk is preempted within ``seconds`` (a Poisson process)."""
        return self.chance(1 - math.exp(-self.preemption_rate * seconds / 60))
