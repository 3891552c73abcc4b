"""What the CLI prints: JSON for scripts, tables and progress for people (rich).

On a terminal, tables have a header rule and progress redraws in place with its
elapsed time and ETA; otherwise (a pipe, a file, CI) the same tables are plain
aligned text without colour and progress is one line per change, so output
stays stable. ``NO_COLOR`` is honoured (rich reads it). ``--json`` prints only
the JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from .._types import TaskCounts

#: Wide enough that a table written to a file or a pipe never wraps.
PLAIN_WIDTH = 10_000


@dataclass(frozen=True)
class Column:
    header: str
    #: "left" or "right" (numbers).
    justify: str = "left"


def console(stream: TextIO | None = None) -> Console:
    out = stream or sys.stdout
    if out.isatty():
        return Console(file=out, highlight=False)
    return Console(file=out, highlight=False, no_color=True, width=PLAIN_WIDTH, soft_wrap=True)


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]], stream: TextIO | None = None) -> None:
    """Aligned columns, whatever the width of their cells."""
    out = console(stream)
    view = Table(
        box=box.SIMPLE_HEAD if out.is_terminal else None,
        show_edge=False,
        pad_edge=False,
        header_style="bold" if out.is_terminal else "",
    )
    for column in columns:
        view.add_column(column.header, justify=column.justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    out.print(view)


def emit(args: argparse.Namespace, document: Any, lines: list[str]) -> None:
    """The JSON document with ``--json``, else the lines."""
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        print("\n".join(lines))


def emit_table(
    args: argparse.Namespace,
    document: Any,
    columns: Sequence[Column],
    rows: Sequence[Sequence[object]],
    empty: str,
) -> None:
    """The JSON document with ``--json``, else the table (or ``empty`` when there are no rows)."""
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    elif rows:
        table(columns, rows)
    else:
        print(empty)


def counts_line(counts: TaskCounts) -> str:
    line = (
        f"{counts.completed}/{counts.total} done ({counts.succeeded} succeeded, {counts.failed} failed), "
        f"{counts.running} running, {counts.active} waiting"
    )
    return f"{line}; {stages_line(counts)}" if counts.reduce is not None else line


def stages_line(counts: TaskCounts) -> str:
    """The map and reduce stages' progress: ``map 98/100, reduce 0/3``."""
    if counts.reduce is None:
        return f"{counts.completed}/{counts.total}"
    maps, reduce = counts.map, counts.reduce
    return f"map {maps.completed}/{maps.total}, reduce {reduce.completed}/{reduce.total}"


class Progress:
    """Messages and task progress on stderr: a live bar with elapsed time and ETA on a
    terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._console = console(self.stream)
        self._live: RichProgress | None = None
        self._task: Any = None
        self.last = ""

    def say(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(f"batchwords: {text}", highlight=False, markup=False)
        else:
            print(f"batchwords: {text}", file=self.stream, flush=True)

    def tasks(self, counts: TaskCounts) -> None:
        stages = f" ({stages_line(counts)})" if counts.reduce is not None else ""
        line = (
            f"tasks {counts.completed}/{counts.total} done{stages}, {counts.running} running, "
            f"{counts.failed} failed"
        )
        if line == self.last:
            return
        self.last = line
        if not self._console.is_terminal:
            print(line, file=self.stream, flush=True)
            return
        if self._live is None:
            self._live = RichProgress(
                TextColumn("tasks"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
            )
            self._live.start()
            self._task = self._live.add_task("tasks", total=max(counts.total, 1), detail="")
        stage = f"{stages_line(counts)}, " if counts.reduce is not None else ""
        detail = f"{stage}{counts.running} running, {counts.failed} failed"
        self._live.update(self._task, completed=counts.completed, total=max(counts.total, 1), detail=detail)

    def close(self) -> None:
        """End the live bar (if any), leaving its last state on screen."""
        if self._live is not None:
            self._live.stop()
            self._live = None


#: The widest bar of the merged table, in characters.
BAR_WIDTH = 30


def bar(count: int, largest: int, *, terminal: bool) -> str:
    """``count`` as a bar proportional to ``largest``: blocks on a terminal, ``#`` otherwise."""
    if largest <= 0 or count <= 0:
        return ""
    return ("\u2588" if terminal else "#") * max(1, round(BAR_WIDTH * count / largest))


def render(document: dict[str, Any], stages: Sequence[str], stream: TextIO | None = None) -> None:
    """A run summary's tables: each file's outcome and top words, the merged top N with a
    bar, and the stage timings."""
    out = stream or sys.stdout
    files = document["files"]
    table(
        [
            Column("file"),
            Column("status"),
            Column("words", "right"),
            Column("distinct", "right"),
            Column("top"),
        ],
        [
            (
                entry["input"],
                "ok" if entry["ok"] else f"FAILED ({entry['failure']})",
                f"{entry['words']:,}" if entry["words"] is not None else "-",
                f"{entry['distinct_words']:,}" if entry["distinct_words"] is not None else "-",
                ", ".join(f"{item['word']} {item['count']}" for item in entry["top"]),
            )
            for entry in files
        ],
        out,
    )
    totals, top = document["totals"], document["top_words"]
    print(
        f"\nMerged top {document['numwords']} of {totals['files']} files "
        f"({totals['words']:,} words, {totals['distinct_words']:,} distinct):",
        file=out,
        flush=True,
    )
    largest = max((item["count"] for item in top), default=0)
    terminal = out.isatty()
    table(
        [Column("rank", "right"), Column("word"), Column("count", "right"), Column("")],
        [
            (rank, item["word"], f"{item['count']:,}", bar(item["count"], largest, terminal=terminal))
            for rank, item in enumerate(top, 1)
        ],
        out,
    )
    timings = document["timings"]
    print(
        "\nStage timings: " + ", ".join(f"{stage} {timings.get(stage) or 0:.1f} s" for stage in stages),
        file=out,
        flush=True,
    )
