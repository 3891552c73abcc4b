"""Conformance cases: disabling and enabling jobs, updating and reactivating tasks, and the status
of job release tasks."""

from __future__ import annotations

from tests.support.batch import wait_for

from ._fields import PREPARATION_FIELDS
from ._model import CHANGE_HEADERS, ODATA, Case, Request, World, each

#: TaskUpdate.json's body.
TASK_CHANGES = {"constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 3, "retentionTime": "PT1H"}}
#: JobListPreparationAndReleaseTaskStatus.json's release task.
RELEASE_FIELDS = ("state", "startTime", "endTime", "taskRootDirectory", "taskRootDirectoryUrl", "exitCode")


def _disable(world: World) -> Request:
    job_id = world.add_job(world.fresh("job"), world.POOL)
    return Request("POST", f"/jobs/{job_id}/disable", body={"disableTasks": "terminate"})


def _enable(world: World) -> Request:
    job_id = world.add_job(world.fresh("job"), world.POOL)
    world.ok(Request("POST", f"/jobs/{job_id}/disable", body={"disableTasks": "requeue"}))
    return Request("POST", f"/jobs/{job_id}/enable")


def _update_task(world: World) -> Request:
    job_id, task_id = world.parked_task()
    return Request("PUT", f"/jobs/{job_id}/tasks/{task_id}", body=TASK_CHANGES)


def _reactivate_task(world: World) -> Request:
    """A task that failed (and runs again, to fail again)."""
    job_id = world.add_job(world.fresh("job"), world.POOL)
    task_id = world.add_task(job_id, "t", "/bin/sh -c 'exit 1'")
    world.wait_task(job_id, task_id)
    return Request("POST", f"/jobs/{job_id}/tasks/{task_id}/reactivate")


def _released(world: World) -> Request:
    """A job with preparation and release tasks, whose task ran on the pool's node, terminated."""
    job_id = world.add_job(
        world.fresh("job"),
        world.POOL,
        jobPreparationTask={"commandLine": "/bin/sh -c 'echo prep'"},
        jobReleaseTask={"commandLine": "/bin/sh -c 'echo release'"},
    )
    world.wait_task(job_id, world.add_task(job_id, "t"))
    world.ok(Request("POST", f"/jobs/{job_id}/terminate"))
    wait_for(lambda: world.ok(Request("GET", f"/jobs/{job_id}"))["state"] == "completed")
    return Request("GET", f"/jobs/{job_id}/jobpreparationandreleasetaskstatus")


CASES: tuple[Case, ...] = (
    Case(
        name="Job_Disable",
        route="POST /jobs/{job_id}/disable",
        example="2024-02-01.19.0/JobDisable.json",
        request=_disable,
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_Enable",
        route="POST /jobs/{job_id}/enable",
        example="2024-07-01.20.0/JobEnable.json",
        request=_enable,
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Task_Update",
        route="PUT /jobs/{job_id}/tasks/{task_id}",
        example="2024-07-01.20.0/TaskUpdate.json (also 2024-02-01.19.0)",
        request=_update_task,
        status=200,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Task_Reactivate",
        route="POST /jobs/{job_id}/tasks/{task_id}/reactivate",
        example="2024-07-01.20.0/TaskReactivate.json",
        request=_reactivate_task,
        status=204,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_ListPreparationAndReleaseTaskStatus_WithRelease",
        route="GET /jobs/{job_id}/jobpreparationandreleasetaskstatus",
        example="2024-07-01.20.0/JobListPreparationAndReleaseTaskStatus.json",
        request=_released,
        status=200,
        fields=(
            ODATA,
            *each("poolId", "nodeId", "nodeUrl"),
            *each(*(f"jobPreparationTaskExecutionInfo/{name}" for name in PREPARATION_FIELDS)),
            *each(*(f"jobReleaseTaskExecutionInfo/{name}" for name in RELEASE_FIELDS)),
        ),
        values={
            "value/*/jobPreparationTaskExecutionInfo/state": "completed",
            "value/*/jobReleaseTaskExecutionInfo/state": "completed",
            "value/*/jobReleaseTaskExecutionInfo/exitCode": 0,
        },
    ),
)
