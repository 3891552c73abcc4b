"""A nodetask release's files: nodetask's wheel, its dependencies' wheels, and the lock pinning each.

The lock is a pip requirements file, one ``name==version --hash=sha256:...``
line per wheel (nodetask's included). A node installs exactly what it names,
from these files, with the package index off and ``--require-hashes``
(``NodetaskRelease.install_script``): a node never resolves a name from an
index, so nobody can publish a higher version there and have it installed.

``make wheel`` (``_wheel_build``) writes it next to the wheels for the Azure
nodes; the offline wheelhouse writes the same for the local Python.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._exceptions import ConfigError

#: nodetask's distribution name (its import package and command stay ``nodetask``).
NODETASK = "batchwords-nodetask"
#: The lock's file name, next to the wheels it pins.
LOCK = "nodetask-lock.txt"
_LOCK_LINE = re.compile(r"(?P<name>[a-z0-9-]+)==(?P<version>\S+) --hash=sha256:(?P<sha256>[0-9a-f]{64})")


def canonical(name: str) -> str:
    """A distribution name as the packaging specifications compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class NodeFile:
    """One file of a release: a wheel or the lock, with its sha256."""

    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def wheel_requirement(filename: str) -> tuple[str, str]:
    """(canonical distribution name, version) of a wheel: ``NAME-VERSION[-BUILD]-PY-ABI-PLAT.whl``."""
    parts = filename.removesuffix(".whl").split("-")
    if not filename.endswith(".whl") or len(parts) not in (5, 6):
        raise ConfigError(f"{filename} is not a wheel's file name (NAME-VERSION-PYTHON-ABI-PLATFORM.whl)")
    return canonical(parts[0]), parts[1]


def lock_text(wheels: Sequence[Path]) -> str:
    """The lock for ``wheels``: every one pinned by version and sha256, one wheel per distribution."""
    lines: dict[str, str] = {}
    for wheel in sorted(wheels, key=lambda path: path.name):
        name, version = wheel_requirement(wheel.name)
        if name in lines:
            raise ConfigError(f"two wheels of {name} in {wheel.parent}: keep one (run `make wheel` again)")
        lines[name] = f"{name}=={version} --hash=sha256:{sha256_of(wheel)}"
    return (
        "# The nodetask release: a node installs exactly these files, by hash, with no package index.\n"
        "# Written by `make wheel` (python -m batchwords._wheel_build) and the offline wheelhouse.\n"
        + "".join(f"{line}\n" for _, line in sorted(lines.items()))
    )


def write_lock(folder: Path) -> Path:
    """Writes the lock of every wheel in ``folder`` next to them; returns its path."""
    lock = folder / LOCK
    lock.write_text(lock_text(sorted(folder.glob("*.whl"))), encoding="utf-8")
    return lock


def locked_files(folder: Path) -> list[NodeFile]:
    """The release in ``folder``: the wheels its lock names, each checked by sha256, then the lock.

    A missing lock, a missing or changed wheel, or a wheel the lock does not
    name is a ``ConfigError`` saying how to rebuild.
    """
    lock = folder / LOCK
    fix = f"rebuild the release (make wheel, or remove {folder})"
    if not lock.is_file():
        raise ConfigError(f"no {LOCK} in {folder}: {fix}")
    pinned: dict[tuple[str, str], str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            match = _LOCK_LINE.fullmatch(line.strip())
            if match is None:
                raise ConfigError(f"{lock}: cannot read {line!r}: {fix}")
            pinned[match["name"], match["version"]] = match["sha256"]
    files = []
    for wheel in sorted(folder.glob("*.whl")):
        recorded = pinned.pop(wheel_requirement(wheel.name), None)
        if recorded is None:
            raise ConfigError(f"{wheel} is not in {LOCK}: {fix}")
        if sha256_of(wheel) != recorded:
            raise ConfigError(f"{wheel} is not the file {LOCK} records (sha256 differs): {fix}")
        files.append(NodeFile(wheel, recorded))
    if pinned:
        missing = ", ".join(f"{name}=={version}" for name, version in sorted(pinned))
        raise ConfigError(f"{folder} lacks the wheels of {missing}: {fix}")
    if not any(wheel_requirement(file.name)[0] == NODETASK for file in files):
        raise ConfigError(f"no {NODETASK} wheel in {folder}: {fix}")
    return [*files, NodeFile(lock, sha256_of(lock))]


def nodetask_wheel(files: Sequence[NodeFile]) -> NodeFile:
    """nodetask's own wheel among a release's files."""
    return next(file for file in files if file.name != LOCK and wheel_requirement(file.name)[0] == NODETASK)
