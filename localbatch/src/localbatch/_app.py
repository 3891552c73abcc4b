"""The Batch data-plane REST API over HTTP (Starlette), in front of BatchService."""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _auth
from ._errors import BatchError
from ._service import BatchService
from ._store import Document
from ._timeutil import http_date, parse_stamp

logger = logging.getLogger(__name__)

#: From the first api-version of the 2024 data plane to the one azure-batch 15.x sends.
SUPPORTED_API_VERSIONS = (
    "2024-02-01.19.0",
    "2024-07-01.20.0",
    "2025-06-01",
)
MAX_BODY_BYTES = 1024 * 1024
ODATA_JSON = "application/json;odata=minimalmetadata"
PAGE_SIZE = 1000
ADMIN_PREFIX = "/localbatch/"
_CLAUSE = re.compile(r"^\s*([A-Za-z/]+)\s+eq\s+'([^']*)'\s*$")

Handler = Callable[[Request], Awaitable[Response]]


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type=ODATA_JSON)


def _entity_headers(doc: Document) -> dict[str, str]:
    headers = {"ETag": doc["eTag"], "DataServiceId": doc.get("url", "")}
    if doc.get("lastModified"):
        headers["Last-Modified"] = http_date(parse_stamp(doc["lastModified"]))
    return headers


def _accepted(doc: Document | None = None, status: int = 202) -> Response:
    headers = _entity_headers(doc) if doc else {}
    return Response(status_code=status, headers=headers)


def _select(doc: Document, select: str | None) -> Document:
    if not select:
        return doc
    names = [name.strip() for name in select.split(",") if name.strip()]
    return {name: doc[name] for name in names if name in doc}


