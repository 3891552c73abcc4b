"""A wait that sees the pool (issue 21, point 5): a pool that cannot get nodes, or whose nodes
cannot run the job's tasks, ends the wait early with the reason; `jobs status` shows the same."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import models as batch_models

from batchwords import BatchServiceError
from batchwords._exceptions import PoolError
from batchwords._pool import pool_options
from batchwords._pool_health import UNUSABLE_GRACE, _dead, pool_health
from batchwords.cli import main
from tests.support.batch import py, wait_for
from tests.support.emulators import upload_samples

pytestmark = pytest.mark.azurite

STDERR = "ERROR: No matching distribution found for nodetask"
FAILING_START = batch_models.BatchStartTask(
    command_line=py(f"import sys; sys.stderr.write({STDERR!r} + '\\n'); sys.exit(3)"),
    wait_for_success=True,
)


def submit(emulators, pool_id: str = "pool"):
    spec = emulators.spec(pool_id=pool_id)
    job_set = emulators.job_set(spec)
    inputs = upload_samples(emulators, spec)
    job_set.submit(inputs)
    return spec, job_set, inputs


@pytest.fixture
def failing_pool(emulators):
    """Two nodes whose StartTask fails: both ``starttaskfailed``."""
    emulators.batch.create_pool(pool_options("failing", nodes=2, slots=1, start_task=FAILING_START))
    wait_for(
        lambda: [node.state for node in emulators.batch.nodes("failing")] == ["starttaskfailed"] * 2,
        timeout=30,
    )
    return "failing"


@pytest.mark.realism(allocation_failure="AccountCoreQuotaReached")
def test_a_pool_without_core_quota_fails_the_wait_in_seconds_naming_the_resize_error(emulators):
    emulators.batch.create_pool(pool_options("pool", nodes=2, slots=1))
    _, job_set, inputs = submit(emulators)
    started = time.monotonic()
    with pytest.raises(PoolError) as raised:
        job_set.outputs(inputs, wait_timeout=120, poll_interval=0.5)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert message.startswith("pool pool has no node: its last resize failed (AccountCoreQuotaReached: ")
    assert "The specified account has reached core quota" in message
    assert "core quota (dedicatedCoreQuota, lowPriorityCoreQuota) is too small" in message


def test_every_node_failing_its_start_task_fails_jobs_wait_with_the_stderr_tail(
    target, emulators, failing_pool, capsys
):
    spec, _, _ = submit(emulators, failing_pool)
    started = time.monotonic()
    assert main(["jobs", "wait", spec.job_set, "--timeout", "120", *target]) == 3
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err
    assert "no node of pool failing can run tasks (2 starttaskfailed): the StartTask that installs" in err
    assert "(exit code 3); its stderr ends with:\n" + STDERR in err


def test_jobs_status_shows_the_pool_its_nodes_and_why_none_can_run_tasks(
    target, emulators, failing_pool, capsys
):
    spec, _, _ = submit(emulators, failing_pool)
    assert main(["jobs", "status", spec.job_set, *target]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "pool failing: steady; nodes: 2 starttaskfailed"
    assert lines[2].startswith("cannot run the job's tasks: no node of pool failing can run tasks")
    assert STDERR in "\n".join(lines[2:])
    assert main(["jobs", "status", spec.job_set, "--json", *target]) == 0
    pool = json.loads(capsys.readouterr().out)["pool"]
    assert (pool["id"], pool["allocation_state"], pool["node_states"]) == (
        "failing",
        "steady",
        {"starttaskfailed": 2},
    )
    assert STDERR in pool["problem"]


@pytest.mark.realism(allocation_failure="AllocationFailed")
def test_jobs_status_shows_the_resize_error(target, emulators, capsys):
    emulators.batch.create_pool(pool_options("pool", nodes=1, slots=1))
    spec, _, _ = submit(emulators)
    assert main(["jobs", "status", spec.job_set, *target]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == [
        "pool pool: steady; nodes: none",
        "resize error: AllocationFailed: Desired number of nodes could not be allocated",
    ]
    assert "Azure had no room for the VM size" in lines[3]


def test_a_preparation_task_failing_on_every_node_fails_the_wait(emulators):
    emulators.batch.create_pool(pool_options("plain", nodes=1, slots=1))
    emulators.batch.wait_for_pool("plain", timeout=60)
    preparation = batch_models.BatchJobPreparationTask(
        command_line=py("import sys; sys.stderr.write('cannot install\\n'); sys.exit(4)")
    )
    emulators.batch.ensure_job("prep-job", "plain", "prep-job", timedelta(minutes=5), preparation)
    task = batch_models.BatchTaskCreateOptions(id="t", command_line=py("pass"))
    emulators.batch.add_tasks("prep-job", [task])
    started = time.monotonic()
    with pytest.raises(PoolError) as raised:
        emulators.batch.wait(["prep-job"], timeout=120, poll_interval=0.2)
    assert time.monotonic() - started < 15
    message = str(raised.value)
    assert message.startswith("the job preparation task that installs nodetask failed on every node of pool")
    assert "exit code 4" in message
    assert "stderr: cannot install" in message


def test_a_pool_still_allocating_or_working_is_not_a_problem(emulators):
    emulators.batch.create_pool(pool_options("plain", nodes=1, slots=1))
    emulators.batch.wait_for_pool("plain", timeout=60)
    health = pool_health(emulators.batch, "plain")
    assert (health.allocation_state, health.node_states, health.problem) == ("steady", {"idle": 1}, None)
    assert pool_health(emulators.batch, "missing").lines() == [
        "pool missing: does not exist (the job's tasks wait for it)"
    ]


@pytest.mark.realism(allocation_delay=30, allocation_failure="AllocationFailed")
def test_a_resize_in_progress_is_waited_for(emulators):
    emulators.batch.create_pool(pool_options("pool", nodes=1, slots=1))
    health = pool_health(emulators.batch, "pool")
    assert (health.allocation_state, health.resize_errors, health.problem) == ("resizing", [], None)


@pytest.mark.realism(allocation_failure="AccountCoreQuotaReached")
def test_an_autoscale_pools_resize_error_from_before_the_job_is_stale(emulators):
    """The next evaluation resizes the pool for the job's tasks: an older error may not hold."""
    options = pool_options("pool", nodes=0, slots=1)
    options.target_dedicated_nodes = None
    options.enable_auto_scale = True
    options.auto_scale_formula = "$TargetDedicatedNodes = 1;"
    emulators.batch.create_pool(options)
    assert pool_health(emulators.batch, "pool").problem is not None  # fresh: nothing submitted since
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert pool_health(emulators.batch, "pool", since=later).problem is None


