"""Start and stop Azurite, the Storage emulator, from the project's node_modules."""

from __future__ import annotations

import contextlib
import os
import re
import signal
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

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to its process group (it and anything it started), SIGKILL if it lingers."""
        if self.process.poll() is None:
            signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()


def signal_group(pid: int, signum: int) -> None:
    """Signal the process group that ``pid`` leads (started with ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


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
    data_dir: Path, *, timeout: float = 30.0, executable: Path | None = None, port: int = 0
) -> Azurite:
    """Start Azurite on 127.0.0.1 (``port``, or a free one) with its data in ``data_dir``.

    In a session of its own: a terminal's Ctrl-C reaches batchwords, which stops
    it; ``stop`` signals its whole group; kept services outlive this process.
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
            str(port),
            "--location",
            str(data_dir),
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
            "--silent",
            # Azurite reports usage by default: nothing leaves this machine, and its telemetry
            # client kept the process alive after a SIGTERM.
            "--disableTelemetry",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
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
