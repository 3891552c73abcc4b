"""HTTP handlers for jobs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._http import accepted, call, create, entity, json_response, listing, precondition, read_body, service_of


async def create_job(request: Request) -> Response:
    return await create(request, service_of(request).create_job)


async def list_jobs(request: Request) -> Response:
    return service_of(request).list_jobs(listing(request))


async def get_job(request: Request) -> Response:
    return service_of(request).get_job(request.path_params["job_id"], entity(request))


async def update_job(request: Request) -> Response:
    """PATCH sets the properties given; PUT replaces them all."""
    await call(service_of(request).get_job, request.path_params["job_id"], precondition(request))
    service, job_id = service_of(request), request.path_params["job_id"]
    await call(service.update_job, job_id, await read_body(request), request.method == "PUT")
    return service.get_job(job_id, lambda doc: accepted(doc, status=200))


async def delete_job(request: Request) -> Response:
    await call(service_of(request).get_job, request.path_params["job_id"], precondition(request))
    await call(service_of(request).delete_job, request.path_params["job_id"])
    return accepted()


async def terminate_job(request: Request) -> Response:
    await call(service_of(request).get_job, request.path_params["job_id"], precondition(request))
    reason = ((await read_body(request)) or {}).get("terminateReason")
    await call(service_of(request).terminate_job, request.path_params["job_id"], reason)
    return service_of(request).get_job(request.path_params["job_id"], accepted)


async def disable_job(request: Request) -> Response:
    service, job_id = service_of(request), request.path_params["job_id"]
    await call(service.get_job, job_id, precondition(request))
    await call(service.disable_job, job_id, await read_body(request))
    return await call(service.get_job, job_id, accepted)


async def enable_job(request: Request) -> Response:
    service, job_id = service_of(request), request.path_params["job_id"]
    await call(service.get_job, job_id, precondition(request))
    await call(service.enable_job, job_id)
    return await call(service.get_job, job_id, accepted)


async def task_counts(request: Request) -> Response:
    return json_response(await call(service_of(request).task_counts, request.path_params["job_id"]))


async def preparation_status(request: Request) -> Response:
    service = service_of(request)
    return await call(service.list_preparation_status, request.path_params["job_id"], listing(request))


ROUTES = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs", create_job, methods=["POST"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/jobs/{job_id}", update_job, methods=["PATCH", "PUT"]),
    Route("/jobs/{job_id}", delete_job, methods=["DELETE"]),
    Route("/jobs/{job_id}/terminate", terminate_job, methods=["POST"]),
    Route("/jobs/{job_id}/disable", disable_job, methods=["POST"]),
    Route("/jobs/{job_id}/enable", enable_job, methods=["POST"]),
    Route("/jobs/{job_id}/taskcounts", task_counts, methods=["GET"]),
    Route("/jobs/{job_id}/jobpreparationandreleasetaskstatus", preparation_status, methods=["GET"]),
]
