# PYTHON_ARGCOMPLETE_OK
"""The ``batchwords`` command line: subcommands over the core, one map from errors to exit codes."""

from __future__ import annotations

from ._main import EXIT_CODES, build_parser, entrypoint, main

__all__ = ["EXIT_CODES", "build_parser", "entrypoint", "main"]
