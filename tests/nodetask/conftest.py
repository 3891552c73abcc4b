"""Fixtures of the nodetask tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient


@pytest.fixture
def container(blob_service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A fresh output container in Azurite, removed afterwards."""
    client = blob_service.create_container(f"out-{uuid.uuid4().hex[:12]}")
    yield client
    client.delete_container()
