"""HTTP handlers for files on nodes: a task's directory and a node's tree."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._errors import BatchError
from ._http import listing, node_ids, service_of, task_ids
from ._store import Document
from ._timeutil import http_date


def _task_files_url(request: Request) -> str:
    job_id, task_id = task_ids(request)
    return f"{service_of(request).base_url}/jobs/{job_id}/tasks/{task_id}/files"


async def list_task_files(request: Request) -> Response:
    root = service_of(request).task_dir(*task_ids(request))
    files_url = _task_files_url(request)
    docs: list[Document] = []
    recursive = request.query_params.get("recursive", "false").lower() == "true"
    if root is not None and root.exists():
        paths = sorted(root.rglob("*") if recursive else root.iterdir())
        for path in paths:
            name = path.relative_to(root).as_posix()
            stat = path.stat()
            entry: Document = {
                "name": name,
                "url": f"{files_url}/{name}",
                "isDirectory": path.is_dir(),
            }
            if path.is_file():
                entry["properties"] = {
                    "contentLength": stat.st_size,
                    "contentType": "application/octet-stream",
                    "lastModified": http_date(),
                }
            docs.append(entry)
    return listing(request)(docs)


async def get_task_file(request: Request) -> Response:
    return _file(request, service_of(request).task_dir(*task_ids(request)), _task_files_url(request))


async def get_node_file(request: Request) -> Response:
    pool_id, node_id = node_ids(request)
    files_url = f"{service_of(request).base_url}/pools/{pool_id}/nodes/{node_id}/files"
    return _file(request, service_of(request).node_dir(pool_id, node_id), files_url)


def _file(request: Request, root: Path | None, files_url: str) -> Response:
    """The requested file under ``root`` (never outside it); headers only for HEAD."""
    name = request.path_params["file_path"]
    path = (root / name).resolve() if root else None
    if root is None or path is None or not path.is_relative_to(root.resolve()) or not path.is_file():
        raise BatchError(404, "FileNotFound", "The specified file does not exist.")
    data = b"" if request.method == "HEAD" else path.read_bytes()
    headers = {
        "ocp-batch-file-isdirectory": "false",
        "ocp-batch-file-url": f"{files_url}/{name}",
        "ocp-creation-time": http_date(),
        "Last-Modified": http_date(),
        "Content-Length": str(path.stat().st_size),
    }
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, headers=headers, media_type=media)


ROUTES = [
    Route("/pools/{pool_id}/nodes/{node_id}/files/{file_path:path}", get_node_file, methods=["GET", "HEAD"]),
    Route("/jobs/{job_id}/tasks/{task_id}/files", list_task_files, methods=["GET"]),
    Route("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", get_task_file, methods=["GET", "HEAD"]),
]
