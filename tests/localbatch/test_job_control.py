"""Disabling and enabling jobs, as the service does: what becomes of running tasks, and the 409s."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError

from tests.support.batch import make_job, make_pool, py, signed_headers, wait_for, wait_idle, wait_task_done


def blocking(gate: Path, marker: Path | None = None) -> str:
    """A command line that (notes each run's process id in ``marker`` and) runs until ``gate`` exists."""
    note = f"open({str(marker)!r}, 'a').write(f'{{os.getpid()}}\\n')\n" if marker else ""
    return py(f"import os, time\n{note}while not os.path.exists({str(gate)!r}):\n    time.sleep(0.02)")


def add(client, job_id: str, task_id: str, command_line: str = "true") -> None:
    client.create_task(job_id, batch_models.BatchTaskCreateOptions(id=task_id, command_line=command_line))


def runs(tmp_path: Path) -> list[int]:
    """The process ids of the runs of the ``busy`` task so far."""
    return [int(line) for line in (tmp_path / "runs").read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def disable(client, job_id: str, option: str, polling_interval: int = 0) -> None:
    options = batch_models.BatchJobDisableOptions(disable_tasks=option)
    client.begin_disable_job(job_id, options, polling_interval=polling_interval).result(timeout=30)


@pytest.fixture
def busy(client, tmp_path):
    """A one-node pool running task "t" of job "job", which runs until its gate opens."""
    make_pool(client)
    wait_idle(client)
    make_job(client)
    gate, runs = tmp_path / "gate", tmp_path / "runs"
    add(client, "job", "t", blocking(gate, runs))
    wait_for(runs.exists)  # its process runs
    return gate


def test_requeue_puts_running_tasks_back_and_nothing_starts_until_enabled(client, tmp_path, busy):
    disable(client, "job", "requeue")
    job = client.get_job("job")
    assert job.state == "disabled"
    (first,) = runs(tmp_path)
    wait_for(lambda: not alive(first))  # its process was ended
    task = client.get_task("job", "t")
    assert task.state == "active"
    assert task.execution_info.requeue_count == 1
    # The node is free: another job's task runs on it, while the disabled job's task waits.
    add(client, "job", "later")
    make_job(client, "other")
    add(client, "other", "fine")
    assert wait_task_done(client, "other", "fine").execution_info.result == "success"
    assert {client.get_task("job", t).state for t in ("t", "later")} == {"active"}

    client.begin_enable_job("job", polling_interval=0).result(timeout=30)
    job = client.get_job("job")
    assert (job.state, job.previous_state) == ("active", "disabled")  # as JobList.json shows it
    busy.write_text("")
    assert wait_task_done(client, "job", "t").execution_info.result == "success"
    assert wait_task_done(client, "job", "later").execution_info.result == "success"
    assert len(runs(tmp_path)) == 2  # killed once, then run again


def test_terminate_ends_running_tasks_as_failed_for_good(client, tmp_path, busy):
    disable(client, "job", "terminate")
    assert client.get_job("job").state == "disabled"
    (first,) = runs(tmp_path)
    wait_for(lambda: not alive(first))
    task = client.get_task("job", "t")
    assert (task.state, task.execution_info.result) == ("completed", "failure")
    assert task.execution_info.failure_info.code == "TaskEnded"
    client.begin_enable_job("job", polling_interval=0).result(timeout=30)
    assert client.get_task("job", "t").state == "completed"
    assert len(runs(tmp_path)) == 1


def test_wait_lets_running_tasks_finish_and_stays_disabling_until_they_do(client, busy):
    options = batch_models.BatchJobDisableOptions(disable_tasks="wait")
    poller = client.begin_disable_job("job", options, polling_interval=1)
    assert client.get_job("job").state == "disabling"
    assert client.get_task("job", "t").state == "running"
    busy.write_text("")
    assert wait_task_done(client, "job", "t").execution_info.result == "success"
    wait_for(lambda: client.get_job("job").state == "disabled")
    poller.result(timeout=30)


def test_terminate_job_on_all_tasks_complete_waits_for_enable(client, busy):
    client.update_job("job", batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    disable(client, "job", "terminate")
    assert client.get_job("job").state == "disabled"  # every task completed, but it is disabled
    client.begin_enable_job("job", polling_interval=0).result(timeout=30)
    job = wait_for(lambda: (j := client.get_job("job")).state == "completed" and j)
    assert job.execution_info.termination_reason == "AllTasksComplete"


def test_disabling_again_is_accepted_and_keeps_it_disabled(client):
    make_pool(client, nodes=0)
    make_job(client)
    disable(client, "job", "wait")
    etag = client.get_job("job").etag
    disable(client, "job", "requeue")
    job = client.get_job("job")
    assert (job.state, job.etag) == ("disabled", etag)


def conflict(call) -> str:
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == 409
    return str(caught.value.error.code)


def test_the_wrong_state_is_a_conflict(client):
    make_pool(client, nodes=0)
    make_job(client)
    assert conflict(lambda: client.begin_enable_job("job", polling_interval=0)) == (
        "OperationInvalidForCurrentState"
    )
    client.begin_terminate_job(
        "job", BatchJobTerminateOptions(termination_reason="UserTerminate"), polling_interval=0
    ).result(timeout=30)
    assert conflict(lambda: disable(client, "job", "requeue")) == "JobCompleted"
    assert conflict(lambda: client.begin_enable_job("job", polling_interval=0)) == "JobCompleted"


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "MissingRequiredProperty"), ({"disableTasks": "sometimes"}, "InvalidPropertyValue")],
)
def test_disable_needs_a_known_option(localbatch, client, body, code):
    make_pool(client, nodes=0)
    make_job(client)
    query, data = "api-version=2024-07-01.20.0", json.dumps(body).encode()
    content = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    raw = requests.post(
        f"{localbatch.endpoint}/jobs/job/disable?{query}",
        data=data,
        headers=signed_headers(localbatch, "POST", "/jobs/job/disable", query, content),
        timeout=10,
    )
    assert (raw.status_code, raw.json()["code"]) == (400, code)
    assert client.get_job("job").state == "active"


