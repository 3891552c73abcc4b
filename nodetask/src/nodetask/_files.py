"""Local files: written whole or not at all, so a reader never sees half a result."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._exceptions import UsageError

#: Temporary files beside their target start with this (never a result's name).
TEMPORARY_PREFIX = ".nodetask-"


def unwritable(path: Path, exc: OSError) -> UsageError:
    """The error of a local file that cannot be written."""
    return UsageError(f"cannot write {path} ({exc.strerror or exc}); choose a writable --output-dir")


def temporary_beside(path: Path) -> Path:
    """A new empty temporary file in ``path``'s folder (created if need be), to rename onto it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
        os.close(handle)
    except OSError as exc:
        raise unwritable(path, exc) from exc
    return Path(name)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, then rename it into place."""
    tmp = temporary_beside(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise unwritable(path, exc) from exc
