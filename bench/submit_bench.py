"""Submitting and monitoring a large job through batchwords, against localbatch + Azurite.

Uploads N tiny inputs, submits one task per input with ``JobSet.submit``
(packing off, ``task_bytes=1``; tasks run ``true`` instead of nodetask: this
measures the library, not the counting), then monitors with ``JobSet.wait`` and prints: the submit time,
the requests made while monitoring (one per poll, however many tasks), and the
time from the last task's completion to the library noticing it.

    python bench/submit_bench.py --inputs 10000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from batchwords import Batch, JobSet, JobSpec, Storage, TaskLimits
from batchwords._pool import pool_options
from batchwords.offline import emulator_credentials, start_azurite
from localbatch import LocalBatch


class Counter(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    def __init__(self) -> None:
        self.requests = 0

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        self.requests += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--poll", type=float, default=1.0, help="monitoring poll interval, seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        azurite = start_azurite(root)
        try:
            with LocalBatch(root / "localbatch", scheduler_interval=0.2) as localbatch:
                credentials = emulator_credentials(localbatch, azurite, "bench emulators")
                storage = Storage(azurite.account_url, credentials.storage)
                counter = Counter()
                batch = Batch(localbatch.endpoint, credentials.batch, policies=[counter])
                spec = JobSpec(
                    job_set="bench",
                    pool_id="bench",
                    input_container="input",
                    output_container="output",
                    limits=TaskLimits(max_wall_clock=timedelta(minutes=5), max_retries=1),
                    nodetask_command="true",
                    task_bytes=1,  # one task per input: the library with 10,000 tasks, not packing
                )
                folder = root / "inputs"
                folder.mkdir()
                for index in range(args.inputs):
                    (folder / f"in{index:06d}.txt").write_text(f"word{index}\n", encoding="utf-8")
                storage.ensure_container("input")
                started = time.perf_counter()
                uploaded = storage.upload_folder(
                    folder,
                    "input",
                    progress=lambda done, total, _: print(
                        f"\r  uploaded {done:,}/{total:,}", end="", file=sys.stderr
                    ),
                )
                print(file=sys.stderr)
                upload_seconds = time.perf_counter() - started
                batch.create_pool(pool_options("bench", nodes=4, slots=2))
                job_set = JobSet(batch, storage, spec)
                started = time.perf_counter()
                job_set.submit({blob.name: blob.md5 for blob, _ in uploaded})
                submit_seconds = time.perf_counter() - started
                before = counter.requests
                polls = 0

                def progress(counts: object) -> None:
                    nonlocal polls
                    polls += 1
                    print(f"\r  monitoring: {counts}", end="", file=sys.stderr)

                started = time.perf_counter()
                counts, done = job_set.wait(timeout=3600, poll_interval=args.poll, progress=progress)
                noticed = time.time()
                monitor_seconds = time.perf_counter() - started
                print(file=sys.stderr)
                monitor_requests = counter.requests - before
                ends = [
                    task.execution_info.end_time
                    for task in batch.tasks("bench")
                    if task.execution_info and task.execution_info.end_time
                ]
                lag = noticed - max(ends).timestamp()
        finally:
            azurite.stop()
    print(
        f"batchwords submit benchmark: {args.inputs:,} inputs, localbatch pool of 4 nodes x 2 slots, 2 CPUs"
    )
    print(f"{'measure':<48} {'value':>14}")
    print(f"{'-' * 48} {'-' * 14}")
    print(f"{'upload inputs to Azurite':<48} {upload_seconds:>12.1f} s")
    print(f"{'submit (job, SAS, create_tasks, switch)':<48} {submit_seconds:>12.1f} s")
    print(f"{'submit rate':<48} {args.inputs / submit_seconds:>8,.0f} t/s")
    print(f"{'monitoring until all done':<48} {monitor_seconds:>12.1f} s")
    print(f"{'polls':<48} {polls:>14,}")
    print(f"{'requests while monitoring':<48} {monitor_requests:>14,}")
    print(f"{'all tasks succeeded':<48} {done and counts.succeeded == args.inputs!s:>14}")
    print(f"{'last task done -> library noticed':<48} {lag:>12.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
