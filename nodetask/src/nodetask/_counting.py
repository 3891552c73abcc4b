"""Count one input into its report, as every mode of the command does."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ._count import count_file
from ._exceptions import InputError
from ._report import BatchContext, WordCountReport


def _progress_for(label: str) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        if total:
            line = f"\rnodetask: {label}{done / total:6.1%} of {total:,} bytes"
            print(line, end="", file=sys.stderr, flush=True)

    return progress


def count_input(args: argparse.Namespace, input_path: Path, label: str) -> WordCountReport:
    """Count ``input_path`` with the command's options; an input nodetask cannot count
    (or one without words, unless ``--allow-empty``) raises ``InputError``."""
    show_progress = sys.stderr.isatty() and not args.quiet
    started = time.perf_counter()
    counts = count_file(
        str(input_path),
        ignore_case=args.ignore_case,
        errors=args.errors,
        workers=args.workers,
        progress=_progress_for(label) if show_progress else None,
        engine=args.engine,
    )
    if show_progress:
        print(file=sys.stderr)
    if not counts.counts and not args.allow_empty:
        what = "is empty" if counts.bytes_read == 0 else f"has no words in {counts.bytes_read:,} bytes"
        raise InputError(f"{input_path}: {what}; remove it from the inputs or pass --allow-empty")
    return WordCountReport(
        input_name=input_path.name,
        counts=counts,
        numwords=args.numwords,
        ignore_case=args.ignore_case,
        errors=args.errors,
        elapsed_seconds=time.perf_counter() - started,
        batch=BatchContext.from_environ(),
    )


def report_failures(failed: Sequence[Path], total: int) -> None:
    """One line naming the inputs of several that could not be counted."""
    if failed and total > 1:
        names = ", ".join(str(path) for path in failed[:10]) + (", ..." if len(failed) > 10 else "")
        print(f"nodetask: {len(failed)} of {total} inputs could not be counted: {names}", file=sys.stderr)
