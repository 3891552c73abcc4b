"""Updating a task's constraints and reactivating a failed task, as the service does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError

from tests.support.batch import make_job, make_pool, py, wait_idle, wait_task_done

#: Fails on its first run (leaving a marker in the node's shared directory), succeeds after.
FAILS_ONCE = py(
    "import os, sys\n"
    "path = os.path.join(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'tried')\n"
    "tried = os.path.exists(path)\n"
    "open(path, 'a').write('run\\n')\n"
    "sys.exit(0 if tried else 3)"
)
#: Fails on every run.
FAILS = py("raise SystemExit(3)")


def add(client, task_id: str, command_line: str = "true", job_id: str = "job") -> None:
    client.create_task(job_id, batch_models.BatchTaskCreateOptions(id=task_id, command_line=command_line))


def constraints(**given) -> batch_models.BatchTask:
    return batch_models.BatchTask(constraints=batch_models.BatchTaskConstraints(**given))


def refused(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        call()
    return caught.value


@pytest.fixture
def ready(client):
    """A one-node pool, idle, and an empty job on it."""
    make_pool(client)
    wait_idle(client)
    make_job(client)


# -- update ------------------------------------------------------------------------


def test_update_sets_the_constraints_and_resets_those_left_out(client):
    make_pool(client, nodes=0)  # the task stays active
    make_job(client, constraints=batch_models.BatchJobConstraints(max_task_retry_count=2))
    add(client, "t")
    before = client.get_task("job", "t")
    client.replace_task("job", "t", constraints(max_wall_clock_time=timedelta(hours=1)))
    after = client.get_task("job", "t")
    assert after.constraints.max_wall_clock_time == timedelta(hours=1)
    assert after.constraints.retention_time == timedelta(days=7)
    assert after.constraints.max_task_retry_count == 2  # the job's, as on create
    assert after.etag != before.etag
    assert after.last_modified >= before.last_modified


def test_an_updated_retry_count_is_what_the_task_runs_with(client, ready):
    client.begin_disable_job(
        "job", batch_models.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0
    ).result(timeout=30)
    add(client, "t", FAILS)  # waits: its job is disabled
    client.replace_task("job", "t", constraints(max_task_retry_count=2))
    client.begin_enable_job("job", polling_interval=0).result(timeout=30)
    task = wait_task_done(client, "job", "t")
    assert (task.execution_info.result, task.execution_info.retry_count) == ("failure", 2)


def test_update_is_validated_and_honours_if_match(client):
    make_pool(client, nodes=0)
    make_job(client)
    add(client, "t")
    error = refused(lambda: client.replace_task("job", "t", constraints(max_task_retry_count=-2)))
    assert (error.status_code, error.error.code) == (400, "InvalidPropertyValue")
    stale = client.get_task("job", "t").etag
    client.replace_task("job", "t", constraints(max_task_retry_count=1))
    error = refused(
        lambda: client.replace_task(
            "job",
            "t",
            constraints(max_task_retry_count=5),
            etag=stale,
            match_condition=MatchConditions.IfNotModified,
        )
    )
    assert error.status_code == 412
    assert client.get_task("job", "t").constraints.max_task_retry_count == 1


# -- reactivate --------------------------------------------------------------------


def test_reactivate_runs_a_failed_task_again_with_its_retries_reset(client, ready):
    add(client, "t", FAILS_ONCE)
    failed = wait_task_done(client, "job", "t")
    assert (failed.execution_info.result, failed.execution_info.exit_code) == ("failure", 3)

    client.reactivate_task("job", "t")
    done = wait_task_done(client, "job", "t")
    assert (done.execution_info.result, done.execution_info.exit_code) == ("success", 0)
    assert done.execution_info.retry_count == 0
    assert done.execution_info.failure_info is None


def test_reactivate_resets_the_retry_count(client, ready):
    client.begin_disable_job(
        "job", batch_models.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0
    ).result(timeout=30)
    add(client, "t", FAILS)
    client.replace_task("job", "t", constraints(max_task_retry_count=1))
    client.begin_enable_job("job", polling_interval=0).result(timeout=30)
    assert wait_task_done(client, "job", "t").execution_info.retry_count == 1
    # Disabled again, so that the reactivated task stays as reactivation leaves it.
    client.begin_disable_job(
        "job", batch_models.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0
    ).result(timeout=30)
    client.reactivate_task("job", "t")
    task = client.get_task("job", "t")
    assert task.state == "active"
    info = task.execution_info
    assert (info.retry_count, info.exit_code, info.failure_info, info.result) == (0, None, None, None)
    assert info.end_time is None


def test_reactivating_a_task_that_did_not_fail_is_a_conflict(client, ready):
    add(client, "ok")
    wait_task_done(client, "job", "ok")
    error = refused(lambda: client.reactivate_task("job", "ok"))
    assert (error.status_code, error.error.code) == (409, "TaskSucceeded")

    make_job(client, "parked-job", pool_id="parked")  # its pool does not exist: the task stays
    add(client, "waiting", job_id="parked-job")
    error = refused(lambda: client.reactivate_task("parked-job", "waiting"))
    assert (error.status_code, error.error.code) == (409, "TaskNotCompleted")


def test_reactivating_in_a_completed_job_is_a_conflict(client, ready):
    add(client, "t", FAILS)
    wait_task_done(client, "job", "t")
    client.begin_terminate_job(
        "job", BatchJobTerminateOptions(termination_reason="UserTerminate"), polling_interval=0
    ).result(timeout=30)
    error = refused(lambda: client.reactivate_task("job", "t"))
    assert (error.status_code, error.error.code) == (409, "JobCompleted")
    assert client.get_task("job", "t").state == "completed"


def test_reactivate_honours_if_match(client, ready):
    add(client, "t", FAILS)
    stale = client.get_task("job", "t").etag
    wait_task_done(client, "job", "t")
    error = refused(
        lambda: client.reactivate_task("job", "t", etag=stale, match_condition=MatchConditions.IfNotModified)
    )
    assert error.status_code == 412
    assert client.get_task("job", "t").state == "completed"
