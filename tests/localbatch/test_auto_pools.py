"""Auto pools through the azure-batch SDK: made for a job or a schedule, and gone when their owner is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

from batchwords._pool import pool_options
from localbatch import LocalBatch, new_key
from tests.support.batch import wait_for, wait_task_done


def auto_pool(lifetime: str = "job", nodes: int = 1, **extra) -> batch_models.BatchPoolInfo:
    """A poolInfo asking for an auto pool of ``nodes`` Ubuntu nodes."""
    pool = {key: value for key, value in pool_options("unused", nodes=nodes, slots=1).items() if key != "id"}
    return batch_models.BatchPoolInfo(
        auto_pool_specification=batch_models.BatchAutoPoolSpecification(
            pool_lifetime_option=lifetime, pool=batch_models.BatchPoolSpecification(pool), **extra
        )
    )


def make_auto_job(client: BatchClient, job_id: str = "job", **extra) -> str:
    """Create a job with an auto pool; the pool's id."""
    client.create_job(batch_models.BatchJobCreateOptions(id=job_id, pool_info=auto_pool(**extra)))
    return str(client.get_job(job_id).execution_info.pool_id)


def recent_job(client: BatchClient, schedule_id: str = "sched") -> str:
    def made() -> str | None:
        recent = client.get_job_schedule(schedule_id).execution_info.recent_job
        return recent.id if recent else None

    return str(wait_for(made))


def pool_ids(client: BatchClient) -> set[str]:
    return {pool.id for pool in client.list_pools()}


def terminate(client: BatchClient, job_id: str) -> None:
    client.begin_terminate_job(
        job_id, BatchJobTerminateOptions(termination_reason="done"), polling_interval=0
    ).result()


def details(error: pytest.ExceptionInfo[HttpResponseError]) -> dict[str, str]:
    return {str(detail.code): str(detail.message) for detail in error.value.error.details or []}


def test_a_jobs_auto_pool_runs_its_tasks_and_goes_when_the_job_completes(client):
    pool_id = make_auto_job(client, auto_pool_id_prefix="words")
    job = client.get_job("job")
    # Only executionInfo names the auto pool; poolInfo keeps the specification.
    assert job.pool_info.pool_id is None
    assert job.pool_info.auto_pool_specification.pool_lifetime_option == "job"
    assert pool_id.startswith("words_")
    assert len(pool_id) == len("words_") + 36
    pool = client.get_pool(pool_id)
    assert (pool.vm_size, pool.target_dedicated_nodes) == ("standard_d2s_v3", 1)

    client.create_task("job", batch_models.BatchTaskCreateOptions(id="t", command_line="true"))
    task = wait_task_done(client, "job", "t")
    assert (task.execution_info.result, task.node_info.pool_id) == ("success", pool_id)

    terminate(client, "job")
    wait_for(lambda: pool_id not in pool_ids(client))


def test_a_kept_alive_auto_pool_stays_after_its_job(client):
    kept = make_auto_job(client, "kept", keep_alive=True, nodes=0)
    other = make_auto_job(client, "other", nodes=0)
    terminate(client, "kept")
    terminate(client, "other")
    # Both lifetimes ended; once the one pool goes, the other was passed over.
    wait_for(lambda: other not in pool_ids(client))
    assert client.get_pool(kept).state == "active"


def test_deleting_the_job_deletes_its_auto_pool(client):
    pool_id = make_auto_job(client, nodes=0)
    client.begin_delete_job("job", polling_interval=0).result()
    wait_for(lambda: pool_id not in pool_ids(client))


