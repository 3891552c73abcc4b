"""Times and durations in the service's formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import isodate

from ._errors import invalid_property

#: The service's "no limit" for durations and retention (.NET's TimeSpan.MaxValue), and how it
#: writes it in responses.
UNLIMITED = timedelta(days=10675199)
UNLIMITED_TEXT = "P10675199DT2H48M5.4775807S"


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime | None = None) -> str:
    """ISO 8601 with a Z, as the service writes times."""
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_date(moment: datetime | None = None) -> str:
    return (moment or now()).strftime("%a, %d %b %Y %H:%M:%S GMT")


def parse_stamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def parse_duration(name: str, value: object) -> timedelta:
    """An ISO 8601 duration such as PT30M; a clear 400 when it is not one."""
    if not isinstance(value, str):
        raise invalid_property(name, value, "The value must be an ISO 8601 duration such as PT1H.")
    try:
        duration = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise invalid_property(name, value, "The value must be an ISO 8601 duration such as PT1H.") from exc
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise invalid_property(name, value, "The duration must be positive and in days or smaller units.")
    return duration


def limit_seconds(name: str, value: object) -> float | None:
    """A wall-clock limit in seconds; None when there is none (absent, or the service's "no limit")."""
    if not value:
        return None
    duration = parse_duration(name, value)
    return None if duration >= UNLIMITED else duration.total_seconds()
