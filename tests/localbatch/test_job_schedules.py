"""Job schedules through the azure-batch SDK: the jobs they make and when, their states, their errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from localbatch import LocalBatch, _scheduler, _schedules, _timeutil, new_key
from tests.support.batch import make_job, make_pool, wait_for, wait_task_done

FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def spec(pool_id: str = "pool", **extra) -> batch_models.BatchJobSpecification:
    return batch_models.BatchJobSpecification(pool_info=batch_models.BatchPoolInfo(pool_id=pool_id), **extra)


def make_schedule(client: BatchClient, schedule_id: str = "sched", job_spec=None, **schedule) -> None:
    client.create_job_schedule(
        batch_models.BatchJobScheduleCreateOptions(
            id=schedule_id,
            schedule=batch_models.BatchJobScheduleConfiguration(**schedule),
            job_specification=job_spec or spec(),
        )
    )


def recent_job(client: BatchClient, schedule_id: str = "sched") -> str:
    """The id of the schedule's most recent job, once it made one."""

    def made() -> str | None:
        recent = client.get_job_schedule(schedule_id).execution_info.recent_job
        return recent.id if recent else None

    return str(wait_for(made))


def terminate_job(client: BatchClient, job_id: str) -> None:
    client.begin_terminate_job(
        job_id, BatchJobTerminateOptions(termination_reason="done"), polling_interval=0
    ).result()


def details(error: pytest.ExceptionInfo[HttpResponseError]) -> dict[str, str]:
    return {str(detail.code): str(detail.message) for detail in error.value.error.details or []}


def test_a_schedule_without_recurrence_makes_one_job_and_completes_with_it(client):
    make_pool(client)
    make_schedule(client, job_spec=spec(all_tasks_complete_mode="terminatejob"))
    assert recent_job(client) == "sched:job-1"
    job = client.get_job("sched:job-1")
    assert job.pool_info.pool_id == "pool"
    assert job.all_tasks_complete_mode == "terminatejob"
    client.create_task("sched:job-1", batch_models.BatchTaskCreateOptions(id="t", command_line="true"))
    assert wait_task_done(client, "sched:job-1", "t").execution_info.result == "success"

    done = wait_for(lambda: (s := client.get_job_schedule("sched")).state == "completed" and s)
    assert done.previous_state == "active"
    assert done.execution_info.end_time is not None
    assert done.execution_info.next_run_time is None
    assert [job.id for job in client.list_jobs_from_schedule("sched")] == ["sched:job-1"]


class Clock:
    """localbatch's clock, ``offset`` ahead of the real one."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The service's time (the schedules' runs, the documents' stamps), for tests to move on."""
    clock = Clock()
    for module in (_timeutil, _schedules, _scheduler):
        monkeypatch.setattr(module, "now", clock.now)
    return clock


def test_a_recurring_schedule_runs_again_at_its_next_run_time_one_job_at_a_time(client, clock):
    """The service's shortest recurrenceInterval is PT1M: its clock jumps the minute."""
    make_pool(client)
    start = clock.now().replace(microsecond=0) + timedelta(seconds=1)
    make_schedule(client, do_not_run_until=start, recurrence_interval=timedelta(minutes=1))
    assert recent_job(client) == "sched:job-1"
    assert client.get_job_schedule("sched").execution_info.next_run_time == start + timedelta(minutes=1)

    # Its next run falls due while job-1 is still active: no second job meanwhile.
    clock.offset += timedelta(minutes=1, seconds=1)
    time.sleep(1)  # twenty turns of the schedules' thread, with the next run due
    assert clock.now() > start + timedelta(minutes=1, seconds=1)
    assert [job.id for job in client.list_jobs_from_schedule("sched")] == ["sched:job-1"]
    assert client.get_job_schedule("sched").execution_info.next_run_time == start + timedelta(minutes=1)

    terminate_job(client, "sched:job-1")
    wait_for(lambda: client.get_job_schedule("sched").execution_info.recent_job.id == "sched:job-2")
    second = client.get_job("sched:job-2")
    assert second.creation_time >= start + timedelta(minutes=1)
    assert client.get_job_schedule("sched").execution_info.next_run_time == start + timedelta(minutes=2)
    assert client.get_job("sched:job-1").state == "completed"
    assert second.state == "active"


