"""The providers act as the principal the program granted the roles to, or fail at once naming both.

azure-native grants the data roles to the principal it signs in as
(``getClientConfig``); the providers sign in through azure-identity, which can
pick another one (``ARM_*`` set without ``AZURE_*``, a machine's managed
identity). Entra ID cannot be reached here, so the token is made up: an
unsigned JWT as Entra ID issues them; the provider reads its ``oid``.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

import batchwords
from infra.batch_job import _BatchJobProvider
from infra.blob_files import _BlobFilesProvider
from tests.support.emulators import batch_job_props, upload_samples
from tests.support.gone import BATCH, STORAGE
from tests.support.pulumi_mocks import outs_of

#: The principal the program granted the roles to (getClientConfig's objectId).
DEPLOYER = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#: Another principal: a machine's managed identity, say.
OTHER = "9b2a1c4d-7e6f-4a3b-8c5d-2e1f0a9b8c7d"
#: Endpoints that never resolve (RFC 6761): a verb that reached them would fail differently.
MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}.c2lnbmF0dXJl"


class Token:
    """A TokenCredential whose tokens name one principal; it records the scopes asked for."""

    def __init__(self, claims: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.claims = claims or {}
        self.error = error
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        if self.error is not None:
            raise self.error
        return AccessToken(jwt(self.claims), int(time.time()) + 3600)


def user(oid: str) -> dict[str, Any]:
    return {
        "aud": "https://storage.azure.com",
        "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "idtyp": "user",
        "upn": "ada@contoso.example",
        "oid": oid,
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }


def managed_identity(oid: str) -> dict[str, Any]:
    return {"idtyp": "app", "appid": "5c1f7d2e-0000-4000-8000-00000000a1b2", "oid": oid, "tid": "t"}


@pytest.fixture
def signed_in(monkeypatch):
    """Make the providers' credentials (resolved in each verb) Entra ID ones holding ``token``."""

    def use(token: Token) -> Token:
        credentials = batchwords.Credentials(batch=token, storage=token, source="a test token")
        monkeypatch.setattr(batchwords, "resolve_credentials", lambda *a, **k: credentials)
        return token

    return use


def job_props(**overrides: Any) -> dict[str, Any]:
    props = {
        "job_id": "words",
        "pool_id": "pool",
        "batch_endpoint": BATCH,
        "storage_endpoint": STORAGE,
        "input_container": "input",
        "output_container": "output",
        "inputs": {"a.txt": MD5},
        "wait": False,
        "principal_id": DEPLOYER,
    }
    return {**props, **overrides}


def files_props(tmp_path, **overrides: Any) -> dict[str, Any]:
    (tmp_path / "a.txt").write_text("", encoding="utf-8")
    props = {
        "storage_endpoint": STORAGE,
        "container": "input",
        "prefix": "",
        "files": {"a.txt": {"path": str(tmp_path / "a.txt"), "md5": MD5}},
        "principal_id": DEPLOYER,
    }
    return {**props, **overrides}


