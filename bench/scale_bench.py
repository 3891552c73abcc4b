"""The gather at scale, offline: many small inputs, and large vocabularies.

Corpora (generated, seeded):

- ``small N``: N small English-like inputs (about 2 KB each), packed into tasks;
- ``vocab N``: N files of 200,000 distinct words each (300,000 words), drawn from a
  shared pool of 4 million, so the merged vocabulary grows with N.

This process runs Azurite and localbatch (whose nodes run nodetask's map and
reduce); a child process is the client, running the offline pipeline's steps
against them, so its peak RSS is the client's own. For each corpus it prints:
each stage's time (the tasks stage split into the map and the reduce as the
client saw them), the blobs the job wrote per input, the bytes the client read,
the client's peak RSS, the largest reducer's peak RSS (each reduce task records
its own) and whether the merged top N, total and distinct words equal an
independent ``Counter`` over every input.

    python bench/scale_bench.py small 10000 vocab 8 vocab 64 vocab 100
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

#: The client's side, run in a child process (``--client``): its stdout is one JSON document.
NUMWORDS = 10
COMMON = (
    "the of and to a in that is was he for it with as his on be at by this had not are but from or have "
    "an they which one you were her all she there would their we him been has when who will more no if"
).split()


def make_small(folder: Path, count: int, seed: int = 2016) -> None:
    rng = random.Random(seed)
    for index in range(count):
        words = rng.choices(COMMON, k=350) + [f"rare{rng.randrange(50_000)}" for _ in range(10)]
        path = folder / f"s{index // 1000:02d}" / f"text{index:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(" ".join(words) + "\n", encoding="utf-8")


def make_vocab(folder: Path, count: int, seed: int = 2016) -> None:
    """Files of 200,000 distinct words from a pool of 4 million (plus 100,000 repeats)."""
    rng = random.Random(seed)
    for index in range(count):
        distinct = rng.sample(range(4_000_000), 200_000)
        words = [f"w{number:x}" for number in distinct]
        words += rng.choices(words[:5_000], k=100_000)
        rng.shuffle(words)
        lines = (" ".join(words[i : i + 16]) for i in range(0, len(words), 16))
        (folder / f"vocab{index:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def oracle(folder: Path) -> Counter[str]:
    """The tutorial's rule over every input, independently of nodetask."""
    counts: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.txt")):
        words = (word.strip(string.punctuation) for word in path.read_text(encoding="utf-8").split())
        counts.update(word for word in words if word)
    return counts


def client(request: dict[str, Any]) -> dict[str, Any]:
    """The offline pipeline's steps against the given services, timed; then what it wrote."""
    from batchwords._credentials import Credentials  # noqa: PLC0415
    from batchwords._reduce import job_prefix  # noqa: PLC0415
    from batchwords.offline import _pipeline as steps  # noqa: PLC0415
    from batchwords.offline._services import Services  # noqa: PLC0415
    from batchwords.offline._wheelhouse import build_wheelhouse  # noqa: PLC0415
    from nodetask._merge_cli import peak_rss  # noqa: PLC0415 (VmHWM: this program's own peak)

    credentials = Credentials.from_keys(**request["keys"], source="scale bench")
    marks: dict[str, float] = {}

    def progress(counts: Any) -> None:
        if counts.reduce is not None and counts.map.completed == counts.map.total and "map" not in marks:
            marks["map"] = time.perf_counter()

    options = steps.RunOptions(
        numwords=NUMWORDS,
        output_dir=Path(request["out"]),
        nodes=request["nodes"],
        slots=request["slots"],
        wait_timeout=7200,
        given=Services(request["batch"], request["storage"], credentials),
        say=lambda text: print(f"  {text}", file=sys.stderr) if "upload" not in text else None,
        progress=progress,
    )
    spec = steps.job_spec(options)
    clock = steps.Stopwatch()
    selected = steps.input_files(Path(request["data"]))
    with ExitStack() as running:
        with clock.stage("start services"):
            wheels = build_wheelhouse(lambda _: None)
            run = steps.start_services(running, options)
        with clock.stage("upload"):
            steps.create_containers(run.storage)
            app = steps.upload_wheels(run.storage, wheels)
            inputs = steps.upload_inputs(run.storage, selected, lambda _: None)
        with clock.stage("pool ready"):
            release = steps.create_pool(run, wheels, app, options)
        started = time.perf_counter()
        with clock.stage("tasks"):
            job_set = steps.submit_job(run, spec, release, inputs)
            steps.monitor_job(run, job_set, options)
        ended = time.perf_counter()
        with clock.stage("download"):
            result = steps.download_outputs(run, job_set, inputs, options, clock.timings)
        blobs = run.storage.list_blobs(steps.CONTAINERS["output"], f"{steps.JOB_ID}/")
        summary = next(path for path in result.files if path.name == "summary.json")
        read = sum(path.stat().st_size for path in result.files) + summary.stat().st_size
        parts = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in result.files
            if path.name.startswith("part-") and path.parent.name == job_set.job_ids[-1]
        ]
        outputs = result.outputs
        steps.clean_up(running, run, job_set, result, options)
    job = job_prefix(steps.JOB_ID, job_set.job_ids[-1])
    map_end = marks.get("map", ended)
    return {
        "inputs": len(inputs),
        "map tasks": len({task.task_id for task in outputs.tasks.values()}),
        "timings": clock.timings | {"map": map_end - started, "reduce": ended - map_end},
        "blobs": len(blobs),
        "map blobs": sum(1 for blob in blobs if blob.name.startswith(f"{steps.JOB_ID}/tasks/")),
        "reduce blobs": sum(1 for blob in blobs if blob.name.startswith(job)),
        "bytes read": read,
        "client rss": peak_rss(),
        "reducer rss": max((part.get("peak_rss_bytes") or 0 for part in parts), default=0),
        "partitions": len(parts),
        "top": outputs.top_words,
        "total": outputs.total_words,
        "distinct": outputs.distinct_words,
        "failed": len(outputs.failed) + (outputs.failure is not None),
    }


