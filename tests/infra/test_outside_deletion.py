"""`pulumi destroy` after an account was deleted outside Pulumi: its endpoint stops resolving.

No mock: names under the reserved ``.invalid`` top-level domain (RFC 6761)
never resolve, so the resolver answers "no such name", as it does for a
deleted account's. A resolver that gives no answer at all, or an endpoint that
resolves but refuses, still fails the delete.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

import batchwords
from batchwords import deploy
from infra.batch_job import _BatchJobProvider
from infra.blob_files import _BlobFilesProvider
from tests.support import gone
from tests.support.emulators import batch_job_props, upload_samples
from tests.support.gone import BATCH, STORAGE

MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="


@pytest.fixture
def shared_key(monkeypatch):
    """Shared Key credentials, as for the emulators: no token is needed to delete."""
    for name, value in gone.SHARED_KEY.items():
        monkeypatch.setenv(name, value)


def job_props(**overrides: Any) -> dict[str, Any]:
    props = {
        "job_id": "words",
        "pool_id": "pool",
        "batch_endpoint": BATCH,
        "storage_endpoint": STORAGE,
        "input_container": "input",
        "output_container": "output",
        "inputs": {"a.txt": MD5},
        "job_ids": ["words", "words-1"],
    }
    return {**props, **overrides}


def files_props(**overrides: Any) -> dict[str, Any]:
    props = {
        "storage_endpoint": STORAGE,
        "container": "input",
        "prefix": "",
        "files": {"a.txt": {"path": "/nonexistent/a.txt", "md5": MD5}},
    }
    return {**props, **overrides}


def test_this_machine_says_no_such_name_for_invalid_at_once():
    started = time.monotonic()
    with pytest.raises(socket.gaierror) as raised:
        socket.getaddrinfo("bwstgone.blob.core.windows.net.invalid", None)
    assert raised.value.errno in batchwords._endpoints.NO_SUCH_NAME
    assert time.monotonic() - started < 2


def test_a_resolver_without_an_answer_is_not_gone(monkeypatch):
    def no_answer(*_: object, **__: object) -> None:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    assert deploy.endpoint_gone(STORAGE) is False


@pytest.mark.parametrize(
    ("endpoint", "gone"),
    [
        (STORAGE, True),
        (BATCH, True),
        ("bwbagone.invalid", True),
        ("http://127.0.0.1:10000", False),
        ("", False),
    ],
)
def test_endpoint_gone(endpoint, gone):
    assert deploy.endpoint_gone(endpoint) is gone


def test_blob_files_delete_when_the_storage_account_is_gone(shared_key, capsys):
    started = time.monotonic()
    _BlobFilesProvider().delete("input/", files_props())
    assert time.monotonic() - started < 2  # no request, no retries
    err = capsys.readouterr().err
    assert f"the Storage account's endpoint {STORAGE} does not resolve" in err
    assert "deleted outside Pulumi" in err


def test_batch_job_delete_when_both_accounts_are_gone(shared_key, capsys):
    started = time.monotonic()
    _BatchJobProvider().delete("words", job_props())
    assert time.monotonic() - started < 2
    err = capsys.readouterr().err
    assert f"the Batch account's endpoint {BATCH} does not resolve" in err
    assert f"the Storage account's endpoint {STORAGE} does not resolve" in err


@pytest.mark.azurite
def test_batch_job_delete_when_only_the_batch_account_is_gone(emulators, env, tmp_path, capsys):
    """The output blobs in a Storage account that still exists are deleted all the same."""
    spec = emulators.spec()
    upload_samples(emulators, spec)
    emulators.storage.ensure_container(spec.output_container)
    (tmp_path / "counts").write_text("x 1\n", encoding="utf-8")
    emulators.storage.upload_files(spec.output_container, {f"{spec.job_set}/a.counts": tmp_path / "counts"})
    props = batch_job_props(emulators, spec=spec, batch_endpoint=BATCH, job_ids=[spec.job_set])
    _BatchJobProvider().delete(spec.job_set, props)
    assert emulators.storage.list_blobs(spec.output_container, f"{spec.job_set}/") == []
    assert "the Batch account's endpoint" in capsys.readouterr().err


def test_an_endpoint_that_resolves_but_fails_still_fails_the_delete(shared_key):
    """Refused connections say nothing about the account: the delete fails, to be tried again."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(batchwords.BatchServiceError, match="cannot be reached"):
        _BatchJobProvider().delete("words", job_props(batch_endpoint=f"http://127.0.0.1:{port}"))
