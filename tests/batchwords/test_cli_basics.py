"""The usual basics of the three commands: --version, -v/-q, help with examples and exit codes, completion."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from batchwords.cli import EXIT_CODES, build_parser, main

BIN = Path(sys.executable).parent


def _paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _paths(sub, (*path, name))
    return found


@pytest.mark.parametrize(
    ("command", "distribution"),
    [
        ("batchwords", "batchwords"),
        ("localbatch", "batchwords-localbatch"),
        ("nodetask", "batchwords-nodetask"),
    ],
)
def test_version_of_each_command(command, distribution, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", command, "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{command} {metadata.version(distribution)}\n"


def test_version_from_main(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"batchwords {metadata.version('batchwords')}\n"


@pytest.fixture
def config_env(tmp_path):
    env = {**os.environ, "BATCHWORDS_CONFIG_DIR": str(tmp_path / "config")}
    return env


def _batchwords(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "batchwords"), *argv], env=env, capture_output=True, text=True, check=False
    )


def test_verbosity_flags_override_the_configured_log_level(config_env):
    assert _batchwords(config_env, "config", "show").stderr == ""  # WARNING by default: quiet
    assert "log level INFO (from -v)" in _batchwords(config_env, "-v", "config", "show").stderr
    assert "log level DEBUG (from -vv)" in _batchwords(config_env, "-vv", "config", "show").stderr
    assert _batchwords(config_env, "config", "set", "log_level", "INFO").returncode == 0
    assert "log level INFO (from config log_level)" in _batchwords(config_env, "config", "show").stderr
    quiet = _batchwords(config_env, "-q", "config", "show")
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert "log_level" in quiet.stdout
    both = _batchwords(config_env, "-v", "-q", "config", "show")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


@pytest.mark.parametrize("path", _paths(build_parser()), ids=lambda path: " ".join(path) or "batchwords")
def test_every_help_ends_with_examples_and_exit_codes(path, capsys):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes:" in out
    if path[:1] != ("preflight",):  # preflight runs the program's checks: its own codes
        for code in {code for _, code in EXIT_CODES}:
            assert f"\n  {code} " in out
        assert "\n  130 interrupted" in out
    if path:
        assert f"Examples:\n  batchwords {path[0]}" in out


def test_top_level_help_lists_examples_one_to_a_line(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert "Examples:\n  batchwords run data --numwords 5 --output-dir build/run\n" in out
    assert '  eval "$(batchwords completion bash)"\n' in out


def _parsers(parser: argparse.ArgumentParser, path: str = "batchwords"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert all(choice.help for choice in action._choices_actions), path
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_and_command_has_help():
    missing = [
        f"{path}: {action.dest}"
        for path, each in _parsers(build_parser())
        for action in each._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef batchwords")])
def test_completion_prints_the_shell_code(shell, marker, capsys):
    assert main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert marker in out
    assert "batchwords" in out


def test_completion_completes_commands_and_options(tmp_path):
    answer = tmp_path / "completions"
    for line, expected in (("batchwords jo", "jobs"), ("batchwords run --num", "--numwords")):
        env = {
            **os.environ,
            "_ARGCOMPLETE": "1",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        }
        proc = subprocess.run([str(BIN / "batchwords")], env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert answer.read_text().split() == [expected]


def test_console_script_module_carries_the_argcomplete_marker():
    # argcomplete's global completion runs only scripts whose module says so in its first 1024 bytes.
    import batchwords.cli

    assert "PYTHON_ARGCOMPLETE_OK" in Path(batchwords.cli.__file__).read_text()[:1024]


def test_bad_completion_shell_is_a_usage_error(capsys):
    assert main(["completion", "fish"]) == 2
    assert "invalid choice: 'fish'" in capsys.readouterr().err
