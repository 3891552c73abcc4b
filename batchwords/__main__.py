"""The ``batchwords`` command: the offline run, and job and file management."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ._commands import HANDLERS, add_commands
from ._exceptions import BatchServiceError, BatchwordsError, ConfigError
from ._jobs import JobResults, TaskCounts
from ._offline import STAGES, run_offline
from ._settings import load_settings

EXIT_OK, EXIT_TASKS_FAILED, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3


def _project_root() -> Path:
    """The folder holding nodetask/ and build/ (the current one, or above it)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "nodetask" / "pyproject.toml").exists():
            return folder
    return here


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchwords", description="Top N words of every file, on Azure Batch."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the whole pipeline offline (Azurite + localbatch), as the 2016 tutorial did on Azure"
    )
    run.add_argument(
        "data_dir", nargs="?", default="data", type=Path, help="folder of input texts (default data)"
    )
    run.add_argument(
        "--numwords", type=int, help="top words per file and merged (default 10, or your config)"
    )
    run.add_argument(
        "--output-dir", type=Path, default=Path("build/run"), help="where outputs are downloaded"
    )
    run.add_argument("--nodes", type=int, default=2, help="local nodes in the pool (default 2)")
    run.add_argument("--slots", type=int, default=2, help="task slots per node (default 2)")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.add_argument("--batch-endpoint", help="use this Batch service instead of starting localbatch")
    run.add_argument("--storage-endpoint", help="use this blob endpoint instead of starting Azurite")
    run.add_argument(
        "--keep", action="store_true", help="keep the services, containers, job and pool for --local commands"
    )
    add_commands(commands)
    return parser


class _Progress:
    """One line that redraws on a terminal, a line per change otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def say(self, text: str) -> None:
        self._end_bar()
        print(f"batchwords: {text}", file=self.stream, flush=True)

    def tasks(self, counts: TaskCounts) -> None:
        total = max(counts.total, 1)
        filled = round(30 * counts.completed / total)
        line = (
            f"tasks [{'#' * filled}{'.' * (30 - filled)}] {counts.completed}/{counts.total} done, "
            f"{counts.running} running, {counts.failed} failed"
        )
        if line == self.last:
            return
        self.last = line
        if self.tty:
            print(f"\r{line}", end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def _end_bar(self) -> None:
        if self.tty and self.last:
            print(file=self.stream)
            self.last = ""


def render(results: JobResults, numwords: int, timings: dict[str, float]) -> str:
    lines = []
    for task in results.tasks:
        top = ", ".join(
            f"{item['word']} {item['count']}" for item in (task.result or {}).get("top", [])[:numwords]
        )
        status = "ok" if task.failure is None else f"FAILED ({task.failure})"
        lines.append(f"{task.input_name:<36} {status:<4}  {top}")
    width = max((len(word) for word, _ in results.top_words), default=4)
    lines += [
        "",
        f"Merged top {numwords} of {len(results.tasks)} files "
        f"({results.total_words:,} words, {results.distinct_words:,} distinct):",
        f"{'rank':>4}  {'word':<{width}}  {'count':>7}",
    ]
    lines += [
        f"{rank:>4}  {word:<{width}}  {count:>7,}" for rank, (word, count) in enumerate(results.top_words, 1)
    ]
    lines += ["", "Stage timings: " + ", ".join(f"{stage} {timings.get(stage, 0):.1f} s" for stage in STAGES)]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    if args.numwords is None:
        args.numwords = int(load_settings().get("numwords", 10))
    if args.numwords < 1:
        raise ConfigError(f"--numwords must be at least 1 (got {args.numwords})")
    endpoints = None
    if args.batch_endpoint or args.storage_endpoint:
        if not (args.batch_endpoint and args.storage_endpoint):
            raise ConfigError("give both --batch-endpoint and --storage-endpoint, or neither")
        if args.keep:
            raise ConfigError("--keep keeps services that run started; with given endpoints there are none")
        endpoints = (args.batch_endpoint, args.storage_endpoint)
    progress = _Progress()
    outcome = run_offline(
        args.data_dir,
        numwords=args.numwords,
        output_dir=args.output_dir,
        project=_project_root(),
        nodes=args.nodes,
        slots=args.slots,
        keep=args.keep,
        endpoints=endpoints,
        say=progress.say,
        progress=progress.tasks,
    )
    progress.say(f"downloaded {len(outcome.outputs)} output files to {args.output_dir}")
    results = outcome.results
    if args.json:
        document = {
            "files": [
                {
                    "input": t.input_name,
                    "task_id": t.task_id,
                    "exit_code": t.exit_code,
                    "failure": t.failure,
                    "top": (t.result or {}).get("top"),
                }
                for t in results.tasks
            ],
            "top_words": results.top_words,
            "total_words": results.total_words,
            "timings": outcome.timings,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(render(results, args.numwords, outcome.timings))
    for task in results.failed:
        print(
            f"batchwords: task {task.task_id} ({task.input_name}) failed with exit code {task.exit_code}: "
            f"{task.failure}\n{task.stderr_tail or ''}".rstrip(),
            file=sys.stderr,
        )
    return EXIT_TASKS_FAILED if results.failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        level = str(load_settings().get("log_level", "WARNING"))
        logging.basicConfig(level=level, format="batchwords: %(message)s")
        if args.command == "run":
            return _run(args)
        return HANDLERS[args.command](args)
    except ConfigError as exc:
        print(f"batchwords: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (BatchServiceError, BatchwordsError) as exc:
        print(f"batchwords: error: {exc}", file=sys.stderr)
        return EXIT_SERVICE
    except KeyboardInterrupt:
        print("batchwords: interrupted; the local services were stopped", file=sys.stderr)
        return 130


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
