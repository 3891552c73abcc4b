"""What nodetask's dependencies cost a node: the wheelhouse's size and the StartTask's install time.

Builds (or reuses from the cache) the wheelhouse a `batchwords run` pool
installs, prints every wheel's size, then times the two steps of the
StartTask's install script on this machine (a new virtual environment, then
``pip install --no-index --require-hashes --find-links WHEELS -r LOCK``), with and without
the counting engine (pyarrow), each in a fresh folder, median of N runs.

    python bench/install_bench.py --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batchwords._wheels import LOCK
from batchwords.deploy import locked_files, nodetask_wheel
from batchwords.offline import build_wheelhouse

MB = 1_000_000


def install_seconds(wheels: Path, installs: list[list[str]]) -> float:
    """A new virtual environment and the StartTask's pip install(s) into it, timed together."""
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        for requirements in installs:
            subprocess.run(
                [*pip, "--isolated", "--no-index", "--find-links", str(wheels), *requirements], check=True
            )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="installs of each kind (default 3)")
    args = parser.parse_args(argv)
    wheels = build_wheelhouse(lambda line: print(line, file=sys.stderr))
    folder = wheels[0].parent
    print(f"wheelhouse: {folder.name}, {len(wheels)} wheels")
    print(f"{'wheel':<72} {'MB':>7}")
    print("-" * 80)
    for wheel in sorted(wheels, key=lambda path: -path.stat().st_size):
        print(f"{wheel.name:<72} {wheel.stat().st_size / MB:7.1f}")
    total = sum(wheel.stat().st_size for wheel in wheels)
    engine = sum(wheel.stat().st_size for wheel in wheels if wheel.name.startswith("pyarrow-"))
    print(f"{'total':<72} {total / MB:7.1f}")
    print(f"{'of which pyarrow (the counting engine)':<72} {engine / MB:7.1f}")
    nodetask = nodetask_wheel(locked_files(folder)).path
    kinds = {
        "nodetask and every dependency (the StartTask)": [["--require-hashes", "-r", str(folder / LOCK)]],
        # One pip run, as the StartTask's: everything but the engine (and nodetask's 27 KB).
        "the same without pyarrow (azure-storage-blob and its own)": [["azure-storage-blob"]],
    }
    print(f"\nStartTask install on this machine: venv + pip install --no-index (median of {args.repeat})")
    print(f"{'install':<60} {'seconds':>8}")
    print("-" * 69)
    for label, requirements in kinds.items():
        seconds = [install_seconds(folder, requirements) for _ in range(args.repeat)]
        print(f"{label:<60} {statistics.median(seconds):8.1f}")
    print(f"(the nodetask wheel itself: {nodetask.stat().st_size / 1000:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
