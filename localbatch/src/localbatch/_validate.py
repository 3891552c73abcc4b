"""Validation of request bodies, with the service's error codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ._dependencies import check_depends_on
from ._errors import BatchError, invalid_property, missing_property, too_large
from ._exit_conditions import check_exit_conditions
from ._timeutil import parse_duration

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
UPLOAD_CONDITIONS = {"tasksuccess", "taskfailure", "taskcompletion"}
MAX_TASKS_PER_COLLECTION = 100


def require(body: dict[str, Any], name: str, prefix: str = "") -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise missing_property(prefix + name)
    return value


def check_id(value: object, name: str = "id") -> str:
    if not isinstance(value, str) or not value:
        raise missing_property(name)
    if not ID_PATTERN.fullmatch(value):  # match() would let a trailing newline through
        raise invalid_property(
            name,
            value,
            "The value may contain any combination of alphanumeric characters including hyphens "
            "and underscores, and cannot contain more than 64 characters.",
        )
    return value


#: An integer as JSON text: the Azure CLI sends ``"targetDedicatedNodes": "2"``, and the service takes it.
_INTEGER_TEXT = re.compile(r"-?[0-9]+")


def check_int(
    body: dict[str, Any], name: str, *, minimum: int, maximum: int | None = None, prefix: str = ""
) -> None:
    """An optional integer property, a number or a numeric string (stored as the number)."""
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        value = body[name] = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise invalid_property(prefix + name, value, f"The value must be an integer of at least {minimum}.")
    if maximum is not None and value > maximum:
        raise invalid_property(prefix + name, value, f"The value must be at most {maximum}.")


def _items(files: object, prefix: str, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each ``(where, item)`` of an optional list of objects, for error messages that name the item."""
    if files is None:
        return
    if not isinstance(files, list):
        raise invalid_property(prefix, files, f"The value must be a list of {what}s.")
    for index, item in enumerate(files):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict):
            raise invalid_property(where, item, f"Each {what} must be an object.")
        yield where, item


def check_resource_files(files: object, prefix: str) -> None:
    for where, item in _items(files, prefix, "resource file"):
        sources = [
            key for key in ("httpUrl", "storageContainerUrl", "autoStorageContainerName") if item.get(key)
        ]
        if len(sources) != 1:
            raise invalid_property(
                where,
                ", ".join(sources) or "none",
                "Exactly one of httpUrl, storageContainerUrl or autoStorageContainerName must be given.",
            )
        if item.get("httpUrl") and not item.get("filePath"):
            raise missing_property(f"{where}.filePath")
        mode = item.get("fileMode")
        if mode is not None and not re.fullmatch(r"0?[0-7]{3}", str(mode)):
            raise invalid_property(f"{where}.fileMode", mode, "The value must be an octal mode such as 0770.")


def check_output_files(files: object, prefix: str) -> None:
    for where, item in _items(files, prefix, "output file"):
        require(item, "filePattern", where + ".")
        container = (item.get("destination") or {}).get("container")
        if not isinstance(container, dict):
            raise missing_property(f"{where}.destination.container")
        require(container, "containerUrl", f"{where}.destination.container.")
        condition = str((item.get("uploadOptions") or {}).get("uploadCondition", "")).lower()
        if condition not in UPLOAD_CONDITIONS:
            raise invalid_property(
                f"{where}.uploadOptions.uploadCondition",
                condition,
                "The value must be taskSuccess, taskFailure or taskCompletion.",
            )


def check_constraints(constraints: object, prefix: str) -> None:
    if constraints is None:
        return
    if not isinstance(constraints, dict):
        raise invalid_property(prefix, constraints, "The value must be an object.")
    for name in ("maxWallClockTime", "retentionTime"):
        if constraints.get(name) is not None:
            parse_duration(f"{prefix}.{name}", constraints[name])
    check_int(constraints, "maxTaskRetryCount", minimum=-1, prefix=f"{prefix}.")


