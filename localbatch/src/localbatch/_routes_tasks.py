"""HTTP handlers for tasks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._errors import BatchError
from ._http import (
    accepted,
    call,
    entity,
    entity_headers,
    json_response,
    listing,
    precondition,
    read_body,
    service_of,
    task_ids,
)


async def create_task(request: Request) -> Response:
    service = service_of(request)
    doc = await call(service.create_task, request.path_params["job_id"], await read_body(request))
    return Response(status_code=201, headers=entity_headers(doc))


async def create_tasks(request: Request) -> Response:
    """addtaskcollection: a result per task, in the body of one 200 response."""
    body = await read_body(request)
    values = body.get("value") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise BatchError(
            400,
            "MissingRequiredProperty",
            "The request body needs a 'value' list of tasks.",
            {"PropertyName": "value"},
        )
    results = await call(service_of(request).create_tasks, request.path_params["job_id"], values)
    return json_response({"value": results})


async def list_tasks(request: Request) -> Response:
    return service_of(request).list_tasks(request.path_params["job_id"], listing(request))


async def get_task(request: Request) -> Response:
    return service_of(request).get_task(*task_ids(request), entity(request))


async def delete_task(request: Request) -> Response:
    await call(service_of(request).get_task, *task_ids(request), precondition(request))
    await call(service_of(request).delete_task, *task_ids(request))
    return Response(status_code=200)


async def terminate_task(request: Request) -> Response:
    await call(service_of(request).get_task, *task_ids(request), precondition(request))
    await call(service_of(request).terminate_task, *task_ids(request))
    return Response(status_code=204)


async def update_task(request: Request) -> Response:
    """PUT: the task's constraints, its only updatable property."""
    service = service_of(request)
    await call(service.get_task, *task_ids(request), precondition(request))
    await call(service.update_task, *task_ids(request), await read_body(request))
    return await call(service.get_task, *task_ids(request), lambda doc: accepted(doc, status=200))


async def reactivate_task(request: Request) -> Response:
    service = service_of(request)
    await call(service.get_task, *task_ids(request), precondition(request))
    await call(service.reactivate_task, *task_ids(request))
    return await call(service.get_task, *task_ids(request), lambda doc: accepted(doc, status=204))


ROUTES = [
    Route("/jobs/{job_id}/tasks", list_tasks, methods=["GET"]),
    Route("/jobs/{job_id}/tasks", create_task, methods=["POST"]),
    Route("/jobs/{job_id}/addtaskcollection", create_tasks, methods=["POST"]),
    Route("/jobs/{job_id}/tasks/{task_id}", get_task, methods=["GET"]),
    Route("/jobs/{job_id}/tasks/{task_id}", delete_task, methods=["DELETE"]),
    Route("/jobs/{job_id}/tasks/{task_id}", update_task, methods=["PUT"]),
    Route("/jobs/{job_id}/tasks/{task_id}/terminate", terminate_task, methods=["POST"]),
    Route("/jobs/{job_id}/tasks/{task_id}/reactivate", reactivate_task, methods=["POST"]),
]
