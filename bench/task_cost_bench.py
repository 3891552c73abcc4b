"""A task's fixed cost: nodetask run once per small input, against once for many inputs.

Starts Azurite on a free loopback port, writes N small inputs (about 40 KB of
English-like words each, as bench/e2e_bench.py), and runs nodetask as a Batch
task would (upload with a create+write SAS):

- once per input (one task per input, before packing);
- once over all N inputs (``--input FILE PREFIX`` per input: one packed task);

and prints the wall time per input of each, plus what one process costs
before it counts anything (interpreter start and imports, without and with the
upload library), measured alone.

    python bench/task_cost_bench.py --inputs 100
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from batchwords.offline import start_azurite

WORDS = (
    "the of and to a in that is was he for it with as his on be at by this had not are but from or have "
    "an they which one you were her all she there would their we him been has when who will more no if "
    "out so said what"
).split()


def make_inputs(folder: Path, count: int, seed: int = 2016) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        words = rng.choices(WORDS, k=7_000)
        lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
        path = folder / f"text{index:04d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100, help="small inputs (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each start-up measure (default 5)")
    args = parser.parse_args(argv)
    nodetask = shutil.which("nodetask", path=str(Path(sys.executable).parent)) or "nodetask"
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        paths = make_inputs(root / "in", args.inputs)
        azurite = start_azurite(root / "azurite")
        try:
            service = BlobServiceClient(
                azurite.account_url, credential={"account_name": azurite.account, "account_key": azurite.key}
            )
            service.create_container("out")
            now = datetime.now(UTC)
            sas = generate_container_sas(
                azurite.account,
                "out",
                account_key=azurite.key,
                permission=ContainerSasPermissions(create=True, write=True),
                start=now - timedelta(minutes=15),
                expiry=now + timedelta(hours=2),
            )
            env = {"NODETASK_SAS_TOKEN": sas, "PATH": str(Path(python).parent)}
            common = ["--container-url", azurite.container_url("out"), "--format", "json", "--quiet"]
            starts = {
                "interpreter alone (python -c pass)": [python, "-c", "pass"],
                "nodetask --version (its imports)": [nodetask, "--version"],
                "the upload library (import azure.storage.blob)": [python, "-c", "import azure.storage.blob"],
            }
            rows = [
                (label, statistics.median(timed(command) for _ in range(args.repeat)))
                for label, command in starts.items()
            ]
            print(f"  one process per input over {len(paths)} inputs ...", file=sys.stderr)
            started = time.perf_counter()
            for path in paths:
                timed([nodetask, "--input", str(path), f"single/{path.stem}/", *common], env=env)
            single = time.perf_counter() - started
            print(f"  one process for all {len(paths)} inputs ...", file=sys.stderr)
            pairs = [arg for path in paths for arg in ("--input", str(path), f"packed/{path.stem}/")]
            packed = timed([nodetask, *pairs, *common], env=env)
            uploaded = sum(1 for _ in service.get_container_client("out").list_blobs())
        finally:
            azurite.stop()
    print(f"task fixed cost, {len(paths)} inputs of about 40 KB, results uploaded to Azurite (seconds)")
    print(f"{'measure':<52} {'seconds':>9}")
    print("-" * 62)
    for label, seconds in rows:
        print(f"{label:<52} {seconds:9.3f}")
    print(f"{'one process per input: per input':<52} {single / len(paths):9.3f}")
    print(f"{'one process for all inputs: per input':<52} {packed / len(paths):9.3f}")
    print(f"{'one process for all inputs: total':<52} {packed:9.3f}")
    print(f"blobs uploaded: {uploaded} (expected {4 * len(paths)})")
    return 0 if uploaded == 4 * len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
