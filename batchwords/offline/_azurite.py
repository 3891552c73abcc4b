"""Start and stop Azurite, the Storage emulator, from the project's node_modules."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .._env import AZURITE
from .._exceptions import ConfigError, ServiceStartError

#: Azurite's well-known development account (public, documented by Microsoft).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(rb"listens on (http://127\.0\.0\.1:\d+)")


@dataclass
class Azurite:
    """A running Azurite blob service."""

    process: subprocess.Popen[bytes]
    blob_endpoint: str
    account: str = ACCOUNT
    key: str = KEY

    @property
    def account_url(self) -> str:
        return f"{self.blob_endpoint}/{self.account}"

    def container_url(self, container: str) -> str:
        return f"{self.account_url}/{container}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                # A graceful stop waits for clients' keep-alive connections.
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def find_azurite(start: Path | None = None) -> Path:
    """``azurite-blob`` from $BATCHWORDS_AZURITE, or the nearest node_modules upwards."""
    if os.environ.get(AZURITE):
        return Path(os.environ[AZURITE])
    for folder in [(start or Path.cwd()).resolve(), *Path(__file__).resolve().parents]:
        for base in (folder, *folder.parents):
            candidate = base / "node_modules" / ".bin" / "azurite-blob"
            if candidate.exists():
                return candidate
    raise ConfigError(
        "Azurite is not installed: run `make setup` (npm ci) in the project, or set "
        f"{AZURITE} to the azurite-blob executable"
    )


def start_azurite(
    data_dir: Path, *, timeout: float = 30.0, executable: Path | None = None, detached: bool = False
) -> Azurite:
    """Start Azurite on a free 127.0.0.1 port with its data in ``data_dir``.

    ``detached`` puts it in its own session, so it outlives this process.
    """
    executable = executable or find_azurite()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "azurite.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(executable),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            str(data_dir),
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=detached,
    )
    log.close()  # the child holds its own handle; a file never fills like a pipe
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        match = _LISTENING.search(log_path.read_bytes())
        if match:
            return Azurite(process=process, blob_endpoint=match.group(1).decode())
        time.sleep(0.05)
    process.kill()
    process.wait()
    output = log_path.read_bytes().decode(errors="replace")
    raise ServiceStartError(f"Azurite did not start within {timeout:.0f}s: {output}")
