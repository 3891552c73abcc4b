"""Task mode (``--task-output``), the map: a task's inputs as P count partitions and a
row per input.

A map task writes ``1 + P`` files under its prefix whatever the number of its
inputs: the P partitions (``_partitions``), then ``results.json``, whose
presence means the partitions are there. They are written under
``--output-dir`` at ``DIR/PREFIX...`` (the blob names), then uploaded in that
order.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ._contract import TASK_RESULTS_NAME, partition_name
from ._counting import count_input, report_failures
from ._exceptions import ExitCode, InputError, UsageError
from ._files import write_atomically
from ._inputs import TaskInput
from ._partitions import PartitionWriter
from ._report import ErrorRecord
from ._tasks_contract import InputRow, TaskResults

if TYPE_CHECKING:
    from ._upload import ResultUploader

PARQUET_TYPE = "application/vnd.apache.parquet"


def check_task_output(prefix: str) -> str:
    """``prefix`` when it is a relative blob prefix ending with "/" (it is a local path too)."""
    parts = prefix.split("/")
    if (
        not prefix.endswith("/")
        or prefix.startswith("/")
        or any(part in ("", ".", "..") for part in parts[:-1])
    ):
        raise UsageError(
            f"--task-output {prefix!r} is not a blob prefix: give folders separated by '/' and "
            "ending with '/', e.g. SET/tasks/TASK/"
        )
    if "\\" in prefix:
        raise UsageError(f"--task-output {prefix!r}: use '/' between folders, not '\\'")
    return prefix


def run_map(args: argparse.Namespace, inputs: list[TaskInput], uploader: ResultUploader | None) -> int:
    """Count every input into the partitions, write the rows, upload; the exit code."""
    prefix = check_task_output(args.task_output)
    partitions: int = args.partitions
    folder = Path(args.output_dir or ".") / PurePosixPath(prefix)
    rows: dict[str, InputRow] = {}
    failed: list[Path] = []
    with PartitionWriter(folder, partitions) as writer:
        # In the order of their ids: every partition's rows are sorted by (input, word).
        for number, item in enumerate(sorted(inputs, key=lambda item: item.id), start=1):
            label = f"[{number}/{len(inputs)}] {item.path.name}: " if len(inputs) > 1 else ""
            try:
                report = count_input(args, item.path, label)
            except InputError as exc:
                # One input that cannot be counted does not stop the others: its row says why.
                print(f"nodetask: error: {exc}", file=sys.stderr)
                failed.append(item.path)
                rows[item.id] = InputRow(
                    item.id, None, ErrorRecord(item.path.name, int(exc.exit_code), str(exc))
                )
                continue
            writer.add(item.id, report.counts.counts)
            rows[item.id] = InputRow(item.id, report.result(), None)
            if not args.quiet:
                sys.stdout.write(report.to_text())
    results = TaskResults(partitions, tuple(rows[item.id] for item in inputs))
    results_data = results.to_json().encode("utf-8")
    write_atomically(folder / TASK_RESULTS_NAME, results_data)
    if not args.quiet:
        print(f"nodetask: wrote {folder / TASK_RESULTS_NAME} and {partitions} partition(s)", file=sys.stderr)
    if uploader is not None:
        _upload(uploader, prefix, writer.paths, results, results_data, overwrite=args.overwrite)
    report_failures(failed, len(inputs))
    return ExitCode.BAD_INPUT if failed else ExitCode.OK


def _upload(
    uploader: ResultUploader,
    prefix: str,
    paths: list[Path],
    results: TaskResults,
    results_data: bytes,
    *,
    overwrite: bool,
) -> None:
    """The partitions first, then ``results.json``: its blob means the partitions are there."""
    from ._upload import OutputBlob, upload_reported  # noqa: PLC0415 (heavy: only to upload)

    for p, path in enumerate(paths):
        try:
            data = path.read_bytes()  # one partition in memory at a time
        except OSError as exc:
            raise UsageError(f"cannot read back {path} ({exc.strerror or exc})") from exc
        name = prefix + partition_name(p, results.partitions)
        upload_reported(
            uploader, OutputBlob(name, data, PARQUET_TYPE, hashlib.sha256(data).hexdigest()), overwrite
        )
    # Named by what it means, not its bytes: a retry elsewhere (other node, other timings)
    # converges on the rows that are there.
    blob = OutputBlob(prefix + TASK_RESULTS_NAME, results_data, "application/json", results.digest())
    upload_reported(uploader, blob, overwrite)
