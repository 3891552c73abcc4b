"""The one place that decides which credentials batchwords uses.

Shared Key from environment variables (the emulators: localbatch and
Azurite), else azure-identity: ``DefaultAzureCredential`` (a signed-in Azure
CLI, a service principal from ``AZURE_CLIENT_ID``/``AZURE_TENANT_ID``/
``AZURE_CLIENT_SECRET``, a managed identity, ...), or, when asked for, an
interactive sign-in whose tokens are kept in azure-identity's persistent cache
so the next run signs in silently.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    AuthenticationRecord,
    DefaultAzureCredential,
    DeviceCodeCredential,
    InteractiveBrowserCredential,
    TokenCachePersistenceOptions,
)

from . import _env as env_names
from ._exceptions import ConfigError

logger = logging.getLogger(__name__)

BATCH_SCOPE = "https://batch.core.windows.net/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
CACHE_NAME = "batchwords"
SIGN_IN_MODES = ("browser", "device-code")


@dataclass(frozen=True)
class Credentials:
    """Credentials for Batch and for Storage, and a line saying where they came from."""

    batch: AzureNamedKeyCredential | TokenCredential
    storage: AzureNamedKeyCredential | TokenCredential
    source: str

    @property
    def shared_key(self) -> bool:
        return isinstance(self.storage, AzureNamedKeyCredential)

    @classmethod
    def from_keys(
        cls, *, batch_account: str, batch_key: str, storage_account: str, storage_key: str, source: str
    ) -> Credentials:
        """Shared Key for both accounts (the emulators), passed as values; keys must be base64."""
        for name, key in (("Batch", batch_key), ("Storage", storage_key)):
            try:
                base64.b64decode(key, validate=True)
            except binascii.Error:
                raise ConfigError(
                    f"the {name} account key ({source}) is not base64: copy the whole key"
                ) from None
        return cls(
            batch=AzureNamedKeyCredential(batch_account, batch_key),
            storage=AzureNamedKeyCredential(storage_account, storage_key),
            source=f"Shared Key for Batch account {batch_account} and Storage account {storage_account} "
            f"({source})",
        )


#: What to do when no credential gives a token (instead of azure-identity's 65-line report).
SIGN_IN_HINT = (
    "no Azure sign-in found: run `az login` or `batchwords login`, or set AZURE_CLIENT_ID, "
    "AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal (or the BATCHWORDS_*_KEY "
    "variables for the emulators)"
)


def sign_in_failure(exc: BaseException) -> ConfigError | None:
    """A ``ConfigError`` saying how to sign in, if ``exc`` is a failure to get a token at all
    (not a refusal by the service, which has a status code)."""
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return ConfigError(SIGN_IN_HINT)
    return None


def _record_path(state_dir: Path) -> Path:
    return state_dir / "authentication-record.json"


def _interactive(mode: str, state_dir: Path) -> InteractiveBrowserCredential | DeviceCodeCredential:
    record_path = _record_path(state_dir)
    record = AuthenticationRecord.deserialize(record_path.read_text()) if record_path.exists() else None
    cache = TokenCachePersistenceOptions(name=CACHE_NAME)
    if mode == "browser":
        return InteractiveBrowserCredential(cache_persistence_options=cache, authentication_record=record)
    return DeviceCodeCredential(cache_persistence_options=cache, authentication_record=record)


def sign_in(mode: str, state_dir: Path) -> str:
    """Sign in interactively once and remember the account; returns who signed in."""
    if mode not in SIGN_IN_MODES:
        raise ConfigError(f"sign-in mode {mode!r} is unknown; use one of {', '.join(SIGN_IN_MODES)}")
    record = _interactive(mode, state_dir).authenticate(scopes=[BATCH_SCOPE])
    state_dir.mkdir(parents=True, exist_ok=True)
    _record_path(state_dir).write_text(record.serialize())
    return f"{record.username} (tenant {record.tenant_id})"


def resolve_credentials(
    environ: Mapping[str, str] | None = None,
    *,
    sign_in_mode: str | None = None,
    state_dir: Path | None = None,
) -> Credentials:
    """Choose the credentials, log in one line which, and return them.

    Shared Key when ``BATCHWORDS_BATCH_KEY`` and ``BATCHWORDS_STORAGE_KEY`` are
    set (with their account names); an interactive sign-in when
    ``sign_in_mode`` (or ``BATCHWORDS_SIGN_IN``) is browser or device-code;
    otherwise ``DefaultAzureCredential``.
    """
    env = os.environ if environ is None else environ
    keys = {name: env.get(name, "") for name in env_names.SHARED_KEYS}
    if any(keys.values()):
        missing = [name for name, value in keys.items() if not value]
        if missing:
            raise ConfigError(
                "Shared Key credentials are half set: " + ", ".join(missing) + " missing; set all four "
                f"({', '.join(keys)}) for the emulators, or none to use Entra ID"
            )
        credentials = Credentials.from_keys(
            batch_account=keys[env_names.BATCH_ACCOUNT],
            batch_key=keys[env_names.BATCH_KEY],
            storage_account=keys[env_names.STORAGE_ACCOUNT],
            storage_key=keys[env_names.STORAGE_KEY],
            source=f"from {env_names.BATCH_KEY}/{env_names.STORAGE_KEY}",
        )
    else:
        mode = sign_in_mode or env.get(env_names.SIGN_IN) or None
        if mode:
            if mode not in SIGN_IN_MODES:
                raise ConfigError(
                    f"{env_names.SIGN_IN}={mode!r} is unknown; use one of {', '.join(SIGN_IN_MODES)}"
                )
            if state_dir is None:
                raise ConfigError("an interactive sign-in needs a folder to remember the account in")
            token: TokenCredential = _interactive(mode, state_dir)
            source = f"interactive {mode} sign-in, tokens from the persistent cache '{CACHE_NAME}'"
        else:
            token = DefaultAzureCredential(exclude_interactive_browser_credential=True)
            source = "DefaultAzureCredential (Azure CLI, environment service principal or managed identity)"
        credentials = Credentials(batch=token, storage=token, source=source)
    logger.info("credentials: %s", credentials.source)
    return credentials
