"""Conformance cases: job schedules, the jobs they made, and a job with an auto pool."""

from __future__ import annotations

from typing import Any

from tests.support.batch import wait_for

from ._fields import JOB_DEFAULT_FIELDS, JOB_FIELDS, JOB_VALUES
from ._model import (
    CHANGE_HEADERS,
    ENTITY_HEADERS,
    ODATA,
    VM_CONFIGURATION,
    VM_SIZE,
    Case,
    Request,
    World,
    each,
    filtered,
)

#: A run time no case reaches: the schedule makes no job.
FAR_FUTURE = "2099-01-01T00:00:00Z"
UNLIMITED = "P10675199DT2H48M5.4775807S"

#: JobScheduleGet.json's and JobScheduleList.json's schedule, as every schedule has it.
SCHEDULE_FIELDS = (
    "id",
    "url",
    "eTag",
    "lastModified",
    "creationTime",
    "state",
    "stateTransitionTime",
    "jobSpecification/priority",
    "jobSpecification/maxParallelTasks",
    "jobSpecification/allowTaskPreemption",
    "jobSpecification/usesTaskDependencies",
    "jobSpecification/onAllTasksComplete",
    "jobSpecification/onTaskFailure",
    "jobSpecification/constraints/maxWallClockTime",
    "jobSpecification/constraints/maxTaskRetryCount",
    "jobSpecification/poolInfo/poolId",
)
SCHEDULE_VALUES: dict[str, object] = {
    "jobSpecification/priority": 0,
    "jobSpecification/maxParallelTasks": -1,
    "jobSpecification/allowTaskPreemption": False,
    "jobSpecification/usesTaskDependencies": False,
    "jobSpecification/onAllTasksComplete": "noaction",
    "jobSpecification/onTaskFailure": "noaction",
    "jobSpecification/constraints/maxWallClockTime": UNLIMITED,
    "jobSpecification/constraints/maxTaskRetryCount": 0,
}

#: The body JobSchedulePatch.json and JobScheduleUpdate.json send (on the world's parked pool).
SCHEDULE_CHANGES = {
    "schedule": {"doNotRunUntil": "2025-01-01T12:30:00Z"},
    "jobSpecification": {
        "priority": 0,
        "usesTaskDependencies": False,
        "constraints": {"maxWallClockTime": UNLIMITED, "maxTaskRetryCount": 0},
        "poolInfo": {"poolId": World.PARKED},
    },
}

#: JobAdd_Complex.json's job, less its job manager task (localbatch runs none) and certificates,
#: on Ubuntu instead of Windows and without nodes.
AUTO_POOL_JOB = {
    "priority": 100,
    "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": -1},
    "poolInfo": {
        "autoPoolSpecification": {
            "autoPoolIdPrefix": "mypool",
            "poolLifetimeOption": "job",
            "pool": {
                "vmSize": VM_SIZE,
                "virtualMachineConfiguration": VM_CONFIGURATION,
                "resizeTimeout": "PT15M",
                "targetDedicatedNodes": 0,
                "targetLowPriorityNodes": 0,
                "taskSlotsPerNode": 2,
                "taskSchedulingPolicy": {"nodeFillType": "spread"},
                "enableAutoScale": False,
                "enableInterNodeCommunication": True,
                "startTask": {
                    "commandLine": "/bin/sh -c 'echo start'",
                    "environmentSettings": [{"name": "myvariable", "value": "myvalue"}],
                    "userIdentity": {"autoUser": {"scope": "task", "elevationLevel": "admin"}},
                    "maxTaskRetryCount": 2,
                    "waitForSuccess": True,
                },
                "metadata": [{"name": "myproperty", "value": "myvalue"}],
                "targetNodeCommunicationMode": "default",
            },
        }
    },
    "metadata": [{"name": "myproperty", "value": "myvalue"}],
}


def add_schedule(world: World, schedule: dict[str, Any] | None = None) -> str:
    """A schedule making jobs on the world's parked pool (by default, none before 2099)."""
    schedule_id = world.fresh("schedule")
    body = {
        "id": schedule_id,
        "schedule": {"doNotRunUntil": FAR_FUTURE} if schedule is None else schedule,
        "jobSpecification": {"poolInfo": {"poolId": World.PARKED}},
    }
    world.ok(Request("POST", "/jobschedules", body=body))
    return schedule_id


def _ran(world: World) -> str:
    """A one-off schedule that made its job."""
    schedule_id = add_schedule(world, {})
    wait_for(
        lambda: world.ok(Request("GET", f"/jobschedules/{schedule_id}"))["executionInfo"].get("recentJob")
    )
    return schedule_id


def _terminated(world: World) -> Request:
    """A schedule that made its job, then was terminated."""
    schedule_id = _ran(world)
    world.ok(Request("POST", f"/jobschedules/{schedule_id}/terminate"))
    return Request("GET", f"/jobschedules/{schedule_id}")


def _enable(world: World) -> Request:
    schedule_id = add_schedule(world)
    world.ok(Request("POST", f"/jobschedules/{schedule_id}/disable"))
    return Request("POST", f"/jobschedules/{schedule_id}/enable")


