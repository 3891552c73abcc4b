"""Issue 13, points 8, 9 and 10: whoami, the small fixes, and `login` on a machine without a keyring."""

from __future__ import annotations

import base64
import json
import subprocess
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AuthenticationRecord, DefaultAzureCredential, DeviceCodeCredential

from batchwords.cli import main
from tests.batchwords.test_cli import target  # the CLI tests' endpoints and credentials
from tests.support.words import DATA

__all__ = ["target"]


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


# -- 9. small fixes --------------------------------------------------------------------


@pytest.mark.azurite
def test_files_find_matches_substrings_and_globs(target, emulators, capsys):
    container = f"find-{emulators.suffix}"
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    capsys.readouterr()
    for pattern, expected in (
        ("rabbit", ["alice_down_the_rabbit_hole.txt"]),
        ("GOETHE", ["erlkoenig_goethe_de.txt"]),
        ("*_de.txt", ["erlkoenig_goethe_de.txt"]),
        ("[ab]*", ["alice_down_the_rabbit_hole.txt", "batch_tutorial_notes.txt"]),
    ):
        assert main(["files", "find", pattern, "--container", container, "--json", *target]) == 0
        assert [item["name"] for item in json.loads(capsys.readouterr().out)] == expected, pattern
    assert main(["files", "find", "*.pdf", "--container", container, *target]) == 1
    assert capsys.readouterr().out.strip() == "no files"


@pytest.mark.azurite
def test_files_list_stays_aligned_with_long_names(target, emulators, capsys, tmp_path):
    container = f"long-{emulators.suffix}"
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / ("a-very-long-name-" * 5 + ".txt")).write_text("x" * 12345, encoding="utf-8")
    (folder / "short.txt").write_text("y", encoding="utf-8")
    assert main(["files", "upload", str(folder), "--container", container, *target]) == 0
    capsys.readouterr()
    assert main(["files", "list", "--container", container, *target]) == 0
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert lines[0].split() == ["name", "bytes"]
    assert lines[1].endswith(" 12,345")
    assert lines[2].endswith(" 1")
    assert len({len(line) for line in lines}) == 1  # the bytes column ends at one place


def test_config_show_marks_defaults(no_target, capsys):
    assert main(["config", "show"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["numwords"][1:3] == ["10", "default"]
    assert rows["log_level"][1:3] == ["WARNING", "default"]
    assert main(["config", "set", "numwords", "7"]) == 0
    capsys.readouterr()
    assert main(["config", "show", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert (settings["numwords"]["value"], settings["numwords"]["default"]) == (7, False)
    assert (settings["log_level"]["value"], settings["log_level"]["default"]) == ("WARNING", True)


def test_nothing_recorded_is_not_found_and_stop_twice_is_fine(no_target, capsys):
    assert main(["local", "show"]) == 1
    assert "no local services are recorded" in capsys.readouterr().err
    assert main(["jobs", "list", "--local"]) == 1
    capsys.readouterr()
    # A record whose processes have ended: the first stop forgets it, the second finds nothing.
    ended = subprocess.Popen(["true"])
    ended.wait()
    state = no_target / "state"
    state.mkdir()
    (state / "local.json").write_text(json.dumps({"pids": [ended.pid]}), encoding="utf-8")
    assert main(["local", "stop"]) == 0
    assert "already ended" in capsys.readouterr().out
    assert main(["local", "stop"]) == 0
    assert capsys.readouterr().out.startswith("nothing running")


def test_files_without_an_endpoint_advise_storage_endpoint(no_target, capsys):
    assert main(["files", "list"]) == 2
    error = capsys.readouterr().err
    assert "no --storage-endpoint" in error
    assert "config set storage_endpoint" in error
    assert "batch_endpoint" not in error
    assert main(["jobs", "list"]) == 2
    error = capsys.readouterr().err
    assert "config set batch_endpoint" in error
    assert "config set storage_endpoint" in error


# -- 8. whoami --------------------------------------------------------------------------


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


# -- 10. login without a keyring ---------------------------------------------------------


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
