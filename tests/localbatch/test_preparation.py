"""Job preparation tasks, as the service runs them: once per job and node, before its tasks there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError

from tests.support.batch import make_job, make_pool, py, wait_for, wait_idle, wait_task_done

#: Appends one line per run to a file in the node's shared folder, and says where it ran.
COUNT_RUNS = py(
    "import os; "
    "open(os.path.join(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'prep-runs'), 'a').write('run\\n'); "
    "open('prepared', 'w').write(os.environ['AZ_BATCH_TASK_WORKING_DIR'])"
)
#: A task that reads what the preparation task left in its working directory.
READ_PREPARED = py(
    "import os; print(open(os.path.join(os.environ['AZ_BATCH_JOB_PREP_WORKING_DIR'], 'prepared')).read())"
)


def prep(command_line: str, retries: int = 0, **extra: Any) -> batch_models.BatchJobPreparationTask:
    return batch_models.BatchJobPreparationTask(
        command_line=command_line,
        constraints=batch_models.BatchTaskConstraints(max_task_retry_count=retries),
        **extra,
    )


def add(client, job_id: str, *task_ids: str, command_line: str = READ_PREPARED) -> None:
    for task_id in task_ids:
        client.create_task(job_id, batch_models.BatchTaskCreateOptions(id=task_id, command_line=command_line))


def shared_file(localbatch, node_id: str, name: str) -> Path:
    return Path(localbatch.service.node_dir("pool", node_id)) / "shared" / name


def test_runs_once_per_node_before_the_tasks_which_see_its_folder(localbatch, client):
    make_pool(client, slots=2)
    (node,) = wait_idle(client)
    make_job(client, job_preparation_task=prep(COUNT_RUNS))
    add(client, "job", "a", "b", "c")
    tasks = [wait_task_done(client, "job", task_id) for task_id in ("a", "b", "c")]
    assert [task.execution_info.result for task in tasks] == ["success"] * 3
    assert shared_file(localbatch, node.id, "prep-runs").read_text() == "run\n"  # once, not per task
    out = b"".join(client.download_task_file("job", "a", "stdout.txt")).decode().strip()
    assert out.endswith("workitems/job/job-1/jobpreparation/wd")  # the default id names its folder

    (status,) = client.list_job_preparation_and_release_task_status("job")
    assert status.node_id == node.id
    assert status.pool_id == "pool"
    info = status.job_preparation_task_execution_info
    assert (info.state, info.result, info.exit_code, info.retry_count) == ("completed", "success", 0, 0)
    starts = [task.execution_info.start_time for task in tasks]
    assert info.start_time <= info.end_time <= min(start for start in starts if start is not None)


def test_a_failed_preparation_keeps_the_jobs_tasks_off_the_node(localbatch, client):
    make_pool(client)
    (node,) = wait_idle(client)
    failing = py("import sys; print('cannot prepare', file=sys.stderr); raise SystemExit(3)")
    make_job(client, job_preparation_task=prep(failing, retries=1))
    add(client, "job", "never")

    def failed():
        statuses = list(client.list_job_preparation_and_release_task_status("job"))
        info = statuses[0].job_preparation_task_execution_info if statuses else None
        return info if info and info.state == "completed" else None

    info = wait_for(failed)
    assert (info.result, info.exit_code, info.retry_count) == ("failure", 3, 1)
    assert info.failure_info.code == "FailureExitCode"
    stderr = b"".join(client.download_node_file("pool", node.id, f"{info.task_root_directory}/stderr.txt"))
    assert stderr.count(b"cannot prepare") == 2  # the first run and its retry
    # The task went back to the queue and the node takes none of this job's tasks ...
    wait_for(lambda: client.get_task("job", "never").state == "active")
    assert client.get_task("job", "never").execution_info.requeue_count >= 1
    # ... but still takes other jobs'.
    make_job(client, "other")
    add(client, "other", "fine", command_line="true")
    assert wait_task_done(client, "other", "fine").execution_info.result == "success"
    assert client.get_task("job", "never").state == "active"


def test_a_node_that_reboots_prepares_again(localbatch, client):
    make_pool(client)
    (node,) = wait_idle(client)
    make_job(client, job_preparation_task=prep(COUNT_RUNS))
    add(client, "job", "first")
    wait_task_done(client, "job", "first")
    # (azure-batch 15's reboot_node cannot be called without options, which it does not export)
    localbatch.service.reboot_node("pool", node.id)
    wait_idle(client)
    add(client, "job", "second")
    assert wait_task_done(client, "job", "second").execution_info.result == "success"
    assert shared_file(localbatch, node.id, "prep-runs").read_text() == "run\nrun\n"


def test_a_resource_file_failure_is_not_retried(client):
    """Batch retries a preparation task or StartTask that exits non-zero, never one whose
    files could not be downloaded: install scripts must fetch with their own retries."""
    missing = [batch_models.ResourceFile(http_url="http://127.0.0.1:9/nothing.whl", file_path="w.whl")]
    make_pool(
        client,
        start_task=batch_models.BatchStartTask(
            command_line="true", resource_files=missing, wait_for_success=True, max_task_retry_count=3
        ),
    )
    node = wait_for(lambda: (n := next(iter(client.list_nodes("pool")))).state == "starttaskfailed" and n)
    assert node.start_task_info.failure_info.code == "ResourceFileDownloadFailed"
    assert node.start_task_info.retry_count == 0


def test_status_of_a_job_without_a_preparation_task_is_a_conflict(client):
    make_pool(client)
    make_job(client)
    with pytest.raises(HttpResponseError) as caught:
        list(client.list_job_preparation_and_release_task_status("job"))
    assert caught.value.status_code == 409
    assert caught.value.error.code == "JobPreparationTaskOrReleaseTaskNotSpecified"
