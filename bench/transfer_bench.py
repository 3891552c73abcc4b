"""Many small transfers through ``batchwords.Storage``, against Azurite.

For each concurrency asked for, on a fresh Azurite (its cost per upload grows
with the blobs it already holds, so each row starts from an empty store), on
a free loopback port, as the tests start it:

- upload N files of SIZE bytes (files/s, MB/s);
- upload them again: every one skipped by MD5 (files/s);
- change 1% of them (same size, other bytes) and ``sync_files``: only those
  are uploaded (the counts are checked);
- ``download`` them all into a folder (files/s), every byte compared;
- ``read_blobs`` them all (files/s), every byte compared;

and, unless ``--no-floor``, the floor: the same N uploads as bare keep-alive
PUTs over ``http.client`` with a container SAS, no SDK, on another fresh
Azurite (what Azurite itself serves on this machine). The CPU columns are this
process's and Azurite's CPU time per uploaded file, which say which side is
the bound.

    python bench/transfer_bench.py --files 10000 --size 4096 --concurrency 8 32 64
"""

from __future__ import annotations

import argparse
import http.client
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from batchwords import Storage
from batchwords.offline import Azurite, start_azurite

T = TypeVar("T")
CONTAINER = "bench"


@dataclass
class Timed:
    seconds: float
    client_cpu: float
    server_cpu: float


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(azurite: Azurite, work: Callable[[], T]) -> tuple[T, Timed]:
    server, client, started = cpu_seconds(azurite.process.pid), time.process_time(), time.perf_counter()
    result = work()
    return result, Timed(
        time.perf_counter() - started,
        time.process_time() - client,
        cpu_seconds(azurite.process.pid) - server,
    )


def make_files(folder: Path, count: int, size: int) -> dict[str, Path]:
    folder.mkdir(parents=True)
    files = {}
    for index in range(count):
        path = folder / f"in{index:06d}.txt"
        path.write_bytes(os.urandom(size))
        files[path.name] = path
    return files


def storage_row(scratch: Path, files: dict[str, Path], size: int, concurrency: int) -> list[str]:
    azurite = start_azurite(scratch / f"azurite-{concurrency}")
    try:
        key = AzureNamedKeyCredential(azurite.account, azurite.key)
        storage = Storage(azurite.account_url, key, concurrency=concurrency)
        storage.ensure_container(CONTAINER)
        count = len(files)
        first, upload = timed(azurite, lambda: storage.upload_files(CONTAINER, files))
        assert sum(uploaded for _, uploaded in first) == count, "every file is uploaded the first time"
        again, skip = timed(azurite, lambda: storage.upload_files(CONTAINER, files))
        assert not any(uploaded for _, uploaded in again), "an unchanged file was uploaded again"
        changed = sorted(files)[::100]  # 1%
        for name in changed:
            files[name].write_bytes(os.urandom(size))
        (synced, _gone), sync = timed(azurite, lambda: storage.sync_files(CONTAINER, files))
        uploaded_names = sorted(blob.name for blob, uploaded in synced if uploaded)
        assert uploaded_names == changed, (
            f"sync uploaded {len(uploaded_names)}, not the {len(changed)} changed"
        )
        dest = scratch / f"download-{concurrency}"
        written, download = timed(azurite, lambda: storage.download(CONTAINER, dest))
        assert len(written) == count
        assert all((dest / name).read_bytes() == path.read_bytes() for name, path in files.items())
        contents, reads = timed(azurite, lambda: storage.read_blobs(CONTAINER, list(files)))
        assert all(contents[name] == path.read_bytes() for name, path in files.items())
        print(
            f"  concurrency {concurrency}: sync uploaded {len(uploaded_names)} of {count} "
            f"({len(changed)} changed), all {count} downloaded and read back identical",
            flush=True,
        )
    finally:
        azurite.stop()
    return [
        f"batchwords.Storage, {concurrency}",
        f"{count / upload.seconds:,.0f}",
        f"{count * size / upload.seconds / 1e6:,.1f}",
        f"{1000 * upload.client_cpu / count:.2f} / {1000 * upload.server_cpu / count:.2f}",
        f"{count / skip.seconds:,.0f}",
        f"{count / sync.seconds:,.0f} ({len(uploaded_names)} sent)",
        f"{count / download.seconds:,.0f}",
        f"{count / reads.seconds:,.0f}",
    ]


def floor_row(scratch: Path, files: dict[str, Path], size: int, concurrency: int) -> list[str]:
    """Bare PUTs, ``concurrency`` keep-alive connections, no SDK: Azurite's own rate here."""
    azurite = start_azurite(scratch / f"azurite-floor-{concurrency}")
    try:
        key = AzureNamedKeyCredential(azurite.account, azurite.key)
        Storage(azurite.account_url, key).ensure_container(CONTAINER)
        sas = generate_container_sas(
            azurite.account,
            CONTAINER,
            account_key=azurite.key,
            permission=ContainerSasPermissions(create=True, write=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        url = urlsplit(azurite.container_url(CONTAINER))
        paths = list(files.values())

        def put(share: list[Path]) -> None:
            connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
            for path in share:
                connection.request(
                    "PUT",
                    f"{url.path}/{path.name}?{sas}",
                    body=path.read_bytes(),
                    headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06"},
                )
                response = connection.getresponse()
                response.read()
                assert response.status == 201, response.status
            connection.close()

        def upload() -> None:
            threads = [
                threading.Thread(target=put, args=(paths[i::concurrency],)) for i in range(concurrency)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        _, floor = timed(azurite, upload)
    finally:
        azurite.stop()
    count = len(files)
    return [
        f"bare PUTs (no SDK), {concurrency}",
        f"{count / floor.seconds:,.0f}",
        f"{count * size / floor.seconds / 1e6:,.1f}",
        f"{1000 * floor.client_cpu / count:.2f} / {1000 * floor.server_cpu / count:.2f}",
        "",
        "",
        "",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-PUT rows")
    args = parser.parse_args(argv)
    header = [
        "client, concurrency",
        "upload files/s",
        "MB/s",
        "CPU ms/file client / Azurite",
        "skip files/s",
        "sync 1% files/s",
        "download files/s",
        "read_blobs files/s",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for concurrency in args.concurrency:
            files = make_files(root / f"files-{concurrency}", args.files, args.size)
            rows.append(storage_row(root, files, args.size, concurrency))
            if not args.no_floor:
                rows.append(floor_row(root, files, args.size, concurrency))
    print(f"\n{args.files:,} files of {args.size:,} bytes, {os.cpu_count()} CPUs\n")
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