def test_disable_honours_if_match(client):
    make_pool(client, nodes=0)
    make_job(client)
    stale = client.get_job("job").etag
    client.update_job("job", batch_models.BatchJobUpdateOptions(priority=5))
    options = batch_models.BatchJobDisableOptions(disable_tasks="requeue")
    with pytest.raises(HttpResponseError) as caught:
        client.begin_disable_job(
            "job", options, etag=stale, match_condition=MatchConditions.IfNotModified, polling_interval=0
        )
    assert caught.value.status_code == 412
    assert client.get_job("job").state == "active"


def test_a_job_past_its_wall_clock_limit_is_terminated(client):
    make_pool(client)
    wait_idle(client)
    client.create_job(
        batch_models.BatchJobCreateOptions(
            id="job",
            pool_info=batch_models.BatchPoolInfo(pool_id="pool"),
            constraints=batch_models.BatchJobConstraints(max_wall_clock_time=timedelta(seconds=2)),
        )
    )
    client.create_task(
        "job", batch_models.BatchTaskCreateOptions(id="t", command_line=py("import time; time.sleep(60)"))
    )
    job = wait_for(lambda: (j := client.get_job("job")).state == "completed" and j, timeout=30)
    assert job.execution_info is not None
    assert job.execution_info.termination_reason == "MaxWallClockTimeExpiry"
    task = client.get_task("job", "t")
    assert task.state == "completed"
    assert task.execution_info is not None
    assert task.execution_info.result == "failure"


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("multiInstanceSettings", {"numberOfInstances": 2, "coordinationCommandLine": "true"}),
        ("containerSettings", {"imageName": "ubuntu"}),
    ],
)
def test_what_localbatch_does_not_run_is_refused_by_name(localbatch, client, part, value):
    make_pool(client, nodes=0)
    make_job(client)
    data = json.dumps({"id": "t", "commandLine": "true", part: value}).encode()
    query = "api-version=2025-06-01"
    content = {"Content-Type": "application/json; odata=minimalmetadata", "Content-Length": str(len(data))}
    response = requests.post(
        f"{localbatch.endpoint}/jobs/job/tasks?{query}",
        data=data,
        headers=signed_headers(localbatch, "POST", "/jobs/job/tasks", query, content),
        timeout=10,
    )
    assert response.status_code == 400
    assert part in response.json()["values"][0]["value"]
    assert [task.id for task in client.list_tasks("job")] == []