def test_a_disabled_schedule_makes_no_job_until_enabled(client):
    make_pool(client)
    make_schedule(client, do_not_run_until=FAR_FUTURE)
    client.disable_job_schedule("sched")
    disabled = client.get_job_schedule("sched")
    assert (disabled.state, disabled.previous_state) == ("disabled", "active")
    due = batch_models.BatchJobScheduleConfiguration(do_not_run_until=datetime.now(UTC))
    client.update_job_schedule("sched", batch_models.BatchJobScheduleUpdateOptions(schedule=due))
    time.sleep(1)  # twenty turns of the schedules' thread, with the run due
    assert list(client.list_jobs_from_schedule("sched")) == []
    assert client.get_job_schedule("sched").state == "disabled"

    client.enable_job_schedule("sched")
    assert client.get_job_schedule("sched").state == "active"
    assert recent_job(client) == "sched:job-1"


def test_a_schedule_past_do_not_run_after_completes_without_a_job(client):
    make_pool(client)
    after = datetime.now(UTC) + timedelta(seconds=1)
    make_schedule(
        client, do_not_run_until=FAR_FUTURE, recurrence_interval=timedelta(hours=1), do_not_run_after=after
    )
    done = wait_for(lambda: (s := client.get_job_schedule("sched")).state == "completed" and s)
    assert done.state_transition_time > after
    assert done.execution_info.next_run_time is None
    assert done.execution_info.recent_job is None
    assert list(client.list_jobs(filter="startswith(id, 'sched:')")) == []


def test_terminating_a_schedule_terminates_its_active_job(client):
    make_pool(client, nodes=0)
    make_schedule(client, recurrence_interval=timedelta(hours=1))
    job_id = recent_job(client)
    client.begin_terminate_job_schedule("sched", polling_interval=0).result()

    schedule = client.get_job_schedule("sched")
    assert (schedule.state, schedule.previous_state) == ("completed", "active")
    assert schedule.execution_info.next_run_time is None
    job = client.get_job(job_id)
    assert (job.state, job.execution_info.termination_reason) == ("completed", "TerminateJobSchedule")
    with pytest.raises(ResourceExistsError) as again:
        client.begin_terminate_job_schedule("sched", polling_interval=0).result()
    assert again.value.error.code == "JobScheduleCompleted"
    with pytest.raises(ResourceExistsError) as disable:
        client.disable_job_schedule("sched")
    assert disable.value.error.code == "JobScheduleCompleted"


def test_deleting_a_schedule_deletes_its_jobs(client):
    make_pool(client, nodes=0)
    make_schedule(client)
    job_id = recent_job(client)
    client.begin_delete_job_schedule("sched", polling_interval=0)
    assert client.get_job_schedule("sched").state == "deleting"
    assert client.get_job(job_id).state == "deleting"
    with pytest.raises(ResourceExistsError) as again:
        make_schedule(client)
    assert again.value.error.code == "JobScheduleBeingDeleted"

    wait_for(lambda: not list(client.list_job_schedules()))
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_job_schedule("sched")
    assert gone.value.error.code == "JobScheduleNotFound"
    wait_for(lambda: not list(client.list_jobs()))


def test_patch_changes_what_it_names_and_put_replaces_the_rest(client):
    make_pool(client, nodes=0)
    metadata = [batch_models.BatchMetadataItem(name="owner", value="tests")]
    client.create_job_schedule(
        batch_models.BatchJobScheduleCreateOptions(
            id="sched",
            schedule=batch_models.BatchJobScheduleConfiguration(do_not_run_until=FAR_FUTURE),
            job_specification=spec(),
            metadata=metadata,
        )
    )
    before = client.get_job_schedule("sched")
    assert before.execution_info.next_run_time == FAR_FUTURE
    assert before.job_specification.priority == 0

    # PATCH: the new schedule brings the first run forward; later jobs take the new specification.
    client.update_job_schedule(
        "sched",
        batch_models.BatchJobScheduleUpdateOptions(
            schedule=batch_models.BatchJobScheduleConfiguration(do_not_run_until=datetime.now(UTC)),
            job_specification=spec(priority=7),
        ),
    )
    patched = client.get_job_schedule("sched")
    assert patched.etag != before.etag
    assert patched.metadata == metadata
    assert client.get_job(recent_job(client)).priority == 7

    # PUT: what the body leaves out goes (no schedule, no metadata).
    client.replace_job_schedule("sched", batch_models.BatchJobSchedule(job_specification=spec(priority=3)))
    replaced = client.get_job_schedule("sched")
    assert replaced.metadata == []
    assert not replaced.schedule
    assert replaced.job_specification.priority == 3
    assert client.get_job("sched:job-1").priority == 7  # jobs made before keep theirs


