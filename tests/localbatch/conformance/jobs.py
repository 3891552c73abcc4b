"""Conformance cases: jobs."""

from __future__ import annotations

from ._fields import JOB_CHANGES, JOB_DEFAULT_FIELDS, JOB_FIELDS, JOB_VALUES, PREPARATION_FIELDS, TASK_STATES
from ._model import CHANGE_HEADERS, ODATA, Case, Request, each, filtered

CASES: tuple[Case, ...] = (
    # -- jobs -----------------------------------------------------------------
    Case(
        name="Job_List",
        route="GET /jobs",
        example="2024-07-01.20.0/JobList.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", "/jobs", filtered(f"id eq '{world.JOB}'")),
        status=200,
        fields=(ODATA, *each(*JOB_FIELDS), *each(*JOB_DEFAULT_FIELDS)),
        values={
            "value/*/state": "active",
            **{f"value/*/{path}": value for path, value in JOB_VALUES.items()},
        },
    ),
    Case(
        name="Job_Add",
        route="POST /jobs",
        example="2023-11-01.18.0/JobAdd_Basic.json (also 2024-02-01.19.0, 2023-05-01.17.0)",
        request=lambda world: Request(
            "POST",
            "/jobs",
            body={"id": world.fresh("job"), "priority": 0, "poolInfo": {"poolId": world.POOL}},
        ),
        status=201,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_Get",
        route="GET /jobs/{job_id}",
        # The example's job is a terminated one, as is this one.
        example="2024-07-01.20.0/JobGet.json (also 2023-11-01.18.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/jobs/{world.completed_job()}"),
        status=200,
        fields=(
            ODATA,
            *JOB_FIELDS,
            "previousState",
            "previousStateTransitionTime",
            "executionInfo/endTime",
            "executionInfo/terminateReason",
            *JOB_DEFAULT_FIELDS,
        ),
        values={"state": "completed", "executionInfo/terminateReason": "UserTerminate", **JOB_VALUES},
    ),
    Case(
        name="Job_Patch",
        route="PATCH /jobs/{job_id}",
        example="2024-07-01.20.0/JobPatch.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "PATCH", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}", body=JOB_CHANGES
        ),
        status=200,
    ),
    Case(
        name="Job_Update",
        route="PUT /jobs/{job_id}",
        example="2024-07-01.20.0/JobUpdate.json (also 2022-10-01.16.0, 2022-01-01.15.0)",
        request=lambda world: Request(
            "PUT", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}", body=JOB_CHANGES
        ),
        status=200,
    ),
    Case(
        name="Job_Delete",
        route="DELETE /jobs/{job_id}",
        example="2024-02-01.19.0/JobDelete.json (also 2023-11-01.18.0, 2023-05-01.17.0)",
        request=lambda world: Request("DELETE", f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}"),
        status=202,
    ),
    Case(
        name="Job_Terminate",
        route="POST /jobs/{job_id}/terminate",
        example="2024-02-01.19.0/JobTerminate.json (also 2023-11-01.18.0)",
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.POOL)}/terminate",
            body={"terminateReason": "User supplied termination reason"},
        ),
        status=202,
        headers=CHANGE_HEADERS,  # swagger
    ),
    Case(
        name="Job_GetTaskCounts",
        route="GET /jobs/{job_id}/taskcounts",
        example="2024-02-01.19.0/JobGetTaskCounts.json (also 2023-11-01.18.0, 2022-01-01.15.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/taskcounts"),
        status=200,
        fields=tuple(f"{kind}/{state}" for kind in ("taskCounts", "taskSlotCounts") for state in TASK_STATES),
    ),
    Case(
        name="Job_ListPreparationAndReleaseTaskStatus",
        route="GET /jobs/{job_id}/jobpreparationandreleasetaskstatus",
        example="2024-07-01.20.0/JobListPreparationAndReleaseTaskStatus.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/jobpreparationandreleasetaskstatus"),
        status=200,
        fields=(
            ODATA,
            *each("poolId", "nodeId", "nodeUrl"),
            *each(*(f"jobPreparationTaskExecutionInfo/{name}" for name in PREPARATION_FIELDS)),
        ),
        values={
            "value/*/jobPreparationTaskExecutionInfo/state": "completed",
            "value/*/jobPreparationTaskExecutionInfo/exitCode": 0,
            "value/*/jobPreparationTaskExecutionInfo/retryCount": 0,
        },
    ),
)
