"""The Batch protocol around every request: Shared Key, api-version, throttling, error bodies."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from . import _auth
from ._errors import BatchError
from ._http import ADMIN_PREFIX, json_response, service_of
from ._service import BatchService
from ._timeutil import http_date

logger = logging.getLogger(__name__)

#: Every data-plane api-version from the one azure-batch 11.0 sends to the one 15.x sends
#: (the Azure CLI's azure-batch sends one of these too).
SUPPORTED_API_VERSIONS = (
    "2021-06-01.14.0",
    "2022-01-01.15.0",
    "2022-10-01.16.0",
    "2023-05-01.17.0",
    "2023-11-01.18.0",
    "2024-02-01.19.0",
    "2024-07-01.20.0",
    "2025-06-01",
)

Handler = Callable[[Request], Awaitable[Response]]


class BatchProtocol(BaseHTTPMiddleware):
    """Answers as the service does: request ids, OData error bodies, its headers."""

    def __init__(self, app: ASGIApp, accounts: dict[str, str]) -> None:
        super().__init__(app)
        self._accounts = accounts

    async def dispatch(self, request: Request, call_next: Handler) -> Response:
        request_id = str(uuid.uuid4())
        try:
            response = await self._guard(request, call_next)
        except BatchError as exc:
            response = json_response(exc.body(request_id), status=exc.status)
        except Exception:
            logger.exception("localbatch failed on %s %s", request.method, request.url.path)
            error = BatchError(500, "InternalServerError", "localbatch met an internal error; see its log.")
            response = json_response(error.body(request_id), status=500)
        response.headers["request-id"] = request_id
        client_id = request.headers.get("client-request-id")
        if client_id and request.headers.get("return-client-request-id", "").lower() == "true":
            response.headers["client-request-id"] = client_id
        response.headers["DataServiceVersion"] = "3.0"
        response.headers.setdefault("Date", http_date())
        return response

    async def _guard(self, request: Request, call_next: Handler) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"").decode("latin-1")
        _auth.verify(
            request.method,
            raw_path.decode("latin-1"),
            query,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
            self._accounts,
        )
        if not request.url.path.startswith(ADMIN_PREFIX):
            throttled = service_of(request).take_throttle()
            if throttled is not None:
                status, retry_after = throttled
                code = "TooManyRequests" if status == 429 else "ServerBusy"
                error = BatchError(status, code, "localbatch is throttling this request (injected fault).")
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return json_response(error.body(), status=status, headers=headers)
            _check_api_version(query)
            service = service_of(request)
            if service.realism.chance(service.realism.error_rate):
                return await _transient_error(request, call_next, service)
        return await call_next(request)


#: What the service says with a transient error; clients retry both.
TRANSIENT_ERRORS = {
    500: ("InternalServerError", "Server encountered an internal error. Please try again after some time."),
    503: ("ServerBusy", "The server is currently unable to receive requests. Please retry your request."),
}


async def _transient_error(request: Request, call_next: Handler, service: BatchService) -> Response:
    """The realism profile's transient error. Half of those on a change come after the change
    was made, as when the service's answer is lost: a client's retry must converge."""
    status = service.realism.choice(tuple(TRANSIENT_ERRORS))
    what = f"{request.method} {request.url.path} answered {status}"
    if request.method not in ("GET", "HEAD") and service.realism.chance(0.5):
        done = await call_next(request)
        async for _ in done.body_iterator:  # type: ignore[attr-defined]
            pass
        service.record("lost answer", f"{what} after the change was made ({done.status_code})")
    else:
        service.record("transient error", what)
    code, message = TRANSIENT_ERRORS[status]
    return json_response(BatchError(status, code, message).body(), status=status)


def _check_api_version(query: str) -> None:
    version = parse_qs(query).get("api-version", [""])[0]
    if not version:
        raise BatchError(
            400,
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified.",
            {"QueryParameterName": "api-version"},
        )
    if version not in SUPPORTED_API_VERSIONS:
        raise BatchError(
            400,
            "InvalidQueryParameterValue",
            f"The api-version {version} is not supported by localbatch; supported: "
            + ", ".join(SUPPORTED_API_VERSIONS),
            {"QueryParameterName": "api-version", "QueryParameterValue": version},
        )
