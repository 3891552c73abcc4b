"""Job release tasks, as the service runs them: when the job ends, on each node that prepared it,
and the job completes only once they all ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

from localbatch import LocalBatch, Realism, new_key
from tests.support.batch import make_job, make_pool, py, wait_for, wait_idle, wait_task_done

#: Writes where it ran and what it saw into the node's shared folder.
RECORD = (
    "import os\n"
    "shared = os.environ['AZ_BATCH_NODE_SHARED_DIR']\n"
    "open(os.path.join(shared, 'released'), 'w').write(os.environ['AZ_BATCH_JOB_PREP_WORKING_DIR'] + ' ' + "
    "os.environ['AZ_BATCH_TASK_ID'] + ' ' + os.getcwd())\n"
)


def gated(gate: Path) -> str:
    """Records, then runs until ``gate`` exists."""
    return py(f"{RECORD}import time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.02)")


def job_with_release(client, release: str, job_id: str = "job", **extra) -> None:
    make_job(
        client,
        job_id,
        job_preparation_task=batch_models.BatchJobPreparationTask(command_line="true"),
        job_release_task=batch_models.BatchJobReleaseTask(command_line=release),
        **extra,
    )


def add(client, task_id: str, command_line: str = "true", job_id: str = "job") -> None:
    client.create_task(job_id, batch_models.BatchTaskCreateOptions(id=task_id, command_line=command_line))


def statuses(client, job_id: str = "job") -> dict[str, batch_models.BatchJobPreparationAndReleaseTaskStatus]:
    return {status.node_id: status for status in client.list_job_preparation_and_release_task_status(job_id)}


def released(localbatch, node_id: str) -> Path:
    return Path(localbatch.service.node_dir("pool", node_id)) / "shared" / "released"


def terminate(client, job_id: str = "job", polling_interval: int = 1):
    """Terminate (the SDK's poller waits for ``completed``, polling each ``polling_interval`` s)."""
    options = BatchJobTerminateOptions(termination_reason="UserTerminate")
    return client.begin_terminate_job(job_id, options, polling_interval=polling_interval)


def completed(client, job_id: str = "job") -> batch_models.BatchJob:
    return cast(
        batch_models.BatchJob, wait_for(lambda: (job := client.get_job(job_id)).state == "completed" and job)
    )


def test_release_runs_after_terminate_on_each_node_that_prepared_the_job(localbatch, client, tmp_path):
    make_pool(client, nodes=3)
    wait_idle(client)
    task_gate, release_gate = tmp_path / "tasks-go", tmp_path / "release-go"
    job_with_release(client, gated(release_gate))
    waiting = py(f"import os, time\nwhile not os.path.exists({str(task_gate)!r}):\n    time.sleep(0.02)")
    add(client, "a", waiting)
    add(client, "b", waiting)  # one slot per node: a and b run on two nodes
    wait_for(lambda: {client.get_task("job", t).state for t in "ab"} == {"running"})
    task_gate.write_text("")
    prepared = {wait_task_done(client, "job", t).node_info.node_id for t in "ab"}
    assert len(prepared) == 2
    assert set(statuses(client)) == prepared
    assert all(status.job_release_task_execution_info is None for status in statuses(client).values())

    poller = terminate(client)
    wait_for(lambda: all(released(localbatch, node).exists() for node in prepared))
    # The release tasks run: the job is terminating until they end.
    assert client.get_job("job").state == "terminating"
    running = statuses(client)
    assert {status.job_release_task_execution_info.state for status in running.values()} == {"running"}
    release_gate.write_text("")
    job = completed(client)
    poller.result(timeout=30)

    for node_id, status in statuses(client).items():
        info = status.job_release_task_execution_info
        assert (info.state, info.result, info.exit_code, info.failure_info) == (
            "completed",
            "success",
            0,
            None,
        )
        assert info.task_root_directory == "workitems/job/job-1/jobrelease"
        assert info.task_root_directory_url.endswith(f"/nodes/{node_id}/files/workitems/job/job-1/jobrelease")
        assert info.start_time <= info.end_time <= job.execution_info.end_time
        prep_wd, task_id, cwd = released(localbatch, node_id).read_text().split(" ")
        assert prep_wd.endswith("workitems/job/job-1/jobpreparation/wd")
        assert (task_id, Path(cwd).parent.name) == ("jobrelease", "jobrelease")
    (unprepared,) = {node.id for node in client.list_nodes("pool")} - prepared
    assert not released(localbatch, unprepared).exists()


def test_release_runs_when_all_tasks_complete_ends_the_job(localbatch, client):
    make_pool(client)
    (node,) = wait_idle(client)
    job_with_release(client, py(RECORD), all_tasks_complete_mode="terminatejob")
    add(client, "t")
    job = wait_for(lambda: (j := client.get_job("job")).state == "completed" and j)
    assert job.execution_info.termination_reason == "AllTasksComplete"
    info = statuses(client)[node.id].job_release_task_execution_info
    assert (info.state, info.result) == ("completed", "success")
    assert released(localbatch, node.id).exists()


def test_a_failed_release_is_recorded_and_the_job_still_completes(client):
    make_pool(client)
    (node,) = wait_idle(client)
    job_with_release(client, py("import sys; print('cannot release', file=sys.stderr); raise SystemExit(4)"))
    add(client, "t")
    wait_task_done(client, "job", "t")
    terminate(client, polling_interval=0).result(timeout=30)
    assert client.get_job("job").state == "completed"
    info = statuses(client)[node.id].job_release_task_execution_info
    assert (info.state, info.result, info.exit_code) == ("completed", "failure", 4)
    assert info.failure_info.code == "FailureExitCode"
    stderr = b"".join(client.download_node_file("pool", node.id, f"{info.task_root_directory}/stderr.txt"))
    assert b"cannot release" in stderr


def test_a_job_whose_preparation_never_ran_completes_at_once(client):
    make_pool(client, nodes=0)
    job_with_release(client, "true")
    add(client, "t")
    terminate(client, polling_interval=0).result(timeout=30)
    assert client.get_job("job").state == "completed"
    assert statuses(client) == {}


def test_a_deleted_job_runs_its_release_tasks_before_it_goes(tmp_path):
    # No delay of its own: the job stays deleting only while its release task runs.
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(delete_delay=0)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client)
        (node,) = wait_idle(client)
        gate = tmp_path / "release-go"
        job_with_release(client, gated(gate))
        add(client, "t")
        wait_task_done(client, "job", "t")
        poller = client.begin_delete_job("job", polling_interval=1)
        wait_for(released(batch, node.id).exists)
        assert client.get_job("job").state == "deleting"
        gate.write_text("")
        wait_for(lambda: not [job for job in client.list_jobs() if job.id == "job"])
        poller.result(timeout=30)