def test_list_filters_schedules_and_exists_answers(client):
    make_pool(client, nodes=0)
    make_schedule(client, "early", do_not_run_until=FAR_FUTURE)
    make_schedule(client, "late", do_not_run_until=FAR_FUTURE)
    client.disable_job_schedule("late")
    assert [s.id for s in client.list_job_schedules(filter="state eq 'disabled'")] == ["late"]
    assert sorted(s.id for s in client.list_job_schedules()) == ["early", "late"]
    assert client.job_schedule_exists("early") is True


def test_schedule_errors(client):
    make_pool(client, nodes=0)
    with pytest.raises(HttpResponseError) as short:
        make_schedule(client, recurrence_interval=timedelta(seconds=30))
    assert short.value.error.code == "InvalidPropertyValue"
    assert details(short)["PropertyName"] == "schedule.recurrenceInterval"
    with pytest.raises(HttpResponseError) as window:
        make_schedule(client, start_window=timedelta(seconds=59))
    assert details(window)["PropertyName"] == "schedule.startWindow"
    manager = batch_models.BatchJobManagerTask(id="jm", command_line="true")
    with pytest.raises(HttpResponseError) as unsupported:
        make_schedule(client, job_spec=spec(job_manager_task=manager))
    assert details(unsupported)["PropertyName"] == "jobSpecification.jobManagerTask"
    with pytest.raises(HttpResponseError) as managed:
        make_job(client, "managed", job_manager_task=manager)
    assert details(managed)["PropertyName"] == "jobManagerTask"
    with pytest.raises(HttpResponseError) as nameless:
        make_schedule(
            client, job_spec=batch_models.BatchJobSpecification(pool_info=batch_models.BatchPoolInfo())
        )
    assert nameless.value.error.code == "MissingRequiredProperty"
    assert details(nameless)["PropertyName"] == "jobSpecification.poolInfo.poolId"

    make_schedule(client, do_not_run_until=FAR_FUTURE)
    with pytest.raises(ResourceExistsError) as duplicate:
        make_schedule(client)
    assert duplicate.value.error.code == "JobScheduleExists"
    with pytest.raises(ResourceExistsError) as as_job:
        make_job(client, "sched")
    assert as_job.value.error.code == "JobScheduleWithSameIdExists"
    make_job(client, "job")
    with pytest.raises(ResourceExistsError) as as_schedule:
        make_schedule(client, "job")
    assert as_schedule.value.error.code == "JobWithSameIdExists"
    with pytest.raises(ResourceNotFoundError) as missing:
        client.enable_job_schedule("nope")
    assert missing.value.error.code == "JobScheduleNotFound"
    # Only a schedule's jobs have a ':' in their ids.
    with pytest.raises(HttpResponseError) as colon:
        make_job(client, "sched:job-9")
    assert details(colon)["PropertyName"] == "id"


def test_schedules_survive_a_restart(tmp_path):
    data, key = tmp_path / "state", new_key()
    with LocalBatch(data, key=key, scheduler_interval=0.05) as first:
        client = BatchClient(first.endpoint, first.credential)
        make_pool(client, nodes=0)
        make_schedule(client, do_not_run_until=FAR_FUTURE)
        client.disable_job_schedule("sched")
    with LocalBatch(data, key=key, scheduler_interval=0.05) as second:
        client = BatchClient(second.endpoint, AzureNamedKeyCredential(second.account, key))
        schedule = client.get_job_schedule("sched")
        assert (schedule.state, schedule.execution_info.next_run_time) == ("disabled", FAR_FUTURE)
        assert schedule.url == f"{second.endpoint}/jobschedules/sched"
        client.enable_job_schedule("sched")
        now = batch_models.BatchJobScheduleConfiguration(do_not_run_until=datetime.now(UTC))
        client.update_job_schedule("sched", batch_models.BatchJobScheduleUpdateOptions(schedule=now))
        assert recent_job(client) == "sched:job-1"
        assert client.get_job_schedule("sched").execution_info.recent_job.url == (
            f"{second.endpoint}/jobs/sched:job-1"
        )
