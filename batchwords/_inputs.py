"""Which files of a folder are inputs: decided before any upload, and reported in one message.

One rule for `batchwords run`, `batchwords files upload` and the Pulumi
program's input folder:

- hidden files, and files inside hidden folders, are not inputs;
- nodetask's own results (``*_OUTPUT.*``, ``*_COUNTS.tsv.gz``) are not inputs;
- a symbolic link that leaves the folder is skipped with a warning, unless allowed;
- folders given in ``exclude`` (an output folder inside the input folder) are skipped;
- a name with a backslash is refused: Storage turns it into a folder separator.

Names that would collapse to one task id are the job's concern: ``check_inputs``
(``_tasks``) refuses them, and the offline run calls it before uploading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nodetask

from ._exceptions import ConfigError


@dataclass(frozen=True)
class Inputs:
    """The input files (blob name -> path) and what was left out, with why."""

    files: dict[str, Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [f"skipped {path}: {why}" for path, why in self.skipped if why.startswith("a link")]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _walk(folder: Path, follow_links: bool) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def select_inputs(
    folder: Path,
    *,
    prefix: str = "",
    exclude: Sequence[Path] = (),
    follow_links: bool = False,
) -> Inputs:
    """The input files under ``folder``, named ``prefix`` + their path relative to it;
    one ``ConfigError`` names every refused file."""
    if not folder.is_dir():
        raise ConfigError(f"input folder {folder} does not exist or is not a folder; give a folder")
    root = folder.resolve()
    excluded = [path.resolve() for path in exclude]
    files: dict[str, Path] = {}
    skipped: list[tuple[Path, str]] = []
    refused: list[str] = []
    for path in _walk(folder, follow_links):
        relative = path.relative_to(folder)
        resolved = path.resolve()
        if _hidden(relative):
            skipped.append((path, "hidden"))
        elif any(resolved.is_relative_to(other) for other in excluded):
            skipped.append((path, "inside the output folder"))
        elif not resolved.is_relative_to(root) and not follow_links:
            skipped.append((path, f"a link to {resolved}, outside the folder (allow with --follow-links)"))
        elif not resolved.is_file():
            skipped.append((path, "not a regular file"))
        elif nodetask.is_result_name(path.name):
            skipped.append((path, "a nodetask result"))
        elif "\\" in relative.as_posix():
            refused.append(f"{relative.as_posix()!r} has a backslash, which Storage makes a folder separator")
        else:
            files[prefix + relative.as_posix()] = path
    if refused:
        raise ConfigError(
            f"{len(refused)} input(s) refused before any upload: {'; '.join(refused)}; rename them"
        )
    if not files:
        raise ConfigError(
            f"input folder {folder} has no input files (hidden ones and nodetask results do not count)"
        )
    return Inputs(files, skipped)