def test_a_terminating_job_refuses_what_only_a_live_job_takes(localbatch, client, tmp_path):
    make_pool(client)
    (node,) = wait_idle(client)
    gate = tmp_path / "release-go"
    job_with_release(client, gated(gate))
    add(client, "t")
    wait_task_done(client, "job", "t")
    poller = terminate(client)
    wait_for(released(localbatch, node.id).exists)
    calls: list[Callable[[], object]] = [
        lambda: terminate(client),
        lambda: client.begin_disable_job(
            "job", batch_models.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0
        ),
        lambda: client.reactivate_task("job", "t"),
    ]
    for call in calls:
        with pytest.raises(HttpResponseError) as caught:
            call()
        assert (caught.value.status_code, caught.value.error.code) == (409, "JobBeingTerminated")
    gate.write_text("")
    completed(client)
    poller.result(timeout=30)


@pytest.mark.parametrize(
    ("extra", "release"),
    [
        ({}, batch_models.BatchJobReleaseTask(command_line="true")),  # no preparation task
        (
            {"job_preparation_task": batch_models.BatchJobPreparationTask(command_line="true")},
            batch_models.BatchJobReleaseTask(command_line="true", max_wall_clock_time=timedelta(minutes=16)),
        ),
    ],
)
def test_a_release_task_needs_a_preparation_task_and_at_most_15_minutes(client, extra, release):
    make_pool(client, nodes=0)
    with pytest.raises(HttpResponseError) as caught:
        make_job(client, job_release_task=release, **extra)
    assert (caught.value.status_code, caught.value.error.code) == (400, "InvalidPropertyValue")


def test_the_release_task_gets_the_services_defaults(client):
    make_pool(client, nodes=0)
    job_with_release(client, "true")
    release = client.get_job("job").job_release_task
    assert (release.id, release.max_wall_clock_time) == ("jobrelease", timedelta(minutes=15))
    assert release.retention_time == timedelta(days=7)


def test_a_release_task_cut_short_by_a_restart_runs_again_and_the_job_completes(tmp_path):
    data, key, gate = tmp_path / "state", new_key(), tmp_path / "release-go"
    with LocalBatch(data, key=key, scheduler_interval=0.05) as first:
        client = BatchClient(first.endpoint, first.credential)
        make_pool(client)
        (node,) = wait_idle(client)
        job_with_release(client, gated(gate))
        add(client, "t")
        wait_task_done(client, "job", "t")
        terminate(client)
        wait_for(released(first, node.id).exists)
        released(first, node.id).unlink()
    with LocalBatch(data, key=key, scheduler_interval=0.05) as second:
        client = BatchClient(second.endpoint, AzureNamedKeyCredential(second.account, key))
        assert client.get_job("job").state == "terminating"
        wait_for(released(second, node.id).exists)  # it runs again
        gate.write_text("")
        assert completed(client).execution_info.termination_reason == "UserTerminate"
        info = statuses(client)[node.id].job_release_task_execution_info
        assert (info.state, info.result) == ("completed", "success")
