"""`batchwords jobs`: the old client's job manager (list, status, wait, outputs, cancel, delete)."""

from __future__ import annotations

import argparse
import codecs
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._batch import Batch
from .._counts import fetch_counts
from .._exceptions import NotFoundError
from .._jobset import jobs_up_to
from .._pool_health import pool_health
from .._reduce import job_prefix
from .._results import Where, collect
from .._task_views import TaskView, TaskViews
from .._types import TaskCounts
from ._output import Column, counts_line, emit, emit_table
from ._target import add_target_options, clients


def add_parser(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list, follow, download, cancel and delete jobs")
    actions = jobs.add_subparsers(dest="action", required=True)
    for action, text, handler in (
        ("list", "list the jobs", list_jobs),
        ("status", "a job's state and task counts", status),
        ("wait", "wait for a job, with progress", wait),
        ("outputs", "download a job's outputs", outputs),
        ("tasks", "each task's state, exit code, node, duration and input", tasks),
        ("logs", "print a task's stdout (or stderr); --follow until it completes", logs),
        ("cancel", "terminate a job", cancel),
        ("delete", "delete a job", delete),
    ):
        sub = actions.add_parser(action, help=text)
        add_target_options(sub)
        sub.set_defaults(handler=handler)
        if action != "list":
            sub.add_argument("job", help="job id")
        if action == "wait":
            sub.add_argument("--timeout", type=float, default=3600, help="seconds (default 3600)")
        if action == "outputs":
            sub.add_argument("--dest", type=Path, required=True, help="folder to download into")
            sub.add_argument("--container", default="output", help="output container (default output)")
            sub.add_argument(
                "--counts",
                action="store_true",
                help="also download every counted input's full counts (counts/NAME_COUNTS.tsv.gz), "
                "rebuilt from the map tasks' partitions; by default only the summary and merged top N",
            )
        if action == "logs":
            sub.add_argument("task", help="task id (see `batchwords jobs tasks JOB`)")
            sub.add_argument("--stderr", action="store_true", help="print stderr.txt instead of stdout.txt")
            sub.add_argument(
                "--follow",
                action="store_true",
                help="keep printing new output until the task completes; exit 1 if it failed",
            )
            sub.add_argument("--interval", type=float, default=1.0, help="seconds between reads (default 1)")


def list_jobs(args: argparse.Namespace) -> int:
    batch = clients(args).need_batch()
    document = [
        {"id": job.id, "state": job.state, "pool": job.pool_id, "created": job.created}
        for job in batch.list_jobs()
    ]
    columns = [Column("job"), Column("state"), Column("pool"), Column("created")]
    rows = [(d["id"], d["state"], d["pool"] or "", d["created"] or "") for d in document]
    emit_table(args, document, columns, rows, "no jobs")
    return 0


def status(args: argparse.Namespace) -> int:
    """The job's state and task counts, and its pool's: allocation, node states, resize errors,
    and why no node can run the job's tasks (with the failing node's stderr), if none can."""
    batch = clients(args).need_batch()
    job = batch.get_job(args.job)
    counts = batch.task_counts([args.job])
    pool = pool_health(batch, job.pool_id, [job.id], since=job.created) if job.pool_id else None
    emit(
        args,
        {
            "id": args.job,
            "state": job.state,
            "task_counts": counts.as_dict(),
            "pool": pool.to_dict() if pool else None,
        },
        [f"job {args.job}: {job.state}; tasks {counts_line(counts)}", *(pool.lines() if pool else [])],
    )
    return 0


def wait(args: argparse.Namespace) -> int:
    batch = clients(args).need_batch()
    batch.get_job(args.job)  # a job that does not exist is an error, not an empty success
    last = [""]

    def progress(counts: TaskCounts) -> None:
        line = counts_line(counts)
        if line != last[0]:
            last[0] = line
            print(f"batchwords: {args.job}: {line}", file=sys.stderr, flush=True)

    counts, done = batch.wait([args.job], timeout=args.timeout, poll_interval=2.0, progress=progress)
    emit(
        args,
        {"id": args.job, "done": done, "task_counts": counts.as_dict()},
        [f"job {args.job}: {'done' if done else 'still running'}; tasks {counts_line(counts)}"],
    )
    return 0 if done and counts.failed == 0 else 1


def outputs(args: argparse.Namespace) -> int:
    """The job's summary (its set's merged top N and every input's row), and with ``--counts``
    every counted input's full counts; each failed input named on stderr."""
    target = clients(args)
    batch = target.need_batch()
    job = batch.get_job(args.job)
    where = Where(job.job_set, args.container)
    results = collect(batch, target.storage, where, jobs_up_to(job.job_set, job.id))
    written = target.storage.download(args.container, args.dest, prefix=job_prefix(job.job_set, job.id))
    if args.counts and results.summary_blob is not None:
        counted = {task.input_id: task.input_name for task in results.tasks if task.failure is None}
        written += fetch_counts(target.storage, where, job.id, args.dest, names=counted)
    emit(args, [str(p) for p in written], [f"downloaded {len(written)} files to {args.dest}"])
    if results.failure is not None:
        print(f"batchwords: error: job {job.id} has no merged result: {results.failure}", file=sys.stderr)
    for task in results.failed:
        print(f"batchwords: failed: {task.input_name} (task {task.task_id}): {task.failure}", file=sys.stderr)
    return 0 if results.failure is None and not results.failed else 1


def _seconds(view: TaskView) -> str:
    seconds = view.duration()
    return "" if seconds is None else f"{seconds:.1f} s"


def _inputs_cell(inputs: list[str]) -> str:
    """A task's inputs in one cell: a packed task's first and how many more (all in --json)."""
    return inputs[0] if len(inputs) == 1 else f"{inputs[0]} and {len(inputs) - 1} more" if inputs else ""


def tasks(args: argparse.Namespace) -> int:
    views = TaskViews(clients(args).need_batch()).tasks(args.job)
    columns = [
        Column("task"),
        Column("state"),
        Column("exit", "right"),
        Column("node"),
        Column("duration", "right"),
        Column("input"),
    ]
    rows = [
        (
            view.id,
            view.state if view.result != "failure" else "failed",
            "" if view.exit_code is None else view.exit_code,
            view.node or "",
            _seconds(view),
            _inputs_cell(view.inputs) or f"({view.label})",
        )
        for view in views
    ]
    emit_table(args, [view.to_dict() for view in views], columns, rows, f"job {args.job} has no tasks")
    return 0


def logs(args: argparse.Namespace) -> int:
    """The task's file from the start; with --follow, new bytes (read from an offset, as a tail
    does) until the task completes: exit 0 if it succeeded, 1 if it failed."""
    views = TaskViews(clients(args).need_batch())
    name = "stderr.txt" if args.stderr else "stdout.txt"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    offset = 0
    while True:
        view = views.task(args.job, args.task)  # before the read: a completed task's read is its last
        data = views.read_file(args.job, args.task, name, offset)
        if data is None and not args.follow:
            raise NotFoundError(f"not found: task {args.task} has no {name} (it is {view.state})")
        if data:
            offset += len(data)
            sys.stdout.write(decoder.decode(data))
            sys.stdout.flush()
        if not args.follow:
            return 0
        if view.state == "completed":
            sys.stdout.write(decoder.decode(b"", final=True))
            if view.result == "failure":
                print(
                    f"batchwords: task {args.task} failed (exit code {view.exit_code})"
                    + (f": {view.failure}" if view.failure else ""),
                    file=sys.stderr,
                )
                return 1
            return 0
        time.sleep(args.interval)


def _change(
    args: argparse.Namespace, key: str, done: str, already: str, change: Callable[[Batch], bool]
) -> int:
    changed = change(clients(args).need_batch())
    emit(args, {"id": args.job, key: changed}, [f"job {args.job} {done if changed else already}"])
    return 0


def cancel(args: argparse.Namespace) -> int:
    clients(args).need_batch().get_job(args.job)  # one that does not exist is "not found", exit 1
    return _change(
        args, "terminated", "terminated", "was already finished", lambda batch: batch.cancel(args.job)
    )


def delete(args: argparse.Namespace) -> int:
    return _change(args, "deleted", "deleted", "was already gone", lambda batch: batch.delete(args.job))
