"""Per-input counts, fetched only on request: rebuilt from the map tasks' count partitions.

A job's summary holds every input's top N; its full counts live spread over
its map task's P partitions (docs/design.md). ``fetch_counts`` reads one map
task's partitions at a time and writes each input's counts as nodetask's
counts file (``NAME_COUNTS.tsv.gz``), so memory follows one task's
partitions, never the corpus.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import nodetask

from ._exceptions import StorageError
from ._reduce import manifest_blob
from ._results import Where
from ._storage import Storage

#: Where the counts files go under the destination.
COUNTS_DIR = "counts"


def read_manifest(storage: Storage, where: Where, job_id: str) -> nodetask.ReduceManifest:
    """The manifest the job's reduce ran with: its sources and their partitions."""
    name = manifest_blob(where.job_set, job_id)
    try:
        return nodetask.ReduceManifest.from_json(storage.read_blob(where.container, name))
    except ValueError as exc:
        raise StorageError(f"{where.container}/{name} is not nodetask's manifest: {exc}") from exc


def counts_path(dest: Path, input_name: str) -> Path:
    """Where an input's counts land: ``DEST/counts/<its folder>/<stem>_COUNTS.tsv.gz``."""
    blob = PurePosixPath(input_name)
    return dest / COUNTS_DIR / blob.parent / nodetask.counts_name(blob.name)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch_counts(
    storage: Storage,
    where: Where,
    job_id: str,
    dest: Path,
    *,
    names: Mapping[str, str],
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Path]:
    """The counts of the inputs in ``names`` (input id -> blob name: the counted inputs, as the
    job's summary says), written under ``dest``, one map task at a time; a partition that is
    gone is a ``StorageError`` naming it."""
    manifest = read_manifest(storage, where, job_id)
    written: list[Path] = []
    sources = [source for source in manifest.sources if any(i in names for i in source.inputs)]
    for number, source in enumerate(sources, start=1):
        blobs = [
            source.prefix + nodetask.partition_name(p, source.partitions) for p in range(source.partitions)
        ]
        parts = list(storage.read_blobs(where.container, blobs).values())
        for input_id in source.inputs:
            if input_id not in names:
                continue
            counts = nodetask.input_counts(parts, input_id)
            words = nodetask.WordCounts(counts, 0, "")
            path = counts_path(dest, names[input_id])
            _write(path, nodetask.counts_file_bytes(words))
            written.append(path)
        if progress is not None:
            progress(number, len(sources), source.task_id)
    return written
