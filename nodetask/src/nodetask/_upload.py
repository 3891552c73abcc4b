"""Upload results with a write-only container SAS, never overwriting silently.

A create+write SAS cannot read a blob, so "is what is there the same as what I
would write?" is answered by the block list instead: blocks are staged under
ids derived from the result's digest and committed with ``If-None-Match: *``.
If the blob already exists, the same ids are committed again as *committed*
blocks only: that succeeds exactly when the existing blob was written from the
same digest (the content stays as it was), and fails with ``InvalidBlockList``
otherwise, so a retried task converges and a different result is refused.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobBlock, BlobClient, ContainerClient, ContentSettings, ExponentialRetry

from ._contract import READ_SAS_ENV, SAS_ENV
from ._exceptions import (
    NodetaskError,
    OutputConflictError,
    StorageRefusedError,
    StorageUnavailableError,
    UsageError,
)

logger = logging.getLogger(__name__)

BLOCK_BYTES = 4 * 1024 * 1024
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_REFUSED_STATUSES = {400, 401, 403, 404, 409, 412}


class _LookupList(enum.Enum):
    # azure-storage-blob 12.x compares ``state.value`` with lower-case names, so
    # its own ``BlockState.COMMITTED`` ("Committed") is sent as "latest", which
    # would take the freshly staged blocks; this enum sends "committed" itself.
    COMMITTED = "committed"


@dataclass(frozen=True)
class OutputBlob:
    """One file to upload: its blob name, bytes, type and identity digest.

    ``digest`` names what the content *means*; when it is the SHA-256 of the
    bytes themselves, a converging retry keeps the blob's Content-MD5 too.
    """

    name: str
    data: bytes
    content_type: str
    digest: str

    @property
    def digest_is_content_hash(self) -> bool:
        return self.digest == hashlib.sha256(self.data).hexdigest()


def redact(url: str) -> str:
    """The URL without its query string, so a SAS never reaches a message."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def container_url_for(account: str, container: str, endpoint_suffix: str) -> str:
    return f"https://{account}.blob.{endpoint_suffix}/{container}"


