"""The services an offline run talks to: emulators it starts, kept ones, or given endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from localbatch import AutoStorage, LocalBatch, Realism

from .._credentials import Credentials
from ._azurite import Azurite, start_azurite


@dataclass(frozen=True)
class Services:
    """Where Batch and Storage are, and the credentials for both (values, never the environment)."""

    batch_endpoint: str
    storage_endpoint: str
    credentials: Credentials


def emulator_credentials(batch: LocalBatch, azurite: Azurite, source: str) -> Credentials:
    """Shared Key credentials for a running localbatch and Azurite."""
    return Credentials.from_keys(
        batch_account=batch.account,
        batch_key=batch.key,
        storage_account=azurite.account,
        storage_key=azurite.key,
        source=source,
    )


@contextmanager
def emulators(work_dir: Path) -> Iterator[Services]:
    """Azurite and localbatch on free loopback ports; stopped on exit, whatever happens."""
    azurite = start_azurite(work_dir / "azurite")
    try:
        storage = AutoStorage(azurite.account_url, azurite.account, azurite.key)
        # Deletes end in a tenth of a second, not the service's second: a run's clean-up is quick.
        quick = Realism(delete_delay=0.1)
        with LocalBatch(
            work_dir / "localbatch", auto_storage=storage, scheduler_interval=0.1, realism=quick
        ) as batch:
            credentials = emulator_credentials(batch, azurite, "the emulators this run started")
            yield Services(batch.endpoint, azurite.account_url, credentials)
    finally:
        azurite.stop()
