"""`batchwords jobs|files|config|whoami` against Azurite + localbatch."""

from __future__ import annotations

import json
import os

import pytest

from batchwords.cli import main
from tests.support.emulators import upload_samples
from tests.support.words import DATA

pytestmark = pytest.mark.azurite


@pytest.fixture
def target(emulators, azurite, monkeypatch, tmp_path):
    """Shared Key credentials and endpoints from the environment; a private config folder."""
    monkeypatch.setenv("BATCHWORDS_BATCH_ACCOUNT", emulators.localbatch.account)
    monkeypatch.setenv("BATCHWORDS_BATCH_KEY", emulators.localbatch.key)
    monkeypatch.setenv("BATCHWORDS_STORAGE_ACCOUNT", azurite.account)
    monkeypatch.setenv("BATCHWORDS_STORAGE_KEY", azurite.key)
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("BATCHWORDS_BATCH_ENDPOINT", raising=False)
    monkeypatch.delenv("BATCHWORDS_STORAGE_ENDPOINT", raising=False)
    return [
        "--batch-endpoint",
        emulators.localbatch.endpoint,
        "--storage-endpoint",
        emulators.storage.account_url,
    ]


def run_json(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_files_upload_list_find_download(target, emulators, capsys, tmp_path):
    container = f"input-{emulators.suffix}"
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    assert "uploaded 4, unchanged 0" in capsys.readouterr().out
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    assert "uploaded 0, unchanged 4" in capsys.readouterr().out
    code, listed = run_json(capsys, "files", "list", "--container", container, "--json", *target)
    assert code == 0
    assert sorted(item["name"] for item in listed) == sorted(p.name for p in DATA.glob("*.txt"))
    assert all("sig=" not in item["url"] for item in listed)
    code, found = run_json(
        capsys, "files", "find", "gettysburg_address.txt", "--container", container, "--json", *target
    )
    assert (code, [item["name"] for item in found]) == (0, ["gettysburg_address.txt"])
    assert main(["files", "find", "nothing-like-this", "--container", container, *target]) == 1
    dest = tmp_path / "down"
    assert main(["files", "download", "--container", container, "--dest", str(dest), *target]) == 0
    assert (dest / "erlkoenig_goethe_de.txt").read_bytes() == (DATA / "erlkoenig_goethe_de.txt").read_bytes()


def test_jobs_list_wait_status_outputs_cancel_delete(target, emulators, pool, capsys, tmp_path):
    spec = emulators.spec(job_set="cli-job")
    emulators.job_set(spec).submit(upload_samples(emulators, spec))
    code, listed = run_json(capsys, "jobs", "list", "--json", *target)
    assert code == 0
    assert [(job["id"], job["pool"]) for job in listed] == [("cli-job", "pool")]
    assert main(["jobs", "wait", "cli-job", "--timeout", "120", *target]) == 0
    captured = capsys.readouterr()
    assert "4/4 done (4 succeeded, 0 failed)" in captured.out
    assert "cli-job:" in captured.err  # progress lines
    code, status = run_json(capsys, "jobs", "status", "cli-job", "--json", *target)
    assert (code, status["state"], status["task_counts"]["succeeded"]) == (0, "completed", 4)
    dest = tmp_path / "outputs"
    assert (
        main(
            ["jobs", "outputs", "cli-job", "--dest", str(dest), "--container", spec.output_container, *target]
        )
        == 0
    )
    assert len(list(dest.rglob("*_OUTPUT.json"))) == 4
    # A succeeded task's result that is gone from Storage is named, and the command fails.
    (lost,) = [
        blob.name
        for blob in emulators.storage.list_blobs(spec.output_container)
        if "gettysburg" in blob.name and blob.name.endswith(".json")
    ]
    emulators.storage.delete_blob(spec.output_container, lost)
    capsys.readouterr()
    again = [
        "jobs",
        "outputs",
        "cli-job",
        "--dest",
        str(tmp_path / "again"),
        "--container",
        spec.output_container,
    ]
    assert main([*again, *target]) == 1
    assert f"missing: {lost} (its task succeeded" in capsys.readouterr().err
    assert main(["jobs", "cancel", "cli-job", *target]) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(["jobs", "delete", "cli-job", *target]) == 0
    assert "deleted" in capsys.readouterr().out
    assert main(["jobs", "delete", "cli-job", *target]) == 0
    assert "already gone" in capsys.readouterr().out


def test_unknown_job_is_not_found(target, capsys):
    for action in ("status", "wait"):
        assert main(["jobs", action, "ghost", *target]) == 1
        assert "job ghost does not exist" in capsys.readouterr().err


def test_missing_endpoint_and_stack_without_pulumi(target, capsys):
    assert main(["jobs", "list"]) == 2
    assert "--batch-endpoint" in capsys.readouterr().err
    assert main(["jobs", "list", "--stack", "dev"]) == 2
    assert "needs the Pulumi CLI" in capsys.readouterr().err


def test_a_stack_still_in_its_first_update_names_what_to_pass(target, capsys, tmp_path, monkeypatch):
    # `pulumi stack output --json` on a stack whose first update runs: it exists, with no outputs.
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho '{}'\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert main(["jobs", "wait", "batchwords-dev", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert "stack dev has no outputs yet" in err
    assert "--batch-endpoint https://ACCOUNT.REGION.batch.azure.com" in err
    assert "batchwords preflight --stack dev" in err


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


def test_whoami(target, capsys):
    assert main(["whoami"]) == 0
    assert capsys.readouterr().out.startswith("Shared Key: Batch account")


def test_local_with_a_state_file_of_an_older_version(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BATCHWORDS_STATE_DIR", str(tmp_path))
    old = {"batch_endpoint": "http://127.0.0.1:1", "storage_endpoint": "http://127.0.0.1:2/a", "env": {}}
    (tmp_path / "local.json").write_text(json.dumps({**old, "pids": [os.getpid()]}), encoding="utf-8")
    assert main(["jobs", "list", "--local"]) == 2
    assert "written by an older batchwords" in capsys.readouterr().err