def check_container_url(url: str) -> None:
    """Refuse a container URL that would send the SAS in clear text or is malformed."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise UsageError(
            f"--container-url {redact(url)!r} is not a container URL; give "
            "https://ACCOUNT.blob.core.windows.net/CONTAINER"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise UsageError(
            f"--container-url {redact(url)} uses http: a SAS must travel over https "
            "(http is accepted only for a local emulator on 127.0.0.1 or localhost)"
        )
    if not parts.path.strip("/"):
        raise UsageError(f"--container-url {redact(url)} names no container; append /CONTAINER")


def _block_ids(blob: OutputBlob) -> list[str]:
    count = max(1, -(-len(blob.data) // BLOCK_BYTES))
    # Same length for every block of a blob, as the service requires.
    return [f"nt1-{blob.digest[:48]}-{index:06d}" for index in range(count)]


def _error_code(exc: HttpResponseError) -> str | None:
    # Storage errors carry the service's x-ms-error-code as ``error_code``.
    code = getattr(exc, "error_code", None)
    if isinstance(code, enum.Enum):  # StorageErrorCode, a str enum
        return str(code.value)
    return str(code) if code else None


def _translate(
    exc: HttpResponseError | ServiceRequestError | ServiceResponseError, where: str, *, reading: bool = False
) -> NodetaskError:
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return StorageUnavailableError(
            f"storage at {where} could not be reached ({type(exc).__name__}); the task can be retried"
        )
    status = exc.status_code or 0
    code = _error_code(exc) or "no error code"
    action, permission, variable = (
        ("read of", "read", READ_SAS_ENV)
        if reading
        else ("upload to", "create+write", f"--sastoken or {SAS_ENV}")
    )
    if status in (408, 429) or status >= 500:
        return StorageUnavailableError(
            f"storage at {where} failed transiently ({status} {code}); the task can be retried"
        )
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return StorageRefusedError(
            f"storage refused the {action} {where} ({status} {code}): the SAS is expired, "
            f"not yet valid, or lacks {permission} permission on this container; issue a new "
            f"SAS ({variable})"
        )
    if code == "ContainerNotFound" or status == 404:
        return StorageRefusedError(
            f"container {where} does not exist ({status} {code}); create it or fix --container-url"
        )
    return StorageRefusedError(f"storage refused the {action} {where} ({status} {code})")


def _container_client(container_url: str, sas_token: str, retries: int) -> ContainerClient:
    check_container_url(container_url)
    return ContainerClient.from_container_url(
        f"{redact(container_url)}?{sas_token.lstrip('?')}",
        retry_policy=ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=retries),
        connection_timeout=20,
        read_timeout=30,  # per attempt: an endpoint that never answers costs 30 s, not 60
    )


class ResultUploader:
    """Uploads result files to one container with a SAS."""

    def __init__(self, container_url: str, sas_token: str, *, retries: int = 3) -> None:
        self._container = _container_client(container_url, sas_token, retries)
        self._where = redact(container_url)

    def describe(self, blob_name: str) -> str:
        """The blob's URL without the SAS."""
        return f"{self._where}/{blob_name}"

    def upload(self, blob: OutputBlob, *, overwrite: bool = False) -> str:
        """Upload one file; returns "created", "unchanged" or "overwritten"."""
        client = self._container.get_blob_client(blob.name)
        where = f"{self._where}/{blob.name}"
        try:
            return self._upload(client, blob, overwrite=overwrite)
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise _translate(exc, where) from exc

    def _upload(self, client: BlobClient, blob: OutputBlob, *, overwrite: bool) -> str:
        ids = [BlobBlock(block_id) for block_id in _block_ids(blob)]
        for index, block in enumerate(ids):
            chunk = blob.data[index * BLOCK_BYTES : (index + 1) * BLOCK_BYTES]
            # validate_content: the service checks each block's MD5.
            client.stage_block(block.id, chunk, validate_content=True)
        settings = ContentSettings(
            content_type=blob.content_type,
            content_md5=bytearray(hashlib.md5(blob.data, usedforsecurity=False).digest()),
        )
        if overwrite:
            client.commit_block_list(ids, content_settings=settings)
            return "overwritten"
        try:
            client.commit_block_list(
                ids, content_settings=settings, match_condition=MatchConditions.IfMissing
            )
            return "created"
        except ResourceExistsError:
            pass
        if not blob.digest_is_content_hash:
            # The bytes may differ in where/how fast it ran; their MD5 is unknown.
            settings = ContentSettings(content_type=blob.content_type)
        committed = [BlobBlock(block.id, state=_LookupList.COMMITTED) for block in ids]  # type: ignore[arg-type]
        try:
            client.commit_block_list(committed, content_settings=settings)
        except HttpResponseError as exc:
            if _error_code(exc) == "InvalidBlockList":
                raise OutputConflictError(
                    f"{self._where}/{blob.name} already exists with a different result; "
                    "nothing was overwritten. Remove the old blob, change --blob-prefix, "
                    "or pass --overwrite to replace it"
                ) from exc
            raise
        return "unchanged"


class BlobReader:
    """Reads blobs of one container with a read SAS (the merge reads the map's results)."""

    def __init__(self, container_url: str, sas_token: str, *, retries: int = 3) -> None:
        self._container = _container_client(container_url, sas_token, retries)
        self._where = redact(container_url)

    def describe(self, blob_name: str) -> str:
        """The blob's URL without the SAS."""
        return f"{self._where}/{blob_name}"

    def read(self, blob_name: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob."""
        try:
            return self._container.get_blob_client(blob_name).download_blob().readall()
        except ResourceNotFoundError as exc:
            if _error_code(exc) == "ContainerNotFound":
                raise _translate(exc, self._where, reading=True) from exc
            return None
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise _translate(exc, self.describe(blob_name), reading=True) from exc


def upload_reported(uploader: ResultUploader, blob: OutputBlob, overwrite: bool) -> None:
    """Upload one file and say on stderr what became of it (never the SAS)."""
    outcome = uploader.upload(blob, overwrite=overwrite)
    print(f"nodetask: {outcome} {uploader.describe(blob.name)}", file=sys.stderr)


class BlobStore:
    """The merge's container: blobs read with a read SAS, results written (convergently,
    never overwritten) with a create+write SAS."""

    def __init__(self, container_url: str, read_sas: str, write_sas: str, *, retries: int = 3) -> None:
        self._reader = BlobReader(container_url, read_sas, retries=retries)
        self._uploader = ResultUploader(container_url, write_sas, retries=retries)

    def describe(self, name: str) -> str:
        return self._reader.describe(name)

    def read(self, name: str) -> bytes | None:
        return self._reader.read(name)

    def write(self, name: str, data: bytes, content_type: str, digest: str | None = None) -> None:
        """Write ``name``; ``digest`` names what it means (default: its bytes' sha256)."""
        blob = OutputBlob(name, data, content_type, digest=digest or hashlib.sha256(data).hexdigest())
        upload_reported(self._uploader, blob, overwrite=False)
