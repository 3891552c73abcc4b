"""Local services that outlive one command: what `batchwords run --keep` leaves up.

Their endpoints, emulator keys and process ids are recorded in a state file
(readable by the user only) that `--local` reads and `batchwords local stop`
removes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import platformdirs

from localbatch import new_key

from ._azurite import start_azurite
from ._credentials import BATCH_ACCOUNT_ENV, BATCH_KEY_ENV, STORAGE_ACCOUNT_ENV, STORAGE_KEY_ENV
from ._exceptions import ConfigError

STATE_ENV = "BATCHWORDS_STATE_DIR"
_ENDPOINT = re.compile(r"at (http://127\.0\.0\.1:\d+)")


def state_dir() -> Path:
    return Path(os.environ.get(STATE_ENV) or platformdirs.user_state_dir("batchwords"))


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


def start_detached(work_dir: Path) -> dict[str, Any]:
    """Start Azurite and `localbatch serve` in their own sessions; record them."""
    if state_path().exists() and all(_alive(pid) for pid in read_state().get("pids", [])):
        raise ConfigError(
            f"local services from an earlier `run --keep` are still up (see {state_path()}); "
            "stop them first with `batchwords local stop`"
        )
    azurite = start_azurite(work_dir / "azurite", detached=True)
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
            "--key",
            key,
            "--auto-storage-url",
            azurite.account_url,
            "--auto-storage-account",
            azurite.account,
            "--auto-storage-key",
            azurite.key,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    log.close()
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _ENDPOINT.search(line)
    if not match:
        process.kill()
        azurite.stop()
        raise ConfigError(f"localbatch did not start; see {work_dir / 'localbatch.log'}")
    state = {
        "batch_endpoint": match.group(1),
        "storage_endpoint": azurite.account_url,
        "env": {
            BATCH_ACCOUNT_ENV: "localbatch",
            BATCH_KEY_ENV: key,
            STORAGE_ACCOUNT_ENV: azurite.account,
            STORAGE_KEY_ENV: azurite.key,
        },
        "pids": [process.pid, azurite.process.pid],
        "work_dir": str(work_dir),
    }
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
    partial.chmod(0o600)  # it holds the emulators' keys
    partial.replace(path)
    return state


def read_state() -> dict[str, Any]:
    path = state_path()
    if not path.exists():
        raise ConfigError("no local services are recorded: start them with `batchwords run --keep`")
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def use_local() -> tuple[str, str]:
    """Endpoints of the recorded services, with their keys put in the environment."""
    state = read_state()
    dead = [pid for pid in state["pids"] if not _alive(pid)]
    if dead:
        raise ConfigError(
            f"the local services recorded in {state_path()} are not running (pids {dead}); "
            "run `batchwords local stop`, then `batchwords run --keep` again"
        )
    os.environ.update(state["env"])
    return state["batch_endpoint"], state["storage_endpoint"]


def stop_local(timeout: float = 10.0) -> list[int]:
    """Stop the recorded services and forget them; returns the pids that were running."""
    state = read_state()
    running = [pid for pid in state["pids"] if _alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in running):
        time.sleep(0.1)
    for pid in running:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in running):
        time.sleep(0.05)
    state_path().unlink(missing_ok=True)
    return running
