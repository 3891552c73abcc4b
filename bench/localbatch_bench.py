"""How fast localbatch takes and runs tasks, through the real azure-batch client.

Submits N trivial tasks (``true``) with ``create_tasks`` to a pool of 4 nodes
x 2 slots, runs them to completion, and prints submission tasks/s, completion
tasks/s and the service's overhead per task beyond starting the process:
wall time per task (from submission to the last completion, divided by the
number of tasks) minus the mean cost of starting ``true``, measured alone.

    python bench/localbatch_bench.py --tasks 10000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.batch import BatchClient
from azure.batch import models as batch_models

from batchwords._pool import pool_options
from localbatch import LocalBatch

NODES = 4
SLOTS = 2


def process_start_ms(samples: int = 200) -> float:
    """Mean wall time to start and reap ``true`` as localbatch does (own session)."""
    started = time.perf_counter()
    for _ in range(samples):
        subprocess.Popen(["true"], start_new_session=True, stdin=subprocess.DEVNULL).wait()
    return (time.perf_counter() - started) * 1000 / samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4, help="create_tasks max_concurrency")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalBatch(Path(scratch), scheduler_interval=0.2) as service,
    ):
        client = BatchClient(service.endpoint, service.credential)
        client.create_pool(pool_options("bench", nodes=NODES, slots=SLOTS))
        client.create_job(
            batch_models.BatchJobCreateOptions(
                id="bench", pool_info=batch_models.BatchPoolInfo(pool_id="bench")
            )
        )
        tasks = [
            batch_models.BatchTaskCreateOptions(id=f"t{i:06d}", command_line="true")
            for i in range(args.tasks)
        ]
        submit_start = time.perf_counter()
        client.create_tasks("bench", tasks, max_concurrency=args.concurrency)
        submitted = time.perf_counter()
        client.update_job("bench", batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
        last = -1
        while True:
            counts = client.get_job_task_counts("bench").task_counts
            if counts.completed != last:
                last = counts.completed
                print(
                    f"\r  completed {counts.completed:,}/{args.tasks:,}", end="", file=sys.stderr, flush=True
                )
            if counts.completed == args.tasks:
                break
            time.sleep(0.2)
        finished = time.perf_counter()
        print(file=sys.stderr)
        failed = counts.failed
    spawn = process_start_ms()
    submit_seconds = submitted - submit_start
    run_seconds = finished - submit_start
    per_task_ms = run_seconds * 1000 / args.tasks
    print(f"localbatch benchmark: {args.tasks:,} tasks, pool of {NODES} nodes x {SLOTS} slots, 2 CPUs")
    print(f"{'measure':<44} {'value':>12}")
    print(f"{'-' * 44} {'-' * 12}")
    print(f"{'submission (create_tasks)':<44} {args.tasks / submit_seconds:>8,.0f} t/s")
    print(f"{'completion (submit to last task done)':<44} {args.tasks / run_seconds:>8,.0f} t/s")
    print(f"{'failed tasks':<44} {failed:>12,}")
    print(f"{'wall time per task (run / tasks)':<44} {per_task_ms:>9.1f} ms")
    print(f"{'starting one process (measured alone)':<44} {spawn:>9.1f} ms")
    print(f"{'service overhead per task beyond the start':<44} {per_task_ms - spawn:>9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
