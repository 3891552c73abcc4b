"""``localbatch serve``: run the local Batch service until interrupted."""

from __future__ import annotations

import argparse
import binascii
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ._env import AUTO_STORAGE_KEY_ENV, KEY_ENV
from ._runner import AutoStorage
from ._server import LocalBatch
from ._service import DELETE_DELAY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localbatch", description="A local Azure Batch service.")
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
    serve.add_argument(
        "--task-counts-lag",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="serve task counts as they were SECONDS ago, as the real service may (default 0)",
    )
    serve.add_argument(
        "--delete-delay",
        type=float,
        default=DELETE_DELAY,
        metavar="SECONDS",
        help=f"how long a deleted job or pool stays 'deleting' (default {DELETE_DELAY:g})",
    )
    serve.add_argument("--verbose", action="store_true", help="log every scheduling step")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    if args.task_counts_lag < 0:
        parser.error("--task-counts-lag must not be negative")
    if args.delete_delay < 0:
        parser.error("--delete-delay must not be negative")
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
            task_counts_lag=args.task_counts_lag,
            delete_delay=args.delete_delay,
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


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
