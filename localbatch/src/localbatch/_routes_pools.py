"""HTTP handlers for pools and their nodes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._errors import BatchError
from ._http import (
    accepted,
    call,
    create,
    entity,
    entity_headers,
    json_response,
    listing,
    node_ids,
    precondition,
    read_body,
    service_of,
)


async def create_pool(request: Request) -> Response:
    return await create(request, service_of(request).create_pool)


async def list_pools(request: Request) -> Response:
    return service_of(request).list_pools(listing(request))


async def get_pool(request: Request) -> Response:
    return service_of(request).get_pool(request.path_params["pool_id"], entity(request))


async def pool_exists(request: Request) -> Response:
    """200 with the pool's ETag and Last-Modified, or a bare 404."""
    try:
        return service_of(request).get_pool(request.path_params["pool_id"], lambda doc: accepted(doc, 200))
    except BatchError as exc:
        if exc.status == 404:
            return Response(status_code=404)
        raise


async def delete_pool(request: Request) -> Response:
    await call(service_of(request).get_pool, request.path_params["pool_id"], precondition(request))
    await call(service_of(request).delete_pool, request.path_params["pool_id"])
    return accepted()


async def resize_pool(request: Request) -> Response:
    await call(service_of(request).get_pool, request.path_params["pool_id"], precondition(request))
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.resize_pool, pool_id, await read_body(request))
    return service.get_pool(pool_id, accepted)


async def patch_pool(request: Request) -> Response:
    """PATCH changes what the body names; updateproperties replaces all of it (204)."""
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.get_pool, pool_id, precondition(request))
    replace = request.url.path.endswith("/updateproperties")
    await call(service.patch_pool, pool_id, await read_body(request), replace)
    return service.get_pool(pool_id, lambda doc: accepted(doc, 204 if replace else 200))


async def stop_resize(request: Request) -> Response:
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.get_pool, pool_id, precondition(request))
    await call(service.stop_resize, pool_id)
    return service.get_pool(pool_id, accepted)


async def remove_nodes(request: Request) -> Response:
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.get_pool, pool_id, precondition(request))
    await call(service.remove_nodes, pool_id, await read_body(request))
    return service.get_pool(pool_id, accepted)


async def enable_autoscale(request: Request) -> Response:
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.get_pool, pool_id, precondition(request))
    await call(service.enable_autoscale, pool_id, await read_body(request))
    return service.get_pool(pool_id, lambda doc: accepted(doc, 200))


async def disable_autoscale(request: Request) -> Response:
    service, pool_id = service_of(request), request.path_params["pool_id"]
    await call(service.disable_autoscale, pool_id)
    return service.get_pool(pool_id, lambda doc: accepted(doc, 200))


async def evaluate_autoscale(request: Request) -> Response:
    service, pool_id = service_of(request), request.path_params["pool_id"]
    formula = ((await read_body(request)) or {}).get("autoScaleFormula")
    run = await call(service.evaluate_autoscale, pool_id, formula)
    return service.get_pool(pool_id, lambda doc: json_response(run, headers=entity_headers(doc)))


async def list_nodes(request: Request) -> Response:
    return service_of(request).list_nodes(request.path_params["pool_id"], listing(request))


async def get_node(request: Request) -> Response:
    return service_of(request).get_node(*node_ids(request), entity(request))


async def reboot_node(request: Request) -> Response:
    await call(service_of(request).reboot_node, *node_ids(request))
    return service_of(request).get_node(*node_ids(request), accepted)


# A route for GET answers HEAD too, so the HEAD route comes first where HEAD differs.
ROUTES = [
    Route("/pools", list_pools, methods=["GET"]),
    Route("/pools", create_pool, methods=["POST"]),
    Route("/pools/{pool_id}", pool_exists, methods=["HEAD"]),
    Route("/pools/{pool_id}", get_pool, methods=["GET"]),
    Route("/pools/{pool_id}", delete_pool, methods=["DELETE"]),
    Route("/pools/{pool_id}", patch_pool, methods=["PATCH"]),
    Route("/pools/{pool_id}/updateproperties", patch_pool, methods=["POST"]),
    Route("/pools/{pool_id}/resize", resize_pool, methods=["POST"]),
    Route("/pools/{pool_id}/stopresize", stop_resize, methods=["POST"]),
    Route("/pools/{pool_id}/removenodes", remove_nodes, methods=["POST"]),
    Route("/pools/{pool_id}/enableautoscale", enable_autoscale, methods=["POST"]),
    Route("/pools/{pool_id}/disableautoscale", disable_autoscale, methods=["POST"]),
    Route("/pools/{pool_id}/evaluateautoscale", evaluate_autoscale, methods=["POST"]),
    Route("/pools/{pool_id}/nodes", list_nodes, methods=["GET"]),
    Route("/pools/{pool_id}/nodes/{node_id}", get_node, methods=["GET"]),
    Route("/pools/{pool_id}/nodes/{node_id}/reboot", reboot_node, methods=["POST"]),
]
