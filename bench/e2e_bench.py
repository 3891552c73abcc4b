"""`batchwords run` end to end over 3, 30 and 300 generated inputs: wall time per stage.

Each input is a small English-like text (about 40 KB). The stages are the
offline run's: start services, upload, pool ready, tasks, download.

    python bench/e2e_bench.py --files 3 30 300
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from batchwords.offline import STAGES, run_offline

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
    parser.add_argument("--files", type=int, nargs="+", default=[3, 30, 300])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args(argv)
    rows = []
    for count in args.files:
        with tempfile.TemporaryDirectory() as scratch:
            data = Path(scratch) / "data"
            make_inputs(data, count)
            started = time.perf_counter()
            outcome = run_offline(
                data,
                numwords=10,
                output_dir=Path(scratch) / "out",
                nodes=args.nodes,
                slots=args.slots,
                say=lambda _: None,
            )
            total = time.perf_counter() - started
            failed = len(outcome.outputs.failed)
            rows.append((count, [outcome.timings.get(stage, 0.0) for stage in STAGES], total, failed))
            print(f"  {count} files: {total:.1f} s", file=sys.stderr)
    header = f"{'files':>6} " + " ".join(f"{stage:>15}" for stage in STAGES) + f" {'total':>8} {'failed':>7}"
    print(f"batchwords run, {args.nodes} local nodes x {args.slots} slots, 2 CPUs (seconds)")
    print(header)
    print("-" * len(header))
    for count, timings, total, failed in rows:
        print(
            f"{count:>6} " + " ".join(f"{value:>15.1f}" for value in timings) + f" {total:>8.1f} {failed:>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
