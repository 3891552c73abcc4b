from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from batchwords._azurite import Azurite, start_azurite

# Azurite + localbatch fixtures shared by the batchwords and infra tests.
pytest_plugins = ["tests.emulators"]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite blob service for the whole test session, stopped at its end."""
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def blob_service(azurite: Azurite) -> BlobServiceClient:
    """A Shared Key client for the emulator's account (the test's admin view)."""
    return BlobServiceClient(
        azurite.account_url, credential={"account_name": azurite.account, "account_key": azurite.key}
    )
