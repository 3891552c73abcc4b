"""Throughput and peak memory of nodetask against the usual ways to count words.

Generates its own corpora (an English-like text, a large-vocabulary text and a
huge-vocabulary one) of the sizes asked for, then runs on each file, as separate processes:

- nodetask with one worker held to one CPU, and with ``--workers 2`` on every CPU
  (the Arrow engine), and its pure-Python engine with one worker (``--engine python``);
- the 2016 tutorial's approach (read everything, split, strip, ``Counter``);
- ``tr -s '[:space:]' '\\n' | sort | uniq -c | sort -rn | head`` (LC_ALL=C);
- ``wc -w`` (one pass and nothing else: the floor).

and prints MB/s and peak memory: the proportional set size (PSS) summed over
the whole process tree every 50 ms, so two workers count as two processes
while the pages they share after fork count once. Every nodetask run's full counts are checked
against the tutorial's wherever the tutorial approach runs, and each corpus ends with a verdict
against the targets: on one CPU at least 2.5x the tutorial, with two workers at least 4x, faster
than ``tr | sort | uniq -c`` every time, and peak memory under 300 MB.

    python bench/nodetask_bench.py --sizes 100 1000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
BLOCK_WORDS = 400_000
#: Base words of the large-vocabulary corpus; with capitalised forms that is
#: about twice as many distinct words, all of them seen by 100 MB.
LARGE_VOCABULARY = 200_000
#: Base words of the huge-vocabulary corpus (``--kinds huge-vocab``): about 900k distinct
#: words by 100 MB, near the million under which memory must stay below 300 MB.
HUGE_VOCABULARY = 700_000
COMMON = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but from or "
    "have an they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time these two "
    "may then do first any my now such like our over man me even most made after also did many before "
    "must through back years where much your way well down should because each just those people how"
).split()

#: (label, extra nodetask options, CPUs it may run on: None for all) of the nodetask runs.
#: Even ``--workers 1`` counts on two threads (one cuts words, one counts them), so
#: the one-core figure comes from a run held to one CPU.
NODETASK_RUNS = (
    ("nodetask --workers 1, 1 CPU", ["--workers", "1"], 1),
    ("nodetask --workers 2", ["--workers", "2"], None),
    ("nodetask --engine python", ["--engine", "python", "--workers", "1"], None),
)
#: Targets: times faster than the tutorial, on one core and with two; peak memory.
TARGET_SPEEDUP = {"nodetask --workers 1, 1 CPU": 2.5, "nodetask --workers 2": 4.0}
TARGET_PEAK_MB = 300
#: The tutorial's peak memory is about this many times the file (measured).
TUTORIAL_MEMORY_FACTOR = 16
TUTORIAL = r"""
import collections, hashlib, json, string, sys
with open(sys.argv[1], encoding="utf-8-sig") as f:
    words = [word.strip(string.punctuation) for word in f.read().split()]
