"""HTTP handlers for the account as a whole: the images its pools can use, node counts per pool."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import listing, service_of

#: What a local node is: Linux, whatever image a pool names; these are the ones offered.
SUPPORTED_IMAGES = [
    {
        "nodeAgentSKUId": f"batch.node.ubuntu {version}",
        "imageReference": {
            "publisher": "canonical",
            "offer": offer,
            "sku": "server",
            "version": "latest",
        },
        "osType": "linux",
        "capabilities": [],
        "verificationType": "verified",
    }
    for version, offer in (("24.04", "ubuntu-24_04-lts"), ("22.04", "0001-com-ubuntu-server-jammy"))
]
#: Every node state the service counts (camelCase, as in its nodecounts answers).
NODE_STATES = (
    "creating", "deallocated", "deallocating", "idle", "leavingPool", "offline", "preempted", "rebooting",
    "reimaging", "running", "startTaskFailed", "starting", "unknown", "unusable", "upgradingOS",
    "waitingForStartTask",
)  # fmt: skip


async def supported_images(request: Request) -> Response:
    return listing(request)([dict(image) for image in SUPPORTED_IMAGES])


async def node_counts(request: Request) -> Response:
    return service_of(request).list_pools(lambda pools: _counts(request, pools))


def _counts(request: Request, pools: list[dict[str, object]]) -> Response:
    service = service_of(request)
    docs = []
    for pool in pools:
        pool_id = str(pool["id"])
        counts = {"dedicated": dict.fromkeys(NODE_STATES, 0), "lowPriority": dict.fromkeys(NODE_STATES, 0)}
        for node in service.nodes_of(pool_id):
            kind = counts["dedicated" if node["isDedicated"] else "lowPriority"]
            state = next((s for s in NODE_STATES if s.lower() == str(node["state"]).lower()), "unknown")
            kind[state] += 1
        for kind in counts.values():
            kind["total"] = sum(kind.values())
        docs.append({"poolId": pool_id, **counts})
    return listing(request)(docs)


ROUTES = [
    Route("/supportedimages", supported_images, methods=["GET"]),
    Route("/nodecounts", node_counts, methods=["GET"]),
]
