"""Conformance cases: tasks."""

from __future__ import annotations

from ._fields import (
    FILE_LIST_FIELDS,
    TASK_DEFAULT_FIELDS,
    TASK_FIELDS,
    TASK_VALUES,
    _delete_task,
    _delete_task_file,
    _terminate_task,
)
from ._model import ECHO, FILE_HEADERS, ODATA, Case, Request, each

PERFORM = "performExitOptionsJobAction"

CASES: tuple[Case, ...] = (
    # -- tasks ----------------------------------------------------------------
    Case(
        name="Task_Add",
        route="POST /jobs/{job_id}/tasks",
        example="2023-11-01.18.0/TaskAdd_Basic.json (also 2022-10-01.16.0)",
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.PARKED)}/tasks",
            body={"id": "task1", "commandLine": "/bin/sh -c 'echo task1'"},
        ),
        status=201,
    ),
    Case(
        name="Task_Add_ExitConditions",
        route="POST /jobs/{job_id}/tasks",
        example="2024-02-01.19.0/TaskAdd_ExitConditions.json (also 2022-10-01.16.0)",
        # The example's jobAction needs a job that performs exit options (onTaskFailure).
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.PARKED, onTaskFailure=PERFORM)}/tasks",
            body={
                "id": "taskId",
                "commandLine": "/bin/sh -c 'exit 3'",
                "exitConditions": {
                    "exitCodeRanges": [{"start": 2, "end": 4, "exitOptions": {"jobAction": "terminate"}}]
                },
                "userIdentity": {"autoUser": {"scope": "task", "elevationLevel": "nonadmin"}},
            },
        ),
        status=201,
    ),
    Case(
        name="Task_AddCollection",
        route="POST /jobs/{job_id}/addtaskcollection",
        example=(
            "2023-11-01.18.0/TaskAddCollection_Basic.json "
            "(and 2024-07-01.20.0/TaskAddCollection_Complex.json)"
        ),
        request=lambda world: Request(
            "POST",
            f"/jobs/{world.add_job(world.fresh('job'), world.PARKED)}/addtaskcollection",
            body={"value": [{"id": "simple1", "commandLine": ECHO}, {"id": "simple2", "commandLine": ECHO}]},
        ),
        status=200,
        fields=each("status", "taskId", "eTag", "lastModified", "location"),
        values={"value/*/status": "success"},
    ),
    Case(
        name="Task_List",
        route="GET /jobs/{job_id}/tasks",
        example="2023-05-01.17.0/TaskList.json",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks"),
        status=200,
        fields=(ODATA, *each(*TASK_FIELDS), *each(*TASK_DEFAULT_FIELDS)),
        values={f"value/*/{path}": value for path, value in TASK_VALUES.items()},
    ),
    Case(
        name="Task_Get",
        route="GET /jobs/{job_id}/tasks/{task_id}",
        example="2024-02-01.19.0/TaskGet.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks/{world.TASK}"),
        status=200,
        fields=(ODATA, *TASK_FIELDS, *TASK_DEFAULT_FIELDS),
        values=TASK_VALUES,
    ),
    Case(
        name="Task_Delete",
        route="DELETE /jobs/{job_id}/tasks/{task_id}",
        example="2024-02-01.19.0/TaskDelete.json (also 2023-11-01.18.0, 2023-05-01.17.0)",
        request=_delete_task,
        status=200,
    ),
    Case(
        name="Task_Terminate",
        route="POST /jobs/{job_id}/tasks/{task_id}/terminate",
        example="2024-02-01.19.0/TaskTerminate.json (also 2023-05-01.17.0)",
        request=_terminate_task,
        status=204,
    ),
    # -- task files -----------------------------------------------------------
    Case(
        name="File_ListFromTask",
        route="GET /jobs/{job_id}/tasks/{task_id}/files",
        example="2024-07-01.20.0/FileListFromTask.json (also 2023-11-01.18.0, 2022-10-01.16.0)",
        request=lambda world: Request(
            "GET", f"/jobs/{world.JOB}/tasks/{world.TASK}/files", "recursive=false"
        ),
        status=200,
        fields=FILE_LIST_FIELDS,
    ),
    Case(
        name="File_GetFromTask",
        route="GET /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-07-01.20.0/FileGetFromTask.json (also 2023-11-01.18.0)",
        request=lambda world: Request("GET", f"/jobs/{world.JOB}/tasks/{world.TASK}/files/stdout.txt"),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_GetPropertiesFromTask",
        route="HEAD /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-02-01.19.0/FileGetPropertiesFromTask.json (also 2023-05-01.17.0, 2022-10-01.16.0)",
        request=lambda world: Request("HEAD", f"/jobs/{world.JOB}/tasks/{world.TASK}/files/stdout.txt"),
        status=200,
        headers=FILE_HEADERS,
    ),
    Case(
        name="File_DeleteFromTask",
        route="DELETE /jobs/{job_id}/tasks/{task_id}/files/{file_path:path}",
        example="2024-02-01.19.0/FileDeleteFromTask.json",
        request=_delete_task_file,
        status=200,
    ),
)
