"""Validation of job schedules and of auto pools, with the service's error codes.

A schedule's ``jobSpecification`` is a job without an id, checked as a job is
(``check_job``); an auto pool's ``pool`` is a pool without an id, checked as a
pool is (``check_pool``). Their errors name the property by its full path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ._errors import BatchError, invalid_property, missing_property
from ._timeutil import parse_duration
from ._validate import check_id, check_job, check_pool, require

#: The shortest startWindow and recurrenceInterval the service takes (shorter ones are a 400).
MINIMUM_INTERVAL = timedelta(minutes=1)
LIFETIMES = ("job", "jobschedule")
#: An auto pool's id is the prefix, "_" and a GUID: 20 + 1 + 36 characters at most, within 64.
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,20}")


def _prefixed(error: BatchError, prefix: str) -> BatchError:
    """The error, naming its property by the path from the request body's root."""
    name = error.values.get("PropertyName")
    if name is not None:
        error.values["PropertyName"] = prefix + name
    return error


def parse_time(name: str, value: object) -> datetime:
    """An ISO 8601 date-time (UTC when it names no zone); a 400 when it is not one."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise invalid_property(
        name, value, "The value must be an ISO 8601 date-time such as 2025-01-01T12:30:00Z."
    )


def check_pool_info(pool_info: dict[str, Any], prefix: str, *, on_schedule: bool) -> None:
    """A job's poolInfo (``check_job`` saw that it names a pool or an auto pool): an auto pool's
    specification is a pool to create, and ``jobschedule`` lifetimes are for schedules only."""
    spec = pool_info.get("autoPoolSpecification")
    if not spec:
        return
    where = prefix + "autoPoolSpecification."
    if not isinstance(spec, dict):
        raise invalid_property(where[:-1], spec, "The value must be an object.")
    lifetime = str(require(spec, "poolLifetimeOption", where)).lower()
    if lifetime not in (LIFETIMES if on_schedule else ("job",)):
        raise invalid_property(
            where + "poolLifetimeOption",
            spec["poolLifetimeOption"],
            "The value must be job, or jobSchedule in a job schedule's job specification.",
        )
    spec["poolLifetimeOption"] = lifetime
    id_prefix = spec.get("autoPoolIdPrefix")
    if id_prefix is not None and not (isinstance(id_prefix, str) and PREFIX_PATTERN.fullmatch(id_prefix)):
        raise invalid_property(
            where + "autoPoolIdPrefix",
            id_prefix,
            "The prefix may have up to 20 alphanumeric characters, hyphens and underscores.",
        )
    if spec.get("keepAlive") is not None and not isinstance(spec["keepAlive"], bool):
        raise invalid_property(where + "keepAlive", spec["keepAlive"], "The value must be true or false.")
    pool = spec.get("pool")
    if not isinstance(pool, dict):
        raise missing_property(where + "pool")
    probe = {**pool, "id": "autopool"}
    try:
        check_pool(probe)
    except BatchError as exc:
        raise _prefixed(exc, where + "pool.") from None
    del probe["id"]
    pool.update(probe)  # the numbers check_pool took from numeric strings


def check_job_specification(spec: object) -> dict[str, Any]:
    """A schedule's jobSpecification: a job as ``check_job`` takes one (no jobManagerTask, for
    one), less its id."""
    if not isinstance(spec, dict):
        raise missing_property("jobSpecification")
    probe = {**spec, "id": "jobspecification"}
    try:
        check_job(probe)
    except BatchError as exc:
        raise _prefixed(exc, "jobSpecification.") from None
    del probe["id"]
    spec.update(probe)
    check_pool_info(spec["poolInfo"], "jobSpecification.poolInfo.", on_schedule=True)
    return spec


def check_schedule(schedule: object) -> None:
    """When jobs are made: doNotRunUntil, doNotRunAfter, startWindow and recurrenceInterval."""
    if not isinstance(schedule, dict):
        raise invalid_property("schedule", schedule, "The value must be an object.")
    for name in ("doNotRunUntil", "doNotRunAfter"):
        if schedule.get(name) is not None:
            parse_time(f"schedule.{name}", schedule[name])
    for name in ("startWindow", "recurrenceInterval"):
        if schedule.get(name) is not None:
            interval = parse_duration(f"schedule.{name}", schedule[name])
            if interval < MINIMUM_INTERVAL:
                raise invalid_property(
                    f"schedule.{name}", schedule[name], "The value must be at least 1 minute (PT1M)."
                )


def check_job_schedule(body: dict[str, Any]) -> str:
    """A job schedule to create; returns its id."""
    schedule_id = check_id(body.get("id"))
    if body.get("schedule") is None:
        raise missing_property("schedule")
    check_schedule(body["schedule"])
    check_job_specification(body.get("jobSpecification"))
    return schedule_id


def check_job_schedule_update(body: dict[str, Any], replace: bool) -> None:
    """PATCH: what the body names; PUT (``replace``): a jobSpecification at least."""
    if body.get("schedule") is not None:
        check_schedule(body["schedule"])
    if replace or body.get("jobSpecification") is not None:
        check_job_specification(body.get("jobSpecification"))
