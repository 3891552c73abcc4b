"""``localbatch serve``: run the local Batch service until interrupted."""

from __future__ import annotations

import argparse
import binascii
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ._env import AUTO_STORAGE_KEY_ENV, KEY_ENV
from ._owner import ownership_problem
from ._realism import DELETE_DELAY, RESIZE_ERRORS, Realism
from ._runner import AutoStorage
from ._server import LocalBatch

#: The realism profile's knobs: (flag, field, help).
REALISM_FLAGS = (
    ("--task-counts-lag", "task_counts_lag", "serve task counts as they were SECONDS ago"),
    ("--allocation-delay", "allocation_delay", "a new node stays 'starting' SECONDS before it boots"),
    ("--start-task-latency", "start_task_latency", "SECONDS between a node's boot and its StartTask"),
    ("--error-rate", "error_rate", "answer this fraction of requests with a transient 500 or 503"),
    ("--preemption-rate", "preemption_rate", "preemptions per Spot node per minute"),
    (
        "--delete-delay",
        "delete_delay",
        f"a deleted job or pool stays 'deleting' SECONDS (default {DELETE_DELAY:g})",
    ),
)


def version() -> str:
    """The installed distribution's version ("unknown" when run from a source tree)."""
    try:
        return metadata.version("batchwords-localbatch")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localbatch", description="A local Azure Batch service.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Batch API until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    serve.add_argument("--data-dir", type=Path, required=True, help="state and node directories")
    serve.add_argument("--account", default="localbatch", help="Batch account name (default localbatch)")
    serve.add_argument(
        "--key",
        help=f"base64 account key; prefer ${KEY_ENV}, as other users see command lines "
        "(default: a new random key, printed)",
    )
    serve.add_argument("--auto-storage-url", help="blob account URL the pool's auto-storage points to")
    serve.add_argument("--auto-storage-account", help="auto-storage account name")
    serve.add_argument(
        "--auto-storage-key", help=f"auto-storage account key (prefer ${AUTO_STORAGE_KEY_ENV})"
    )
    realism = serve.add_argument_group(
        "realism", "as slow and unreliable as Azure Batch: --realism turns it all on; each flag sets one part"
    )
    realism.add_argument("--realism", action="store_true", help="turn on the whole profile (Realism.azure())")
    for flag, name, text in REALISM_FLAGS:
        metavar = "RATE" if name.endswith("rate") else "SECONDS"
        kind = _fraction if name == "error_rate" else _at_least_zero
        realism.add_argument(flag, type=kind, dest=name, metavar=metavar, help=text)
    realism.add_argument(
        "--preempt-dedicated", action="store_true", help="preempt dedicated nodes too, at the same rate"
    )
    realism.add_argument(
        "--allocation-failure",
        choices=list(RESIZE_ERRORS),
        metavar="CODE",
        help="every resize that adds nodes adds none and ends with this resize error, as a zero core "
        f"quota does (off in --realism): {', '.join(RESIZE_ERRORS)}",
    )
    realism.add_argument("--seed", type=int, help="make the random faults repeatable")
    serve.add_argument("--verbose", action="store_true", help="log every scheduling step")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = ownership_problem()
    if problem:
        print(f"localbatch: error: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        realism = _realism(args)
    except ValueError as exc:
        parser.error(str(exc))
    key = args.key or os.environ.get(KEY_ENV) or None
    storage_key = args.auto_storage_key or os.environ.get(AUTO_STORAGE_KEY_ENV) or None
    auto_storage = None
    if args.auto_storage_url:
        if not (args.auto_storage_account and storage_key):
            parser.error(
                f"--auto-storage-url needs --auto-storage-account and ${AUTO_STORAGE_KEY_ENV} "
                "(or --auto-storage-key)"
            )
        auto_storage = AutoStorage(args.auto_storage_url, args.auto_storage_account, storage_key)
    try:
        batch = LocalBatch(
            args.data_dir,
            account=args.account,
            key=key,
            host=args.host,
            port=args.port,
            auto_storage=auto_storage,
            realism=realism,
        )
    except (binascii.Error, ValueError):
        parser.error(f"--key (or ${KEY_ENV}) must be a base64 account key")
    try:
        batch.start()
    except RuntimeError as exc:
        print(f"localbatch: error: {exc}", file=sys.stderr)
        return 1
    print(f"localbatch: account {batch.account} at {batch.endpoint}", flush=True)
    if not key:
        print(f"localbatch: key {batch.key}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    batch.stop()
    return 0


def _at_least_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, not {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _at_least_zero(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction below 1 (0.05 is 5%), not {text!r}")
    return value


def _realism(args: argparse.Namespace) -> Realism:
    chosen = {name: getattr(args, name) for _, name, _ in REALISM_FLAGS if getattr(args, name) is not None}
    if args.preempt_dedicated:
        chosen["preempt_dedicated"] = True
    if args.allocation_failure:
        chosen["allocation_failure"] = args.allocation_failure
    if args.seed is not None:
        chosen["seed"] = args.seed
    return Realism.azure(**chosen) if args.realism else Realism(**chosen)


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
