"""Distribution names this project can own, and no install path that takes a sibling from an index.

The root distribution (batchwords) depends on its siblings (batchwords-nodetask,
and batchwords-localbatch through the offline extra) by name. pip takes a name
from a package index unless the same command names the sibling's local path,
so every install command the project shows that installs the root (the
Makefile, the READMEs) must also pass the path of every sibling it pulls in,
and none may name a sibling bare.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from batchwords import ConfigError
from batchwords._wheels import canonical
from batchwords.cli import _target
from tests.support.words import ROOT

#: Where install commands are written for people and for make.
DOCUMENTS = [
    "Makefile",
    "README.md",
    "nodetask/README.md",
    "localbatch/README.md",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").rglob("*.md")),
]
#: pip install options that take a value (the value is not a requirement).
VALUED = {"-r", "-c", "-t", "-f", "-i", "--target", "--find-links", "--index-url", "--extra-index-url"}
VALUED |= {"--constraint", "--requirement", "--prefix", "--root", "--cache-dir", "--platform", "--abi"}


def project(folder: Path) -> dict[str, object]:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def siblings() -> dict[str, str]:
    """Canonical distribution name -> folder, for every distribution beside the root."""
    return {
        canonical(str(project(path.parent)["name"])): path.parent.name
        for path in ROOT.glob("*/pyproject.toml")
    }


def sibling_needs() -> dict[str | None, set[str]]:
    """The root's requirements on its siblings: extra (None: the base) -> sibling folders."""
    root = project(ROOT)
    groups: dict[str | None, list[str]] = {None: list(root["dependencies"])}  # type: ignore[call-overload]
    groups.update(root["optional-dependencies"])  # type: ignore[call-overload]
    folders = siblings()
    needs: dict[str | None, set[str]] = {}
    for extra, requirements in groups.items():
        for requirement in requirements:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            assert match, requirement
            if canonical(match[0]) in folders:
                needs.setdefault(extra, set()).add(folders[canonical(match[0])])
    return needs


def install_commands(text: str) -> list[str]:
    """The arguments of every `pip install` in a Makefile or Markdown text (code blocks and spans)."""
    text = text.replace("\\\n", " ")  # continuation lines
    spans = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL)
    spans += re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    spans += text.splitlines()  # the Makefile's recipes
    commands = []
    for span in spans:
        for found in re.finditer(r"pip install([^\n;&|`]*)", span.replace("\n", " ")):
            commands.append(found[1].strip())
    return sorted(set(commands))


def targets(arguments: str) -> list[str]:
    words = shlex.split(arguments)
    chosen = []
    for index, word in enumerate(words):
        if word == "-e" or (word.startswith("-") and word not in VALUED):
            continue
        if word in VALUED or (index and words[index - 1] in VALUED):
            continue
        chosen.append(word)
    return chosen


def test_every_distribution_has_a_name_this_project_owns():
    names = {canonical(str(project(ROOT)["name"])), *siblings()}
    assert names == {"batchwords", "batchwords-nodetask", "batchwords-localbatch"}
    # The command names stay: a command is not resolved from an index.
    assert set(project(ROOT / "nodetask")["scripts"]) == {"nodetask"}  # type: ignore[call-overload]
    assert set(project(ROOT / "localbatch")["scripts"]) == {"localbatch"}  # type: ignore[call-overload]


def test_the_root_needs_its_siblings_as_this_test_reads_them():
    assert sibling_needs() == {None: {"nodetask"}, "offline": {"localbatch"}}


def install_problems(arguments: str, needs: dict[str | None, set[str]]) -> list[str]:
    """What lets `pip install ARGUMENTS` take a sibling from an index: a sibling named bare, or the
    root installed (``.``, ``.[extras]``) without the path of a sibling that it or its extras need."""
    chosen = targets(arguments)
    bare = set(siblings()) | set(siblings().values()) | {"batchwords"}
    problems = [f"names {word} bare" for word in chosen if canonical(word.split("[")[0]) in bare]
    paths = {word.rstrip("/").removeprefix("./") for word in chosen}
    for word in chosen:
        root = re.fullmatch(r"\.(?:/)?(?:\[(?P<extras>[^\]]*)\])?", word)
        if root is not None:
            extras = [None, *(extra.strip() for extra in (root["extras"] or "").split(",") if extra.strip())]
            wanted = set().union(*(needs.get(extra, set()) for extra in extras))
            problems += [f"installs the root without ./{folder}" for folder in sorted(wanted - paths)]
    return problems


def test_no_install_command_can_take_a_sibling_from_an_index():
    needs = sibling_needs()
    checked = []
    for document in DOCUMENTS:
        for arguments in install_commands((ROOT / document).read_text(encoding="utf-8")):
            problems = install_problems(arguments, needs)
            assert problems == [], f"{document}: `pip install {arguments}`: pip would use an index"
            if any(re.fullmatch(r"\.(\[.*\])?", word) for word in targets(arguments)):
                checked.append((document, arguments))
    assert {"Makefile", "README.md"} <= {document for document, _ in checked}  # the reader finds them
    assert any("offline" in arguments for _, arguments in checked)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("`pip install .`", ["installs the root without ./nodetask"]),
        ("`pip install ./nodetask '.[offline]'`", ["installs the root without ./localbatch"]),
        (
            "\tpip install -e ./nodetask \\\n\t\t-e '.[dev,offline]'\n",
            ["installs the root without ./localbatch"],
        ),
        (
            "```\npip install batchwords-nodetask .\n```",
            ["names batchwords-nodetask bare", "installs the root without ./nodetask"],
        ),
        ("`pip install nodetask`", ["names nodetask bare"]),
        ("`pip install ./nodetask ./localbatch '.[offline]'`", []),
        ("`pip install --no-deps`", []),
    ],
)
def test_the_check_catches_an_install_that_would_use_an_index(text, problems):
    (arguments,) = install_commands(text)
    assert install_problems(arguments, sibling_needs()) == problems


def test_the_installed_import_packages_are_this_projects():
    owners = metadata.packages_distributions()
    assert {canonical(name) for name in owners["nodetask"]} == {"batchwords-nodetask"}
    assert {canonical(name) for name in owners["localbatch"]} == {"batchwords-localbatch"}
    assert _target.foreign_localbatch() == []


def test_a_foreign_localbatch_is_named_with_the_fix(monkeypatch, capsys):
    """The unrelated `localbatch` from the package index installs an import package of the same name."""
    owned = {"localbatch": ["batchwords-localbatch", "localbatch"], "nodetask": ["batchwords-nodetask"]}
    monkeypatch.setattr(metadata, "packages_distributions", lambda: owned)
    with pytest.raises(ConfigError, match=r"also comes from localbatch .*`pip uninstall localbatch`"):
        _target.require_offline()
    from localbatch.__main__ import main

    assert main(["serve", "--data-dir", "unused"]) == 2
    assert "`pip uninstall localbatch`" in capsys.readouterr().err
