"""The layers run one way (nodetask <- batchwords core <- {infra, CLI}) and modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.words import ROOT

#: Top-level packages each part must never import.
FORBIDDEN = {
    "nodetask/src/nodetask": {"batchwords", "infra", "localbatch", "pulumi", "dill"},
    "localbatch/src/localbatch": {"batchwords", "infra", "nodetask", "pulumi", "dill"},
    "batchwords": {"infra", "pulumi", "pulumi_azure_native", "dill"},
}
MAX_LINES = 500


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports (relative imports resolved within its own package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_module_imports_a_higher_layer(folder):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[folder])
        for path in modules(folder)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_offline_subpackage_imports_localbatch():
    importers = sorted(
        str(path.relative_to(ROOT / "batchwords"))
        for path in modules("batchwords")
        if "localbatch" in imported_packages(path)
    )
    assert importers
    assert all(name.startswith("offline/") for name in importers), importers


@pytest.mark.parametrize("folder", ["batchwords", "infra", "localbatch/src", "nodetask/src"])
def test_modules_fit_in_a_head(folder):
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in modules(folder)
    }
    assert {name: lines for name, lines in sizes.items() if lines >= MAX_LINES} == {}


def test_the_library_distribution_pulls_neither_the_deploy_nor_the_emulator_stack():
    required = metadata.requires("batchwords") or []
    plain = {
        req.split(";")[0].split("[")[0].split(">")[0].split("<")[0].strip()
        for req in required
        if "extra ==" not in req
    }
    assert plain == {
        "batchwords-nodetask",
        "azure-batch",
        "azure-storage-blob",
        "azure-identity",
        "platformdirs",
        "rich",
        "argcomplete",
    }
    extras = {req.split("extra ==")[1].strip(" '\"") for req in required if "extra ==" in req}
    assert {"deploy", "offline"} <= extras


def test_the_cli_runs_without_pulumi_and_says_what_run_needs_without_localbatch():
    """A CLI-only install: importing the CLI loads neither stack, and `run` names the missing extra."""
    script = (
        "import sys\n"
        "sys.modules['localbatch'] = None  # not installed\n"
        "from batchwords.cli import main\n"
        "assert main(['--help']) == 0\n"
        "heavy = ('pulumi', 'dill', 'starlette', 'uvicorn', 'infra')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "sys.exit(main(['run', 'data']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert "needs localbatch" in proc.stderr
    assert "batchwords[offline]" in proc.stderr
