"""Bad settings and unreachable services give one line and the README's exit code, never a
traceback, and no wait outlives its deadline (the fault cases of issue 11, points 7 and 8)."""

from __future__ import annotations

import time

import pytest
from azure.identity import DefaultAzureCredential
from requests.exceptions import ChunkedEncodingError

from batchwords import Batch, BatchServiceError, ConfigError, Credentials, Storage
from batchwords.cli import main
from batchwords.cli._run import MAX_SLOTS
from tests.support.batch import free_port
from tests.support.emulators import upload_samples

pytestmark = pytest.mark.azurite
KEYS = (
    "BATCHWORDS_BATCH_ACCOUNT",
    "BATCHWORDS_BATCH_KEY",
    "BATCHWORDS_STORAGE_ACCOUNT",
    "BATCHWORDS_STORAGE_KEY",
)


@pytest.fixture
def keys(monkeypatch, tmp_path):
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    for name, value in zip(KEYS, ("localbatch", "a2V5", "devstoreaccount1", "a2V5"), strict=True):
        monkeypatch.setenv(name, value)


@pytest.fixture
def no_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    for name in (*KEYS, "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "BATCHWORDS_SIGN_IN"):
        monkeypatch.delenv(name, raising=False)


def elsewhere(scheme: str) -> list[str]:
    """A storage endpoint the command needs to be given, never reached here."""
    return ["--storage-endpoint", f"{scheme}://127.0.0.1:{free_port()}/devstoreaccount1"]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--nodes", "-1"], "--nodes must be at least 1"),
        (["--nodes", "0"], "--nodes must be at least 1"),
        (["--slots", "0"], f"--slots must be 1 to {MAX_SLOTS}"),
        (["--slots", str(MAX_SLOTS + 1)], f"--slots must be 1 to {MAX_SLOTS}"),
    ],
)
def test_impossible_pool_sizes_are_refused_before_any_work(capsys, flags, says, tmp_path):
    assert main(["run", "data", "--output-dir", str(tmp_path / "out"), *flags]) == 2
    assert says in one_line(capsys)


def test_an_unreachable_batch_endpoint_is_one_line_and_exit_3(keys, capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"
    assert main(["jobs", "status", "job", "--batch-endpoint", endpoint, *elsewhere("http")]) == 3
    assert f"the Batch service at {endpoint} cannot be reached" in one_line(capsys)


def test_a_wait_on_an_unreachable_batch_keeps_trying_until_its_timeout(keys, capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = main(["jobs", "wait", "job", "--timeout", "3", "--batch-endpoint", endpoint, *elsewhere("http")])
    assert code == 3
    assert time.monotonic() - started < 60
    assert "cannot be reached" in capsys.readouterr().err


def test_an_unreachable_storage_endpoint_fails_in_seconds(keys, capsys):
    endpoint = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    started = time.monotonic()
    listing = ["files", "list", "--container", "input", "--storage-endpoint", endpoint]
    assert main([*listing, "--batch-endpoint", "http://127.0.0.1:1"]) == 3
    assert time.monotonic() - started < 30  # was 84 s with the SDK's default pauses
    assert "Storage cannot be reached" in one_line(capsys)


def test_a_key_that_is_not_base64_is_named(keys, monkeypatch, capsys):
    monkeypatch.setenv("BATCHWORDS_BATCH_KEY", "not base64!")
    assert main(["jobs", "list", "--batch-endpoint", "http://127.0.0.1:1", *elsewhere("http")]) == 2
    assert "the Batch account key (from BATCHWORDS_BATCH_KEY" in one_line(capsys)


def test_entra_id_over_http_is_refused_with_the_fix(no_keys, capsys):
    assert main(["jobs", "list", "--batch-endpoint", "http://127.0.0.1:1", *elsewhere("http")]) == 2
    assert "is not https: Entra ID tokens go over https only" in one_line(capsys)


def test_no_sign_in_at_all_is_one_line_saying_how(no_keys, monkeypatch, capsys):
    monkeypatch.setenv("HOME", "/nonexistent")  # no Azure CLI or cached sign-in to find
    endpoint = f"https://127.0.0.1:{free_port()}"
    assert main(["jobs", "list", "--batch-endpoint", endpoint, *elsewhere("https")]) == 2
    assert "no Azure sign-in found: run `az login` or `batchwords login`" in one_line(capsys)


def test_a_wait_never_outlives_its_timeout_under_long_retry_after(emulators):
    """Three 429s asking for 25 s each once made a 5 s wait take 75 s."""
    spec = emulators.spec(job_set="throttled")
    emulators.job_set(spec).submit(upload_samples(emulators, spec))  # no pool: it stays active
    emulators.localbatch.throttle(3, status=429, retry_after=25)
    started = time.monotonic()
    with pytest.raises(BatchServiceError, match="did not answer within the wait's 5 s"):
        emulators.batch.wait([spec.job_set], timeout=5, poll_interval=1)
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"the wait took {elapsed:.0f} s"


def test_a_library_user_gets_the_same_refusals(emulators):
    token = DefaultAzureCredential()  # never asked: the endpoint is refused first
    with pytest.raises(ConfigError, match="is not https"):
        Batch("http://127.0.0.1:1", token)
    with pytest.raises(ConfigError, match="is not https"):
        Storage("http://127.0.0.1:1/devstoreaccount1", token)
    with pytest.raises(ConfigError, match="not base64"):
        Credentials.from_keys(
            batch_account="a", batch_key="%%%", storage_account="b", storage_key="a2V5", source="test"
        )


def test_a_download_that_breaks_off_is_one_line(emulators, pool, mocker, capsys, tmp_path, monkeypatch):
    """A damaged store once leaked requests' ChunkedEncodingError as a traceback from `jobs outputs`;
    requests cannot be made to break a stream here, so the break is injected where it surfaced."""
    spec = emulators.spec(job_set="broken")
    job_set = emulators.job_set(spec)
    job_set.submit(upload_samples(emulators, spec))
    assert job_set.wait(timeout=120, poll_interval=0.2)[1]
    broken = ChunkedEncodingError("Connection broken: IncompleteRead(12 bytes read)")
    # Downloads stream into their file (readinto); single reads take the bytes (readall).
    for method in ("readall", "readinto"):
        mocker.patch(f"azure.storage.blob.StorageStreamDownloader.{method}", side_effect=broken)
    for name, value in zip(
        KEYS,
        (
            emulators.localbatch.account,
            emulators.localbatch.key,
            "devstoreaccount1",
            emulators.credentials.storage.named_key.key,
        ),
        strict=True,
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    target = [
        "--batch-endpoint",
        emulators.localbatch.endpoint,
        "--storage-endpoint",
        emulators.storage.account_url,
    ]
    args = [
        "jobs",
        "outputs",
        "broken",
        "--dest",
        str(tmp_path / "out"),
        "--container",
        spec.output_container,
    ]
    assert main([*args, *target]) == 3
    assert "the download broke off (ChunkedEncodingError); try again" in one_line(capsys)