def _field(doc: Document, path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _filter(docs: list[Document], expression: str | None) -> list[Document]:
    """OData ``$filter`` of ``field eq 'value'`` clauses joined by ``and`` or ``or``."""
    if not expression:
        return docs
    alternatives = []
    for alternative in re.split(r"\s+or\s+", expression):
        clauses = []
        for clause in re.split(r"\s+and\s+", alternative):
            match = _CLAUSE.match(clause.strip("() "))
            if not match:
                raise BatchError(
                    400,
                    "InvalidQueryParameterValue",
                    "localbatch understands $filter clauses of the form field eq 'value', joined by and/or.",
                    {"QueryParameterName": "$filter", "QueryParameterValue": expression},
                )
            clauses.append((match.group(1), match.group(2)))
        alternatives.append(clauses)
    return [
        doc
        for doc in docs
        if any(
            all(str(_field(doc, name)).lower() == value.lower() for name, value in c) for c in alternatives
        )
    ]


def _page(request: Request, docs: list[Document]) -> Response:
    query = request.query_params
    docs = _filter(docs, query.get("$filter"))
    size = int(query.get("maxresults") or PAGE_SIZE)
    start = int(query.get("$skiptoken") or 0)
    page = [_select(doc, query.get("$select")) for doc in docs[start : start + size]]
    document: dict[str, Any] = {"value": page}
    if start + size < len(docs):
        base = str(request.url.remove_query_params("$skiptoken"))
        document["odata.nextLink"] = f"{base}&$skiptoken={start + size}"
    return _json(document)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BatchError(
            413,
            "RequestBodyTooLarge",
            "The request body is too large and exceeds the maximum permissible limit.",
            {"MaxLimit": str(MAX_BODY_BYTES)},
        )
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BatchError(400, "InvalidRequestBody", f"The request body is not valid JSON: {exc}") from exc


def build_app(service: BatchService, accounts: dict[str, str]) -> Starlette:
    """The ASGI application serving one account's Batch API."""

    # Documents change under the scheduler's threads: read them under its lock.
    lock = service.store.lock

    def call(function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return run_in_threadpool(function, *args)

    # -- pools --
    async def pools(request: Request) -> Response:
        if request.method == "POST":
            await call(service.create_pool, await _body(request))
            return Response(status_code=201, headers={"DataServiceId": f"{service.base_url}/pools"})
        with lock:
            return _page(request, list(service.store.pools.values()))

    async def pool(request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        if request.method == "DELETE":
            await call(service.delete_pool, pool_id)
            return _accepted()
        if request.method == "HEAD":
            return Response(status_code=200 if pool_id in service.store.pools else 404)
        with lock:
            doc = service.get_pool(pool_id)
            return _json(_select(doc, request.query_params.get("$select")), headers=_entity_headers(doc))

    async def resize(request: Request) -> Response:
        await call(service.resize_pool, request.path_params["pool_id"], await _body(request))
        return _accepted()

    async def nodes(request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        with lock:
            service.get_pool(pool_id)
            return _page(request, list(service.store.nodes.get(pool_id, {}).values()))

    async def node(request: Request) -> Response:
        with lock:
            doc = service.get_node(request.path_params["pool_id"], request.path_params["node_id"])
            return _json(_select(doc, request.query_params.get("$select")), headers=_entity_headers(doc))

    async def reboot(request: Request) -> Response:
        await call(service.reboot_node, request.path_params["pool_id"], request.path_params["node_id"])
        return _accepted()

    # -- jobs --
    async def jobs(request: Request) -> Response:
        if request.method == "POST":
            await call(service.create_job, await _body(request))
            return Response(status_code=201, headers={"DataServiceId": f"{service.base_url}/jobs"})
        with lock:
            return _page(request, list(service.store.jobs.values()))

    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "DELETE":
            await call(service.delete_job, job_id)
            return _accepted()
        if request.method in ("PATCH", "PUT"):
            await call(service.update_job, job_id, await _body(request), request.method == "PUT")
            with lock:
                return _accepted(service.get_job(job_id), status=200)
        with lock:
            doc = service.get_job(job_id)
            return _json(_select(doc, request.query_params.get("$select")), headers=_entity_headers(doc))

    async def terminate_job(request: Request) -> Response:
        body = await _body(request)
        await call(service.terminate_job, request.path_params["job_id"], (body or {}).get("terminateReason"))
        return _accepted()

    async def task_counts(request: Request) -> Response:
        return _json(await call(service.task_counts, request.path_params["job_id"]))

    # -- tasks --
    async def tasks(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "POST":
            doc = await call(service.create_task, job_id, await _body(request))
            return Response(status_code=201, headers=_entity_headers(doc))
        with lock:
            return _page(request, service.list_tasks(job_id))

    async def task_collection(request: Request) -> Response:
        body = await _body(request)
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise BatchError(
                400,
                "MissingRequiredProperty",
                "The request body needs a 'value' list of tasks.",
                {"PropertyName": "value"},
            )
        results = await call(service.create_tasks, request.path_params["job_id"], values)
        return _json({"value": results})

    async def task(request: Request) -> Response:
        job_id, task_id = request.path_params["job_id"], request.path_params["task_id"]
        if request.method == "DELETE":
            await call(service.delete_task, job_id, task_id)
            return Response(status_code=200)
        with lock:
            doc = service.get_task(job_id, task_id)
            return _json(_select(doc, request.query_params.get("$select")), headers=_entity_headers(doc))

    async def terminate_task(request: Request) -> Response:
        await call(service.terminate_task, request.path_params["job_id"], request.path_params["task_id"])
        return Response(status_code=204)

    async def task_files(request: Request) -> Response:
        job_id, task_id = request.path_params["job_id"], request.path_params["task_id"]
        root = service.task_dir(job_id, task_id)
        docs: list[Document] = []
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        if root is not None and root.exists():
            paths = sorted(root.rglob("*") if recursive else root.iterdir())
            for path in paths:
                name = path.relative_to(root).as_posix()
                stat = path.stat()
                entry: Document = {
                    "name": name,
                    "url": f"{service.base_url}/jobs/{job_id}/tasks/{task_id}/files/{name}",
                    "isDirectory": path.is_dir(),
                }
                if path.is_file():
                    entry["properties"] = {
                        "contentLength": stat.st_size,
                        "contentType": "application/octet-stream",
                        "lastModified": http_date(),
                    }
                docs.append(entry)
        return _page(request, docs)

    async def node_file(request: Request) -> Response:
        pool_id, node_id = request.path_params["pool_id"], request.path_params["node_id"]
        service.get_node(pool_id, node_id)
        url = f"{service.base_url}/pools/{pool_id}/nodes/{node_id}/files/{request.path_params['file_path']}"
        return _file(request, service.node_dir(pool_id, node_id), request.path_params["file_path"], url)

    async def task_file(request: Request) -> Response:
        job_id, task_id = request.path_params["job_id"], request.path_params["task_id"]
        name = request.path_params["file_path"]
        url = f"{service.base_url}/jobs/{job_id}/tasks/{task_id}/files/{name}"
        return _file(request, service.task_dir(job_id, task_id), name, url)

    def _file(request: Request, root: Path | None, name: str, url: str) -> Response:
        path = (root / name).resolve() if root else None
        if root is None or path is None or not path.is_relative_to(root.resolve()) or not path.is_file():
            raise BatchError(404, "FileNotFound", "The specified file does not exist.")
        data = b"" if request.method == "HEAD" else path.read_bytes()
        headers = {
            "ocp-batch-file-isdirectory": "false",
            "ocp-batch-file-url": url,
            "ocp-creation-time": http_date(),
            "Last-Modified": http_date(),
            "Content-Length": str(path.stat().st_size),
        }
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(data, headers=headers, media_type=media)

    # -- faults (outside the Batch API) --
    async def fault_throttle(request: Request) -> Response:
        body = await _body(request)
        service.throttle(int(body.get("count", 1)), int(body.get("status", 503)), body.get("retryAfter"))
        return Response(status_code=204)

    async def fault_start_task(request: Request) -> Response:
        body = await _body(request)
        service.fail_start_tasks(request.path_params["pool_id"], int(body.get("count", 1)))
        return Response(status_code=204)

    async def fault_preempt(request: Request) -> Response:
        await call(service.preempt_node, request.path_params["pool_id"], request.path_params["node_id"])
        return Response(status_code=204)

    async def unsupported(request: Request) -> Response:
        raise BatchError(
            400,
            "OperationNotSupported",
            f"localbatch does not implement {request.method} {request.url.path}.",
        )

    routes = [
        Route("/pools", pools, methods=["GET", "POST"]),
        Route("/pools/{pool_id}", pool, methods=["GET", "HEAD", "DELETE"]),
        Route("/pools/{pool_id}/resize", resize, methods=["POST"]),
        Route("/pools/{pool_id}/nodes", nodes, methods=["GET"]),
        Route("/pools/{pool_id}/nodes/{node_id}", node, methods=["GET"]),
        Route("/pools/{pool_id}/nodes/{node_id}/reboot", reboot, methods=["POST"]),
        Route("/pools/{pool_id}/nodes/{node_id}/files/{file_path:path}", node_file, methods=["GET", "HEAD"]),
        Route("/jobs", jobs, methods=["GET", "POST"]),
        Route("/jobs/{job_id}", job, methods=["GET", "PATCH", "PUT", "DELETE"]),
        Route("/jobs/{job_id}/terminate", terminate_job, methods=["POST"]),
        Route("/jobs/{job_id}/taskcounts", task_counts, methods=["GET"]),
        Route("/jobs/{job_id}/tasks", tasks, methods=["GET", "POST"]),
        Route("/jobs/{job_id}/addtaskcollection", task_collection, methods=["POST"]),
        Route("/jobs/{job_id}/tasks/{task_id}", task, methods=["GET", "DELETE"]),
        Route("/jobs/{job_id}/tasks/{task_id}/terminate", terminate_task, methods=["POST"]),
        Route("/jobs/{job_id}/tasks/{task_id}/files", task_files, methods=["GET"]),
        Route("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", task_file, methods=["GET", "HEAD"]),
        Route(ADMIN_PREFIX + "faults/throttle", fault_throttle, methods=["POST"]),
        Route(ADMIN_PREFIX + "faults/pools/{pool_id}/starttask", fault_start_task, methods=["POST"]),
        Route(
            ADMIN_PREFIX + "faults/pools/{pool_id}/nodes/{node_id}/preempt", fault_preempt, methods=["POST"]
        ),
        Route("/{rest:path}", unsupported, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
    ]

    async def batch_protocol(request: Request, call_next: Handler) -> Response:
        request_id = str(uuid.uuid4())
        try:
            response = await _guard(request, call_next)
        except BatchError as exc:
            response = _json(exc.body(request_id), status=exc.status)
        except Exception:
            logger.exception("localbatch failed on %s %s", request.method, request.url.path)
            error = BatchError(500, "InternalServerError", "localbatch met an internal error; see its log.")
            response = _json(error.body(request_id), status=500)
        response.headers["request-id"] = request_id
        client_id = request.headers.get("client-request-id")
        if client_id and request.headers.get("return-client-request-id", "").lower() == "true":
            response.headers["client-request-id"] = client_id
        response.headers["DataServiceVersion"] = "3.0"
        response.headers.setdefault("Date", http_date())
        return response

    async def _guard(request: Request, call_next: Handler) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"").decode("latin-1")
        _auth.verify(
            request.method,
            raw_path.decode("latin-1"),
            query,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
            accounts,
        )
        if not request.url.path.startswith(ADMIN_PREFIX):
            with service.store.lock:
                throttled = service.faults.take_throttle()
            if throttled is not None:
                status, retry_after = throttled
                code = "TooManyRequests" if status == 429 else "ServerBusy"
                error = BatchError(status, code, "localbatch is throttling this request (injected fault).")
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return _json(error.body(), status=status, headers=headers)
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
        return await call_next(request)

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=batch_protocol)])
