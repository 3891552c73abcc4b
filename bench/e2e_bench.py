"""`batchwords run` end to end over 3, 30, 300 and 3,000 generated inputs: wall time per stage.

Each input is a small English-like text (about 40 KB). The stages are the
offline run's: start services, upload, pool ready, tasks, download. Small
inputs are packed into tasks (``--task-bytes``, default as ``batchwords run``):
the table gives the number of Batch tasks each run made.

    python bench/e2e_bench.py --files 3 30 300 3000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from batchwords import TASK_BYTES, parse_size
from batchwords.offline import STAGES, RunOptions, run_offline

WORDS = (
    "the of and to a in that is was he for it with as his on be at by this had not are but from or have "
    "an they which one you were her all she there would their we him been has when who will more no if "
    "out so said what"
).split()


def make_inputs(folder: Path, count: int, seed: int = 2016) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for index in range(count):
        words = rng.choices(WORDS, k=7_000)
        lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
        (folder / f"text{index:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, nargs="+", default=[3, 30, 300, 3000])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument(
        "--task-bytes", type=parse_size, default=TASK_BYTES, help="input bytes per task (e.g. 64MB)"
    )
    args = parser.parse_args(argv)
    rows = []
    for count in args.files:
        with tempfile.TemporaryDirectory() as scratch:
            data = Path(scratch) / "data"
            make_inputs(data, count)
            started = time.perf_counter()
            options = RunOptions(
                numwords=10,
                output_dir=Path(scratch) / "out",
                nodes=args.nodes,
                slots=args.slots,
                say=lambda _: None,
                task_bytes=args.task_bytes,
            )
            outcome = run_offline(data, options)
            total = time.perf_counter() - started
            failed = len(outcome.outputs.failed)
            tasks = len({task.task_id for task in outcome.outputs.tasks.values()})
            if len(outcome.outputs.tasks) != count:
                raise SystemExit(f"{count} inputs but {len(outcome.outputs.tasks)} results")
            timings = [outcome.timings.get(stage, 0.0) for stage in STAGES]
            rows.append((count, tasks, timings, total, failed))
            print(f"  {count} files: {total:.1f} s", file=sys.stderr)
    stages = " ".join(f"{stage:>15}" for stage in STAGES)
    header = f"{'files':>6} {'tasks':>6} {stages} {'total':>8} {'failed':>7}"
    print(
        f"batchwords run, {args.nodes} local nodes x {args.slots} slots, {os.cpu_count()} CPUs, "
        f"task bytes {args.task_bytes:,} (seconds)"
    )
    print(header)
    print("-" * len(header))
    for count, tasks, timings, total, failed in rows:
        values = " ".join(f"{value:>15.1f}" for value in timings)
        print(f"{count:>6} {tasks:>6} {values} {total:>8.1f} {failed:>7}")
    return 1 if any(row[4] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