def verbs(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    """Every verb that talks to Azure, as the engine calls it."""
    return {
        "create": lambda: provider.create(props),
        "update": lambda: provider.update("id", props, props),
        "read": lambda: provider.read("id", props),
        "delete": lambda: provider.delete("id", props),
    }


@pytest.mark.parametrize("verb", ["create", "update", "read", "delete"])
@pytest.mark.parametrize("resource", ["BatchJob", "BlobFiles"])
@pytest.mark.parametrize("claims", [user(OTHER), managed_identity(OTHER)], ids=["user", "managed-identity"])
def test_another_principal_fails_at_once_naming_both(signed_in, tmp_path, resource, verb, claims):
    token = signed_in(Token(claims))
    if resource == "BatchJob":
        call = verbs(_BatchJobProvider(), job_props())[verb]
    else:
        call = verbs(_BlobFilesProvider(), files_props(tmp_path))[verb]
    started = time.monotonic()
    with pytest.raises(batchwords.ConfigError) as raised:
        call()
    message = str(raised.value)
    assert DEPLOYER in message
    assert OTHER in message
    assert "AZURE_CLIENT_ID" in message
    assert "ARM_CLIENT_ID" in message
    assert "az login" in message
    assert "AZURE_TOKEN_CREDENTIALS=AzureCliCredential" in message
    assert ("ada@contoso.example" in message) == (claims["idtyp"] == "user")
    # One token, and no request to Storage or Batch (which would fail otherwise, and slowly).
    assert token.scopes == [("https://storage.azure.com/.default",)]
    assert time.monotonic() - started < 2


def test_the_same_principal_goes_on(signed_in, capsys):
    # An object id is a GUID: compared without regard to case.
    token = signed_in(Token(user(DEPLOYER.upper())))
    _BatchJobProvider().delete("words", job_props())  # both accounts gone: nothing to delete
    assert token.scopes[0] == ("https://storage.azure.com/.default",)
    assert "deleted outside Pulumi" in capsys.readouterr().err


def test_a_token_without_an_object_id_is_refused(signed_in, tmp_path):
    signed_in(Token({"idtyp": "app", "appid": "a-1"}))
    with pytest.raises(batchwords.ConfigError, match="object id missing from its token"):
        _BlobFilesProvider().delete("id", files_props(tmp_path))


def test_no_sign_in_says_how(signed_in, tmp_path):
    signed_in(Token(error=ClientAuthenticationError("no credential in the chain")))
    with pytest.raises(batchwords.ConfigError, match="no Azure sign-in found: run `az login`"):
        _BlobFilesProvider().create(files_props(tmp_path))


def test_state_from_before_the_check_is_not_checked(signed_in, tmp_path):
    token = signed_in(Token(user(OTHER)))
    props = files_props(tmp_path)
    del props["principal_id"]
    _BlobFilesProvider().delete("id", props)  # the account is gone: success, no token asked for
    assert token.scopes == []


@pytest.mark.parametrize("resource", ["BatchJob", "BlobFiles"])
def test_a_principal_that_is_not_an_object_id_fails_the_check(tmp_path, resource):
    if resource == "BatchJob":
        result = _BatchJobProvider().check({}, job_props(principal_id="ada@contoso.example"))
    else:
        result = _BlobFilesProvider().check({}, files_props(tmp_path, principal_id="ada@contoso.example"))
    assert [(f.property, f.reason) for f in result.failures] == [
        ("principal_id", "principal_id must be an Entra ID object id (a GUID), not 'ada@contoso.example'")
    ]


@pytest.mark.parametrize("resource", ["BatchJob", "BlobFiles"])
def test_another_principal_updates_in_place(tmp_path, resource):
    provider: Any = _BatchJobProvider() if resource == "BatchJob" else _BlobFilesProvider()
    olds = job_props() if resource == "BatchJob" else files_props(tmp_path)
    diff = provider.diff("id", olds, {**olds, "principal_id": OTHER})
    assert (diff.changes, diff.replaces) == (True, [])


@pytest.mark.azurite
def test_shared_key_is_not_checked(emulators, env, tmp_path):
    """The emulators' Shared Key names no principal: a principal_id is no reason to ask for a token."""
    container = f"files-{emulators.suffix}"
    emulators.storage.ensure_container(container)
    props = files_props(tmp_path, storage_endpoint=emulators.storage.account_url, container=container)
    assert sorted(outs_of(_BlobFilesProvider().create(props))["blobs"]) == ["a.txt"]
    spec = emulators.spec()
    upload_samples(emulators, spec)
    job = batch_job_props(emulators, spec=spec, principal_id=DEPLOYER, wait=False, wait_timeout_seconds=0)
    assert outs_of(_BatchJobProvider().create(job))["job_ids"] == [spec.job_set]
    _BatchJobProvider().delete(spec.job_set, job)
