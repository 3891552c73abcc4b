"""The nodetask wheelhouse: nodetask and its dependencies as wheels, for nodes without a package index."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .._exceptions import ConfigError, ServiceStartError


def build_wheelhouse(project: Path, folder: Path, say: Callable[[str], None]) -> list[Path]:
    """The wheels in ``folder``, built once from the project's nodetask source."""
    wheels = sorted(folder.glob("*.whl"))
    if any(wheel.name.startswith("nodetask-") for wheel in wheels):
        return wheels
    source = project / "nodetask"
    if not (source / "pyproject.toml").exists():
        raise ConfigError(
            f"no nodetask wheels in {folder} and no nodetask source in {project}; run batchwords from the "
            "project folder"
        )
    say(f"building the nodetask wheelhouse in {folder} (once)")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--wheel-dir",
            str(folder),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceStartError(f"building the nodetask wheels failed: {proc.stderr.strip()[-800:]}")
    return sorted(folder.glob("*.whl"))
