"""Many transfers at once through ``Storage``, against Azurite (faults it cannot produce are injected)."""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ContainerClient

import batchwords._transfer as transfer
from batchwords import BlobInfo, ConfigError, Storage, StorageError
from batchwords.offline import Azurite

pytestmark = pytest.mark.azurite


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


@pytest.fixture
def storage(azurite: Azurite) -> Storage:
    return Storage(azurite.account_url, AzureNamedKeyCredential(azurite.account, azurite.key), concurrency=8)


@pytest.fixture
def container(storage: Storage) -> Iterator[str]:
    name = f"transfer-{uuid.uuid4().hex[:12]}"
    storage.ensure_container(name)
    yield name
    storage.delete_container(name)


def make_files(folder: Path, count: int) -> dict[str, Path]:
    """``count`` files of different sizes (an empty one among them), some in a subfolder."""
    files = {}
    for index in range(count):
        name = f"sub/in{index:04d}.txt" if index % 3 == 0 else f"in{index:04d}.txt"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"file {index} ".encode() * index)
        files[name] = path
    return files


class TestUpload:
    def test_every_blob_lands_with_its_bytes_and_md5_and_progress_counts_each_once(
        self, storage, container, blob_service: BlobServiceClient, tmp_path
    ):
        files = make_files(tmp_path, 120)
        # One file above the whole-read limit goes the streamed way, in blocks.
        big = tmp_path / "big.bin"
        big.write_bytes(b"0123456789abcdef" * (transfer.WHOLE_READ_LIMIT // 16) + b"tail")
        files["big.bin"] = big
        calls: list[tuple[int, int, str]] = []
        results = storage.upload_files(container, files, progress=lambda *call: calls.append(call))

        assert [blob.name for blob, _ in results] == list(files)
        assert all(uploaded for _, uploaded in results)
        assert [done for done, _, _ in calls] == list(range(1, len(files) + 1))
        assert {total for _, total, _ in calls} == {len(files)}
        assert sorted(name for _, _, name in calls) == sorted(files)
        client = blob_service.get_container_client(container)
        for blob, _ in results:
            data = files[blob.name].read_bytes()
            assert blob == BlobInfo(blob.name, len(data), md5(data), storage.blob_url(container, blob.name))
            assert client.download_blob(blob.name).readall() == data
            stored = client.get_blob_client(blob.name).get_blob_properties().content_settings.content_md5
            assert stored is not None
            assert base64.b64encode(bytes(stored)).decode() == md5(data)

    def test_each_put_carries_the_body_md5_for_the_service_to_check(
        self, storage, container, mocker, tmp_path
    ):
        files = make_files(tmp_path, 10)
        real_send = RequestsTransport.send
        puts: dict[str, tuple[str | None, str | None]] = {}

        def send(self, request, **kwargs):
            if request.method == "PUT":
                name = request.url.split("?")[0].split(f"/{container}/", 1)[1]
                puts[name] = (
                    request.headers.get("Content-MD5"),
                    request.headers.get("x-ms-blob-content-md5"),
                )
            return real_send(self, request, **kwargs)

        mocker.patch.object(RequestsTransport, "send", send)
        storage.upload_files(container, files)
        expected = {name: md5(path.read_bytes()) for name, path in files.items()}
        assert puts == {name: (digest, digest) for name, digest in expected.items()}

    def test_the_md5_skip_is_exact(self, storage, container, tmp_path):
        files = make_files(tmp_path, 30)
        storage.upload_files(container, files)
        files["in0001.txt"].write_bytes(b"a different length")
        same_size = files["in0002.txt"].read_bytes()
        files["in0002.txt"].write_bytes(same_size[::-1])  # same size, other bytes
        assert same_size != same_size[::-1]

        again = storage.upload_files(container, files)
        assert sorted(blob.name for blob, uploaded in again if uploaded) == ["in0001.txt", "in0002.txt"]
        assert storage.read_blob(container, "in0002.txt") == same_size[::-1]
        listed = {blob.name: blob.md5 for blob in storage.list_blobs(container)}
        assert listed == {name: md5(path.read_bytes()) for name, path in files.items()}
        assert not any(uploaded for _, uploaded in storage.upload_files(container, files))

    def test_a_failing_upload_names_its_file(self, storage, container, mocker, tmp_path):
        files = make_files(tmp_path, 40)
        real = ContainerClient.upload_blob

        def upload_blob(self, name, *args, **kwargs):
            if name == "in0007.txt":
                raise AzureError("connection reset by peer")
            return real(self, name, *args, **kwargs)

        mocker.patch.object(ContainerClient, "upload_blob", upload_blob)
        with pytest.raises(StorageError, match=r"uploading .*in0007\.txt to transfer-\w+/in0007\.txt failed"):
            storage.upload_files(container, files)

    def test_concurrency_is_bounded_and_used(self, azurite, container, mocker, tmp_path):
        storage = Storage(
            azurite.account_url, AzureNamedKeyCredential(azurite.account, azurite.key), concurrency=4
        )
        together = threading.Barrier(4, timeout=30)  # breaks unless 4 uploads are in flight at once
        lock = threading.Lock()
        in_flight, most = 0, 0
        real = ContainerClient.upload_blob

        def upload_blob(self, *args, **kwargs):
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            try:
                together.wait()
                return real(self, *args, **kwargs)
            finally:
                with lock:
                    in_flight -= 1

        mocker.patch.object(ContainerClient, "upload_blob", upload_blob)
        storage.upload_files(container, make_files(tmp_path, 16))
        assert most == 4

    def test_concurrency_below_one_is_refused(self, azurite):
        with pytest.raises(ConfigError, match="at least 1"):
            Storage(azurite.account_url, AzureNamedKeyCredential(azurite.account, azurite.key), concurrency=0)


class TestSync:
    def test_only_changed_files_are_sent_and_dropped_ones_deleted(self, storage, container, tmp_path):
        files = make_files(tmp_path, 20)
        storage.sync_files(container, files)
        files["in0004.txt"].write_bytes(b"changed")
        dropped = files.pop("in0005.txt")
        results, gone = storage.sync_files(container, files, previous=[*files, dropped.name])
        assert [blob.name for blob, uploaded in results if uploaded] == ["in0004.txt"]
        assert gone == ["in0005.txt"]
        assert sorted(blob.name for blob in storage.list_blobs(container)) == sorted(files)


class TestDownload:
    def test_every_blob_is_written_whole_with_progress(self, storage, container, tmp_path):
        files = make_files(tmp_path / "in", 90)
        storage.upload_files(container, files)
        calls: list[tuple[int, int, str]] = []
        dest = tmp_path / "out"
        written = storage.download(container, dest, progress=lambda *call: calls.append(call))

        assert sorted(path.relative_to(dest).as_posix() for path in written) == sorted(files)
        for name, path in files.items():
            assert (dest / name).read_bytes() == path.read_bytes()
        assert not list(dest.rglob("*.partial"))
        assert [done for done, _, _ in calls] == list(range(1, len(files) + 1))
        assert {total for _, total, _ in calls} == {len(files)}
        assert sorted(name for _, _, name in calls) == sorted(files)

    def test_a_name_that_leaves_the_destination_is_refused_before_any_write(
        self, storage, container, mocker, tmp_path
    ):
        storage.upload_files(container, make_files(tmp_path / "in", 3))
        listed = storage.list_blobs(container)
        escaping = BlobInfo("../evil.txt", 1, "", storage.blob_url(container, "../evil.txt"))
        mocker.patch.object(storage, "list_blobs", return_value=[*listed, escaping])
        dest = tmp_path / "out"
        with pytest.raises(StorageError, match=r"blob name '\.\./evil\.txt' would leave"):
            storage.download(container, dest)
        assert not (tmp_path / "evil.txt").exists()
        assert not dest.exists() or not any(dest.rglob("*"))

    @pytest.mark.parametrize(
        ("fault", "message"),
        [
            (ServiceResponseError("connection reset by peer"), "reading transfer-\\w+/in0010.txt failed"),
            (OSError("Connection broken: IncompleteRead"), "the download broke off"),
        ],
    )
    def test_a_failing_download_names_its_blob_and_leaves_no_partial(
        self, storage, container, mocker, tmp_path, fault, message
    ):
        files = make_files(tmp_path / "in", 30)
        storage.upload_files(container, files)
        real = ContainerClient.download_blob

        class BrokenOff:
            def readinto(self, stream):
                stream.write(b"the first half")
                raise fault

        def download_blob(self, name, *args, **kwargs):
            return BrokenOff() if name == "in0010.txt" else real(self, name, *args, **kwargs)

        mocker.patch.object(ContainerClient, "download_blob", download_blob)
        dest = tmp_path / "out"
        with pytest.raises(StorageError, match=message):
            storage.download(container, dest)
        assert not list(dest.rglob("*.partial"))
        assert not (dest / "in0010.txt").exists()
        for path in dest.rglob("*"):  # what did finish is whole
            if path.is_file():
                assert path.read_bytes() == files[path.relative_to(dest).as_posix()].read_bytes()


class TestReadBlobs:
    def test_exactly_the_requested_blobs(self, storage, container, tmp_path):
        files = make_files(tmp_path, 50)
        storage.upload_files(container, files)
        wanted = ["in0002.txt", "sub/in0003.txt", "in0049.txt", "in0002.txt"]
        assert storage.read_blobs(container, wanted) == {
            name: files[name].read_bytes() for name in ["in0002.txt", "sub/in0003.txt", "in0049.txt"]
        }
        assert storage.read_blobs(container, []) == {}

    def test_a_missing_blob_is_named(self, storage, container, tmp_path):
        storage.upload_files(container, make_files(tmp_path, 5))
        with pytest.raises(StorageError, match=rf"blob {container}/in-nowhere\.txt does not exist"):
            storage.read_blobs(container, ["in0001.txt", "in-nowhere.txt", "in0002.txt"])
