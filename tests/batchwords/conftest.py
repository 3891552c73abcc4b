"""Fixtures of the batchwords tests: where the CLI finds its services, or finds none."""

from __future__ import annotations

import pytest


@pytest.fixture
def target(emulators, azurite, monkeypatch, tmp_path):
    """Shared Key credentials and endpoints from the environment; a private config folder."""
    monkeypatch.setenv("BATCHWORDS_BATCH_ACCOUNT", emulators.localbatch.account)
    monkeypatch.setenv("BATCHWORDS_BATCH_KEY", emulators.localbatch.key)
    monkeypatch.setenv("BATCHWORDS_STORAGE_ACCOUNT", azurite.account)
    monkeypatch.setenv("BATCHWORDS_STORAGE_KEY", azurite.key)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("BATCHWORDS_BATCH_ENDPOINT", raising=False)
    monkeypatch.delenv("BATCHWORDS_STORAGE_ENDPOINT", raising=False)
    return [
        "--batch-endpoint",
        emulators.localbatch.endpoint,
        "--storage-endpoint",
        emulators.storage.account_url,
    ]


@pytest.fixture
def no_target(monkeypatch, tmp_path):
    """No endpoints, no keys, an empty config folder and state folder."""
    for name in (
        "BATCHWORDS_BATCH_ENDPOINT",
        "BATCHWORDS_STORAGE_ENDPOINT",
        "BATCHWORDS_BATCH_ACCOUNT",
        "BATCHWORDS_BATCH_KEY",
        "BATCHWORDS_STORAGE_ACCOUNT",
        "BATCHWORDS_STORAGE_KEY",
        "BATCHWORDS_SIGN_IN",
        "AZURE_SUBSCRIPTION_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("BATCHWORDS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-cli"))
    return tmp_path
