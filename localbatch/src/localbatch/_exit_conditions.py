"""A task's ``exitConditions``: checking them, and the exit options that apply when it completes.

As the service documents them (ExitConditions, ExitOptions): once a task has completed
(after its retries), the options that apply are those of its exit code in ``exitCodes``,
else in ``exitCodeRanges``; else, for a task that failed without such a code,
``preProcessingError`` (it could not start: a resource file, its command line) or
``fileUploadError`` (an output file), when given; else ``default``, for any failure. What
the chosen options leave out takes the service's defaults: ``jobAction`` ``none`` and
``dependencyAction`` ``satisfy`` for a task that succeeded, ``terminate`` and ``block``
for one that failed. The job action is taken only in a job whose ``onTaskFailure`` is
``performExitOptionsJobAction`` (``terminate`` ends the job with ``TaskFailed``,
``disable`` disables it requeueing its running tasks); a task naming a ``jobAction`` in
any other job is refused, as one naming a ``dependencyAction`` in a job without
``usesTaskDependencies`` is (both 400 ``InvalidPropertyValue``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from ._errors import invalid_property, missing_property
from ._store import Document

JOB_ACTIONS = ("none", "disable", "terminate")
DEPENDENCY_ACTIONS = ("satisfy", "block")
PERFORM_EXIT_OPTIONS = "performexitoptionsjobaction"
#: The exit options that stand alone (not tied to an exit code).
NAMED_OPTIONS = ("preProcessingError", "fileUploadError", "default")
#: failureInfo codes of an output file's upload (the runner's).
UPLOAD_FAILURES = frozenset({"FileUploadMiscError"})
#: failureInfo codes of a task ended from outside (terminated), which no exit code explains.
ENDED = frozenset({"TaskEnded"})
INT32 = range(-(2**31), 2**31)


class ExitActions(NamedTuple):
    job: str
    dependency: str


def _int(item: dict[str, Any], name: str, where: str) -> int:
    value = item.get(name)
    if value is None:
        raise missing_property(f"{where}.{name}")
    if not isinstance(value, int) or isinstance(value, bool) or value not in INT32:
        raise invalid_property(f"{where}.{name}", value, "The value must be a 32-bit integer.")
    return value


def check_range(item: dict[str, Any], where: str) -> tuple[int, int]:
    """``start`` and ``end`` of an inclusive range of integers (exit codes, task ids)."""
    start, end = _int(item, "start", where), _int(item, "end", where)
    if start > end:
        raise invalid_property(where, f"{start}..{end}", "The start of a range may not be after its end.")
    return start, end


def _list(value: object, where: str) -> list[tuple[str, dict[str, Any]]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid_property(where, value, "The value must be a list of objects.")
    return [(f"{where}[{index}]", item) for index, item in enumerate(value)]


def _check_options(options: object, where: str) -> None:
    """One ExitOptions object; its enumerations are stored lower-case, as the service returns them."""
    if not isinstance(options, dict):
        raise invalid_property(where, options, "The value must be an object.")
    for name, allowed in (("jobAction", JOB_ACTIONS), ("dependencyAction", DEPENDENCY_ACTIONS)):
        value = options.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or value.lower() not in allowed:
            raise invalid_property(
                f"{where}.{name}", value, f"The value must be one of {', '.join(allowed)}."
            )
        options[name] = value.lower()


def _each_options(conditions: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, exitOptions)`` of every exit option the conditions name."""
    for where, item in _list(conditions.get("exitCodes"), "exitConditions.exitCodes"):
        yield f"{where}.exitOptions", item.get("exitOptions") or {}
    for where, item in _list(conditions.get("exitCodeRanges"), "exitConditions.exitCodeRanges"):
        yield f"{where}.exitOptions", item.get("exitOptions") or {}
    for name in NAMED_OPTIONS:
        if conditions.get(name) is not None:
            yield f"exitConditions.{name}", conditions[name]


def check_exit_conditions(body: dict[str, Any]) -> None:
    """A task's exitConditions, as far as they can be checked without its job."""
    conditions = body.get("exitConditions")
    if conditions is None:
        return
    if not isinstance(conditions, dict):
        raise invalid_property("exitConditions", conditions, "The value must be an object.")
    for where, item in _list(conditions.get("exitCodes"), "exitConditions.exitCodes"):
        _int(item, "code", where)
        if item.get("exitOptions") is None:
            raise missing_property(f"{where}.exitOptions")
    for where, item in _list(conditions.get("exitCodeRanges"), "exitConditions.exitCodeRanges"):
        check_range(item, where)
        if item.get("exitOptions") is None:
            raise missing_property(f"{where}.exitOptions")
    for where, options in _each_options(conditions):
        _check_options(options, where)


def check_exit_conditions_for_job(body: dict[str, Any], job: Document) -> None:
    """What the task's job allows: a jobAction only with ``onTaskFailure``
    ``performExitOptionsJobAction``, a dependencyAction only with ``usesTaskDependencies``."""
    conditions = body.get("exitConditions")
    if not isinstance(conditions, dict):
        return
    performs = str(job.get("onTaskFailure") or "").lower() == PERFORM_EXIT_OPTIONS
    for where, options in _each_options(conditions):
        if options.get("jobAction") is not None and not performs:
            raise invalid_property(
                f"{where}.jobAction",
                options["jobAction"],
                "A jobAction needs a job whose onTaskFailure is performExitOptionsJobAction.",
            )
        if options.get("dependencyAction") is not None and not job.get("usesTaskDependencies"):
            raise invalid_property(
                f"{where}.dependencyAction",
                options["dependencyAction"],
                "A dependencyAction needs a job whose usesTaskDependencies is true.",
            )


def _by_code(conditions: dict[str, Any], code: int) -> dict[str, Any] | None:
    for item in conditions.get("exitCodes") or []:
        if item.get("code") == code:
            return dict(item.get("exitOptions") or {})
    for item in conditions.get("exitCodeRanges") or []:
        if item.get("start", 0) <= code <= item.get("end", -1):
            return dict(item.get("exitOptions") or {})
    return None


def exit_actions(task: Document) -> ExitActions:
    """The actions that apply to a completed task, by its exit conditions and how it ended."""
    conditions = task.get("exitConditions") or {}
    execution = task.get("executionInfo") or {}
    failure = str((execution.get("failureInfo") or {}).get("code") or "")
    succeeded = execution.get("result") == "success"
    code = execution.get("exitCode")
    chosen: dict[str, Any] | None = None
    if isinstance(code, int) and failure not in ENDED:
        chosen = _by_code(conditions, code)
    if chosen is None and not succeeded:
        if failure in UPLOAD_FAILURES:
            chosen = conditions.get("fileUploadError")
        elif code is None and failure and failure not in ENDED:
            chosen = conditions.get("preProcessingError")
        chosen = chosen or conditions.get("default")
    chosen = chosen or {}
    job_default, dependency_default = ("none", "satisfy") if succeeded else ("terminate", "block")
    return ExitActions(
        str(chosen.get("jobAction") or job_default).lower(),
        str(chosen.get("dependencyAction") or dependency_default).lower(),
    )
