"""HTTP handlers for files on nodes: a task's directory and a node's tree.

As the service: listings give ISO 8601 ``creationTime`` and ``lastModified`` of
the file itself and its Linux ``fileMode``; a download honours ``ocp-range``,
``If-Modified-Since`` and ``If-Unmodified-Since``; files (and, with
``recursive``, folders) can be deleted.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._errors import BatchError
from ._http import call, listing, node_ids, not_modified, service_of, task_ids
from ._store import Document
from ._timeutil import http_date, stamp

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _task_root(request: Request) -> tuple[Path | None, str]:
    job_id, task_id = task_ids(request)
    url = f"{service_of(request).base_url}/jobs/{job_id}/tasks/{task_id}/files"
    return service_of(request).task_dir(job_id, task_id), url


def _node_root(request: Request) -> tuple[Path | None, str]:
    pool_id, node_id = node_ids(request)
    url = f"{service_of(request).base_url}/pools/{pool_id}/nodes/{node_id}/files"
    return service_of(request).node_dir(pool_id, node_id), url


def _times(path: Path) -> tuple[datetime, datetime]:
    """(created, modified) of the file: Linux keeps no birth time here, so its change time."""
    info = path.stat()
    return datetime.fromtimestamp(info.st_ctime, UTC), datetime.fromtimestamp(info.st_mtime, UTC)


def _entries(root: Path | None, files_url: str, recursive: bool) -> list[Document]:
    docs: list[Document] = []
    if root is None or not root.exists():
        return docs
    for path in sorted(root.rglob("*") if recursive else root.iterdir()):
        name = path.relative_to(root).as_posix()
        entry: Document = {"name": name, "url": f"{files_url}/{name}", "isDirectory": path.is_dir()}
        if path.is_file():
            created, modified = _times(path)
            entry["properties"] = {
                "creationTime": stamp(created),
                "lastModified": stamp(modified),
                "contentLength": path.stat().st_size,
                "contentType": mimetypes.guess_type(name)[0] or "application/octet-stream",
                "fileMode": oct(path.stat().st_mode),
            }
        docs.append(entry)
    return docs


def _recursive(request: Request) -> bool:
    return request.query_params.get("recursive", "false").lower() == "true"


async def list_task_files(request: Request) -> Response:
    root, url = _task_root(request)
    return listing(request)(_entries(root, url, _recursive(request)))


async def list_node_files(request: Request) -> Response:
    root, url = _node_root(request)
    return listing(request)(_entries(root, url, _recursive(request)))


async def get_task_file(request: Request) -> Response:
    return _file(request, *_task_root(request))


async def get_node_file(request: Request) -> Response:
    return _file(request, *_node_root(request))


async def delete_task_file(request: Request) -> Response:
    root, _ = _task_root(request)
    await call(_delete, _existing(request, root), _recursive(request))
    return Response(status_code=200)


async def delete_node_file(request: Request) -> Response:
    root, _ = _node_root(request)
    await call(_delete, _existing(request, root), _recursive(request))
    return Response(status_code=200)


def _existing(request: Request, root: Path | None) -> Path:
    """The file or folder the request names under ``root`` (never outside it), or 404."""
    name = str(request.path_params["file_path"])
    path = (root / name).resolve() if root else None
    if root is None or path is None or not path.is_relative_to(root.resolve()) or not path.exists():
        raise BatchError(404, "FileNotFound", "The specified file does not exist.")
    return path


def _delete(path: Path, recursive: bool) -> None:
    if path.is_dir():
        if any(path.iterdir()) and not recursive:
            raise BatchError(
                409, "DirectoryNotEmpty", "The directory is not empty; delete it with recursive=true."
            )
        shutil.rmtree(path)
    else:
        path.unlink()


def _file(request: Request, root: Path | None, files_url: str) -> Response:
    """The requested file (headers only for HEAD), or the ``ocp-range`` of it."""
    path = _existing(request, root)
    if not path.is_file():
        raise BatchError(404, "FileNotFound", "The specified file does not exist.")
    created, modified = _times(path)
    headers = {
        "ocp-batch-file-isdirectory": "false",
        "ocp-batch-file-url": f"{files_url}/{request.path_params['file_path']}",
        "ocp-batch-file-mode": oct(path.stat().st_mode),
        "ocp-creation-time": http_date(created),
        "Last-Modified": http_date(modified),
    }
    if not_modified(request, modified):
        return Response(status_code=304, headers=headers)
    data = b"" if request.method == "HEAD" else path.read_bytes()
    wanted = request.headers.get("ocp-range")
    if wanted and request.method != "HEAD":
        data = _slice(data, wanted)
    headers["Content-Length"] = str(len(data) if request.method != "HEAD" else path.stat().st_size)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(data, headers=headers, media_type=media)


def _slice(data: bytes, wanted: str) -> bytes:
    """``bytes=START-END`` (inclusive), ``bytes=START-`` or ``bytes=-LAST``."""
    match = _RANGE.fullmatch(wanted.strip())
    if not match or match.groups() == ("", ""):
        raise BatchError(400, "InvalidHeaderValue", f"ocp-range {wanted!r} is not bytes=START-END.")
    start, end = match.groups()
    if not start:
        return data[-int(end) :] if int(end) else b""
    return data[int(start) : int(end) + 1 if end else None]


ROUTES = [
    Route("/pools/{pool_id}/nodes/{node_id}/files", list_node_files, methods=["GET"]),
    Route("/pools/{pool_id}/nodes/{node_id}/files/{file_path:path}", get_node_file, methods=["GET", "HEAD"]),
    Route("/pools/{pool_id}/nodes/{node_id}/files/{file_path:path}", delete_node_file, methods=["DELETE"]),
    Route("/jobs/{job_id}/tasks/{task_id}/files", list_task_files, methods=["GET"]),
    Route("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", get_task_file, methods=["GET", "HEAD"]),
    Route("/jobs/{job_id}/tasks/{task_id}/files/{file_path:path}", delete_task_file, methods=["DELETE"]),
]
