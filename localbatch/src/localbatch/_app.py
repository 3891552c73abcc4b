"""The Batch data-plane REST API over HTTP (Starlette), in front of BatchService."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import (
    _routes_account,
    _routes_faults,
    _routes_files,
    _routes_jobs,
    _routes_pools,
    _routes_schedules,
    _routes_tasks,
)
from ._errors import BatchError
from ._protocol import BatchProtocol
from ._service import BatchService


async def unsupported(request: Request) -> Response:
    raise BatchError(
        400,
        "OperationNotSupported",
        f"localbatch does not implement {request.method} {request.url.path}.",
    )


def build_app(service: BatchService, accounts: dict[str, str]) -> Starlette:
    """The ASGI application serving one account's Batch API; handlers find ``service`` in its state."""
    routes = [
        *_routes_account.ROUTES,
        *_routes_pools.ROUTES,
        *_routes_jobs.ROUTES,
        *_routes_schedules.ROUTES,
        *_routes_tasks.ROUTES,
        *_routes_files.ROUTES,
        *_routes_faults.ROUTES,
        # Last: anything else is an operation localbatch does not implement.
        Route("/{rest:path}", unsupported, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(BatchProtocol, accounts=accounts)])
    app.state.service = service
    return app
