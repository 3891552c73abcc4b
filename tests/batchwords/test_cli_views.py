"""`batchwords jobs tasks` and `jobs logs` (issue 13, point 3) against Azurite + localbatch."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.batch import models as batch_models

from batchwords._pool import pool_options
from batchwords.cli import main
from tests.support.emulators import upload_samples
from tests.support.words import DATA

pytestmark = pytest.mark.azurite


@pytest.fixture
def plain_pool(emulators):
    """A pool without nodetask: its tasks are shell command lines."""
    emulators.batch.create_pool(pool_options("plain", nodes=1, slots=2))
    emulators.batch.wait_for_pool("plain", timeout=60)
    return "plain"


def shell_job(emulators, job_id: str, script: str, pool: str = "plain") -> None:
    emulators.batch.ensure_job(job_id, pool, job_id, timedelta(minutes=5))
    task = batch_models.BatchTaskCreateOptions(
        id="talker",
        command_line=f"/bin/sh -c '{script}'",
        constraints=batch_models.BatchTaskConstraints(max_task_retry_count=0),
    )
    emulators.batch.add_tasks(job_id, [task])


def test_jobs_tasks_shows_each_task_with_its_input(target, emulators, pool, capsys):
    spec = emulators.spec(job_set="view-job")
    emulators.job_set(spec).submit(upload_samples(emulators, spec))
    assert main(["jobs", "wait", "view-job", "--timeout", "120", *target]) == 0
    capsys.readouterr()
    assert main(["jobs", "tasks", "view-job", "--json", *target]) == 0
    listed = json.loads(capsys.readouterr().out)
    names = sorted(path.name for path in DATA.glob("*.txt"))
    assert sorted(task["inputs"][0] for task in listed if task["stage"] == "map") == names
    gather = sorted((task["id"], task["inputs"]) for task in listed if task["stage"] == "reduce")
    assert gather == [("_reduce-00000-of-00001", []), ("_summary", [])]
    assert {(task["state"], task["exit_code"], task["result"]) for task in listed} == {
        ("completed", 0, "success")
    }
    assert all(task["node"] and task["duration_seconds"] >= 0 for task in listed)
    assert main(["jobs", "tasks", "view-job", *target]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["task", "state", "exit", "node", "duration", "input"]
    assert len(lines) == 1 + len(names) + 2
    assert any(line.rstrip().endswith("(reduce partition 1 of 1)") for line in lines)
    assert any(line.rstrip().endswith("(summary of job view-job)") for line in lines)
    for name in names:  # each input on its task's row, the columns aligned
        (row,) = [line for line in lines if line.rstrip().endswith(name)]
        assert row.split()[1:3] == ["completed", "0"]
        assert row.index(name) == lines[0].index("input")


def test_jobs_logs_prints_and_follows_a_task(target, emulators, plain_pool, capsys):
    shell_job(emulators, "talk-job", "echo first; sleep 1.5; echo second; echo oops >&2; exit 3")
    # Followed from its start: every line once (read from an offset), then the task's failure.
    assert main(["jobs", "logs", "talk-job", "talker", "--follow", "--interval", "0.2", *target]) == 1
    captured = capsys.readouterr()
    assert captured.out == "first\nsecond\n"
    assert "task talker failed (exit code 3)" in captured.err
    assert main(["jobs", "logs", "talk-job", "talker", *target]) == 0
    assert capsys.readouterr().out == "first\nsecond\n"
    assert main(["jobs", "logs", "talk-job", "talker", "--stderr", *target]) == 0
    assert capsys.readouterr().out == "oops\n"
    assert main(["jobs", "tasks", "talk-job", "--json", *target]) == 0
    (task,) = json.loads(capsys.readouterr().out)
    assert (task["id"], task["state"], task["exit_code"], task["result"]) == (
        "talker",
        "completed",
        3,
        "failure",
    )


def test_jobs_logs_follow_of_a_succeeding_task_exits_0(target, emulators, plain_pool, capsys):
    shell_job(emulators, "fine-job", "sleep 0.5; echo done")
    assert main(["jobs", "logs", "fine-job", "talker", "--follow", "--interval", "0.2", *target]) == 0
    assert capsys.readouterr().out == "done\n"


def test_missing_job_or_task_is_not_found(target, emulators, plain_pool, capsys):
    for argv in (["jobs", "tasks", "nosuch"], ["jobs", "logs", "nosuch", "talker"]):
        assert main([*argv, *target]) == 1
        assert "not found: job nosuch does not exist" in capsys.readouterr().err
    shell_job(emulators, "real-job", "true")
    assert main(["jobs", "logs", "real-job", "ghost", "--follow", *target]) == 1
    assert "not found: task ghost does not exist in job real-job" in capsys.readouterr().err


def test_cancel_of_a_missing_job_is_not_found(target, capsys):
    assert main(["jobs", "cancel", "nosuch", *target]) == 1
    captured = capsys.readouterr()
    assert "not found: job nosuch does not exist" in captured.err
    assert "already finished" not in captured.out
