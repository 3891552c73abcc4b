"""SIGTERM and SIGHUP (a timeout, a CI cancel, systemd, a closed terminal) during `batchwords run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.words import DATA

pytestmark = pytest.mark.azurite


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_services_and_remove_temporary_files(tmp_path, signum):
    """As a timeout, a CI cancel or a closed terminal sends them: handled like Ctrl-C."""
    project = tmp_path / "project"
    project.mkdir()
    temp = tmp_path / "tmp"
    temp.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-m", "batchwords", "run", str(DATA), "--output-dir", str(tmp_path / "out")],
        cwd=project,
        env={**os.environ, "TMPDIR": str(temp)},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert run.stderr is not None
    lines = []
    for line in run.stderr:  # the services are up once they are named
        lines.append(line)
        if line.startswith("batchwords: services:"):
            break
    assert processes_mentioning(str(temp)), "Azurite runs with its data in the run's temporary folder"
    run.send_signal(signum)
    assert run.wait(timeout=30) == 128 + signum
    assert f"stopped by {signal.Signals(signum).name}" in run.stderr.read()
    assert processes_mentioning(str(temp)) == []  # Azurite is gone, not orphaned
    assert list(temp.iterdir()) == []  # and its temporary folder with it
