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
import json
import logging
import os
from collections.abc import Callable, Mapping
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


def _cache_mark(state_dir: Path) -> Path:
    """Which token cache `batchwords login` fell back to, when the encrypted one was impossible."""
    return state_dir / "token-cache.json"


#: The token caches, most protected first: "encrypted" (the platform's keyring: libsecret,
#: Keychain, DPAPI), "unencrypted" (a file readable by the user), "memory" (this process only).
CACHES = ("encrypted", "unencrypted", "memory")
CACHE_WARNINGS = {
    "unencrypted": "the token cache cannot be encrypted here (no keyring: libsecret needs a desktop "
    "session); your tokens are kept UNENCRYPTED in ~/.IdentityService/"
    f"{CACHE_NAME}.* instead, readable by your user only: protect that folder, or sign in on a machine with "
    "a keyring",
    "memory": "no persistent token cache is possible here; the tokens are kept in memory only, so later "
    "commands cannot reuse this sign-in: use a service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, "
    "AZURE_CLIENT_SECRET) or `az login` instead",
}


def token_cache(state_dir: Path) -> str:
    mark = _cache_mark(state_dir)
    if mark.exists():
        kind = str(json.loads(mark.read_text(encoding="utf-8")).get("cache", "encrypted"))
        return kind if kind in CACHES else "encrypted"
    return "encrypted"


def _cache_unavailable(exc: BaseException) -> bool:
    """azure-identity's error for a cache it cannot keep: a ValueError naming
    ``allow_unencrypted_storage`` (no usable libsecret), or NotImplementedError (no persistence at all),
    raised from the credential as a ClientAuthenticationError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValueError) and "allow_unencrypted_storage" in str(seen):
            return True
        if isinstance(seen, NotImplementedError) and "persistent cache" in str(seen):
            return True
        seen = seen.__cause__
    return False


def _interactive(
    mode: str, state_dir: Path, cache: str | None = None
) -> InteractiveBrowserCredential | DeviceCodeCredential:
    record_path = _record_path(state_dir)
    record = AuthenticationRecord.deserialize(record_path.read_text()) if record_path.exists() else None
    cache = cache or token_cache(state_dir)
    options = (
        None
        if cache == "memory"
        else TokenCachePersistenceOptions(name=CACHE_NAME, allow_unencrypted_storage=cache == "unencrypted")
    )
    if mode == "browser":
        return InteractiveBrowserCredential(cache_persistence_options=options, authentication_record=record)
    return DeviceCodeCredential(cache_persistence_options=options, authentication_record=record)


def sign_in(mode: str, state_dir: Path, warn: Callable[[str], None] = logger.warning) -> str:
    """Sign in interactively once and remember the account; returns who signed in.

    The tokens go to the encrypted cache; where it is impossible (a machine without a display
    or keyring), to an unencrypted file, else to memory, each with a warning through ``warn``."""
    if mode not in SIGN_IN_MODES:
        raise ConfigError(f"sign-in mode {mode!r} is unknown; use one of {', '.join(SIGN_IN_MODES)}")
    for cache in CACHES:
        try:
            record = _interactive(mode, state_dir, cache).authenticate(scopes=[BATCH_SCOPE])
        except ClientAuthenticationError as exc:
            if cache == CACHES[-1] or not _cache_unavailable(exc):
                raise
            continue
        break
    state_dir.mkdir(parents=True, exist_ok=True)
    _record_path(state_dir).write_text(record.serialize())
    _cache_mark(state_dir).write_text(json.dumps({"cache": cache}), encoding="utf-8")
    if cache != "encrypted":
        warn(CACHE_WARNINGS[cache])
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
            cache = token_cache(state_dir)
            kept = f"from the {cache} persistent cache '{CACHE_NAME}'"
            kept = "in memory only" if cache == "memory" else kept
            source = f"interactive {mode} sign-in, tokens {kept}"
        else:
            token = DefaultAzureCredential(exclude_interactive_browser_credential=True)
            source = "DefaultAzureCredential (Azure CLI, environment service principal or managed identity)"
        credentials = Credentials(batch=token, storage=token, source=source)
    logger.info("credentials: %s", credentials.source)
    return credentials


def token_claims(token: str) -> dict[str, object]:
    """The claims of a JWT access token, read without verifying it (only to say who it names)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ConfigError("the access token is not a JWT; cannot tell who it names") from exc
    if not isinstance(claims, dict):
        raise ConfigError("the access token's claims are not a JSON object")
    return claims


