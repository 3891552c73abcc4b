"""Task counts that lag, as the Batch service documents: "may not always be up to date"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Counts = dict[str, Any]


def _zeros(counts: Counts) -> Counts:
    return {group: dict.fromkeys(values, 0) for group, values in counts.items()}


class LaggingCounts:
    """Serves each job's counts as they were ``lag`` seconds ago (all zeros before that).

    A snapshot is taken whenever counts are asked for; the newest one at least
    ``lag`` seconds old is served. With ``lag`` 0 the counts are current.
    """

    def __init__(self, lag: float, clock: Callable[[], float] = time.monotonic) -> None:
        if lag < 0:
            raise ValueError(f"the task counts lag must not be negative (got {lag})")
        self.lag = lag
        self._clock = clock
        self._history: dict[str, list[tuple[float, Counts]]] = {}

    def serve(self, job_id: str, current: Counts) -> Counts:
        if not self.lag:
            return current
        now = self._clock()
        history = self._history.setdefault(job_id, [])
        history.append((now, current))
        old = [counts for taken, counts in history if taken <= now - self.lag]
        if old:
            # Keep the newest stale snapshot and everything after it.
            del history[: len(old) - 1]
            return old[-1]
        return _zeros(current)

    def forget(self, job_id: str) -> None:
        self._history.pop(job_id, None)
