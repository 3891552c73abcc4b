# PYTHON_ARGCOMPLETE_OK
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
from importlib import metadata

import argcomplete
from argcomplete.shell_integration import shellcode
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

#: What each exit code means, for ``--help``; the codes themselves come from ``EXIT_CODES``.
EXIT_MEANINGS = {
    0: "done",
    EXIT_FAILED: "something failed or was not found (a failed task, no match, no such job)",
    EXIT_USAGE: "bad input or settings, found before any work, or a bad option",
    EXIT_SERVICE: "a service (Batch, Storage, Azurite, localbatch) failed or refused",
}
#: Examples at the end of each command's ``--help``, by command path ("" is ``batchwords`` itself).
EXAMPLES = {
    "": (
        "batchwords run data --numwords 5 --output-dir build/run",
        "batchwords jobs list --local",
        "batchwords -v files list --stack dev",
        'eval "$(batchwords completion bash)"',
    ),
    "run": ("batchwords run data --numwords 5 --output-dir build/run", "batchwords run data --keep --json"),
    "jobs": ("batchwords jobs list --local", "batchwords jobs wait batchwords-dev --stack dev"),
    "files": ("batchwords files upload data --local", "batchwords files find rabbit --local"),
    "login": ("batchwords login --mode device-code",),
    "whoami": ("batchwords whoami",),
    "config": ("batchwords config show", "batchwords config set log_level INFO"),
    "local": ("batchwords local show", "batchwords local stop"),
    "preflight": ("batchwords preflight --stack dev", "batchwords preflight --stack dev --json"),
    "completion": (
        "batchwords completion zsh > ~/.zfunc/_batchwords",
        'eval "$(batchwords completion bash)"   # in ~/.bashrc',
    ),
}
VERBOSITY = {-1: logging.ERROR, 1: logging.INFO}  # -q, -v; -vv and more: DEBUG


class _Raw(str):
    """Text the help formatter prints as written (the epilogs); descriptions are still wrapped."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, keeping the line breaks of ``_Raw`` text (as RawDescriptionHelpFormatter
    does for all text) so that the examples and exit codes stay one to a line while the other
    commands' one-line descriptions are wrapped to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if isinstance(text, _Raw):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def exit_codes_help() -> str:
    """The exit codes, from ``EXIT_CODES`` (and the errors that give each)."""
    codes = [0, *sorted({code for _, code in EXIT_CODES})]
    lines = [f"  {code:<4}{EXIT_MEANINGS[code]}" for code in codes]
    lines.append(
        f"  {EXIT_INTERRUPTED:<4}interrupted (Ctrl-C); 128 + N on signal N (SIGTERM 143, SIGHUP 129)"
    )
    return "Exit codes:\n" + "\n".join(lines)


def _epilog(path: str, own: str | None) -> _Raw:
    examples = EXAMPLES.get(path) or EXAMPLES.get(path.split(" ", maxsplit=1)[0], ())
    parts = ["Examples:\n" + "\n".join(f"  {line}" for line in examples)] if examples else []
    # A command with exit codes of its own (preflight) keeps them.
    parts.append(own if own and "Exit codes" in own else exit_codes_help())
    return _Raw("\n\n".join(parts))


def _finish_help(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Examples and exit codes at the end of every command's help, set once all commands exist."""
    parser.formatter_class = HelpFormatter
    parser.epilog = _epilog(path, parser.epilog)
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _finish_help(sub, f"{path} {name}".strip())


def version() -> str:
    try:
        return metadata.version("batchwords")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchwords", description="Top N words of every file, on Azure Batch."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more: -v progress (INFO), -vv everything (DEBUG); overrides config log_level",
    )
    loud.add_argument(
        "-q", "--quiet", action="store_true", help="log errors only; overrides config log_level"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _run.add_parser(commands)
    _jobs.add_parser(commands)
    _files.add_parser(commands)
    _account.add_parsers(commands)
    _preflight.add_parser(commands)
    completion = commands.add_parser(
        "completion",
        help="print the shell code that completes batchwords' commands and options",
        description="Print the code that makes bash or zsh complete batchwords' commands and options "
        "(argcomplete). Load it from your shell's start-up file.",
    )
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")
    completion.set_defaults(handler=_completion)
    _finish_help(parser)
    return parser


def _completion(args: argparse.Namespace) -> int:
    print(shellcode(["batchwords"], shell=args.shell), end="")
    return 0


def log_level(args: argparse.Namespace) -> tuple[str, str]:
    """The log level and where it came from: -v/-q first, then ``config set log_level``."""
    if args.quiet or args.verbose:
        flag = "-q" if args.quiet else "-" + "v" * args.verbose
        level = VERBOSITY.get(-1 if args.quiet else args.verbose, logging.DEBUG)
        return logging.getLevelName(level), flag
    try:
        settings = load_settings()
    except ConfigError:
        return "WARNING", "default (the config file has a bad setting: the command says which)"
    return settings.log_level, "config log_level"


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
    argcomplete.autocomplete(parser)  # answers and exits only when the shell asks for completions
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handler: Handler = args.handler
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _terminate) for signum in TERMINATING}
    try:
        level, source = log_level(args)
        logging.basicConfig(level=level, format="batchwords: %(message)s")
        logging.getLogger().setLevel(level)  # also when logging was configured before (tests)
        logging.getLogger("batchwords").info(
            "batchwords %s; log level %s (from %s)", version(), level, source
        )
        if level != "DEBUG":
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
