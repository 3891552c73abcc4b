"""The BatchJob provider on a pool that cannot get nodes (issue 21, point 5): create fails
early with the reason, which the engine shows, instead of waiting out wait_timeout_seconds."""

from __future__ import annotations

import time

import pytest

from batchwords import PoolError
from batchwords._pool import pool_options
from infra.batch_job import _BatchJobProvider
from tests.support.emulators import batch_job_props, upload_samples

pytestmark = pytest.mark.azurite


@pytest.mark.realism(allocation_failure="AccountCoreQuotaReached")
def test_create_on_a_pool_without_core_quota_fails_early_with_the_resize_error(emulators, env):
    emulators.batch.create_pool(pool_options("pool", nodes=1, slots=2))
    upload_samples(emulators, emulators.spec())
    started = time.monotonic()
    with pytest.raises(PoolError, match=r"pool pool has no node: .*AccountCoreQuotaReached"):
        _BatchJobProvider().create(batch_job_props(emulators, wait_timeout_seconds=600))
    assert time.monotonic() - started < 15
