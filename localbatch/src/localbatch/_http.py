"""What every HTTP handler shares: the service, request bodies and Batch-style responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import _odata
from ._errors import BatchError, too_large
from ._service import BatchService
from ._store import Document
from ._timeutil import http_date, parse_stamp

MAX_BODY_BYTES = 1024 * 1024
CONDITION_NOT_MET = "The condition specified using HTTP conditional header(s) is not met."
ODATA_JSON = "application/json;odata=minimalmetadata"
#: Paths outside the Batch API: faults on demand, for tests.
ADMIN_PREFIX = "/localbatch/"

T = TypeVar("T")


def service_of(request: Request) -> BatchService:
    service: BatchService = request.app.state.service
    return service


async def call(function: Callable[..., T], *args: Any) -> T:
    """Run a service operation off the event loop: it may wait for the lock."""
    return await run_in_threadpool(function, *args)


def node_ids(request: Request) -> tuple[str, str]:
    return request.path_params["pool_id"], request.path_params["node_id"]


def task_ids(request: Request) -> tuple[str, str]:
    return request.path_params["job_id"], request.path_params["task_id"]


async def create(request: Request, operation: Callable[[Any], Document]) -> Response:
    """Create a pool or job from the request body: 201 naming the new entity, as the service
    does (``DataServiceId`` and ``Location``, with its ETag and Last-Modified)."""
    doc = await call(operation, await read_body(request))
    headers = entity_headers(doc)
    headers["Location"] = doc["url"]
    return Response(status_code=201, headers=headers)


def json_response(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type=ODATA_JSON)


def entity_headers(doc: Document) -> dict[str, str]:
    headers = {"ETag": doc["eTag"], "DataServiceId": doc.get("url", "")}
    if doc.get("lastModified"):
        headers["Last-Modified"] = http_date(parse_stamp(doc["lastModified"]))
    return headers


def accepted(doc: Document | None = None, status: int = 202) -> Response:
    headers = entity_headers(doc) if doc else {}
    return Response(status_code=status, headers=headers)


def _since(request: Request, header: str) -> datetime | None:
    value = request.headers.get(header)
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BatchError(400, "InvalidHeaderValue", f"The value of {header} is not an HTTP date.") from None


def not_modified(request: Request, modified: datetime, tag: str | None = None) -> bool:
    """The request's conditions against an entity (its ``tag``) or a file (none), as the service
    checks them: a failed ``If-Match``/``If-Unmodified-Since`` is 412; a met
    ``If-None-Match``/``If-Modified-Since`` is True (304 for a read; 412 for a change)."""
    modified = modified.replace(microsecond=0)  # HTTP dates have whole seconds
    wanted = request.headers.get("If-Match")
    if tag is not None and wanted and wanted.strip().strip('"') not in ("*", tag):
        raise BatchError(412, "ConditionNotMet", CONDITION_NOT_MET)
    unmodified_since = _since(request, "If-Unmodified-Since")
    if unmodified_since is not None and modified > unmodified_since:
        raise BatchError(412, "ConditionNotMet", CONDITION_NOT_MET)
    unwanted = request.headers.get("If-None-Match")
    if tag is not None and unwanted and unwanted.strip().strip('"') in ("*", tag):
        return True
    modified_since = _since(request, "If-Modified-Since")
    return modified_since is not None and modified <= modified_since


def _entity_not_modified(request: Request, doc: Document) -> bool:
    return not_modified(request, parse_stamp(doc["lastModified"]), doc["eTag"])


def precondition(request: Request) -> Callable[[Document], None]:
    """A view for a change: its conditions must hold on the current document, else 412."""

    def check(doc: Document) -> None:
        if _entity_not_modified(request, doc):
            raise BatchError(412, "ConditionNotMet", CONDITION_NOT_MET)

    return check


def entity(request: Request) -> Callable[[Document], Response]:
    """A view answering a GET of one document, with ``$select`` and the conditional headers."""

    def view(doc: Document) -> Response:
        if _entity_not_modified(request, doc):
            return Response(status_code=304, headers=entity_headers(doc))
        body = {
            "odata.metadata": _metadata(request, element=True),
            **_odata.select(doc, request.query_params.get("$select")),
        }
        return json_response(body, headers=entity_headers(doc))

    return view


def listing(request: Request) -> Callable[[list[Document]], Response]:
    """A view answering a list operation: ``$filter``, ``$select`` and paging."""

    def view(docs: list[Document]) -> Response:
        return json_response({"odata.metadata": _metadata(request), **_odata.page(request, docs)})

    return view


def _metadata(request: Request, *, element: bool = False) -> str:
    """The ``odata.metadata`` the service puts in a body: ``BASE/$metadata#pools`` for a list of
    pools, ``.../$metadata#pools/@Element`` for one pool."""
    parts = [part for part in request.url.path.split("/") if part]
    collection = parts[-2] if element and len(parts) >= 2 else parts[-1] if parts else ""
    suffix = "/@Element" if element else ""
    return f"{service_of(request).base_url}/$metadata#{collection}{suffix}"


async def read_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise too_large(MAX_BODY_BYTES)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BatchError(400, "InvalidRequestBody", f"The request body is not valid JSON: {exc}") from exc
