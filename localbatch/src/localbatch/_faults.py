"""Faults injected on demand, for tests (never part of the Batch API)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    """What is to fail next; callers hold the account's lock."""

    throttle_remaining: int = 0
    throttle_status: int = 503
    retry_after: int | None = None
    start_task_failures: dict[str, int] = field(default_factory=dict)

    def throttle(self, count: int, status: int, retry_after: int | None) -> None:
        self.throttle_remaining = count
        self.throttle_status = status
        self.retry_after = retry_after

    def take_throttle(self) -> tuple[int, int | None] | None:
        """``(status, retry_after)`` if this request is to be refused."""
        if self.throttle_remaining <= 0:
            return None
        self.throttle_remaining -= 1
        return self.throttle_status, self.retry_after

    def fail_start_tasks(self, pool_id: str, count: int) -> None:
        self.start_task_failures[pool_id] = count

    def take_start_task_failure(self, pool_id: str) -> bool:
        """Whether this StartTask run in the pool is to fail."""
        injected = self.start_task_failures.get(pool_id, 0)
        if injected:
            self.start_task_failures[pool_id] = injected - 1
        return bool(injected)
