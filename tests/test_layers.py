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
#: Each package whose modules must not import one another in a cycle: its folder and its name.
PACKAGES = {
    "batchwords": "batchwords",
    "infra": "infra",
    "localbatch/src/localbatch": "localbatch",
    "nodetask/src/nodetask": "nodetask",
}


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


def module_names(folder: Path, package: str) -> dict[str, Path]:
    """Every module of the package in ``folder``, by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join((package, *parts))] = path
    return names


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports, wherever the import stands.

    Imports under ``if TYPE_CHECKING:`` and inside functions count: they are imports all the same.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return (found & known) - {name}


def import_cycles(folder: Path, package: str) -> list[list[str]]:
    """The groups of modules that import one another, directly or through others (Tarjan)."""
    names = module_names(folder, package)
    graph = {name: sorted(imported_modules(name, path, set(names))) for name, path in names.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for other in graph[name]:
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(cycles)


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_module_imports_a_higher_layer(folder):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[folder])
        for path in modules(folder)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_no_import_cycles(folder):
    assert import_cycles(ROOT / folder, PACKAGES[folder]) == []


def test_import_cycles_are_found_through_type_only_and_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg._a import A\n", encoding="utf-8")
    (package / "_a.py").write_text("from ._b import B\nA = 1\n", encoding="utf-8")
    (package / "_b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import _a\nB = 2\n",
        encoding="utf-8",
    )
    (package / "_c.py").write_text("from pkg._a import A\n", encoding="utf-8")
    assert import_cycles(package, "pkg") == [["pkg._a", "pkg._b"]]


def test_only_the_offline_subpackage_imports_localbatch():
    importers = sorted(
        str(path.relative_to(ROOT / "batchwords"))
        for path in modules("batchwords")
        if "localbatch" in imported_packages(path)
    )
    assert importers
    assert all(name.startswith("offline/") for name in importers), importers


def core_modules_imported(path: Path) -> set[str]:
    """The ``batchwords`` modules a module imports, by dotted name (``from batchwords import deploy`` too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name in {"cli", "deploy", "offline"} or alias.name.startswith("_")
            )
    return {name for name in found if name.split(".")[0] == "batchwords"}


def test_infra_imports_only_the_library_api_and_its_deploy_module():
    """The Pulumi program builds on ``batchwords`` and ``batchwords.deploy``, never on private modules."""
    imported = {str(path.relative_to(ROOT)): core_modules_imported(path) for path in modules("infra")}
    assert set().union(*imported.values()) == {"batchwords", "batchwords.deploy"}
    allowed = {"batchwords", "batchwords.deploy"}
    assert {name: sorted(found - allowed) for name, found in imported.items() if found - allowed} == {}


def test_the_library_api_and_the_deploy_module_name_what_they_export_once():
    import batchwords
    from batchwords import deploy

    assert len(batchwords.__all__) == 29  # docs/library.md: 28 names and __version__
    assert not set(batchwords.__all__) & set(deploy.__all__)
    assert all(hasattr(batchwords, name) for name in batchwords.__all__)
    assert all(hasattr(deploy, name) for name in deploy.__all__)


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
