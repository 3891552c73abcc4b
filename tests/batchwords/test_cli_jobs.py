"""`batchwords jobs` list, wait, status, outputs, cancel and delete against localbatch; where the
commands find their endpoints (flags, a Pulumi stack)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchwords.cli import main
from tests.support.cli import run_json
from tests.support.emulators import upload_samples


@pytest.mark.azurite
def test_jobs_list_wait_status_outputs_cancel_delete(target, emulators, pool, capsys, tmp_path):
    spec = emulators.spec(job_set="cli-job")
    emulators.job_set(spec).submit(upload_samples(emulators, spec))
    code, listed = run_json(capsys, "jobs", "list", "--json", *target)
    assert code == 0
    assert [(job["id"], job["pool"]) for job in listed] == [("cli-job", "pool")]
    assert main(["jobs", "wait", "cli-job", "--timeout", "120", *target]) == 0
    captured = capsys.readouterr()
    # Four map tasks, then the reduce (one partition) and the summary.
    assert "6/6 done (6 succeeded, 0 failed), 0 running, 0 waiting; map 4/4, reduce 2/2" in captured.out
    assert "map 0/4, reduce 0/2" in captured.err or "map 4/4, reduce 0/2" in captured.err  # progress
    assert "cli-job:" in captured.err  # progress lines
    code, status = run_json(capsys, "jobs", "status", "cli-job", "--json", *target)
    assert (code, status["state"], status["task_counts"]["succeeded"]) == (0, "completed", 6)
    dest = tmp_path / "outputs"

    def outputs_of(folder: Path) -> list[str]:
        return ["jobs", "outputs", "cli-job", "--dest", str(folder), "--container", spec.output_container]

    assert main([*outputs_of(dest), *target]) == 0
    (summary,) = dest.rglob("summary.json")  # the summary and merged results, no counts
    assert summary.parent.relative_to(dest).as_posix() == "cli-job/jobs/cli-job"
    assert not list(dest.rglob("*_COUNTS.tsv.gz"))
    with_counts = [*outputs_of(tmp_path / "counted"), "--counts"]
    assert main([*with_counts, *target]) == 0
    assert len(list((tmp_path / "counted" / "counts").rglob("*_COUNTS.tsv.gz"))) == 4
    # A summary that is gone from Storage is named, and the command fails.
    emulators.storage.delete_blob(spec.output_container, "cli-job/jobs/cli-job/summary.json")
    capsys.readouterr()
    assert main([*outputs_of(tmp_path / "again"), *target]) == 1
    assert "job cli-job has no merged result: ResultMissing" in capsys.readouterr().err
    assert main(["jobs", "cancel", "cli-job", *target]) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(["jobs", "delete", "cli-job", *target]) == 0
    assert "deleted" in capsys.readouterr().out
    assert main(["jobs", "delete", "cli-job", *target]) == 0
    assert "already gone" in capsys.readouterr().out


@pytest.mark.azurite
def test_unknown_job_is_not_found(target, capsys):
    for action in ("status", "wait"):
        assert main(["jobs", action, "ghost", *target]) == 1
        assert "job ghost does not exist" in capsys.readouterr().err


@pytest.mark.azurite
def test_missing_endpoint_and_stack_without_pulumi(target, capsys):
    assert main(["jobs", "list"]) == 2
    assert "--batch-endpoint" in capsys.readouterr().err
    assert main(["jobs", "list", "--stack", "dev"]) == 2
    assert "needs the Pulumi CLI" in capsys.readouterr().err


@pytest.mark.azurite
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
