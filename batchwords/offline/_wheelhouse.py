"""The nodetask wheelhouse: nodetask and its dependencies as wheels, for nodes without a package index.

It is built from the nodetask installed next to batchwords (not from a
checkout in the current folder), so ``batchwords run`` works from anywhere,
and kept in the user cache folder under a key made of nodetask's version and
a digest of its files: a changed nodetask gets a new wheelhouse, an unchanged
one reuses the last. Its lock (``_wheels.LOCK``) pins every wheel by sha256,
as ``make wheel``'s does: the nodes install from it with no package index.

Where the files come from:

- an editable install (``pip install -e ./nodetask``, what ``make setup``
  does): its ``direct_url.json`` names the source folder, which pip builds;
- any other install: the installed files and their ``.dist-info`` are packed
  back into a wheel as they are (no build backend, no package index needed).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import platformdirs

from .._exceptions import ConfigError, ServiceStartError
from .._wheels import LOCK, NODETASK, canonical, write_lock

DISTRIBUTION = NODETASK
#: How wheel and .dist-info names spell the distribution.
_WHEEL_NAME = canonical(DISTRIBUTION).replace("-", "_")
#: Never part of a wheel, never part of the key.
_SKIPPED_PARTS = ("__pycache__", "build", "dist")


@dataclass(frozen=True)
class NodetaskSource:
    """The installed nodetask: its version, the files that make its wheel, and how to build it."""

    version: str
    #: (name inside the wheel or the source folder, file), sorted by name.
    files: tuple[tuple[str, Path], ...]
    #: The source folder of an editable install (built by pip), or None (the installed files are packed).
    project: Path | None
    where: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{DISTRIBUTION} {self.version}\n".encode())
        for name, path in self.files:
            digest.update(f"{name}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return f"{DISTRIBUTION}-{self.version}-{digest.hexdigest()[:16]}"


def cache_root() -> Path:
    """The user cache folder wheelhouses live in (``XDG_CACHE_HOME`` and the platform's rules apply)."""
    return Path(platformdirs.user_cache_dir("batchwords")) / "wheelhouse"


def _skipped(relative: Path) -> bool:
    return any(
        part in _SKIPPED_PARTS or part.endswith(".egg-info") or part.startswith(".")
        for part in relative.parts
    ) or relative.suffix in (".pyc", ".pyo")


def _source_folder(dist: metadata.Distribution) -> Path | None:
    """The source folder of an editable install from a local path, else None."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = urlparse(str(info.get("url", "")))
    if url.scheme != "file" or not info.get("dir_info", {}).get("editable"):
        return None
    folder = Path(unquote(url.path))
    return folder if (folder / "pyproject.toml").is_file() else None


def nodetask_source() -> NodetaskSource:
    """What the wheelhouse is built from: the nodetask distribution installed in this Python."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            "nodetask is not installed in this Python; install it (pip install ./nodetask, or make setup)"
        ) from None
    version = dist.version
    folder = _source_folder(dist)
    if folder is not None:
        files = sorted(
            (path.relative_to(folder).as_posix(), path)
            for path in folder.rglob("*")
            if path.is_file() and not _skipped(path.relative_to(folder))
        )
        return NodetaskSource(version, tuple(files), folder, f"the editable source in {folder}")
    installed = []
    for entry in dist.files or ():
        relative = Path(str(entry))
        if (
            relative.parts[0].startswith("..")
            or relative.parts[0].endswith(".dist-info")
            or _skipped(relative)
        ):
            continue  # console scripts, the old RECORD; the .dist-info is rewritten when packing
        path = Path(str(entry.locate()))
        if path.is_file():
            installed.append((relative.as_posix(), path))
    if not installed:
        raise ConfigError(
            f"nodetask {version} is installed without its files; reinstall it (pip install ./nodetask)"
        )
    return NodetaskSource(version, tuple(sorted(installed)), None, "the installed nodetask")


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def pack_installed(source: NodetaskSource, folder: Path) -> Path:
    """A py3-none-any wheel of the installed nodetask: its files and its metadata, as installed."""
    dist = metadata.distribution(DISTRIBUTION)
    info = f"{_WHEEL_NAME}-{source.version}.dist-info"
    wheel = folder / f"{_WHEEL_NAME}-{source.version}-py3-none-any.whl"
    members: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in source.files]
    members.append((f"{info}/METADATA", (dist.read_text("METADATA") or "").encode()))
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        members.append((f"{info}/entry_points.txt", entry_points.encode()))
    tags = "Wheel-Version: 1.0\nGenerator: batchwords\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members.append((f"{info}/WHEEL", tags.encode()))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in members:
        writer.writerow(_record_line(name, data))
    writer.writerow([f"{info}/RECORD", "", ""])
    members.append((f"{info}/RECORD", record.getvalue().encode()))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return wheel


def _pip_wheel(requirement: str, folder: Path) -> None:
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
            requirement,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceStartError(f"building the nodetask wheels failed: {proc.stderr.strip()[-800:]}")


@dataclass(frozen=True)
class _Partial:
    path: Path

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *_exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _wheels(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.whl"))


def _complete(folder: Path) -> list[Path]:
    """The wheels of a finished wheelhouse (nodetask's among them, and the lock), else none."""
    wheels = _wheels(folder)
    finished = (folder / LOCK).is_file() and any(w.name.startswith(f"{_WHEEL_NAME}-") for w in wheels)
    return wheels if finished else []


def build_wheelhouse(say: Callable[[str], None], cache: Path | None = None) -> list[Path]:
    """The wheels for nodes: the installed nodetask and its dependencies, built once per nodetask content,
    next to their lock (``_wheels.locked_files`` reads the release from their folder)."""
    source = nodetask_source()
    folder = (cache or cache_root()) / source.key
    existing = _complete(folder)
    if existing:
        say(f"nodetask wheelhouse: {folder}")
        return existing
    say(f"building the nodetask wheelhouse in {folder} (nodetask {source.version}, from {source.where})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _Partial(Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))) as partial:
        if source.project is not None:
            _pip_wheel(str(source.project), partial)
        else:
            # pip copies the packed wheel and adds its dependencies (from its cache or the index).
            with _Partial(Path(tempfile.mkdtemp(prefix="nodetask-packed-"))) as packed:
                _pip_wheel(str(pack_installed(source, packed)), partial)
        write_lock(partial)
        try:
            os.rename(partial, folder)  # atomic: a concurrent run sees all of it or nothing
        except OSError:
            if not _complete(folder):  # not a concurrent run that finished first
                raise
    return _wheels(folder)