def _who(claims: Mapping[str, object]) -> tuple[str, str]:
    """(kind, name) of the principal a token's claims name: ("user", its sign-in name) or
    ("service principal", its application's name or id)."""
    person = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
    # "idtyp" says app or user where the token has it; else a token naming a person is a user's.
    if claims.get("idtyp") == "user" or ("idtyp" not in claims and person is not None):
        return "user", str(person or "")
    return "service principal", str(claims.get("app_displayname") or claims.get("appid") or "")


#: How to make azure-identity sign in as the principal the program granted the roles to.
SAME_PRINCIPAL_HINT = (
    "make both the same principal: for a service principal, set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
    "AZURE_CLIENT_SECRET to the one in ARM_CLIENT_ID, ARM_TENANT_ID and ARM_CLIENT_SECRET (azure-native "
    "reads ARM_*, azure-identity AZURE_*); for yourself, `az login` as the user who runs `pulumi up`, "
    "and on a machine with a managed identity (which DefaultAzureCredential tries before the Azure "
    "CLI) also set AZURE_TOKEN_CREDENTIALS=AzureCliCredential; if someone else ran the stack's last "
    "`pulumi up`, run `pulumi up` as yourself first (it grants you the roles), then refresh or destroy"
)


def require_principal(credentials: Credentials, object_id: str | None, scope: str = STORAGE_SCOPE) -> None:
    """Fail at once, naming both object ids, when Entra ID credentials act as another principal
    than ``object_id`` (the one the Pulumi program granted the data roles to): Storage and Batch
    would answer 403, which looks like a role still applying. Shared Key (the emulators) and no
    ``object_id`` are not checked."""
    if not object_id or isinstance(credentials.storage, AzureNamedKeyCredential):
        return
    try:
        claims = token_claims(credentials.storage.get_token(scope).token)
    except ClientAuthenticationError as exc:
        raise sign_in_failure(exc) or ConfigError(SIGN_IN_HINT) from exc
    signed_in = str(claims.get("oid") or "")
    if signed_in.lower() == object_id.lower():
        return
    kind, name = _who(claims)
    oid = signed_in or "missing from its token"
    who = f"{kind} {name} (object id {oid})" if name else f"{kind} with object id {oid}"
    raise ConfigError(
        f"the data roles were granted to object id {object_id} (whom azure-native signs in as), but "
        f"batchwords' credentials, {credentials.source}, sign in as the {who}: Storage and Batch would "
        f"refuse them (403); {SAME_PRINCIPAL_HINT}",
        [("principal_id", f"is {object_id}, but the credentials sign in as object id {signed_in or '?'}")],
    )


def _azure_cli_subscription(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The Azure CLI's default subscription (what `az account show` prints), from its profile file."""
    folder = Path(environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    try:
        profile = json.loads((folder / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    for subscription in profile.get("subscriptions", []) if isinstance(profile, dict) else []:
        if isinstance(subscription, dict) and subscription.get("isDefault"):
            return {"id": str(subscription.get("id")), "name": str(subscription.get("name", ""))}
    return None


def identity(credentials: Credentials, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Who the credentials act as, as `az account show` tells it: for Entra ID, the kind (user or
    service principal), name, object id, tenant and subscription, read from a Batch token's claims."""
    env = os.environ if environ is None else environ
    if isinstance(credentials.batch, AzureNamedKeyCredential) and isinstance(
        credentials.storage, AzureNamedKeyCredential
    ):
        return {
            "kind": "shared key",
            "batch_account": credentials.batch.named_key.name,
            "storage_account": credentials.storage.named_key.name,
            "note": "account keys (the emulators, or a key you set), no Entra ID identity",
            "source": credentials.source,
        }
    assert not isinstance(credentials.batch, AzureNamedKeyCredential)
    try:
        claims = token_claims(credentials.batch.get_token(BATCH_SCOPE).token)
    except ClientAuthenticationError as exc:
        raise sign_in_failure(exc) or ConfigError(SIGN_IN_HINT) from exc
    kind, name = _who(claims)
    subscription_id = env.get("AZURE_SUBSCRIPTION_ID")
    subscription = {"id": subscription_id, "name": ""} if subscription_id else _azure_cli_subscription(env)
    return {
        "kind": kind,
        "name": name,
        "object_id": claims.get("oid"),
        "app_id": claims.get("appid") or claims.get("azp"),
        "tenant_id": claims.get("tid"),
        "subscription": subscription,
        "source": credentials.source,
    }
