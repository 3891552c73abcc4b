from __future__ import annotations

import pytest


@pytest.fixture
def env(emulators, azurite, monkeypatch):
    """The provider reads Shared Key credentials from the environment, as `pulumi up` would."""
    values = {
        "BATCHWORDS_BATCH_ACCOUNT": emulators.localbatch.account,
        "BATCHWORDS_BATCH_KEY": emulators.localbatch.key,
        "BATCHWORDS_STORAGE_ACCOUNT": azurite.account,
        "BATCHWORDS_STORAGE_KEY": azurite.key,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
