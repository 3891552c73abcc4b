"""``batchwords preflight``: the deploy tooling's checks of a stack, before ``pulumi up``.

The checks read the stack's config with the Pulumi program's own reader, so
they live with it (``infra/preflight.py``, the deploy extra's console script
``batchwords-preflight``); the CLI, which never imports the program, runs them
in its own Python, in the folder holding Pulumi.yaml and the stack files.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from typing import Any

from .._exceptions import ConfigError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "preflight",
        help="check a stack against your Azure subscription before the first pulumi up",
        description="Check, with your own credentials, what would stop `pulumi up` for a stack: sign-in "
        "and subscription, resource providers, Batch account, core, pool and job quotas, the right to "
        "create role assignments, account names, the VM size in the region, and the pool's hourly cost.",
        epilog="Exit codes: 0 nothing failed, 1 a check failed, 2 bad stack or missing deploy tools.",
    )
    parser.add_argument(
        "--stack", required=True, help="the stack to check (Pulumi.STACK.yaml at the checkout's top)"
    )
    parser.add_argument("--json", action="store_true", help="the checks as JSON")
    parser.set_defaults(handler=run)


def deploy_tools_installed() -> bool:
    """pulumi and the Pulumi program's preflight module (``batchwords[deploy]``) are importable."""
    try:
        found = importlib.util.find_spec("infra.preflight") is not None
    except ModuleNotFoundError:  # no infra package at all
        return False
    return found and importlib.util.find_spec("pulumi") is not None


def run(args: argparse.Namespace) -> int:
    if not deploy_tools_installed():
        raise ConfigError(
            "preflight needs the deploy tools: install batchwords[deploy] (make setup in the checkout), "
            "which also brings the batchwords-preflight command"
        )
    # batchwords-preflight finds the folder holding Pulumi.yaml from here (or says there is none).
    argv = [sys.executable, "-m", "infra.preflight", "--stack", args.stack]
    argv += ["--json"] if args.json else []
    return subprocess.run(argv, check=False).returncode
