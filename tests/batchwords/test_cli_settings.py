"""The CLI's settings: the config file parsed once into ``Settings``; run's job parameters
checked by ``JobSpec`` and named by the option or key that gave them. The pipeline is mocked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchwords import TASK_BYTES, ConfigError, offline
from batchwords._spec import NUMWORDS
from batchwords.cli import main
from batchwords.cli._settings import Settings, config_path, load_settings, stored_settings


@pytest.fixture
def config_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def pipeline(monkeypatch) -> dict[str, Any]:
    """run_offline records what run gives it, then stops the command (exit 2)."""
    given: dict[str, Any] = {}

    def run_offline(data_dir: Any, options: offline.RunOptions) -> None:
        given.update(vars(options))
        raise ConfigError("stopped by the test")

    monkeypatch.setattr(offline, "run_offline", run_offline)
    return given


def write_config(values: dict[str, Any]) -> None:
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(json.dumps(values), encoding="utf-8")


def test_the_config_file_is_parsed_once_into_typed_settings(config_dir):
    assert load_settings() == Settings()
    assert main(["config", "set", "numwords", "7"]) == 0
    assert main(["config", "set", "task_bytes", "64MB"]) == 0
    assert main(["config", "set", "log_level", "info"]) == 0
    assert load_settings() == Settings(numwords=7, task_bytes=64_000_000, log_level="INFO")
    assert stored_settings()["task_bytes"] == "64MB"  # shown as written


@pytest.mark.parametrize(
    ("stored", "says"),
    [
        ({"numwords": 0}, "numwords must be at least 1 (got 0)"),
        ({"numwords": "many"}, "numwords must be a whole number"),
        ({"task_bytes": "lots"}, "task_bytes: 'lots' is not a size"),
    ],
)
def test_a_bad_value_in_the_file_names_the_key_and_the_fix(config_dir, pipeline, capsys, stored, says):
    write_config(stored)
    assert main(["run", "data", "--output-dir", str(config_dir / "out")]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert f"fix it with `batchwords config set {next(iter(stored))} ...`" in err
    assert not pipeline


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--numwords", "0"], "--numwords must be at least 1 (got 0)"),
        (["--task-bytes", "lots"], "--task-bytes: 'lots' is not a size"),
        (["--task-bytes", "0"], "--task-bytes: '0' is not a size of at least 1 byte"),
    ],
)
def test_a_bad_option_is_named_before_any_work(config_dir, pipeline, capsys, flags, says):
    assert main(["run", "data", "--output-dir", str(config_dir / "out"), *flags]) == 2
    assert says in capsys.readouterr().err
    assert not pipeline


@pytest.mark.parametrize(
    ("stored", "flags", "numwords", "task_bytes"),
    [
        ({}, [], NUMWORDS, TASK_BYTES),
        ({"numwords": 7, "task_bytes": "1MiB"}, [], 7, 1024**2),
        ({"numwords": 7}, ["--numwords", "3", "--task-bytes", "2KB"], 3, 2000),
    ],
)
def test_options_then_the_config_file_then_jobspec(config_dir, pipeline, stored, flags, numwords, task_bytes):
    write_config(stored)
    assert main(["run", "data", "--output-dir", str(config_dir / "out"), *flags]) == 2
    assert (pipeline["numwords"], pipeline["task_bytes"]) == (numwords, task_bytes)
