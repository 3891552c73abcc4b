"""What `batchwords run` leaves behind: ``summary.json`` and ``top_words.csv`` beside the
downloaded outputs, and the closing summary a person reads (as `pulumi up` ends).

``summary.json`` is also exactly what ``run --json`` prints: one document, one
shape for ranked words (``{"word", "count"}`` objects) everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .._counts import counts_path
from .._jobset import JobSetOutputs
from .._results import TaskResult

SUMMARY_NAME = "summary.json"
TOP_WORDS_NAME = "top_words.csv"
#: Bumped when the document's layout changes.
SUMMARY_FORMAT = "batchwords-run-summary/2"
STOP_COMMAND = "batchwords local stop"


def ranked(words: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Ranked words as ``{"word", "count"}`` objects."""
    return [{"word": word, "count": count} for word, count in words]


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _file_entry(name: str, task: TaskResult, folder: Path) -> dict[str, Any]:
    result = task.result
    counts = counts_path(folder, name)
    return {
        "input": name,
        "ok": task.failure is None,
        "words": result.total_words if result else None,
        "distinct_words": result.distinct_words if result else None,
        "top": ranked(result.top if result else ()),
        "task_id": task.task_id,
        "node_id": task.node_id,
        "start": _stamp(task.start_time),
        "end": _stamp(task.end_time),
        "duration_s": _seconds(task.duration),
        "exit_code": task.exit_code,
        "failure": task.failure,
        # Full counts are fetched only on request (`run --counts`).
        "counts_file": str(counts) if task.failure is None and counts.exists() else None,
    }


def build_summary(
    outputs: JobSetOutputs,
    *,
    folder: Path,
    files: list[Path],
    timings: dict[str, float],
    total_seconds: float,
    cleaned_up: list[str],
    kept: list[str],
) -> dict[str, Any]:
    """The run's whole record: per input, merged, totals, timings, paths, what was cleaned up."""
    root = folder.resolve()
    entries = [_file_entry(name, task, folder) for name, task in outputs.tasks.items()]
    ok = sum(1 for entry in entries if entry["ok"])
    return {
        "format": SUMMARY_FORMAT,
        "numwords": outputs.numwords,
        "state": outputs.state,
        "failure": outputs.failure,
        "files": entries,
        "top_words": ranked(outputs.top_words),
        "totals": {
            "files": len(entries),
            "ok": ok,
            "failed": len(entries) - ok,
            "words": outputs.total_words,
            "distinct_words": outputs.distinct_words,
        },
        "timings": {stage: _seconds(seconds) for stage, seconds in timings.items()}
        | {"total": _seconds(total_seconds)},
        "outputs": {
            "folder": str(folder),
            "summary": str(folder / SUMMARY_NAME),
            "top_words_csv": str(folder / TOP_WORDS_NAME),
            "files": sorted(
                str(folder / path.relative_to(root)) if path.is_relative_to(root) else str(path)
                for path in files
            ),
        },
        "cleaned_up": list(cleaned_up),
        "kept": list(kept),
        "stop_command": STOP_COMMAND if kept else None,
    }


def summary_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def top_words_csv(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "word", "count"])
    for rank, item in enumerate(document["top_words"], 1):
        writer.writerow([rank, item["word"], item["count"]])
    return buffer.getvalue()


def write_atomically(path: Path, content: str) -> None:
    """``content`` at ``path`` whole or not at all: a temporary file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_summary(document: dict[str, Any]) -> None:
    """``summary.json`` and ``top_words.csv`` in the run's output folder."""
    write_atomically(Path(document["outputs"]["summary"]), summary_json(document))
    write_atomically(Path(document["outputs"]["top_words_csv"]), top_words_csv(document))


def closing_lines(document: dict[str, Any], *, written: bool = True) -> list[str]:
    """The end of a run, as `pulumi up` ends: duration, outcome, where, what was cleaned up."""
    totals, where = document["totals"], document["outputs"]
    lines = [
        "Summary:",
        f"    duration: {document['timings']['total']:.1f} s",
        f"    files: {totals['files']} ({totals['ok']} ok, {totals['failed']} failed)",
        f"    words: {totals['words']:,} ({totals['distinct_words']:,} distinct)",
        f"Results in {where['folder']}:",
    ]
    if written:
        lines += [f"    {where['summary']}", f"    {where['top_words_csv']}"]
    lines.append(f"    {len(where['files'])} downloaded output files")
    if document["cleaned_up"]:
        lines += ["Cleaned up:", *(f"    {item}" for item in document["cleaned_up"])]
    if document["kept"]:
        lines += ["Kept up for --local commands:", *(f"    {item}" for item in document["kept"])]
        lines.append(f"Stop them (and remove their data) with: {document['stop_command']}")
    return lines
