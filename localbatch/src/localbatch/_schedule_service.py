"""The account's job schedules as the HTTP layer calls them (``BatchService.job_schedules``).

Each operation takes the account's lock, as ``BatchService``'s do, and hands the
work to ``JobSchedules``. A thread of its own (``run``) makes the jobs that fall
due and ends auto pools whose owners ended; it wakes with the account's condition
and at every scheduler interval. A deleted schedule stays ``deleting`` for the
realism profile's ``delete_delay``, as jobs and pools do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ._runtime import Runtime
from ._schedules import JobHooks, JobSchedules, schedule_jobs
from ._store import Document
from ._validate_schedules import check_job_schedule, check_job_schedule_update

T = TypeVar("T")
logger = logging.getLogger(__name__)


class JobScheduleService:
    """Job schedules: create, read, change, disable, enable, terminate, delete, and their runs."""

    def __init__(self, runtime: Runtime, jobs: JobHooks, expire_auto_pools: Callable[[], None]) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._lock = runtime.wake
        self._schedules = JobSchedules(runtime, jobs)
        self._expire_auto_pools = expire_auto_pools

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the lock for a change, written together, then wake the threads to act on it."""
        with self._lock, self._store.transaction():
            yield
            self._lock.notify_all()

    # -- lifecycle -------------------------------------------------------

    def recover(self, base_url: str) -> None:
        """After a restart (the caller holds the lock): urls at ``base_url``, and the deletions
        the last run did not finish end now."""
        self._schedules.rebase(base_url)
        for schedule_id, doc in self._store.jobschedules.items():
            if doc["state"] == "deleting":
                self._spawn_removal(schedule_id)

    def run(self) -> None:
        """Until the account stops: make the jobs that are due; end expired auto pools."""
        wake = self._runtime.wake
        while not self._runtime.stopping.is_set():
            with wake:
                try:
                    with self._store.transaction():
                        self._schedules.run_due()
                        self._expire_auto_pools()
                except Exception:
                    logger.exception("running job schedules failed")
                wake.wait(timeout=self._runtime.interval)

    # -- operations ------------------------------------------------------

    def create(self, body: dict[str, Any]) -> Document:
        schedule_id = check_job_schedule(body)
        with self._changing():
            return self._schedules.create(schedule_id, body)

    def get(self, schedule_id: str, view: Callable[[Document], T]) -> T:
        with self._lock:
            return view(self._schedules.get(schedule_id))

    def list_all(self, view: Callable[[list[Document]], T]) -> T:
        with self._lock:
            return view(list(self._store.jobschedules.values()))

    def list_jobs(self, schedule_id: str, view: Callable[[list[Document]], T]) -> T:
        """The jobs the schedule made (JobListFromJobSchedule)."""
        with self._lock:
            self._schedules.get(schedule_id)
            return view(schedule_jobs(self._store, schedule_id))

    def update(self, schedule_id: str, body: dict[str, Any], replace: bool = False) -> None:
        check_job_schedule_update(body, replace)
        with self._changing():
            self._schedules.update(schedule_id, body, replace)

    def disable(self, schedule_id: str) -> None:
        with self._changing():
            self._schedules.disable(schedule_id)

    def enable(self, schedule_id: str) -> None:
        with self._changing():
            self._schedules.enable(schedule_id)

    def terminate(self, schedule_id: str) -> None:
        with self._changing():
            self._schedules.terminate(schedule_id)

    def delete(self, schedule_id: str) -> None:
        """The schedule and its jobs go through ``deleting`` for ``delete_delay`` seconds."""
        with self._changing():
            self._schedules.delete(schedule_id)
        self._spawn_removal(schedule_id)

    def _spawn_removal(self, schedule_id: str) -> None:
        self._runtime.spawn(self._remove_later, schedule_id, name=f"delete-jobschedule-{schedule_id}")

    def _remove_later(self, schedule_id: str) -> None:
        if self._runtime.stopping.wait(self._runtime.realism.delete_delay):
            return  # the next start finishes it (see ``recover``)
        with self._changing():
            self._schedules.remove(schedule_id)