counts = collections.Counter(word for word in words if word)
ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
digest = hashlib.sha256("".join(f"{w}\t{c}\n" for w, c in ranked).encode()).hexdigest()
print(json.dumps({"top": counts.most_common(10), "sha256_of_counts": digest}))
"""


def _syllable_words(rng: random.Random, count: int, alphabet: str) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(alphabet) for _ in range(rng.randint(3, 11))))
    return sorted(words)


def _vocabulary(kind: str, rng: random.Random) -> tuple[list[str], list[float]]:
    if kind == "english":
        base = COMMON + _syllable_words(rng, 30_000, "etaoinshrdlucmfwypvbgk")
        exponent = 1.1
    elif kind == "large-vocab":
        base = _syllable_words(rng, LARGE_VOCABULARY, string.ascii_lowercase + "éüößçñ")
        exponent = 0.8
    else:  # huge-vocab: close to a million distinct words, for the memory target
        base = _syllable_words(rng, HUGE_VOCABULARY, string.ascii_lowercase + "éüößçñ")
        exponent = 0.5
    words: list[str] = []
    weights: list[float] = []
    for rank, word in enumerate(base, start=1):
        weight = 1.0 / rank**exponent
        for variant, share in (
            (word, 0.84),
            (word + ",", 0.07),
            (word + ".", 0.05),
            (word.capitalize(), 0.04),
        ):
            words.append(variant)
            weights.append(weight * share)
    return words, weights


def make_corpus(kind: str, size_mb: int, directory: Path, seed: int = 2016) -> Path:
    """A deterministic corpus of about ``size_mb`` MB, cached between runs."""
    path = directory / f"{kind}-{size_mb}mb-{seed}.txt"
    if path.exists() and path.stat().st_size >= size_mb * MB:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{kind}-{seed}")
    words, weights = _vocabulary(kind, rng)
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    target = size_mb * MB
    written = 0
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        while written < target:
            chosen = rng.choices(words, cum_weights=cumulative, k=BLOCK_WORDS)
            lines = [" ".join(chosen[i : i + 12]) for i in range(0, len(chosen), 12)]
            block = ("\n".join(lines) + "\n").encode("utf-8")
            before = written * 10 // target
            written += handle.write(block)
            if written * 10 // target > before:
                print(f"  generating {path.name}: {min(written / target, 1):4.0%}", file=sys.stderr)
    partial.replace(path)
    return path


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (a forked worker's) count once in a sum."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_memory_kb(root: int) -> int:
    """Sum of PSS over ``root`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                # The command name may hold spaces: the fields after ")" are fixed.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
    family = {root}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                changed = True
    return sum(_pss_kb(pid) for pid in family)


@dataclass
class Measurement:
    seconds: float
    peak_mb: float
    stdout: str


#: Runs a command held to one CPU, it and every thread it starts (as ``taskset`` does).
ONE_CPU = (
    "import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def measure(command: list[str], env: dict[str, str] | None = None, cpus: int | None = None) -> Measurement:
    if cpus not in (None, 1):
        raise ValueError(f"cpus must be None or 1, not {cpus}")
    if cpus == 1:
        command = [sys.executable, "-c", ONE_CPU, *command]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_memory_kb(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {process.returncode}")
    return Measurement(seconds, peak / 1024, out.decode("utf-8", errors="replace"))


def _counts_digest(counts_file: Path) -> str:
    body = gzip.decompress(counts_file.read_bytes()).decode("utf-8").split("\n", 1)[1]
    return hashlib.sha256(body.encode()).hexdigest()


def _available_mb() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class FileResult:
    rows: list[tuple[str, Measurement | None, str]]
    total_words: int
    distinct_words: int


def bench_file(path: Path, nodetask: list[str]) -> FileResult:
    size_mb = path.stat().st_size / MB
    rows: list[tuple[str, Measurement | None, str]] = []
    digests: dict[str, str] = {}
    summary: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (label, options, cpus) in enumerate(NODETASK_RUNS):
            out = Path(scratch) / f"run{index}"
            command = [*nodetask, "--filepath", str(path), "--no-upload", "--quiet", "--format", "json"]
            result = measure([*command, "--output-dir", str(out), *options], cpus=cpus)
            digests[label] = _counts_digest(out / f"{path.stem}_COUNTS.tsv.gz")
            summary = json.loads((out / f"{path.stem}_OUTPUT.json").read_text(encoding="utf-8"))
            rows.append((label, result, ""))
    needed_mb = TUTORIAL_MEMORY_FACTOR * size_mb
    if needed_mb < _available_mb():
        result = measure([sys.executable, "-c", TUTORIAL, str(path)])
        tutorial_digest = json.loads(result.stdout)["sha256_of_counts"]
        differ = [label for label, digest in digests.items() if digest != tutorial_digest]
        note = f"COUNTS DIFFER: {', '.join(differ)}" if differ else "counts identical (every nodetask run)"
        rows.append(("tutorial (read all + Counter)", result, note))
    else:
        rows.append(("tutorial (read all + Counter)", None, f"skipped: needs ~{needed_mb:,.0f} MB of RAM"))
    env = {**os.environ, "LC_ALL": "C"}
    pipeline = f"tr -s '[:space:]' '\\n' < '{path}' | sort | uniq -c | sort -rn | head -10"
    rows.append(("tr | sort | uniq -c (LC_ALL=C)", measure(["bash", "-c", pipeline], env=env), "other rule"))
    rows.append(("wc -w (one pass, the floor)", measure(["wc", "-w", str(path)], env=env), "no counting"))
    return FileResult(rows, int(summary["total_words"]), int(summary["distinct_words"]))


def verdict(rows: list[tuple[str, Measurement | None, str]]) -> list[str]:
    """One line per target: PASS or FAIL with the figure, or n/a when it was not measured."""
    by_method = {method: result for method, result, _ in rows if result is not None}
    tutorial = next((r for m, r in by_method.items() if m.startswith("tutorial")), None)
    pipeline = next((r for m, r in by_method.items() if m.startswith("tr |")), None)
    lines = []
    for method, target in TARGET_SPEEDUP.items():
        result = by_method.get(method)
        if result is None or tutorial is None:
            lines.append(f"n/a   {method}: >= {target}x the tutorial (not measured)")
            continue
        speedup = tutorial.seconds / result.seconds
        mark = "PASS" if speedup >= target else "FAIL"
        lines.append(f"{mark}  {method}: {speedup:.2f}x the tutorial (target >= {target}x)")
    fast = [m for m in TARGET_SPEEDUP if m in by_method]
    if pipeline is not None:
        slower = [m for m in fast if by_method[m].seconds >= pipeline.seconds]
        mark = "FAIL" if slower else "PASS"
        figures = ", ".join(f"{by_method[m].seconds:.2f}s" for m in fast)
        lines.append(f"{mark}  faster than tr|sort|uniq -c ({pipeline.seconds:.2f}s): {figures}")
    peak = max(by_method[m].peak_mb for m in fast)
    mark = "PASS" if peak < TARGET_PEAK_MB else "FAIL"
    lines.append(f"{mark}  peak memory {peak:.0f} MB (target < {TARGET_PEAK_MB} MB)")
    counts_note = next((note for method, _, note in rows if method.startswith("tutorial")), "")
    if tutorial is not None:
        lines.append(f"{'FAIL' if 'DIFFER' in counts_note else 'PASS'}  {counts_note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100], help="corpus sizes in MB")
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=("english", "large-vocab", "huge-vocab"),
        default=["english", "large-vocab", "huge-vocab"],
    )
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "bench" / "corpus")
    parser.add_argument(
        "--nodetask",
        nargs="+",
        help="the nodetask command (default: the nodetask installed beside this Python)",
    )
    args = parser.parse_args(argv)
    nodetask = args.nodetask or [
        shutil.which("nodetask", path=str(Path(sys.executable).parent)) or "nodetask"
    ]
    print(f"nodetask benchmark on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    columns = ("corpus", "method", "seconds", "MB/s", "vs tutorial", "peak mem MB")
    header = "{:<20} {:<31} {:>8} {:>7} {:>11} {:>11}  note".format(*columns)
    for kind in args.kinds:
        for size in args.sizes:
            path = make_corpus(kind, size, args.corpus_dir)
            size_mb = path.stat().st_size / MB
            label = f"{kind} {size_mb:,.0f} MB"
            measured = bench_file(path, nodetask)
            rows = measured.rows
            baseline = next(
                (r.seconds for m, r, _ in rows if r is not None and m.startswith("tutorial")), None
            )
            print(
                f"\n{label}: {measured.total_words:,} words, {measured.distinct_words:,} distinct"
                f"\n{header}\n{'-' * len(header)}"
            )
            for method, result, note in rows:
                if result is None:
                    print(f"{label:<20} {method:<31} {'-':>8} {'-':>7} {'-':>11} {'-':>11}  {note}")
                    continue
                ratio = f"{baseline / result.seconds:.2f}x" if baseline else "-"
                print(
                    f"{label:<20} {method:<31} {result.seconds:8.2f} {size_mb / result.seconds:7.1f} "
                    f"{ratio:>11} {result.peak_mb:11.0f}  {note}",
                    flush=True,
                )
            print(f"verdict for {label}:")
            for line in verdict(rows):
                print(f"  {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
