"""`batchwords run`: the whole pipeline offline, as the 2016 tutorial ran it on Azure."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .._credentials import resolve_credentials
from .._exceptions import ConfigError
from .._packing import TASK_BYTES, parse_size
from .._spec import NUMWORDS, JobSpec
from ._output import Progress, render
from ._settings import config_dir, load_settings
from ._summary import build_summary, closing_lines, summary_json, write_summary
from ._target import require_offline

EXIT_TASKS_FAILED = 1
MAX_SLOTS = JobSpec.MAX_SLOTS_PER_NODE
#: The option that gives each job parameter.
OPTIONS = {"numwords": "--numwords", "task_bytes": "--task-bytes"}


def add_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run the whole pipeline offline (Azurite + localbatch), as the 2016 tutorial did on Azure"
    )
    run.add_argument(
        "data_dir", nargs="?", default="data", type=Path, help="folder of input texts (default data)"
    )
    run.add_argument(
        "--numwords", type=int, help=f"top words per file and merged (default {NUMWORDS}, or your config)"
    )
    run.add_argument(
        "--output-dir", type=Path, default=Path("build/run"), help="where outputs are downloaded"
    )
    run.add_argument("--nodes", type=int, default=2, help="local nodes in the pool (default 2)")
    run.add_argument("--slots", type=int, default=2, help="task slots per node (default 2)")
    run.add_argument(
        "--task-bytes",
        metavar="SIZE",
        help="input bytes per Batch task: smaller files are packed into one task up to this, "
        f"larger ones run alone (e.g. 64MB; default {TASK_BYTES // 1024**2}MiB, or your config)",
    )
    run.add_argument(
        "--json", action="store_true", help="print the run's summary.json document instead of the tables"
    )
    run.add_argument("--batch-endpoint", help="use this Batch service instead of starting localbatch")
    run.add_argument("--storage-endpoint", help="use this blob endpoint instead of starting Azurite")
    run.add_argument(
        "--keep", action="store_true", help="keep the services, containers, job and pool for --local commands"
    )
    run.add_argument(
        "--follow-links", action="store_true", help="read symbolic links that leave the input folder too"
    )
    run.add_argument(
        "--counts",
        action="store_true",
        help="also download every counted file's full counts (counts/NAME_COUNTS.tsv.gz); by default "
        "only the summary and the merged top N, whatever the corpus's size",
    )
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    numwords = settings.numwords if args.numwords is None else args.numwords
    if args.task_bytes is None:
        task_bytes = settings.task_bytes
    else:
        try:
            task_bytes = parse_size(args.task_bytes)
        except ValueError as exc:
            raise ConfigError(f"--task-bytes: {exc}") from exc
    problems = JobSpec.problems_of(numwords=numwords, task_bytes=task_bytes)
    if problems:
        raise ConfigError("; ".join(f"{OPTIONS[name]} {reason}" for name, reason in problems), problems)
    if args.nodes < 1:
        raise ConfigError(f"--nodes must be at least 1: a pool without nodes runs nothing (got {args.nodes})")
    if not 1 <= args.slots <= MAX_SLOTS:
        raise ConfigError(f"--slots must be 1 to {MAX_SLOTS} task slots per node (got {args.slots})")
    require_offline()
    from .. import offline as pipeline  # noqa: PLC0415 (the optional extra, when used)

    given = None
    if args.batch_endpoint or args.storage_endpoint:
        if not (args.batch_endpoint and args.storage_endpoint):
            raise ConfigError("give both --batch-endpoint and --storage-endpoint, or neither")
        if args.keep:
            raise ConfigError("--keep keeps services that run started; with given endpoints there are none")
        given = pipeline.Services(
            args.batch_endpoint, args.storage_endpoint, resolve_credentials(state_dir=config_dir())
        )
    started = time.perf_counter()
    progress = Progress()
    try:
        options = pipeline.RunOptions(
            numwords=numwords,
            output_dir=args.output_dir,
            nodes=args.nodes,
            slots=args.slots,
            keep=args.keep,
            given=given,
            say=progress.say,
            progress=progress.tasks,
            follow_links=args.follow_links,
            task_bytes=task_bytes,
            counts=args.counts,
        )
        outcome = pipeline.run_offline(args.data_dir, options)
    finally:
        progress.close()
    progress.say(f"downloaded {len(outcome.files)} output files to {outcome.output_dir}")
    outputs = outcome.outputs
    folder = outcome.output_dir or args.output_dir
    document = build_summary(
        outputs,
        folder=folder,
        files=outcome.files,
        timings=outcome.timings,
        total_seconds=time.perf_counter() - started,
        cleaned_up=outcome.cleaned_up,
        kept=outcome.kept,
    )
    write_problem = None
    try:
        write_summary(document)
    except OSError as exc:
        write_problem = f"writing {document['outputs']['summary']} failed ({exc})"
    if args.json:
        print(summary_json(document), end="")
    else:
        render(document, pipeline.STAGES)
    for task in outputs.failed:
        how = f" with exit code {task.exit_code}:" if task.exit_code else ":"
        print(
            f"batchwords: task {task.task_id} ({task.input_name}) failed{how} {task.failure}\n"
            f"{task.stderr_tail or ''}".rstrip(),
            file=sys.stderr,
        )
    if outputs.failure:
        print(f"batchwords: error: the merge failed: {outputs.failure}", file=sys.stderr)
    if outcome.download_problem:
        print(
            f"batchwords: error: {outcome.download_problem}; the outputs are in {outcome.output_dir}",
            file=sys.stderr,
        )
    if write_problem:
        print(f"batchwords: error: {write_problem}", file=sys.stderr)
    # The closing summary is for people: on stdout after the tables, on stderr with --json.
    closing = "\n".join(closing_lines(document, written=write_problem is None))
    print(("" if args.json else "\n") + closing, file=sys.stderr if args.json else sys.stdout)
    failed = outputs.failed or outputs.failure or outcome.download_problem or write_problem
    return EXIT_TASKS_FAILED if failed else 0
