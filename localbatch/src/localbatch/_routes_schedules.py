"""HTTP handlers for job schedules."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._errors import BatchError
from ._http import accepted, call, create, entity, listing, precondition, read_body, service_of
from ._schedule_service import JobScheduleService


def _schedules(request: Request) -> tuple[JobScheduleService, str]:
    return service_of(request).job_schedules, request.path_params.get("schedule_id", "")


async def create_schedule(request: Request) -> Response:
    return await create(request, service_of(request).job_schedules.create)


async def list_schedules(request: Request) -> Response:
    return service_of(request).job_schedules.list_all(listing(request))


async def get_schedule(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    return schedules.get(schedule_id, entity(request))


async def schedule_exists(request: Request) -> Response:
    """200 with the schedule's ETag and Last-Modified, or a bare 404."""
    schedules, schedule_id = _schedules(request)
    try:
        return schedules.get(schedule_id, lambda doc: accepted(doc, 200))
    except BatchError as exc:
        if exc.status == 404:
            return Response(status_code=404)
        raise


async def list_schedule_jobs(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    return await call(schedules.list_jobs, schedule_id, listing(request))


async def update_schedule(request: Request) -> Response:
    """PATCH sets the properties given; PUT replaces them all."""
    schedules, schedule_id = _schedules(request)
    await call(schedules.get, schedule_id, precondition(request))
    await call(schedules.update, schedule_id, await read_body(request), request.method == "PUT")
    return schedules.get(schedule_id, lambda doc: accepted(doc, status=200))


async def delete_schedule(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    await call(schedules.get, schedule_id, precondition(request))
    await call(schedules.delete, schedule_id)
    return accepted()


async def disable_schedule(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    await call(schedules.get, schedule_id, precondition(request))
    await call(schedules.disable, schedule_id)
    return schedules.get(schedule_id, lambda doc: accepted(doc, status=204))


async def enable_schedule(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    await call(schedules.get, schedule_id, precondition(request))
    await call(schedules.enable, schedule_id)
    return schedules.get(schedule_id, lambda doc: accepted(doc, status=204))


async def terminate_schedule(request: Request) -> Response:
    schedules, schedule_id = _schedules(request)
    await call(schedules.get, schedule_id, precondition(request))
    await call(schedules.terminate, schedule_id)
    return schedules.get(schedule_id, accepted)


# A route for GET answers HEAD too, so the HEAD route comes first where HEAD differs.
ROUTES = [
    Route("/jobschedules", list_schedules, methods=["GET"]),
    Route("/jobschedules", create_schedule, methods=["POST"]),
    Route("/jobschedules/{schedule_id}", schedule_exists, methods=["HEAD"]),
    Route("/jobschedules/{schedule_id}", get_schedule, methods=["GET"]),
    Route("/jobschedules/{schedule_id}", update_schedule, methods=["PATCH", "PUT"]),
    Route("/jobschedules/{schedule_id}", delete_schedule, methods=["DELETE"]),
    Route("/jobschedules/{schedule_id}/jobs", list_schedule_jobs, methods=["GET"]),
    Route("/jobschedules/{schedule_id}/disable", disable_schedule, methods=["POST"]),
    Route("/jobschedules/{schedule_id}/enable", enable_schedule, methods=["POST"]),
    Route("/jobschedules/{schedule_id}/terminate", terminate_schedule, methods=["POST"]),
]
