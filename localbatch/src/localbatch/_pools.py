"""Pool operations: create, resize and delete, on validated bodies; callers hold the lock."""

from __future__ import annotations

import shutil
from typing import Any

from ._documents import find_pool, new_pool, touch, transition
from ._errors import BatchError, exists
from ._node_env import nodes_root
from ._nodes import Nodes
from ._runtime import Runtime
from ._store import Document


class Pools:
    """The account's pools; their nodes belong to ``Nodes``."""

    def __init__(self, runtime: Runtime, nodes: Nodes) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._nodes = nodes

    def create(self, pool_id: str, body: dict[str, Any]) -> Document:
        if pool_id in self._store.pools:
            self._live(pool_id)  # PoolBeingDeleted while a deletion runs
            raise exists("pool", "PoolExists")
        pool = new_pool(self._runtime.base_url, body)
        self._store.put("pool", pool_id, pool)
        self._nodes.resize(pool_id)
        return pool

    def resize(self, pool_id: str, body: dict[str, Any]) -> None:
        pool = self._live(pool_id)
        for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(name) is not None:
                pool[name] = body[name]
        touch(pool)
        self._nodes.resize(pool_id)
        self._store.put("pool", pool_id, pool)

    def delete(self, pool_id: str) -> None:
        """Mark the pool ``deleting`` and remove its nodes; ``remove`` takes it away later."""
        pool = self._live(pool_id)
        for node_id in list(self._store.nodes.get(pool_id, {})):
            self._nodes.remove(pool_id, node_id)
        pool["currentDedicatedNodes"] = pool["currentLowPriorityNodes"] = 0
        transition(pool, "deleting")
        self._store.put("pool", pool_id, pool)

    def remove(self, pool_id: str) -> bool:
        """The end of a deletion: the pool leaves the store; ``delete_files`` follows."""
        pool = self._store.pools.get(pool_id)
        if pool is None or pool["state"] != "deleting":
            return False
        self._store.delete("pool", pool_id)
        return True

    def delete_files(self, pool_id: str) -> None:
        shutil.rmtree(nodes_root(self._runtime.data_dir) / pool_id, ignore_errors=True)

    def _live(self, pool_id: str) -> Document:
        pool = find_pool(self._store, pool_id)
        if pool["state"] == "deleting":
            raise BatchError(409, "PoolBeingDeleted", "The specified pool has been marked for deletion.")
        return pool