def test_a_schedules_jobs_share_its_auto_pool_until_the_schedule_completes(client):
    client.create_job_schedule(
        batch_models.BatchJobScheduleCreateOptions(
            id="sched",
            schedule=batch_models.BatchJobScheduleConfiguration(recurrence_interval=timedelta(hours=1)),
            job_specification=batch_models.BatchJobSpecification(
                pool_info=auto_pool("jobschedule", nodes=0, auto_pool_id_prefix="nightly")
            ),
        )
    )
    job_id = recent_job(client)
    pool_id = client.get_job(job_id).execution_info.pool_id
    assert pool_id.startswith("nightly_")
    # The job's end is not the pool's: the schedule's is. (Once another job's pool went, the
    # schedule's job's end was passed over.)
    other = make_auto_job(client, "other", nodes=0)
    terminate(client, job_id)
    terminate(client, "other")
    wait_for(lambda: other not in pool_ids(client))
    assert client.get_pool(pool_id).state == "active"
    assert client.get_job_schedule("sched").state == "active"
    client.begin_terminate_job_schedule("sched", polling_interval=0).result()
    wait_for(lambda: pool_id not in pool_ids(client))


def test_an_auto_pool_outlives_a_restart_and_still_goes_with_its_job(tmp_path):
    data, key = tmp_path / "state", new_key()
    with LocalBatch(data, key=key, scheduler_interval=0.05) as first:
        pool_id = make_auto_job(BatchClient(first.endpoint, first.credential), nodes=0)
    with LocalBatch(data, key=key, scheduler_interval=0.05) as second:
        client = BatchClient(second.endpoint, AzureNamedKeyCredential(second.account, key))
        assert client.get_job("job").execution_info.pool_id == pool_id
        terminate(client, "job")
        wait_for(lambda: pool_id not in pool_ids(client))


@pytest.mark.parametrize(
    ("pool_info", "code", "name"),
    [
        (
            auto_pool("jobschedule"),
            "InvalidPropertyValue",
            "poolInfo.autoPoolSpecification.poolLifetimeOption",
        ),
        (
            auto_pool(auto_pool_id_prefix="x" * 21),
            "InvalidPropertyValue",
            "poolInfo.autoPoolSpecification.autoPoolIdPrefix",
        ),
        (
            batch_models.BatchPoolInfo(
                auto_pool_specification=batch_models.BatchAutoPoolSpecification(pool_lifetime_option="job")
            ),
            "MissingRequiredProperty",
            "poolInfo.autoPoolSpecification.pool",
        ),
        (
            batch_models.BatchPoolInfo(
                auto_pool_specification=batch_models.BatchAutoPoolSpecification(
                    pool_lifetime_option="job",
                    pool=batch_models.BatchPoolSpecification(vm_size="standard_d2s_v3"),
                )
            ),
            "MissingRequiredProperty",
            "poolInfo.autoPoolSpecification.pool.virtualMachineConfiguration",
        ),
        (
            batch_models.BatchPoolInfo(
                pool_id="pool", auto_pool_specification=auto_pool().auto_pool_specification
            ),
            "InvalidPropertyValue",
            "poolInfo",
        ),
    ],
)
def test_auto_pool_errors(client, pool_info, code, name):
    with pytest.raises(HttpResponseError) as refused:
        client.create_job(batch_models.BatchJobCreateOptions(id="job", pool_info=pool_info))
    assert refused.value.status_code == 400
    assert (refused.value.error.code, details(refused)["PropertyName"]) == (code, name)
    assert list(client.list_pools()) == []
    assert list(client.list_jobs()) == []


def test_a_schedule_past_its_start_makes_the_job_and_its_pool_at_once(client):
    """A one-off schedule due now: its job gets an auto pool of its own (lifetime job)."""
    client.create_job_schedule(
        batch_models.BatchJobScheduleCreateOptions(
            id="once",
            schedule=batch_models.BatchJobScheduleConfiguration(do_not_run_until=datetime.now(UTC)),
            job_specification=batch_models.BatchJobSpecification(pool_info=auto_pool(nodes=0)),
        )
    )
    job_id = recent_job(client, "once")
    pool_id = client.get_job(job_id).execution_info.pool_id
    assert pool_id in pool_ids(client)
    terminate(client, job_id)
    wait_for(lambda: client.get_job_schedule("once").state == "completed")
    wait_for(lambda: pool_id not in pool_ids(client))
