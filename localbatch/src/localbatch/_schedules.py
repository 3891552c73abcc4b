"""Job schedule operations on validated bodies, and the jobs they make when due; callers hold the lock.

As the service does it: a schedule makes job ``{id}:job-{n}`` from its
jobSpecification at ``nextRunTime`` (doNotRunUntil, or at once), then every
recurrenceInterval, with at most one active job at a time: a run that falls due
while its previous job is still active waits for it within its start window
(startWindow, and never past the next recurrence), else that run is lost. A
schedule without recurrenceInterval makes one job and completes once that job
has; past doNotRunAfter no job is made and the schedule completes once none is
active. Disabled schedules make no jobs; deleting one deletes its jobs.
lastModified changes with the schedule itself, not with the jobs it makes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ._documents import job_defaults, job_url, touch, transition
from ._errors import BatchError, exists, not_found
from ._runtime import Runtime
from ._store import Document, Store
from ._timeutil import now, parse_duration, stamp
from ._validate_schedules import parse_time

logger = logging.getLogger(__name__)
#: A job in these states is no longer the schedule's active job.
JOB_ENDED = ("completed", "deleting")
#: The reason a job ends with when its schedule is terminated (BatchJobExecutionInfo.terminateReason).
TERMINATE_REASON = "TerminateJobSchedule"


@dataclass(frozen=True)
class JobHooks:
    """What a schedule does to jobs, as the account does it to any job."""

    #: Create a validated job: (job id, body, the schedule's id) -> the job.
    add: Callable[[str, dict[str, Any], str], Document]
    #: Terminate a job with a reason.
    terminate: Callable[[str, str], None]
    #: Delete a job (through ``deleting``).
    delete: Callable[[str], None]


def schedule_url(base_url: str, schedule_id: str) -> str:
    return f"{base_url}/jobschedules/{schedule_id}"


def refuse_schedule_id(store: Store, job_id: str) -> None:
    """A job may not take a schedule's id."""
    if job_id in store.jobschedules:
        raise BatchError(
            409,
            "JobScheduleWithSameIdExists",
            "A job schedule with the specified job id exists. Job and job schedule cannot have the same id.",
        )


def schedule_jobs(store: Store, schedule_id: str) -> list[Document]:
    """The jobs the schedule made (their ids are ``{schedule id}:job-{n}``), oldest first."""
    prefix = f"{schedule_id}:"
    return [job for job_id, job in store.jobs.items() if job_id.startswith(prefix)]


def _time(value: object) -> datetime | None:
    return None if value is None else parse_time("time", value).astimezone(UTC)


def _interval(name: str, value: object) -> timedelta | None:
    return None if value is None else parse_duration(name, value)


def open_run(
    run: datetime, every: timedelta | None, window: timedelta | None, at: datetime
) -> datetime | None:
    """The run (``run``, or a later recurrence of it) whose start window is open at ``at``, else
    the next one to come; None when a one-off run's window has passed. A recurring run's window
    ends at the next recurrence at the latest."""
    if at < run:
        return run
    if every is None:
        return run if window is None or at <= run + window else None
    window = every if window is None else min(window, every)
    current = run + (at - run) // every * every
    return current if at <= current + window else current + every


def spec_defaults(spec: Document) -> None:
    """What a jobSpecification without these properties has, as JobScheduleGet.json shows it."""
    spec.setdefault("priority", 0)
    spec.setdefault("usesTaskDependencies", False)
    spec["onAllTasksComplete"] = str(spec.get("onAllTasksComplete") or "noaction").lower()
    spec["onTaskFailure"] = str(spec.get("onTaskFailure") or "noaction").lower()
    job_defaults(spec)


def _being_deleted() -> BatchError:
    return BatchError(
        409,
        "JobScheduleBeingDeleted",
        "The specified job schedule has been marked for deletion and is being reclaimed.",
    )