def check_task(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BatchError(400, "InvalidRequestBody", "The request body must be a JSON object.")
    check_id(body.get("id"))
    require(body, "commandLine")
    check_resource_files(body.get("resourceFiles"), "resourceFiles")
    check_output_files(body.get("outputFiles"), "outputFiles")
    check_constraints(body.get("constraints"), "constraints")
    check_int(body, "requiredSlots", minimum=1)
    settings = body.get("environmentSettings") or []
    if not isinstance(settings, list) or any(not isinstance(s, dict) or not s.get("name") for s in settings):
        raise invalid_property("environmentSettings", settings, "Each setting needs a name.")
    check_depends_on(body)
    check_exit_conditions(body)
    for name, what in UNRUN_TASK_PARTS.items():
        if body.get(name):
            raise invalid_property(name, "...", f"localbatch does not run {what}; leave {name} out.")
    return body


#: What a task may ask for that localbatch does not do: refused, never silently ignored.
UNRUN_TASK_PARTS = {
    "multiInstanceSettings": "multi-instance tasks",
    "containerSettings": "tasks in containers",
}


def check_task_collection(bodies: list[Any]) -> None:
    """The collection as a whole; each task is checked on its own, with a result per task."""
    if len(bodies) > MAX_TASKS_PER_COLLECTION:
        raise too_large(MAX_TASKS_PER_COLLECTION)


def check_pool(body: dict[str, Any]) -> str:
    """A pool to create; returns its id."""
    pool_id = check_id(body.get("id"))
    require(body, "vmSize")
    vm = body.get("virtualMachineConfiguration")
    if not isinstance(vm, dict):
        raise missing_property("virtualMachineConfiguration")
    require(vm, "nodeAgentSKUId", "virtualMachineConfiguration.")
    if not isinstance(vm.get("imageReference"), dict):
        raise missing_property("virtualMachineConfiguration.imageReference")
    targets = (body.get("targetDedicatedNodes"), body.get("targetLowPriorityNodes"))
    if body.get("enableAutoScale") and targets != (None, None):
        raise BatchError(
            400,
            "InvalidAutoScalingSettings",
            "A pool that scales automatically takes no targetDedicatedNodes or targetLowPriorityNodes; "
            "its autoScaleFormula sets them.",
        )
    check_pool_resize(body)
    check_int(body, "taskSlotsPerNode", minimum=1, maximum=256)
    check_start_task(body.get("startTask"))
    return pool_id


def check_start_task(start_task: Any) -> None:
    if start_task is not None:
        require(start_task, "commandLine", "startTask.")
        check_resource_files(start_task.get("resourceFiles"), "startTask.resourceFiles")
        check_int(start_task, "maxTaskRetryCount", minimum=-1, prefix="startTask.")


def check_pool_resize(body: dict[str, Any]) -> None:
    check_int(body, "targetDedicatedNodes", minimum=0)
    check_int(body, "targetLowPriorityNodes", minimum=0)
    check_deallocation(body)


DEALLOCATION_OPTIONS = ("requeue", "terminate", "taskcompletion", "retaineddata")


def check_deallocation(body: dict[str, Any]) -> None:
    option = body.get("nodeDeallocationOption")
    if option is not None and str(option).lower() not in DEALLOCATION_OPTIONS:
        raise invalid_property(
            "nodeDeallocationOption",
            option,
            "The value must be requeue, terminate, taskCompletion or retainedData.",
        )


def check_remove_nodes(body: dict[str, Any]) -> None:
    nodes = body.get("nodeList")
    if not isinstance(nodes, list) or not nodes:
        raise missing_property("nodeList")
    if len(nodes) > 100 or not all(isinstance(node, str) and node for node in nodes):
        raise invalid_property("nodeList", nodes, "The value must be a list of 1 to 100 node ids.")
    check_deallocation(body)


def check_pool_patch(body: dict[str, Any], patchable: tuple[str, ...], replace: bool) -> None:
    """A pool PATCH, or (``replace``) an updateproperties body, whose lists are required
    (certificateReferences only up to api-version 2024-07-01.20.0: 2025-06-01 dropped it)."""
    others = sorted(set(body) - set(patchable))
    if others:
        raise invalid_property(
            others[0], "...", f"localbatch changes only {', '.join(patchable)} of an existing pool."
        )
    if replace:
        for name in ("metadata", "applicationPackageReferences"):
            if not isinstance(body.get(name), list):
                raise missing_property(name)
    check_start_task(body.get("startTask"))


def check_job(body: dict[str, Any]) -> str:
    """A job to create; returns its id."""
    job_id = check_id(body.get("id"))
    pool_info = body.get("poolInfo")
    if not isinstance(pool_info, dict):
        raise missing_property("poolInfo")
    # Either an existing pool or an auto pool (whose specification check_pool_info checks).
    if not pool_info.get("autoPoolSpecification"):
        require(pool_info, "poolId", "poolInfo.")
    elif pool_info.get("poolId"):
        raise invalid_property(
            "poolInfo",
            "poolId, autoPoolSpecification",
            "Give either poolId or autoPoolSpecification, not both.",
        )
    if body.get("jobManagerTask") is not None:
        raise invalid_property(
            "jobManagerTask", "...", "localbatch does not run job manager tasks; leave jobManagerTask out."
        )
    check_constraints(body.get("constraints"), "constraints")
    check_on_all_tasks_complete(body.get("onAllTasksComplete"))
    on_failure = body.get("onTaskFailure")
    if on_failure is not None and str(on_failure).lower() not in ("noaction", "performexitoptionsjobaction"):
        raise invalid_property(
            "onTaskFailure", on_failure, "The value must be noAction or performExitOptionsJobAction."
        )
    check_job_numbers(body)
    prep = body.get("jobPreparationTask")
    if prep is not None:
        if not isinstance(prep, dict):
            raise invalid_property("jobPreparationTask", prep, "The value must be an object.")
        if prep.get("id") is not None:
            check_id(prep["id"], "jobPreparationTask.id")
        require(prep, "commandLine", "jobPreparationTask.")
        check_resource_files(prep.get("resourceFiles"), "jobPreparationTask.resourceFiles")
        check_constraints(prep.get("constraints"), "jobPreparationTask.constraints")
    check_release_task(body.get("jobReleaseTask"), prep)
    return job_id


#: The longest maxWallClockTime a job release task may have (and its default).
MAX_RELEASE_WALL_CLOCK = timedelta(minutes=15)


def check_release_task(release: object, prep: object) -> None:
    """A job release task: only beside a preparation task, and for at most 15 minutes."""
    if release is None:
        return
    if not isinstance(release, dict):
        raise invalid_property("jobReleaseTask", release, "The value must be an object.")
    if prep is None:
        raise invalid_property(
            "jobReleaseTask", "...", "A job release task needs a job preparation task (jobPreparationTask)."
        )
    if release.get("id") is not None:
        check_id(release["id"], "jobReleaseTask.id")
    require(release, "commandLine", "jobReleaseTask.")
    check_resource_files(release.get("resourceFiles"), "jobReleaseTask.resourceFiles")
    if release.get("retentionTime") is not None:
        parse_duration("jobReleaseTask.retentionTime", release["retentionTime"])
    limit = release.get("maxWallClockTime")
    name = "jobReleaseTask.maxWallClockTime"
    if limit is not None and parse_duration(name, limit) > MAX_RELEASE_WALL_CLOCK:
        raise invalid_property(name, limit, "A job release task may run for 15 minutes at most.")


def check_job_update(body: dict[str, Any]) -> None:
    check_on_all_tasks_complete(body.get("onAllTasksComplete"))
    check_constraints(body.get("constraints"), "constraints")
    check_job_numbers(body)


def check_job_numbers(body: dict[str, Any]) -> None:
    check_int(body, "priority", minimum=-1000, maximum=1000)
    check_int(body, "maxParallelTasks", minimum=-1)
    if body.get("maxParallelTasks") == 0:
        raise invalid_property("maxParallelTasks", 0, "The value must be -1 (no limit) or at least 1.")


def check_on_all_tasks_complete(value: object) -> None:
    if value is not None and str(value).lower() not in ("noaction", "terminatejob"):
        raise invalid_property("onAllTasksComplete", value, "The value must be noAction or terminateJob.")
