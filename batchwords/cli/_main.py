"""The ``batchwords`` command: the offline run, and job, file and account management.

Exit codes (one place, see ``EXIT_CODES``): 0 done, 1 something failed or was
not found, 2 bad input or settings, 3 a service failed or refused.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from azure.core.exceptions import AzureError

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
#: Handled as Ctrl-C; the exit code is 128 + the signal's number, as a shell reports it.
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a timeout, a CI cancel, systemd, a closed terminal): handled as Ctrl-C,
    so every ``finally`` runs: the services stop and temporary files go."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handler: Handler = args.handler
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _terminate) for signum in TERMINATING}
    try:
        level = str(load_settings().get("log_level", "WARNING"))
        logging.basicConfig(level=level, format="batchwords: %(message)s")
        if level.upper() != "DEBUG":
            # Its report of every credential it tried is dozens of lines, twice; the error
            # batchwords raises says in one line how to sign in.
            logging.getLogger("azure.identity").setLevel(logging.ERROR)
        return handler(args)
    except BatchwordsError as exc:
        print(f"batchwords: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except AzureError as exc:  # a service error no layer below named: still one line
        print(f"batchwords: error: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", file=sys.stderr)
        return EXIT_SERVICE
    except Terminated as exc:
        print(
            f"batchwords: stopped by {signal.Signals(exc.signum).name}; the local services were stopped",
            file=sys.stderr,
        )
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("batchwords: interrupted; the local services were stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def entrypoint() -> None:
    sys.exit(main())
