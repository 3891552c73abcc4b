"""Auto pools: the pools the service makes for a job or a job schedule (``poolInfo.autoPoolSpecification``).

As the service does it: the pool is made with the job (lifetime ``job``: one per
job, a schedule's jobs each get their own) or with a schedule's first job
(lifetime ``jobschedule``: that schedule's jobs share it); its id is
``{autoPoolIdPrefix}_{GUID}``; only the job's ``executionInfo.poolId`` names it
(its ``poolInfo`` keeps the specification); every job is created here
(``create_job``). When the owner's lifetime ends (the job or schedule
completes, or is being deleted) the pool is deleted, unless ``keepAlive``.
Who owns which pool is kept in the store (kind ``autopool``), so a restart
keeps it. Callers hold the lock.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from ._errors import BatchError
from ._jobs import Jobs
from ._pools import Pools
from ._runtime import Runtime
from ._schedules import refuse_schedule_id
from ._store import Document
from ._validate import check_pool

#: The states in which an owner's lifetime has ended.
ENDED = ("completed", "deleting")


class AutoPools:
    """The account's auto pools and their owners."""

    def __init__(
        self, runtime: Runtime, pools: Pools, jobs: Jobs, delete_pool: Callable[[str], None]
    ) -> None:
        self._store = runtime.store
        self._pools = pools
        self._jobs = jobs
        #: Deletes a pool as a user's delete does (through ``deleting``).
        self._delete_pool = delete_pool

    def create_job(self, job_id: str, body: dict[str, Any], schedule_id: str | None = None) -> Document:
        """A validated job (a user's, or one schedule ``schedule_id`` makes), with its auto pool if
        it asks for one; neither is made if either cannot be."""
        with self._store.transaction():
            refuse_schedule_id(self._store, job_id)
            job = self._jobs.create(job_id, body)
            try:
                self.attach(job, schedule_id)
            except BatchError:
                self._store.delete("job", job_id)
                raise
            return job

    def attach(self, job: Document, schedule_id: str | None = None) -> None:
        """Give a new job its auto pool, if its poolInfo asks for one (``schedule_id``: the
        schedule that made it)."""
        spec = (job.get("poolInfo") or {}).get("autoPoolSpecification")
        if not spec:
            return
        pool_id = None
        if spec["poolLifetimeOption"] == "jobschedule" and schedule_id is not None:
            pool_id = self._owned("jobschedule", schedule_id)
            if pool_id is None:
                pool_id = self._create(spec, "jobschedule", schedule_id)
        if pool_id is None:
            pool_id = self._create(spec, "job", job["id"])
        job["executionInfo"]["poolId"] = pool_id
        self._store.put("job", job["id"], job)

    def expire(self) -> None:
        """Delete the auto pools whose owners' lifetimes ended (a keepAlive pool stays, the
        user's to delete)."""
        for pool_id, record in list(self._store.autopools.items()):
            owners = self._store.jobs if record["owner"] == "job" else self._store.jobschedules
            owner = owners.get(record["ownerId"])
            if owner is not None and owner["state"] not in ENDED:
                continue
            self._store.delete("autopool", pool_id)
            pool = self._store.pools.get(pool_id)
            if not record["keepAlive"] and pool is not None and pool["state"] != "deleting":
                self._delete_pool(pool_id)

    def _owned(self, owner: str, owner_id: str) -> str | None:
        """The live pool that ``owner`` ``owner_id`` already has, if any."""
        for pool_id, record in self._store.autopools.items():
            pool = self._store.pools.get(pool_id)
            if (
                (record["owner"], record["ownerId"]) == (owner, owner_id)
                and pool
                and pool["state"] == "active"
            ):
                return pool_id
        return None

    def _create(self, spec: Document, owner: str, owner_id: str) -> str:
        prefix = spec.get("autoPoolIdPrefix")
        guid = str(uuid.uuid4()).upper()
        pool_id = f"{prefix}_{guid}" if prefix else guid
        body = {**copy.deepcopy(spec["pool"]), "id": pool_id}
        check_pool(body)
        self._pools.create(pool_id, body)
        record = {"owner": owner, "ownerId": owner_id, "keepAlive": bool(spec.get("keepAlive"))}
        self._store.put("autopool", pool_id, record)
        return pool_id
