"""Many blob transfers at once: bounded concurrency over one pooled connection set.

Measured against Azurite on a 2-core machine (``bench/transfer_bench.py``), an
upload costs the client about 2 ms of CPU in the SDK pipeline, the sync and
the aio clients alike, and Azurite about as much again on its one core; what
a thread pool buys is overlap of the two and of the network round trip (tens
of milliseconds to Azure, where concurrency pays most). So the transfers stay
on the sync SDK, with as many threads as transfers in flight and a connection
pool to match: urllib3 keeps 10 connections per host by default and
discards, then reopens, any beyond that. (requests and urllib3 come with
azure-core, whose sync transport is built on them.)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import ContainerClient, ContentSettings
from urllib3.util.retry import Retry

#: Transfers in flight at once (bounded, as azcopy does; azcopy starts at 32 on a small machine).
TRANSFER_CONCURRENCY = 32
#: Files up to this size are read once into memory, hashed and sent from there: the MD5 that
#: is stored with the blob is then the MD5 of the very bytes sent. Larger ones are streamed.
WHOLE_READ_LIMIT = 4 * 1024 * 1024

T = TypeVar("T")
R = TypeVar("R")


def pooled_transport(
    concurrency: int, *, connection_timeout: float, read_timeout: float
) -> RequestsTransport:
    """The SDK's own requests transport over a session whose pools hold ``concurrency``
    connections per host. Retries stay the SDK's (urllib3's are off, as the SDK sets
    them); proxies and CA bundles from the environment still apply."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=concurrency,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=connection_timeout,
        read_timeout=read_timeout,
    )


def bounded(
    work: Callable[[T], R],
    items: Sequence[T],
    *,
    concurrency: int,
    done: Callable[[int, T, R], None] | None = None,
) -> list[R]:
    """``work`` on every item, at most ``concurrency`` at once; results in the items' order.

    ``done(count, item, result)`` is called in the caller's thread as each one finishes.
    The first failure cancels what has not started, waits for what has (each
    cleans up after itself), and is raised; so is Ctrl-C.
    """
    if not items:
        return []
    results: dict[int, R] = {}
    with ThreadPoolExecutor(max(1, min(concurrency, len(items))), thread_name_prefix="transfer") as pool:
        futures: dict[Future[R], int] = {pool.submit(work, item): index for index, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                if done is not None:
                    done(len(results), items[index], results[index])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [results[index] for index in range(len(items))]


def md5_bytes(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


def upload_if_changed(
    client: ContainerClient, name: str, path: Path, stored_md5: str | None
) -> tuple[int, str, bool]:
    """Upload ``path`` as blob ``name`` unless the blob's stored MD5 equals the file's.

    Returns (size, MD5, uploaded). The blob keeps the file's MD5 as its Content-MD5,
    which the next run compares; ``validate_content`` sends the body's MD5 as the
    request's Content-MD5 header, which Storage checks against what arrived (per
    block for a file sent in blocks).
    """
    size = path.stat().st_size
    if size <= WHOLE_READ_LIMIT:
        data = path.read_bytes()
        md5 = md5_bytes(data)
        if md5 == stored_md5:
            return len(data), md5, False
        _put(client, name, data, md5)
        return len(data), md5, True
    md5 = md5_file(path)
    if md5 == stored_md5:
        return size, md5, False
    with path.open("rb") as stream:
        _put(client, name, stream, md5)
    return size, md5, True


def _put(client: ContainerClient, name: str, body: object, md5: str) -> None:
    client.upload_blob(
        name,
        body,  # type: ignore[arg-type]  # bytes or a binary file, both accepted by the SDK
        overwrite=True,
        validate_content=True,
        max_concurrency=1,
        content_settings=ContentSettings(content_md5=bytearray(base64.b64decode(md5))),
    )


def read(client: ContainerClient, name: str) -> bytes:
    """One blob's bytes, each response's body checked against the MD5 Storage sends with it."""
    return client.download_blob(name, validate_content=True, max_concurrency=1).readall()


def download_to(client: ContainerClient, name: str, target: Path) -> Path:
    """Write blob ``name`` to ``target`` whole: into ``target.partial``, renamed once complete
    (and removed if anything fails), so ``target`` is never a part of the blob."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as handle:
            client.download_blob(name, validate_content=True, max_concurrency=1).readinto(handle)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target