CASES: tuple[Case, ...] = (
    Case(
        name="JobSchedule_Add",
        route="POST /jobschedules",
        example="2024-07-01.20.0/JobScheduleAdd_Basic.json (also 2024-02-01.19.0)",
        request=lambda world: Request(
            "POST",
            "/jobschedules",
            body={
                "id": world.fresh("schedule"),
                "schedule": {"recurrenceInterval": "PT5M"},
                "jobSpecification": {"poolInfo": {"poolId": world.PARKED}},
            },
        ),
        status=201,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="JobSchedule_List",
        route="GET /jobschedules",
        # The example's second schedule: one that waits for its doNotRunUntil.
        example="2023-11-01.18.0/JobScheduleList.json",
        request=lambda world: Request("GET", "/jobschedules", filtered(f"id eq '{add_schedule(world)}'")),
        status=200,
        fields=(ODATA, *each(*SCHEDULE_FIELDS, "schedule/doNotRunUntil", "executionInfo/nextRunTime")),
        values={"value/*/state": "active", **{f"value/*/{path}": v for path, v in SCHEDULE_VALUES.items()}},
    ),
    Case(
        name="JobSchedule_Get",
        route="GET /jobschedules/{schedule_id}",
        # The example's schedule made a job and completed, as this one does (it is terminated).
        example="2024-02-01.19.0/JobScheduleGet.json",
        request=_terminated,
        status=200,
        headers=ENTITY_HEADERS,  # swagger
        fields=(
            ODATA,
            *SCHEDULE_FIELDS,
            "previousState",
            "previousStateTransitionTime",
            "executionInfo/recentJob/id",
            "executionInfo/recentJob/url",
            "executionInfo/endTime",
        ),
        values={"state": "completed", "previousState": "active", **SCHEDULE_VALUES},
    ),
    Case(
        name="JobSchedule_Exists",
        route="HEAD /jobschedules/{schedule_id}",
        example="2024-07-01.20.0/JobScheduleExists.json (response 200; also 2023-11-01.18.0)",
        request=lambda world: Request("HEAD", f"/jobschedules/{add_schedule(world)}"),
        status=200,
        headers=ENTITY_HEADERS,  # SDK (the swagger's)
    ),
    Case(
        name="JobSchedule_Exists-404",
        route="HEAD /jobschedules/{schedule_id}",
        example="2024-07-01.20.0/JobScheduleExists.json (response 404)",
        request=lambda world: Request("HEAD", "/jobschedules/no-such-schedule"),
        status=404,
    ),
    Case(
        name="JobSchedule_Patch",
        route="PATCH /jobschedules/{schedule_id}",
        example="2024-07-01.20.0/JobSchedulePatch.json (also 2024-02-01.19.0, 2023-11-01.18.0)",
        request=lambda world: Request("PATCH", f"/jobschedules/{add_schedule(world)}", body=SCHEDULE_CHANGES),
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="JobSchedule_Update",
        route="PUT /jobschedules/{schedule_id}",
        example="2023-11-01.18.0/JobScheduleUpdate.json",
        request=lambda world: Request("PUT", f"/jobschedules/{add_schedule(world)}", body=SCHEDULE_CHANGES),
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="JobSchedule_Disable",
        route="POST /jobschedules/{schedule_id}/disable",
        example="2024-02-01.19.0/JobScheduleDisable.json",
        request=lambda world: Request("POST", f"/jobschedules/{add_schedule(world)}/disable"),
        status=204,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="JobSchedule_Enable",
        route="POST /jobschedules/{schedule_id}/enable",
        example="2024-07-01.20.0/JobScheduleEnable.json (also 2023-11-01.18.0)",
        request=_enable,
        status=204,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="JobSchedule_Terminate",
        route="POST /jobschedules/{schedule_id}/terminate",
        example="2022-01-01.15.0/JobScheduleTerminate.json",
        request=lambda world: Request("POST", f"/jobschedules/{add_schedule(world)}/terminate"),
        status=202,
        headers=CHANGE_HEADERS,  # SDK (the swagger's)
    ),
    Case(
        name="JobSchedule_Delete",
        route="DELETE /jobschedules/{schedule_id}",
        example="2023-11-01.18.0/JobScheduleDelete.json",
        request=lambda world: Request("DELETE", f"/jobschedules/{add_schedule(world)}"),
        status=202,
    ),
    Case(
        name="Job_ListFromJobSchedule",
        route="GET /jobschedules/{schedule_id}/jobs",
        # The example's job was disabled and enabled again (previousState); this one never was.
        example="2024-02-01.19.0/JobListFromJobSchedule.json",
        request=lambda world: Request("GET", f"/jobschedules/{_ran(world)}/jobs"),
        status=200,
        fields=(ODATA, *each(*JOB_FIELDS), *each(*JOB_DEFAULT_FIELDS)),
        values={
            "value/*/state": "active",
            **{f"value/*/{path}": value for path, value in JOB_VALUES.items()},
        },
    ),
    Case(
        name="Job_Add-autoPool",
        route="POST /jobs",
        example="2024-07-01.20.0/JobAdd_Complex.json (also 2024-02-01.19.0)",
        request=lambda world: Request("POST", "/jobs", body={"id": world.fresh("job"), **AUTO_POOL_JOB}),
        status=201,
        headers=CHANGE_HEADERS,  # swagger
    ),
)
