"""`batchwords config set` and `show`: values a user set, the defaults, and bad values."""

from __future__ import annotations

import json

import pytest

from batchwords.cli import main


@pytest.mark.azurite
def test_config_set_show_and_defaults(target, emulators, capsys):
    assert main(["config", "set", "batch_endpoint", emulators.localbatch.endpoint]) == 0
    assert main(["config", "set", "storage_endpoint", emulators.storage.account_url]) == 0
    assert main(["config", "set", "numwords", "7"]) == 0
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["numwords"] == ["7", "set"]
    assert rows["batch_endpoint"] == [emulators.localbatch.endpoint, "set"]
    assert main(["jobs", "list"]) == 0  # endpoints from the config file; flags still override
    assert main(["config", "set", "numwords", "zero"]) == 2
    assert "numwords must be a whole number" in capsys.readouterr().err


def test_config_show_marks_defaults(no_target, capsys):
    assert main(["config", "show"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["numwords"][1:3] == ["10", "default"]
    assert rows["log_level"][1:3] == ["WARNING", "default"]
    assert main(["config", "set", "numwords", "7"]) == 0
    capsys.readouterr()
    assert main(["config", "show", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert (settings["numwords"]["value"], settings["numwords"]["default"]) == (7, False)
    assert (settings["log_level"]["value"], settings["log_level"]["default"]) == ("WARNING", True)
