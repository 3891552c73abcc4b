"""What the CLI prints: JSON for scripts, tables and progress for people."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .._batch import TaskCounts
from .._jobset import JobSetOutputs


def emit(args: argparse.Namespace, document: Any, table: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        print("\n".join(table))


def counts_line(counts: TaskCounts) -> str:
    return (
        f"{counts.completed}/{counts.total} done ({counts.succeeded} succeeded, {counts.failed} failed), "
        f"{counts.running} running, {counts.active} waiting"
    )


class Progress:
    """One line that redraws on a terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def say(self, text: str) -> None:
        self._end_bar()
        print(f"batchwords: {text}", file=self.stream, flush=True)

    def tasks(self, counts: TaskCounts) -> None:
        total = max(counts.total, 1)
        filled = round(30 * counts.completed / total)
        line = (
            f"tasks [{'#' * filled}{'.' * (30 - filled)}] {counts.completed}/{counts.total} done, "
            f"{counts.running} running, {counts.failed} failed"
        )
        if line == self.last:
            return
        self.last = line
        if self.tty:
            print(f"\r{line}", end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def _end_bar(self) -> None:
        if self.tty and self.last:
            print(file=self.stream)
            self.last = ""


def render(outputs: JobSetOutputs, numwords: int, timings: dict[str, float], stages: Sequence[str]) -> str:
    """Each file's top words, the merged top N and the stage timings."""
    lines = []
    for name, task in outputs.tasks.items():
        top = ", ".join(
            f"{item['word']} {item['count']}" for item in (task.result or {}).get("top", [])[:numwords]
        )
        status = "ok" if task.failure is None else f"FAILED ({task.failure})"
        lines.append(f"{name:<36} {status:<4}  {top}")
    width = max((len(word) for word, _ in outputs.top_words), default=4)
    lines += [
        "",
        f"Merged top {numwords} of {len(outputs.tasks)} files "
        f"({outputs.total_words:,} words, {outputs.distinct_words:,} distinct):",
        f"{'rank':>4}  {'word':<{width}}  {'count':>7}",
    ]
    lines += [
        f"{rank:>4}  {word:<{width}}  {count:>7,}" for rank, (word, count) in enumerate(outputs.top_words, 1)
    ]
    lines += ["", "Stage timings: " + ", ".join(f"{stage} {timings.get(stage, 0):.1f} s" for stage in stages)]
    return "\n".join(lines)
