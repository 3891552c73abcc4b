"""`batchwords local` and `--local`: the record of services a `run --keep` left up."""

from __future__ import annotations

import json
import os
import subprocess

from batchwords.cli import main


def test_local_with_a_state_file_of_an_older_version(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BATCHWORDS_STATE_DIR", str(tmp_path))
    old = {"batch_endpoint": "http://127.0.0.1:1", "storage_endpoint": "http://127.0.0.1:2/a", "env": {}}
    (tmp_path / "local.json").write_text(json.dumps({**old, "pids": [os.getpid()]}), encoding="utf-8")
    assert main(["jobs", "list", "--local"]) == 2
    assert "written by an older batchwords" in capsys.readouterr().err


def test_nothing_recorded_is_not_found_and_stop_twice_is_fine(no_target, capsys):
    assert main(["local", "show"]) == 1
    assert "no local services are recorded" in capsys.readouterr().err
    assert main(["jobs", "list", "--local"]) == 1
    capsys.readouterr()
    # A record whose processes have ended: the first stop forgets it, the second finds nothing.
    ended = subprocess.Popen(["true"])
    ended.wait()
    state = no_target / "state"
    state.mkdir()
    (state / "local.json").write_text(json.dumps({"pids": [ended.pid]}), encoding="utf-8")
    assert main(["local", "stop"]) == 0
    assert "already ended" in capsys.readouterr().out
    assert main(["local", "stop"]) == 0
    assert capsys.readouterr().out.startswith("nothing running")
