"""Blob storage: upload, list, find, download, and the SAS the tasks use."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import quote, urlsplit

from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    ContentSettings,
    ExponentialRetry,
    UserDelegationKey,
    generate_blob_sas,
    generate_container_sas,
)

from ._credentials import sign_in_failure
from ._exceptions import BatchwordsError, ConfigError, StorageError
from ._inputs import select_inputs
from ._roles import waiting_for_roles
from ._transfer import (
    TRANSFER_CONCURRENCY,
    bounded,
    download_to,
    md5_file,
    pooled_transport,
    read,
    upload_if_changed,
)

logger = logging.getLogger(__name__)

#: A SAS starts this far back, so a node whose clock runs behind can use it.
CLOCK_SKEW = timedelta(minutes=15)
#: Added to the work a SAS must outlive (queueing, uploads).
SAS_MARGIN = timedelta(hours=1)
#: The longest a user delegation key, and so its SAS, may live (a service limit).
MAX_USER_DELEGATION = timedelta(days=7)
#: Asked-for keys end this much before the limit, for clocks that differ from the service's.
KEY_MARGIN = timedelta(minutes=10)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BlobInfo:
    """One blob: name, size, MD5 (base64, as Storage reports it) and URL without SAS."""

    name: str
    size: int
    md5: str
    url: str


def sas_lifetime(
    wall_clock: timedelta,
    retries: int,
    *,
    job_wall_clock: timedelta | None = None,
    requested: timedelta | None = None,
) -> timedelta:
    """How long a task's SAS lives: the longer of every attempt's wall-clock limit and the
    job's own (tasks may queue for nodes until the job ends), plus a margin.

    An explicit ``requested`` lifetime shorter than the work it must outlive is
    refused rather than silently producing tasks that fail half-way.
    """
    work = max(wall_clock * (retries + 1), job_wall_clock or timedelta(0))
    if requested is not None:
        if requested < work:
            raise ConfigError(
                f"a SAS lifetime of {requested} is shorter than the work it must outlive "
                f"({work}: the job's wall-clock limit, or {retries + 1} attempts x {wall_clock}); raise "
                "the lifetime or lower the limits"
            )
        return requested
    return work + SAS_MARGIN


def md5_base64(path: Path) -> str:
    """The file's MD5 in base64, as Storage reports a blob's Content-MD5."""
    return md5_file(path)


def _storage_error(action: str, exc: Exception) -> BatchwordsError:
    no_token = sign_in_failure(exc)
    if no_token is not None:
        return no_token
    if isinstance(exc, OSError):  # a stream cut short (requests' ChunkedEncodingError is an OSError)
        return StorageError(f"{action} failed: the download broke off ({type(exc).__name__}); try again")
    if isinstance(exc, ServiceRequestError):
        return StorageError(f"{action} failed: Storage cannot be reached ({str(exc).splitlines()[0][:200]})")
    code = getattr(exc, "error_code", None)
    status = getattr(exc, "status_code", None)
    detail = f"{status} {code}" if status else type(exc).__name__
    message = getattr(exc, "reason", None) or getattr(exc, "message", None) or str(exc)
    return StorageError(f"{action} failed ({detail}): {str(message).splitlines()[0]}")


class Storage:
    """One storage account, through azure-storage-blob; uploads, downloads and reads of many
    blobs run ``concurrency`` at a time."""

    def __init__(
        self,
        account_url: str,
        credential: AzureNamedKeyCredential | TokenCredential,
        *,
        concurrency: int = TRANSFER_CONCURRENCY,
    ) -> None:
        parts = urlsplit(account_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"storage endpoint {account_url!r} is not a URL such as https://ACCOUNT.blob.core.windows.net"
            )
        self.account_url = account_url.rstrip("/")
        if not isinstance(credential, AzureNamedKeyCredential) and parts.scheme != "https":
            raise ConfigError(
                f"storage endpoint {self.account_url} is not https: Entra ID tokens go over https only; use "
                "the account's https endpoint, or Shared Key (BATCHWORDS_STORAGE_KEY...) for Azurite"
            )
        if concurrency < 1:
            raise ConfigError(f"transfer concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self._credential = credential
        shared = (
            {"account_name": credential.named_key.name, "account_key": credential.named_key.key}
            if isinstance(credential, AzureNamedKeyCredential)
            else credential
        )
        # An unreachable endpoint fails in about 10 s (two retries, about 3 and 5 s apart; the
        # SDK's default pauses add up to 84 s), and a connection that never answers ends its
        # attempt after a minute.
        self._service = BlobServiceClient(
            self.account_url,
            credential=shared,
            retry_policy=ExponentialRetry(
                initial_backoff=1, increment_base=2, retry_total=2, random_jitter_range=1
            ),
            transport=pooled_transport(concurrency, connection_timeout=10, read_timeout=60),
        )
        self._delegation: tuple[UserDelegationKey, datetime] | None = None

    @property
    def account_name(self) -> str:
        return str(self._service.account_name)

    def _container(self, name: str) -> ContainerClient:
        return self._service.get_container_client(name)

    def blob_url(self, container: str, name: str) -> str:
        return f"{self.account_url}/{container}/{quote(name)}"

    def ensure_container(self, name: str) -> None:
        try:
            self._service.create_container(name)
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise _storage_error(f"creating container {name}", exc) from exc

    def delete_container(self, name: str) -> None:
        try:
            self._service.delete_container(name)
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise _storage_error(f"deleting container {name}", exc) from exc

    def delete_prefix(self, container: str, prefix: str) -> int:
        """Delete every blob under ``prefix``; a missing container or blob is fine."""
        deleted = 0
        try:
            for blob in self._container(container).list_blobs(name_starts_with=prefix):
                deleted += self.delete_blob(container, blob.name)
        except ResourceNotFoundError:
            return deleted
        except AzureError as exc:
            raise _storage_error(f"deleting {container}/{prefix}*", exc) from exc
        return deleted

    def list_blobs(self, container: str, prefix: str = "") -> list[BlobInfo]:
        def listing() -> list[BlobInfo]:
            return [
                BlobInfo(
                    name=blob.name,
                    size=blob.size,
                    md5=base64.b64encode(bytes(blob.content_settings.content_md5 or b"")).decode("ascii"),
                    url=self.blob_url(container, blob.name),
                )
                for blob in self._container(container).list_blobs(name_starts_with=prefix or None)
            ]

        try:
            return waiting_for_roles(f"listing container {container}", listing)
        except ResourceNotFoundError as exc:
            raise StorageError(f"container {container} does not exist in {self.account_url}") from exc
        except AzureError as exc:
            raise _storage_error(f"listing container {container}", exc) from exc

    def find(self, container: str, pattern: str) -> list[BlobInfo]:
        """Blobs whose name holds ``pattern`` (any case); with ``*``, ``?`` or ``[``, blobs whose
        name or base name matches it as a glob (``*.txt``, ``sub/*``)."""
        wanted = pattern.lower()
        if not any(char in pattern for char in "*?["):
            return [blob for blob in self.list_blobs(container) if wanted in blob.name.lower()]
        return [
            blob
            for blob in self.list_blobs(container)
            if any(fnmatchcase(name.lower(), wanted) for name in (blob.name, blob.name.rsplit("/", 1)[-1]))
        ]

    def upload_folder(
        self,
        folder: Path,
        container: str,
        *,
        prefix: str = "",
        progress: Progress | None = None,
        exclude: Sequence[Path] = (),
        follow_links: bool = False,
    ) -> list[tuple[BlobInfo, bool]]:
        """Upload the input files under ``folder`` (see ``select_inputs``: no hidden files,
        no nodetask results...); a blob whose MD5 already matches is skipped. Returns each
        blob and whether it was uploaded."""
        inputs = select_inputs(folder, prefix=prefix, exclude=exclude, follow_links=follow_links)
        for path, why in inputs.skipped:
            logger.info("not an input: %s (%s)", path, why)
        return self.upload_files(container, inputs.files, prefix=prefix, progress=progress)

    def upload_files(
        self, container: str, files: Mapping[str, Path], *, prefix: str = "", progress: Progress | None = None
    ) -> list[tuple[BlobInfo, bool]]:
        """Upload files (blob name -> local path), ``concurrency`` at once; a blob under
        ``prefix`` whose MD5 already matches the file's is skipped (the container is listed
        once). Returns each blob (in the order given) and whether it was uploaded;
        ``progress`` is called as each file is done."""
        existing = {blob.name: blob.md5 for blob in self.list_blobs(container, prefix)}
        client = self._container(container)

        def upload(item: tuple[str, Path]) -> tuple[BlobInfo, bool]:
            name, path = item
            try:
                size, md5, uploaded = upload_if_changed(client, name, path, existing.get(name))
            except AzureError as exc:
                raise _storage_error(f"uploading {path} to {container}/{name}", exc) from exc
            return BlobInfo(name, size, md5, self.blob_url(container, name)), uploaded

        return bounded(
            upload, list(files.items()), concurrency=self.concurrency, done=_reporting(progress, len(files))
        )

    def sync_files(
        self, container: str, files: Mapping[str, Path], *, previous: Iterable[str] = ()
    ) -> tuple[list[tuple[BlobInfo, bool]], list[str]]:
        """Upload what is new or changed among ``files`` (MD5 skip), and delete the
        ``previous`` names (what an earlier sync put there) that are no longer among
        them; blobs anyone else put in the container are left alone. Returns the
        blobs and the deleted names."""
        results = self.upload_files(container, files)
        gone = sorted(set(previous) - set(files))
        bounded(lambda name: self.delete_blob(container, name), gone, concurrency=self.concurrency)
        return results, gone

    def delete_blob(self, container: str, name: str) -> bool:
        """Delete one blob; one that is already gone is fine (returns False)."""
        try:
            self._container(container).delete_blob(name, delete_snapshots="include")
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise _storage_error(f"deleting {container}/{name}", exc) from exc
        return True

    def read_blob(self, container: str, name: str) -> bytes:
        """One blob's bytes; a missing one is a ``StorageError`` naming it."""
        return self._read(self._container(container), container, name)

    def read_blob_if_exists(self, container: str, name: str) -> bytes | None:
        """One blob's bytes, or None when it does not exist."""
        try:
            return read(self._container(container), name)
        except ResourceNotFoundError:
            return None
        except (AzureError, OSError) as exc:
            raise _storage_error(f"reading {container}/{name}", exc) from exc

    def write_blob(self, container: str, name: str, data: bytes, content_type: str) -> None:
        """Write (or replace) one small blob whole."""
        try:
            self._container(container).upload_blob(
                name, data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
            )
        except AzureError as exc:
            raise _storage_error(f"writing {container}/{name}", exc) from exc

    def read_blobs(self, container: str, names: Iterable[str]) -> dict[str, bytes]:
        """Several blobs' bytes (name -> bytes), ``concurrency`` at once; a missing one is a
        ``StorageError`` naming it."""
        wanted = list(dict.fromkeys(names))
        client = self._container(container)
        contents = bounded(
            lambda name: self._read(client, container, name), wanted, concurrency=self.concurrency
        )
        return dict(zip(wanted, contents, strict=True))

    def _read(self, client: ContainerClient, container: str, name: str) -> bytes:
        try:
            return read(client, name)
        except ResourceNotFoundError as exc:
            raise StorageError(f"blob {container}/{name} does not exist") from exc
        except (AzureError, OSError) as exc:
            raise _storage_error(f"reading {container}/{name}", exc) from exc

    def download(
        self, container: str, dest: Path, *, prefix: str = "", progress: Progress | None = None
    ) -> list[Path]:
        """Download every blob under ``prefix`` into ``dest``, keeping their paths, ``concurrency``
        at once. Each file is written whole (a ``.partial`` renamed when complete); a blob
        name that would leave ``dest`` is refused before anything is written."""
        root = dest.resolve()
        targets: list[tuple[str, Path]] = []
        for blob in self.list_blobs(container, prefix):
            target = (root / blob.name).resolve()
            if not target.is_relative_to(root) or target == root:
                raise StorageError(f"blob name {blob.name!r} would leave {dest}; not downloaded")
            targets.append((blob.name, target))
        client = self._container(container)

        def fetch(item: tuple[str, Path]) -> Path:
            name, target = item
            try:
                return download_to(client, name, target)
            except ResourceNotFoundError as exc:
                raise StorageError(f"blob {container}/{name} does not exist") from exc
            except OSError as exc:
                if exc.errno is not None:  # the local file system (disk full, no permission...)
                    raise
                raise _storage_error(f"reading {container}/{name}", exc) from exc
            except AzureError as exc:
                raise _storage_error(f"reading {container}/{name}", exc) from exc

        return bounded(fetch, targets, concurrency=self.concurrency, done=_reporting(progress, len(targets)))

    # -- SAS ---------------------------------------------------------------

    def _signing(self, expiry: datetime) -> dict[str, object]:
        if isinstance(self._credential, AzureNamedKeyCredential):
            return {"account_key": self._credential.named_key.key}
        if self._delegation is None or self._delegation[1] < expiry:
            # One key for the whole run: it lives as long as the service allows, so every
            # SAS of the run (each at most that long) is signed with it.
            now = datetime.now(UTC)
            start, expiry = now - CLOCK_SKEW, max(expiry, now + MAX_USER_DELEGATION - KEY_MARGIN)
            try:
                key = waiting_for_roles(
                    "getting a user delegation key",
                    lambda: self._service.get_user_delegation_key(start, expiry),
                )
            except HttpResponseError as exc:
                raise _storage_error(
                    "getting a user delegation key (the signed-in principal needs "
                    "'Storage Blob Delegator' or a data role on the account)",
                    exc,
                ) from exc
            self._delegation = (key, expiry)
        return {"user_delegation_key": self._delegation[0]}

    def _window(self, lifetime: timedelta) -> tuple[datetime, datetime]:
        if (
            not isinstance(self._credential, AzureNamedKeyCredential)
            and lifetime > MAX_USER_DELEGATION - KEY_MARGIN
        ):
            raise ConfigError(
                f"a user delegation SAS lives at most 7 days; {lifetime} was asked for: lower the "
                "wall-clock limit or retry count"
            )
        now = datetime.now(UTC)
        return now - CLOCK_SKEW, now + lifetime

    def input_sas_url(self, container: str, name: str, lifetime: timedelta) -> str:
        """A read-only URL for one input blob."""
        start, expiry = self._window(lifetime)
        sas = generate_blob_sas(
            self.account_name,
            container,
            name,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
            protocol=self._protocol(),
            **self._signing(expiry),  # type: ignore[arg-type]
        )
        return f"{self.blob_url(container, name)}?{sas}"

    def output_sas(self, container: str, lifetime: timedelta) -> str:
        """A create+write-only SAS token for a container (no read, no list)."""
        return self._container_sas(container, lifetime, ContainerSasPermissions(create=True, write=True))

    def output_read_sas(self, container: str, lifetime: timedelta) -> str:
        """A read-only SAS token for a container (no list, no write): the reduce tasks read
        the map tasks' results by name with it."""
        return self._container_sas(container, lifetime, ContainerSasPermissions(read=True))

    def _container_sas(self, container: str, lifetime: timedelta, permission: ContainerSasPermissions) -> str:
        start, expiry = self._window(lifetime)
        return generate_container_sas(
            self.account_name,
            container,
            permission=permission,
            start=start,
            expiry=expiry,
            protocol=self._protocol(),
            **self._signing(expiry),  # type: ignore[arg-type]
        )

    def _protocol(self) -> str:
        # HTTPS only in Azure; the emulators listen on plain http on loopback.
        return "https" if self.account_url.startswith("https://") else "https,http"


def _reporting(
    progress: Progress | None, total: int
) -> Callable[[int, tuple[str, object], object], None] | None:
    """A ``bounded`` callback that reports (done, total, blob name) as each transfer ends."""
    if progress is None:
        return None
    return lambda count, item, _result: progress(count, total, item[0])
