"""Services that outlive one command: what `batchwords run --keep` leaves up for `--local`.

Their endpoints, emulator keys and process ids are recorded in a state file
(readable by the user only) that `--local` reads and `batchwords local stop`
removes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import platformdirs

from localbatch import AUTO_STORAGE_KEY_ENV, KEY_ENV, new_key

from .._credentials import Credentials
from .._env import STATE_DIR
from .._exceptions import ConfigError, NotFoundError, ServiceStartError
from ._azurite import signal_group, start_azurite
from ._services import Services

_ENDPOINT = re.compile(r"at (http://127\.0\.0\.1:\d+)")
STATE_KEYS = (
    "batch_endpoint",
    "storage_endpoint",
    "batch_account",
    "batch_key",
    "storage_account",
    "storage_key",
)


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR) or platformdirs.user_state_dir("batchwords"))


def state_path() -> Path:
    return state_dir() / "local.json"


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our own exited child (a zombie still answers kill 0).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def services_dir() -> Path:
    """Where kept services keep their data (removed by `batchwords local stop`)."""
    return state_dir() / "services"


def refuse_if_running() -> None:
    """A second `run --keep` must not touch the first one's data while any of its services is up."""
    if state_path().exists() and any(_alive(pid) for pid in read_state().get("pids", [])):
        raise ConfigError(
            f"local services from an earlier `run --keep` are still up (see {state_path()}): use them "
            "with --local, or stop them first with `batchwords local stop`"
        )


def start_kept(work_dir: Path) -> Services:
    """Start Azurite and `localbatch serve` in their own sessions; record them."""
    refuse_if_running()
    azurite = start_azurite(work_dir / "azurite")
    key = new_key()
    log = (work_dir / "localbatch.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localbatch",
            "serve",
            "--data-dir",
            str(work_dir / "localbatch"),
            "--auto-storage-url",
            azurite.account_url,
            "--auto-storage-account",
            azurite.account,
        ],
        # Keys in the environment, not on the command line that every local user can read.
        env={**os.environ, KEY_ENV: key, AUTO_STORAGE_KEY_ENV: azurite.key},
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    log.close()
    assert process.stdout is not None
    match = _ENDPOINT.search(process.stdout.readline())
    if not match:
        process.kill()
        azurite.stop()
        raise ServiceStartError(f"localbatch did not start; see {work_dir / 'localbatch.log'}")
    state = {
        "batch_endpoint": match.group(1),
        "storage_endpoint": azurite.account_url,
        "batch_account": "localbatch",
        "batch_key": key,
        "storage_account": azurite.account,
        "storage_key": azurite.key,
        "pids": [process.pid, azurite.process.pid],
        "work_dir": str(work_dir),
    }
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    # Created 0600 (it holds the emulators' keys), never readable by others even briefly.
    with os.fdopen(
        os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8"
    ) as out:
        out.write(json.dumps(state, indent=2))
    partial.replace(path)
    return _services(state)


def read_state() -> dict[str, Any]:
    path = state_path()
    if not path.exists():
        raise NotFoundError("no local services are recorded: start them with `batchwords run --keep`")
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def _services(state: dict[str, Any]) -> Services:
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ConfigError(
            f"{state_path()} lacks {', '.join(missing)} (written by an older batchwords); "
            "run `batchwords local stop`, then `batchwords run --keep` again"
        )
    credentials = Credentials.from_keys(
        batch_account=state["batch_account"],
        batch_key=state["batch_key"],
        storage_account=state["storage_account"],
        storage_key=state["storage_key"],
        source=f"the services recorded in {state_path()}",
    )
    return Services(state["batch_endpoint"], state["storage_endpoint"], credentials)


def kept_services() -> Services:
    """The recorded services, with their credentials; an error if they are not running."""
    state = read_state()
    dead = [pid for pid in state["pids"] if not _alive(pid)]
    if dead:
        raise ConfigError(
            f"the local services recorded in {state_path()} are not running (pids {dead}); "
            "run `batchwords local stop`, then `batchwords run --keep` again"
        )
    return _services(state)


def stop_kept(timeout: float = 10.0) -> list[int]:
    """Stop the recorded services and forget them; returns the pids that were running."""
    state = read_state()
    running = [pid for pid in state["pids"] if _alive(pid)]
    for pid in running:  # each leads its own process group (start_new_session)
        signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in running):
        time.sleep(0.05)
    for pid in running:
        if _alive(pid):
            signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in running):
        time.sleep(0.05)
    state_path().unlink(missing_ok=True)
    # The services' data (Azurite's blobs, localbatch's store and nodes) goes with them.
    shutil.rmtree(services_dir(), ignore_errors=True)
    return running
