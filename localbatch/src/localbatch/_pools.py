"""Pool operations: create, change, resize, scale and delete, on validated bodies; callers hold
the lock."""

from __future__ import annotations

import shutil
from typing import Any

from ._documents import find_pool, new_pool, new_pool_defaults, touch, transition
from ._errors import BatchError, exists
from ._node_env import nodes_root
from ._nodes import Nodes
from ._runtime import Runtime
from ._scaling import Scaling, check_formula, check_interval
from ._store import Document
from ._validate import check_pool_patch

#: What a PATCH may change, and what updateproperties replaces (absent: removed or emptied).
PATCHABLE: tuple[str, ...] = ("startTask", "metadata", "applicationPackageReferences")
PATCHABLE += ("certificateReferences", "targetNodeCommunicationMode")
REPLACED: tuple[str, ...] = ("metadata", "applicationPackageReferences", "certificateReferences")


def _autoscaled() -> BatchError:
    return BatchError(
        409,
        "AutoScalingEnabled",
        "The pool scales automatically; disable autoscale (disableautoscale) before resizing it by hand.",
    )


class Pools:
    """The account's pools; their nodes belong to ``Nodes``."""

    def __init__(self, runtime: Runtime, nodes: Nodes, scaling: Scaling) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._nodes = nodes
        self.scaling = scaling

    def create(self, pool_id: str, body: dict[str, Any]) -> Document:
        if pool_id in self._store.pools:
            self._live(pool_id)  # PoolBeingDeleted while a deletion runs
            raise exists("pool", "PoolExists")
        if body.get("enableAutoScale"):
            check_formula(body.get("autoScaleFormula"))
            if body.get("autoScaleEvaluationInterval") is not None:
                check_interval(body["autoScaleEvaluationInterval"])
        pool = new_pool(self._runtime.base_url, body)
        self._store.put("pool", pool_id, pool)
        if pool["enableAutoScale"]:
            pool["enableAutoScale"] = False  # enable() turns it on and evaluates the formula
            self.scaling.enable(
                pool_id, pool, pool["autoScaleFormula"], pool.get("autoScaleEvaluationInterval")
            )
        else:
            self._nodes.resize(pool_id)
        return pool

    def resize(self, pool_id: str, body: dict[str, Any]) -> None:
        pool = self._live(pool_id)
        if pool.get("enableAutoScale"):
            raise _autoscaled()
        for name in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(name) is not None:
                pool[name] = body[name]
        pool.pop("resizeErrors", None)
        touch(pool)
        self._nodes.resize(pool_id, str(body.get("nodeDeallocationOption") or "requeue").lower())
        self._store.put("pool", pool_id, pool)

    def stop_resize(self, pool_id: str) -> None:
        """Nodes not yet allocated are not: the pool stays at the size it has (``ResizeStopped``)."""
        pool = self._live(pool_id)
        stopped = self._nodes.stop_allocating(pool_id)
        if stopped:
            pool["resizeErrors"] = [
                {
                    "code": "ResizeStopped",
                    "message": "Desired number of nodes could not be allocated due to a stop resize "
                    "operation",
                }
            ]
        self._nodes.count(pool_id)
        touch(pool)
        self._store.put("pool", pool_id, pool)

    def remove_nodes(self, pool_id: str, body: dict[str, Any]) -> None:
        """The listed nodes leave; the targets go down by as many."""
        pool = self._live(pool_id)
        if pool.get("enableAutoScale"):
            raise _autoscaled()
        nodes = [self._nodes.get(pool_id, node_id) for node_id in body["nodeList"]]
        deallocation = str(body.get("nodeDeallocationOption") or "requeue").lower()
        for node in nodes:
            target = "targetDedicatedNodes" if node["isDedicated"] else "targetLowPriorityNodes"
            pool[target] = max(0, pool[target] - 1)
            self._nodes.leave(pool_id, node["id"], deallocation)
        self._nodes.count(pool_id)
        touch(pool)
        self._store.put("pool", pool_id, pool)

    def patch(self, pool_id: str, body: dict[str, Any], replace: bool) -> None:
        """PATCH changes what it names; updateproperties (``replace``) replaces all of it."""
        check_pool_patch(body, PATCHABLE, replace)
        pool = self._live(pool_id)
        for name in PATCHABLE:
            if name in body:
                pool[name] = body[name]
            elif replace:
                if name in REPLACED:
                    pool[name] = []
                else:
                    pool.pop(name, None)
        new_pool_defaults(pool)
        touch(pool)
        self._store.put("pool", pool_id, pool)

    def enable_autoscale(self, pool_id: str, body: dict[str, Any]) -> None:
        pool = self._live(pool_id)
        self.scaling.enable(
            pool_id, pool, body.get("autoScaleFormula"), body.get("autoScaleEvaluationInterval")
        )
        touch(pool)
        self._store.put("pool", pool_id, pool)

    def disable_autoscale(self, pool_id: str) -> None:
        pool = self._live(pool_id)
        self.scaling.disable(pool_id, pool)
        touch(pool)
        self._store.put("pool", pool_id, pool)

    def evaluate_autoscale(self, pool_id: str, formula: object) -> dict[str, Any]:
        """The AutoScaleRun of ``formula`` now; the pool does not change."""
        pool = self._live(pool_id)
        if not pool.get("enableAutoScale"):
            raise BatchError(
                409,
                "AutoScalingNotEnabled",
                "The pool must have autoscale enabled (enableautoscale) to evaluate a formula on it.",
            )
        run, _ = self.scaling.evaluate(pool_id, pool, check_formula(formula))
        return run

    def delete(self, pool_id: str) -> None:
        """Mark the pool ``deleting`` and remove its nodes; ``remove`` takes it away later."""
        pool = self._live(pool_id)
        for node_id in list(self._store.nodes.get(pool_id, {})):
            self._nodes.remove(pool_id, node_id)
        pool["currentDedicatedNodes"] = pool["currentLowPriorityNodes"] = 0
        self.scaling.forget(pool_id, deleted=True)
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