class JobSchedules:
    """The account's job schedules."""

    def __init__(self, runtime: Runtime, jobs: JobHooks) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._jobs = jobs

    def create(self, schedule_id: str, body: dict[str, Any]) -> Document:
        if schedule_id in self._store.jobschedules:
            if self._store.jobschedules[schedule_id]["state"] == "deleting":
                raise _being_deleted()
            raise exists("job schedule", "JobScheduleExists")
        if schedule_id in self._store.jobs:
            raise BatchError(
                409,
                "JobWithSameIdExists",
                "A job with the specified job schedule id exists. "
                "Job and job schedule cannot have the same id.",
            )
        doc = copy.deepcopy(body)
        doc.setdefault("metadata", [])
        spec_defaults(doc["jobSpecification"])
        created = stamp()
        doc.update(
            url=schedule_url(self._runtime.base_url, schedule_id),
            creationTime=created,
            state="active",
            stateTransitionTime=created,
            executionInfo={},
        )
        self._reschedule(doc)
        touch(doc)
        self._store.put("jobschedule", schedule_id, doc)
        return doc

    def get(self, schedule_id: str) -> Document:
        doc = self._store.jobschedules.get(schedule_id)
        if doc is None:
            raise not_found("job schedule", "JobScheduleNotFound")
        return doc

    def _changeable(self, schedule_id: str) -> Document:
        """The schedule, if it may still change."""
        doc = self.get(schedule_id)
        if doc["state"] == "deleting":
            raise _being_deleted()
        if doc["state"] == "completed":
            raise BatchError(409, "JobScheduleCompleted", "The specified job schedule is already completed.")
        if doc["state"] == "terminating":
            raise BatchError(
                409, "JobScheduleBeingTerminated", "The specified job schedule is being terminated."
            )
        return doc

    def update(self, schedule_id: str, body: dict[str, Any], replace: bool) -> None:
        """PATCH sets what the body names; PUT (``replace``) all of it: no schedule is an empty
        one, no metadata none. Jobs made before keep their specification."""
        doc = self._changeable(schedule_id)
        if replace:
            body = {"schedule": {}, "metadata": [], **{k: v for k, v in body.items() if v is not None}}
        for name in ("schedule", "jobSpecification", "metadata"):
            if body.get(name) is not None:
                doc[name] = copy.deepcopy(body[name])
        spec_defaults(doc["jobSpecification"])
        if body.get("schedule") is not None:
            self._reschedule(doc)
        touch(doc)
        self._store.put("jobschedule", schedule_id, doc)

    def disable(self, schedule_id: str) -> None:
        self._set_state(self._changeable(schedule_id), "disabled")

    def enable(self, schedule_id: str) -> None:
        self._set_state(self._changeable(schedule_id), "active")

    def terminate(self, schedule_id: str) -> None:
        """Complete the schedule, terminating its active job."""
        doc = self._changeable(schedule_id)
        recent = self._active_job(doc)
        if recent is not None:
            self._jobs.terminate(recent, TERMINATE_REASON)
        self._complete(doc)

    def delete(self, schedule_id: str) -> None:
        """Mark the schedule ``deleting`` and delete its jobs; ``remove`` takes it away later."""
        doc = self.get(schedule_id)
        if doc["state"] == "deleting":
            raise _being_deleted()
        doc["executionInfo"].pop("nextRunTime", None)
        self._set_state(doc, "deleting")
        for job in schedule_jobs(self._store, schedule_id):
            if job["state"] != "deleting":
                self._jobs.delete(job["id"])

    def remove(self, schedule_id: str) -> bool:
        doc = self._store.jobschedules.get(schedule_id)
        if doc is None or doc["state"] != "deleting":
            return False
        self._store.delete("jobschedule", schedule_id)
        return True

    def rebase(self, base_url: str) -> None:
        """The port changes between runs: point the schedules' urls at this one."""
        for schedule_id, doc in self._store.jobschedules.items():
            doc["url"] = schedule_url(base_url, schedule_id)
            recent = doc["executionInfo"].get("recentJob")
            if recent:
                recent["url"] = job_url(base_url, recent["id"])
            self._store.put("jobschedule", schedule_id, doc)

    # -- running ---------------------------------------------------------

    def run_due(self) -> None:
        """Make the jobs that are due, and complete the schedules that have no more to make."""
        at = now()
        for schedule_id, doc in list(self._store.jobschedules.items()):
            if doc["state"] == "active":
                self._run_due(schedule_id, doc, at)

    def _run_due(self, schedule_id: str, doc: Document, at: datetime) -> None:
        info = doc["executionInfo"]
        schedule = doc.get("schedule") or {}
        every = _interval("recurrenceInterval", schedule.get("recurrenceInterval"))
        window = _interval("startWindow", schedule.get("startWindow"))
        after = _time(schedule.get("doNotRunAfter"))
        run = _time(info.get("nextRunTime"))
        if run is not None:
            run = None if after is not None and at > after else open_run(run, every, window, at)
        if run is not None and after is not None and run > after:
            run = None
        running = self._active_job(doc) is not None
        if run is not None and run <= at and not running:
            running = self._make_job(schedule_id, doc)
            run = run + every if every is not None else None
            if run is not None and after is not None and run > after:
                run = None
        before = dict(info)
        if run is None:
            info.pop("nextRunTime", None)
        else:
            info["nextRunTime"] = stamp(run)
        # A one-off schedule is done once its job is; a recurring one once doNotRunAfter passed.
        if run is None and not running and (every is None or after is None or at > after):
            self._complete(doc)
        elif info != before:
            self._store.put("jobschedule", schedule_id, doc)

    def _make_job(self, schedule_id: str, doc: Document) -> bool:
        """Make the schedule's next job; False if it could not be made (the run is lost)."""
        job_id = f"{schedule_id}:job-{self._next_number(schedule_id, doc)}"
        body = {**copy.deepcopy(doc["jobSpecification"]), "id": job_id}
        try:
            job = self._jobs.add(job_id, body, schedule_id)
        except BatchError as exc:
            logger.warning("job schedule %s could not make job %s: %s", schedule_id, job_id, exc.message)
            return False
        doc["executionInfo"]["recentJob"] = {"id": job_id, "url": job["url"]}
        return True

    def _next_number(self, schedule_id: str, doc: Document) -> int:
        prefix = f"{schedule_id}:job-"
        recent = (doc["executionInfo"].get("recentJob") or {}).get("id", "")
        ids = [*self._store.jobs, recent]
        numbers = [int(i[len(prefix) :]) for i in ids if i.startswith(prefix) and i[len(prefix) :].isdigit()]
        return max(numbers, default=0) + 1

    def _active_job(self, doc: Document) -> str | None:
        """The id of the schedule's job that is still active, if any."""
        recent = (doc["executionInfo"].get("recentJob") or {}).get("id")
        job = self._store.jobs.get(recent) if recent else None
        return recent if job is not None and job["state"] not in JOB_ENDED else None

    def _reschedule(self, doc: Document) -> None:
        """nextRunTime after a change of the schedule: doNotRunUntil (or now) for the first
        job, the recent job's creation plus the recurrence for the next (none for a one-off
        schedule that made its job)."""
        info = doc["executionInfo"]
        schedule = doc.get("schedule") or {}
        until = _time(schedule.get("doNotRunUntil"))
        every = _interval("recurrenceInterval", schedule.get("recurrenceInterval"))
        recent = (info.get("recentJob") or {}).get("id")
        run: datetime | None
        if recent is None:
            run = until or now()
        elif every is None:
            run = None
        else:
            job = self._store.jobs.get(recent)
            run = (_time(job["creationTime"]) if job else None) or now()
            run = max(run + every, until) if until is not None else run + every
        if run is None:
            info.pop("nextRunTime", None)
        else:
            info["nextRunTime"] = stamp(run)

    def _complete(self, doc: Document) -> None:
        doc["executionInfo"].pop("nextRunTime", None)
        doc["executionInfo"]["endTime"] = stamp()
        self._set_state(doc, "completed")

    def _set_state(self, doc: Document, state: str) -> None:
        transition(doc, state)
        self._store.put("jobschedule", doc["id"], doc)
