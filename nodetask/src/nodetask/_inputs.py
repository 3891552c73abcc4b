"""Which files one nodetask run counts, and where each one's results go.

One run may count several inputs (Batch recommends tasks of about ten seconds
or more, so small files are packed into one task). Each input keeps its own
results under its own blob prefix; inputs come from ``--filepath`` (sharing
``--blob-prefix``), ``--input PATH PREFIX`` pairs, or a manifest file. A map
task (``--task-output``) takes the same lists, the second value being the
input's id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._contract import counts_name, error_name, result_name
from ._exceptions import UsageError


@dataclass(frozen=True)
class Input:
    """One file to count and the prefix its result blobs are uploaded under."""

    path: Path
    blob_prefix: str

    @property
    def name(self) -> str:
        return self.path.name


def read_manifest(manifest: str, default_prefix: str) -> list[Input]:
    """Inputs from a manifest: one per line, ``PATH`` or ``PATH<TAB>BLOB_PREFIX``.

    Blank lines and lines starting with ``#`` are skipped; a relative path is
    taken from the current folder, as on the command line.
    """
    try:
        with open(manifest, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"--manifest {manifest}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--manifest {manifest}: cannot be read ({exc}); give a UTF-8 text file") from exc
    inputs: list[Input] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) > 2 or not fields[0]:
            raise UsageError(
                f"--manifest {manifest}, line {number}: expected PATH or PATH<TAB>BLOB_PREFIX, "
                f"got {line[:80]!r}"
            )
        prefix = fields[1] if len(fields) == 2 else default_prefix
        inputs.append(Input(Path(fields[0]), prefix))
    if not inputs:
        raise UsageError(f"--manifest {manifest} lists no input; give one path per line")
    return inputs


def _listed(
    filepaths: Sequence[str], pairs: Sequence[Sequence[str]], manifest: str | None, default_prefix: str
) -> list[Input]:
    """Every input of the run, in the order given, each file once."""
    inputs = [Input(Path(path), default_prefix) for path in filepaths]
    inputs += [Input(Path(path), prefix) for path, prefix in pairs]
    if manifest is not None:
        inputs += read_manifest(manifest, default_prefix)
    if not inputs:
        raise UsageError("no input: give --filepath FILE, --input FILE BLOB_PREFIX or --manifest FILE")
    twice = [path for path, seen in Counter(str(item.path) for item in inputs).items() if seen > 1]
    if twice:
        raise UsageError(f"input given more than once: {', '.join(twice[:5])}; give each file once")
    return inputs


def gather_inputs(
    filepaths: Sequence[str],
    pairs: Sequence[Sequence[str]],
    manifest: str | None,
    *,
    default_prefix: str,
    shared_output_dir: bool,
) -> list[Input]:
    """Every input of the run, in the order given, checked for clashing result names."""
    inputs = _listed(filepaths, pairs, manifest, default_prefix)
    # Two inputs whose results would share a blob name, or (in one --output-dir) a file name.
    owners: dict[str, Input] = {}
    for item in inputs:
        for output in (result_name(item.name), counts_name(item.name), error_name(item.name)):
            keys = [item.blob_prefix + output]
            if shared_output_dir:
                keys.append("local:" + output)
            for key in keys:
                other = owners.setdefault(key, item)
                if other is not item:
                    raise UsageError(
                        f"{other.path} and {item.path} would both write {key.removeprefix('local:')}; "
                        "give them different blob prefixes (--input FILE PREFIX) or output folders"
                    )
    return inputs


@dataclass(frozen=True)
class TaskInput:
    """One input of a map task (``--task-output``): the file and its id."""

    path: Path
    id: str


def gather_task_inputs(
    filepaths: Sequence[str], pairs: Sequence[Sequence[str]], manifest: str | None
) -> list[TaskInput]:
    """Every input of a map task, in the order given: ``--input FILE ID`` pairs (and
    ``FILE<TAB>ID`` manifest lines) give the id, a bare file's id is its name."""
    inputs = [
        TaskInput(item.path, item.blob_prefix or item.name)
        for item in _listed(filepaths, pairs, manifest, "")
    ]
    twice = [input_id for input_id, seen in Counter(item.id for item in inputs).items() if seen > 1]
    if twice:
        raise UsageError(
            f"input id given more than once: {', '.join(twice[:5])}; give each input its own id "
            "(--input FILE ID)"
        )
    return inputs