def measure(kind: str, count: int, services: dict[str, Any], scratch: Path) -> dict[str, Any]:
    data = scratch / f"{kind}-{count}"
    data.mkdir()
    (make_small if kind == "small" else make_vocab)(data, count)
    request = services | {"data": str(data), "out": str(scratch / f"out-{kind}-{count}")}
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--client"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if child.returncode != 0:
        raise SystemExit(f"the client failed:\n{child.stderr[-4000:]}")
    found: dict[str, Any] = json.loads(child.stdout)
    found["wall"] = time.perf_counter() - started
    expected = oracle(data)
    ranked = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:NUMWORDS]
    found["exact"] = (
        [tuple(pair) for pair in found["top"]] == ranked
        and found["total"] == sum(expected.values())
        and found["distinct"] == len(expected)
    )
    found["bytes in"] = sum(path.stat().st_size for path in data.rglob("*.txt"))
    return found


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--client"]:
        print(json.dumps(client(json.load(sys.stdin))))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpora", nargs="+", help="pairs: small N | vocab N")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args(argv)
    pairs = list(zip(args.corpora[::2], map(int, args.corpora[1::2]), strict=True))
    from batchwords.offline import start_azurite  # noqa: PLC0415
    from localbatch import LocalBatch  # noqa: PLC0415

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        azurite = start_azurite(root / "azurite")
        try:
            with LocalBatch(root / "localbatch", scheduler_interval=0.2) as localbatch:
                services = {
                    "batch": localbatch.endpoint,
                    "storage": azurite.account_url,
                    "nodes": args.nodes,
                    "slots": args.slots,
                    "keys": {
                        "batch_account": localbatch.account,
                        "batch_key": localbatch.key,
                        "storage_account": azurite.account,
                        "storage_key": azurite.key,
                    },
                }
                for kind, count in pairs:
                    print(f"{kind} {count}: generating and running", file=sys.stderr)
                    rows.append((kind, count, measure(kind, count, services, root)))
        finally:
            azurite.stop()
    print(f"scale benchmark: {args.nodes} local nodes x {args.slots} slots, {os.cpu_count()} CPUs")
    header = (
        "| corpus | inputs | MB | map tasks | P | upload s | map s | reduce s | download s | blobs/input "
        "| client read KB | client RSS MB | largest reducer RSS MB | exact |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for kind, count, found in rows:
        timings = found["timings"]
        print(
            f"| {kind} | {count:,} | {found['bytes in'] / 1e6:,.1f} | {found['map tasks']:,} "
            f"| {found['partitions']} | {timings['upload']:.1f} | {timings['map']:.1f} "
            f"| {timings['reduce']:.1f} | {timings['download']:.1f} "
            f"| {found['blobs'] / found['inputs']:.3f} | {found['bytes read'] / 1024:,.0f} "
            f"| {found['client rss'] / 2**20:.0f} | {found['reducer rss'] / 2**20:.0f} "
            f"| {'yes' if found['exact'] and not found['failed'] else 'NO'} |"
        )
    return 0 if all(found["exact"] and not found["failed"] for _, _, found in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
