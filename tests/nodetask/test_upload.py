"""nodetask's upload against real Azurite with a create+write container SAS."""

from __future__ import annotations

import hashlib
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import (
    ContainerClient,
    ContainerSasPermissions,
)

from nodetask import ExitCode, read_counts_file
from nodetask.__main__ import main
from tests.nodetask.storage import download, make_sas
from tests.support.words import tutorial_counts

pytestmark = pytest.mark.azurite


@pytest.fixture
def upload_env(monkeypatch, azurite, container):
    """The SAS in the environment, as a Batch task's environment setting carries it."""
    sas = make_sas(azurite, container.container_name)
    monkeypatch.setenv("NODETASK_SAS_TOKEN", sas)
    for name in ("AZ_BATCH_NODE_ID", "AZ_BATCH_TASK_ID", "AZ_BATCH_JOB_ID", "AZ_BATCH_POOL_ID"):
        monkeypatch.delenv(name, raising=False)
    return sas


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "story.txt"
    path.parent.mkdir()
    path.write_text("the cat and the hat, the end. The cat!\n", encoding="utf-8")
    return path


def run(azurite, container, path: Path, out: Path, *extra: str) -> int:
    url = azurite.container_url(container.container_name)
    return main(["--filepath", str(path), "--container-url", url, "--output-dir", str(out), *extra])


class TestUpload:
    def test_result_and_counts_arrive(self, azurite, container, upload_env, text_file, tmp_path, capsys):
        out = tmp_path / "out"
        assert run(azurite, container, text_file, out, "--blob-prefix", "job-1/") == ExitCode.OK
        result = download(container, "job-1/story_OUTPUT.txt")
        assert result == (out / "story_OUTPUT.txt").read_bytes()
        counts = read_counts_file(download(container, "job-1/story_COUNTS.tsv.gz"))
        assert counts == dict(tutorial_counts(text_file.read_text(encoding="utf-8")))
        properties = container.get_blob_client("job-1/story_OUTPUT.txt").get_blob_properties()
        assert (
            bytes(properties.content_settings.content_md5)
            == hashlib.md5(result, usedforsecurity=False).digest()
        )
        assert properties.content_settings.content_type.startswith("text/plain")
        captured = capsys.readouterr()
        assert "created" in captured.err
        assert upload_env not in captured.err + captured.out  # the SAS is never printed

    def test_the_sas_cannot_list_or_read(self, azurite, container, upload_env, text_file, tmp_path):
        assert run(azurite, container, text_file, tmp_path / "out") == ExitCode.OK
        with_sas = ContainerClient.from_container_url(
            f"{azurite.container_url(container.container_name)}?{upload_env}"
        )
        with pytest.raises(HttpResponseError) as listing:
            list(with_sas.list_blobs())
        assert listing.value.status_code == 403
        with pytest.raises(HttpResponseError) as reading:
            with_sas.get_blob_client("story_OUTPUT.txt").download_blob().readall()
        assert reading.value.status_code == 403

    def test_rerun_with_identical_content_converges(
        self, azurite, container, upload_env, text_file, tmp_path, capsys
    ):
        assert run(azurite, container, text_file, tmp_path / "a") == ExitCode.OK
        first = download(container, "story_OUTPUT.txt")
        capsys.readouterr()
        assert run(azurite, container, text_file, tmp_path / "b") == ExitCode.OK
        assert capsys.readouterr().err.count("unchanged") == 2
        assert download(container, "story_OUTPUT.txt") == first
        properties = container.get_blob_client("story_COUNTS.tsv.gz").get_blob_properties()
        assert properties.content_settings.content_md5 is not None  # identical bytes keep it

    def test_retry_on_another_node_keeps_the_first_result(
        self, azurite, container, upload_env, text_file, tmp_path, monkeypatch
    ):
        monkeypatch.setenv("AZ_BATCH_NODE_ID", "node-a")
        assert run(azurite, container, text_file, tmp_path / "a") == ExitCode.OK
        monkeypatch.setenv("AZ_BATCH_NODE_ID", "node-b")
        assert run(azurite, container, text_file, tmp_path / "b") == ExitCode.OK
        table = download(container, "story_OUTPUT.txt").decode("utf-8")
        assert "node-a" in table
        assert "node-b" not in table

    def test_a_different_result_is_refused(self, azurite, container, upload_env, text_file, tmp_path, capsys):
        assert run(azurite, container, text_file, tmp_path / "a") == ExitCode.OK
        first = download(container, "story_OUTPUT.txt")
        text_file.write_text("a completely different story\n", encoding="utf-8")
        assert run(azurite, container, text_file, tmp_path / "b") == ExitCode.OUTPUT_CONFLICT
        err = capsys.readouterr().err
        assert "already exists with a different result" in err
        assert "--overwrite" in err
        assert download(container, "story_OUTPUT.txt") == first
        # The local result is written all the same: nothing computed is lost.
        assert (tmp_path / "b" / "story_OUTPUT.txt").read_text(encoding="utf-8").count("different") == 1

    def test_overwrite_replaces_on_purpose(self, azurite, container, upload_env, text_file, tmp_path, capsys):
        assert run(azurite, container, text_file, tmp_path / "a") == ExitCode.OK
        text_file.write_text("a completely different story\n", encoding="utf-8")
        assert run(azurite, container, text_file, tmp_path / "b", "--overwrite") == ExitCode.OK
        assert "overwritten" in capsys.readouterr().err
        assert download(container, "story_OUTPUT.txt") == (tmp_path / "b" / "story_OUTPUT.txt").read_bytes()

    def test_json_format_uploads_json(self, azurite, container, upload_env, text_file, tmp_path):
        assert run(azurite, container, text_file, tmp_path / "out", "--format", "json") == ExitCode.OK
        properties = container.get_blob_client("story_OUTPUT.json").get_blob_properties()
        assert properties.content_settings.content_type == "application/json"

    def test_sas_in_the_container_url(self, azurite, container, text_file, tmp_path, monkeypatch):
        monkeypatch.delenv("NODETASK_SAS_TOKEN", raising=False)
        sas = make_sas(azurite, container.container_name)
        url = f"{azurite.container_url(container.container_name)}?{sas}"
        code = main(["--filepath", str(text_file), "--container-url", url, "--output-dir", str(tmp_path)])
        assert code == ExitCode.OK
        assert download(container, "story_OUTPUT.txt")


