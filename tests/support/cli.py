"""Running the batchwords CLI in the test's process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchwords.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """``main(argv)``'s exit code and its standard output read as JSON."""
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)
