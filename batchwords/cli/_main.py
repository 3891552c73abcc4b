"""The ``batchwords`` command: the offline run, and job, file and account management.

Exit codes (one place, see ``EXIT_CODES``): 0 done, 1 something failed or was
not found, 2 bad input or settings, 3 a service failed or refused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .._exceptions import (
    BatchServiceError,
    BatchwordsError,
    ConfigError,
    NotFoundError,
    ServiceStartError,
    StorageError,
)
from . import _account, _files, _jobs, _preflight, _run
from ._settings import load_settings

EXIT_FAILED, EXIT_USAGE, EXIT_SERVICE, EXIT_INTERRUPTED = 1, 2, 3, 130
#: The first matching class gives the exit code.
EXIT_CODES: tuple[tuple[type[BatchwordsError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (NotFoundError, EXIT_FAILED),
    (ServiceStartError, EXIT_SERVICE),
    (BatchServiceError, EXIT_SERVICE),
    (StorageError, EXIT_SERVICE),
    (BatchwordsError, EXIT_SERVICE),
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchwords", description="Top N words of every file, on Azure Batch."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _run.add_parser(commands)
    _jobs.add_parser(commands)
    _files.add_parser(commands)
    _account.add_parsers(commands)
    _preflight.add_parser(commands)
    return parser


def exit_code(error: BatchwordsError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handler: Handler = args.handler
    try:
        level = str(load_settings().get("log_level", "WARNING"))
        logging.basicConfig(level=level, format="batchwords: %(message)s")
        return handler(args)
    except BatchwordsError as exc:
        print(f"batchwords: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("batchwords: interrupted; the local services were stopped", file=sys.stderr)
        return EXIT_INTERRUPTED


def entrypoint() -> None:
    sys.exit(main())
