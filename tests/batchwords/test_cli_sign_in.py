"""`batchwords whoami` (Shared Key, or the Entra ID token's claims) and `login` on a machine
without a keyring."""

from __future__ import annotations

import base64
import json
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AuthenticationRecord, DefaultAzureCredential, DeviceCodeCredential

from batchwords.cli import main


@pytest.mark.azurite
def test_whoami(target, capsys):
    assert main(["whoami"]) == 0
    assert capsys.readouterr().out.startswith("Shared Key: Batch account")


@pytest.mark.azurite
def test_whoami_with_shared_key(target, emulators, capsys):
    assert main(["whoami", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["kind"], found["batch_account"]) == ("shared key", emulators.localbatch.account)


def jwt(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.signature"


@pytest.mark.parametrize(
    ("claims", "kind", "name"),
    [
        (
            {"idtyp": "user", "upn": "ada@contoso.example", "oid": "o-1", "tid": "t-1", "appid": "cli"},
            "user",
            "ada@contoso.example",
        ),
        ({"idtyp": "app", "appid": "a-2", "oid": "o-2", "tid": "t-2"}, "service principal", "a-2"),
        ({"unique_name": "bob@contoso.example", "oid": "o-3", "tid": "t-3"}, "user", "bob@contoso.example"),
    ],
)
def test_whoami_reads_the_tokens_claims(no_target, mocker, capsys, claims, kind, name):
    # Entra ID cannot be reached here: only the token is made up; the CLI decodes it.
    token = AccessToken(jwt(claims), int(time.time()) + 3600)
    mocker.patch.object(DefaultAzureCredential, "get_token", return_value=token)
    cli = no_target / "azure-cli"
    cli.mkdir()
    profile = {"subscriptions": [{"id": "s-9", "name": "Dev", "isDefault": True}]}
    (cli / "azureProfile.json").write_text("\ufeff" + json.dumps(profile), encoding="utf-8")
    assert main(["whoami", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["kind"], found["name"], found["object_id"]) == (kind, name, claims["oid"])
    assert (found["tenant_id"], found["subscription"]) == (claims["tid"], {"id": "s-9", "name": "Dev"})
    assert main(["whoami"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{kind}: {name}")
    assert f"tenant        {claims['tid']}" in out
    assert "subscription  s-9 Dev" in out


def test_whoami_without_a_sign_in_says_how(no_target, mocker, capsys):
    mocker.patch.object(DefaultAzureCredential, "get_token", side_effect=ClientAuthenticationError("none"))
    assert main(["whoami"]) == 2
    assert "no Azure sign-in found" in capsys.readouterr().err


def test_login_without_a_keyring_falls_back_to_an_unencrypted_cache(no_target, monkeypatch, mocker, capsys):
    monkeypatch.setenv("HOME", str(no_target / "home"))
    tried: list[bool] = []

    def authenticate(self, **_: object) -> AuthenticationRecord:
        # The real token cache is opened (on this headless machine libsecret is unusable, so the
        # encrypted one fails as it does for a user); only the sign-in at Entra ID is made up.
        tried.append(self._cache_options.allow_unencrypted_storage)
        try:
            self._initialize_cache()
        except ValueError as exc:  # azure-identity raises it as this, from the ValueError
            raise ClientAuthenticationError(message=f"Authentication failed: {exc}") from exc
        return AuthenticationRecord("t-1", "client", "login.example", "home.t-1", "ada@contoso.example")

    mocker.patch.object(DeviceCodeCredential, "authenticate", autospec=True, side_effect=authenticate)
    code = main(["login", "--mode", "device-code"])
    captured = capsys.readouterr()
    if tried == [False]:
        pytest.skip("this machine has a usable keyring: the encrypted cache worked")
    assert (code, tried) == (0, [False, True])
    assert "warning: the token cache cannot be encrypted here" in captured.err
    assert "UNENCRYPTED" in captured.err
    assert "signed in as ada@contoso.example (tenant t-1)" in captured.out
    mark = json.loads((no_target / "config" / "token-cache.json").read_text(encoding="utf-8"))
    assert mark == {"cache": "unencrypted"}
    monkeypatch.setenv("BATCHWORDS_SIGN_IN", "device-code")
    mocker.patch.object(DeviceCodeCredential, "get_token", return_value=AccessToken(jwt({"upn": "a"}), 0))
    assert main(["whoami", "--json"]) == 0
    assert "from the unencrypted persistent cache" in json.loads(capsys.readouterr().out)["source"]


def test_login_that_fails_otherwise_is_not_retried(no_target, monkeypatch, mocker, capsys):
    monkeypatch.setenv("HOME", str(no_target / "home"))
    failing = mocker.patch.object(
        DeviceCodeCredential, "authenticate", side_effect=ClientAuthenticationError("AADSTS70016: declined")
    )
    assert main(["login", "--mode", "device-code"]) == 3
    assert failing.call_count == 1
    assert "AADSTS70016" in capsys.readouterr().err
