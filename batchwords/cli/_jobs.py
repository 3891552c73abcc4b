"""`batchwords jobs`: the old client's job manager (list, status, wait, outputs, cancel, delete)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._batch import Batch, TaskCounts
from .._results import missing_results
from ._output import counts_line, emit
from ._target import add_target_options, clients


def add_parser(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list, follow, download, cancel and delete jobs")
    actions = jobs.add_subparsers(dest="action", required=True)
    for action, text, handler in (
        ("list", "list the jobs", list_jobs),
        ("status", "a job's state and task counts", status),
        ("wait", "wait for a job, with progress", wait),
        ("outputs", "download a job's outputs", outputs),
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


def list_jobs(args: argparse.Namespace) -> int:
    batch = clients(args).need_batch()
    document = [
        {"id": job.id, "state": job.state, "pool": job.pool_id, "created": job.created}
        for job in batch.list_jobs()
    ]
    table = [f"{'job':<40} {'state':<12} {'pool':<24} created"]
    table += [f"{d['id']:<40} {d['state']!s:<12} {d['pool']!s:<24} {d['created']}" for d in document]
    emit(args, document, table if document else ["no jobs"])
    return 0


def status(args: argparse.Namespace) -> int:
    batch = clients(args).need_batch()
    job = batch.get_job(args.job)
    counts = batch.task_counts([args.job])
    emit(
        args,
        {"id": args.job, "state": job.state, "task_counts": counts.__dict__},
        [f"job {args.job}: {job.state}; tasks {counts_line(counts)}"],
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
        {"id": args.job, "done": done, "task_counts": counts.__dict__},
        [f"job {args.job}: {'done' if done else 'still running'}; tasks {counts_line(counts)}"],
    )
    return 0 if done and counts.failed == 0 else 1


def outputs(args: argparse.Namespace) -> int:
    target = clients(args)
    job = target.need_batch().get_job(args.job)
    written = target.storage.download(args.container, args.dest, prefix=f"{job.job_set}/")
    emit(args, [str(p) for p in written], [f"downloaded {len(written)} files to {args.dest}"])
    present = {path.relative_to(args.dest).as_posix() for path in written}
    missing = missing_results(target.need_batch(), args.job, job.job_set, present)
    for name in missing:
        print(f"batchwords: missing: {name} (its task succeeded; submit the input again)", file=sys.stderr)
    return 0 if written and not missing else 1


def _change(
    args: argparse.Namespace, key: str, done: str, already: str, change: Callable[[Batch], bool]
) -> int:
    changed = change(clients(args).need_batch())
    emit(args, {"id": args.job, key: changed}, [f"job {args.job} {done if changed else already}"])
    return 0


def cancel(args: argparse.Namespace) -> int:
    return _change(
        args, "terminated", "terminated", "was already finished", lambda batch: batch.cancel(args.job)
    )


def delete(args: argparse.Namespace) -> int:
    return _change(args, "deleted", "deleted", "was already gone", lambda batch: batch.delete(args.job))