class TestRefusals:
    def test_expired_sas_is_not_retryable(self, azurite, container, text_file, tmp_path, monkeypatch, capsys):
        expired = make_sas(azurite, container.container_name, expires_in=timedelta(minutes=-5))
        monkeypatch.setenv("NODETASK_SAS_TOKEN", expired)
        assert run(azurite, container, text_file, tmp_path / "out") == ExitCode.STORAGE_REFUSED
        err = capsys.readouterr().err
        assert "403" in err
        assert "NODETASK_SAS_TOKEN" in err
        assert expired not in err
        assert (tmp_path / "out" / "story_OUTPUT.txt").is_file()  # kept locally

    def test_read_only_sas_is_refused(self, azurite, container, text_file, tmp_path, monkeypatch):
        read_only = make_sas(
            azurite, container.container_name, permission=ContainerSasPermissions(read=True, list=True)
        )
        monkeypatch.setenv("NODETASK_SAS_TOKEN", read_only)
        assert run(azurite, container, text_file, tmp_path / "out") == ExitCode.STORAGE_REFUSED

    def test_missing_container(self, azurite, text_file, tmp_path, monkeypatch, capsys):
        name = f"missing-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("NODETASK_SAS_TOKEN", make_sas(azurite, name))
        url = azurite.container_url(name)
        code = main(["--filepath", str(text_file), "--container-url", url, "--output-dir", str(tmp_path)])
        assert code == ExitCode.STORAGE_REFUSED
        assert name in capsys.readouterr().err

    def test_unreachable_storage_is_retryable(self, text_file, tmp_path, monkeypatch, capsys):
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setenv("NODETASK_SAS_TOKEN", "sv=2024-01-01&sig=abc")
        url = f"http://127.0.0.1:{port}/devstoreaccount1/output"
        code = main(
            [
                "--filepath",
                str(text_file),
                "--container-url",
                url,
                "--output-dir",
                str(tmp_path),
                "--retries",
                "0",
            ]
        )
        assert code == ExitCode.STORAGE_UNAVAILABLE
        assert "could not be reached" in capsys.readouterr().err
