"""Retried changes converge, as they must when the service's first answer was lost (the
realism profile makes that happen at random; here it is made to happen on purpose)."""

from __future__ import annotations

import pytest
from azure.batch import BatchClient

from batchwords import Batch
from batchwords._exceptions import BatchServiceError
from batchwords._pool import pool_options
from localbatch import LocalBatch, Realism
from tests.support.batch import make_job


@pytest.fixture
def slow_deletes(tmp_path):
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(delete_delay=2)) as batch:
        yield batch


def test_a_delete_already_under_way_is_waited_for(slow_deletes):
    client = BatchClient(slow_deletes.endpoint, slow_deletes.credential)
    batch = Batch(slow_deletes.endpoint, slow_deletes.credential, retry_backoff=0.01)
    client.create_pool(pool_options("pool", nodes=0, slots=1))
    make_job(client)
    # Someone else's delete (or our own, whose answer was lost) is under way: 409 ...BeingDeleted.
    slow_deletes.service.delete_job("job")
    assert batch.delete("job") is True
    assert slow_deletes.service.list_jobs(len) == 0
    slow_deletes.service.delete_pool("pool")
    assert batch.delete_pool("pool") is True
    assert slow_deletes.service.list_pools(len) == 0


def test_a_retried_pool_create_that_finds_the_same_pool_converges(slow_deletes):
    batch = Batch(slow_deletes.endpoint, slow_deletes.credential, retry_backoff=0.01)
    batch.create_pool(pool_options("pool", nodes=0, slots=1))
    batch.create_pool(pool_options("pool", nodes=0, slots=1))
    with pytest.raises(BatchServiceError, match="PoolExists"):
        batch.create_pool(pool_options("pool", nodes=0, slots=1, vm_size="standard_e2s_v3"))