def test_an_unusable_node_counts_once_batch_gives_up_on_it():
    now = datetime.now(UTC)
    unreachable = batch_models.BatchNode(state="unusable", state_transition_time=now)
    assert not _dead(unreachable)  # Batch tries to recover a node it cannot reach
    given_up = batch_models.BatchNode(
        state="unusable", state_transition_time=now - timedelta(seconds=UNUSABLE_GRACE)
    )
    assert _dead(given_up)
    broken = batch_models.BatchNode(
        state="unusable",
        state_transition_time=now,
        errors=[batch_models.BatchNodeError(code="DiskFull", message="The temporary disk is full")],
    )
    assert _dead(broken)
    assert _dead(batch_models.BatchNode(state="starttaskfailed", state_transition_time=now))
    assert not _dead(batch_models.BatchNode(state="waitingforstarttask", state_transition_time=now))


@pytest.mark.realism(allocation_failure="AccountCoreQuotaReached")
def test_a_caller_who_may_not_read_the_pool_still_gets_the_bounded_wait(emulators, mocker, caplog):
    # A job role without pool reads (an Entra ID caller; localbatch knows Shared Key only): injected.
    emulators.batch.create_pool(pool_options("pool", nodes=2, slots=1))
    _, job_set, inputs = submit(emulators)
    refused = BatchServiceError("reading pool pool failed (Forbidden): not authorized")
    reads = mocker.patch.object(type(emulators.batch), "pool", autospec=True, side_effect=refused)
    outputs = job_set.outputs(inputs, wait_timeout=3, poll_interval=0.5)
    assert outputs.state == "running"  # as before the pool checks: what is known, at the timeout
    assert reads.call_count == 1  # said once, then no more reads
    assert "the wait goes on without watching the pool" in caplog.text
