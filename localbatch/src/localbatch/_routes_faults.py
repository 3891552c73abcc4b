"""HTTP handlers for faults on demand, outside the Batch API (for tests)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import ADMIN_PREFIX, call, node_ids, read_body, service_of


async def throttle(request: Request) -> Response:
    body = await read_body(request)
    service_of(request).throttle(
        int(body.get("count", 1)), int(body.get("status", 503)), body.get("retryAfter")
    )
    return Response(status_code=204)


async def fail_start_tasks(request: Request) -> Response:
    body = await read_body(request)
    service_of(request).fail_start_tasks(request.path_params["pool_id"], int(body.get("count", 1)))
    return Response(status_code=204)


async def preempt_node(request: Request) -> Response:
    await call(service_of(request).preempt_node, *node_ids(request))
    return Response(status_code=204)


ROUTES = [
    Route(ADMIN_PREFIX + "faults/throttle", throttle, methods=["POST"]),
    Route(ADMIN_PREFIX + "faults/pools/{pool_id}/starttask", fail_start_tasks, methods=["POST"]),
    Route(ADMIN_PREFIX + "faults/pools/{pool_id}/nodes/{node_id}/preempt", preempt_node, methods=["POST"]),
]
