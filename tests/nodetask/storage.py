"""Container SAS for nodetask's tests against Azurite, made as the client makes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

from batchwords.offline import Azurite

#: What a map or merge writes with: create+write only.
WRITE = ContainerSasPermissions(create=True, write=True)
#: What a merge reads the map's blobs with.
READ = ContainerSasPermissions(read=True)


def make_sas(
    azurite: Azurite,
    container: str,
    *,
    permission: ContainerSasPermissions | None = None,
    expires_in: timedelta = timedelta(hours=1),
) -> str:
    now = datetime.now(UTC)
    return generate_container_sas(
        azurite.account,
        container,
        account_key=azurite.key,
        permission=permission or WRITE,
        start=now - timedelta(minutes=15),
        expiry=now + expires_in,
    )


def download(container: ContainerClient, name: str) -> bytes:
    return container.get_blob_client(name).download_blob().readall()
