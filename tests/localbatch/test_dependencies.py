"""Task dependencies (dependsOn) and exit conditions, as the service runs them, through azure-batch 15."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError

from localbatch import LocalBatch
from localbatch._exit_conditions import exit_actions
from tests.support.batch import make_job, make_pool, py, wait_for, wait_idle, wait_task_done

FAILS = "/bin/sh -c 'exit 3'"
#: How long a blocked task is watched to stay active (many scheduler passes at 0.05 s).
WATCH = 0.5


def gated(gate: Path) -> str:
    """A command line that runs until ``gate`` exists."""
    return py(f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.02)")


def task(
    task_id: str,
    command_line: str = "true",
    *,
    ids: list[str] | None = None,
    ranges: list[tuple[int, int]] | None = None,
    exit_conditions: batch_models.ExitConditions | None = None,
) -> batch_models.BatchTaskCreateOptions:
    depends_on = None
    if ids is not None or ranges is not None:
        depends_on = batch_models.BatchTaskDependencies(
            task_ids=ids,
            task_id_ranges=[batch_models.BatchTaskIdRange(start=s, end=e) for s, e in ranges or []] or None,
        )
    return batch_models.BatchTaskCreateOptions(
        id=task_id, command_line=command_line, depends_on=depends_on, exit_conditions=exit_conditions
    )


def default_options(**given: str) -> batch_models.ExitConditions:
    return batch_models.ExitConditions(default=batch_models.ExitOptions(**given))


def refused(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        call()
    return caught.value


def stays_active(client: BatchClient, task_id: str, job_id: str = "job") -> None:
    deadline = time.monotonic() + WATCH
    while time.monotonic() < deadline:
        waiting = client.get_task(job_id, task_id)
        assert waiting.state == "active", waiting.state
        assert waiting.node_info is None
        time.sleep(0.05)


@pytest.fixture
def pool(client: BatchClient) -> None:
    """One idle node with two slots: a parent and its dependent could run side by side."""
    make_pool(client, slots=2)
    wait_idle(client)


@pytest.fixture
def job(client: BatchClient, pool: None) -> None:
    make_job(client, uses_task_dependencies=True)


# -- waiting and running ---------------------------------------------------------


def test_a_dependent_stays_active_until_its_parent_completes_then_runs(client, job, tmp_path):
    gate = tmp_path / "gate"
    client.create_task("job", task("parent", gated(gate)))
    client.create_task("job", task("child", ids=["parent"]))
    wait_for(lambda: client.get_task("job", "parent").state == "running")
    stays_active(client, "child")
    gate.touch()
    parent = wait_task_done(client, "job", "parent")
    child = wait_task_done(client, "job", "child")
    assert child.execution_info.result == "success"
    assert child.execution_info.start_time >= parent.execution_info.end_time


def test_a_failed_parent_blocks_its_dependents_by_default(client, job):
    client.create_task("job", task("parent", FAILS))
    client.create_task("job", task("child", ids=["parent"]))
    assert wait_task_done(client, "job", "parent").execution_info.exit_code == 3
    stays_active(client, "child")
    assert client.get_job("job").state == "active"  # onTaskFailure noaction: no job action


@pytest.mark.parametrize(
    "conditions",
    [
        default_options(dependency_action="satisfy"),
        batch_models.ExitConditions(
            exit_codes=[
                batch_models.ExitCodeMapping(
                    code=3, exit_options=batch_models.ExitOptions(dependency_action="satisfy")
                )
            ]
        ),
        batch_models.ExitConditions(
            exit_code_ranges=[
                batch_models.ExitCodeRangeMapping(
                    start=2, end=4, exit_options=batch_models.ExitOptions(dependency_action="satisfy")
                )
            ],
            default=batch_models.ExitOptions(dependency_action="block"),
        ),
    ],
    ids=["default", "exit-code", "exit-code-range"],
)
def test_a_failure_whose_exit_options_satisfy_lets_dependents_run(client, job, conditions):
    client.create_task("job", task("parent", FAILS, exit_conditions=conditions))
    client.create_task("job", task("child", ids=["parent"]))
    assert wait_task_done(client, "job", "parent").execution_info.result == "failure"
    assert wait_task_done(client, "job", "child").execution_info.result == "success"


def test_a_task_that_could_not_start_takes_its_pre_processing_options(client, job):
    conditions = batch_models.ExitConditions(
        pre_processing_error=batch_models.ExitOptions(dependency_action="satisfy"),
        default=batch_models.ExitOptions(dependency_action="block"),
    )
    client.create_task("job", task("parent", "/nonexistent/program", exit_conditions=conditions))
    client.create_task("job", task("child", ids=["parent"]))
    parent = wait_task_done(client, "job", "parent")
    assert parent.execution_info.failure_info.code == "CommandProgramNotFound"
    assert wait_task_done(client, "job", "child").execution_info.result == "success"


def test_a_success_mapped_to_block_blocks(client, job):
    block = batch_models.ExitOptions(dependency_action="block")
    conditions = batch_models.ExitConditions(
        exit_codes=[batch_models.ExitCodeMapping(code=0, exit_options=block)]
    )
    client.create_task("job", task("parent", exit_conditions=conditions))
    client.create_task("job", task("child", ids=["parent"]))
    assert wait_task_done(client, "job", "parent").execution_info.result == "success"
    stays_active(client, "child")


def test_a_dependency_on_a_task_not_added_yet_waits_for_it(client, job):
    client.create_task("job", task("child", ids=["later"]))
    stays_active(client, "child")
    client.create_task("job", task("later"))
    assert wait_task_done(client, "job", "child").execution_info.result == "success"


def test_ranges_take_the_tasks_with_integer_ids_in_them(client, job, tmp_path):
    gate = tmp_path / "gate"
    client.create_task("job", task("other", gated(gate)))  # not an integer: no range holds it
    for task_id in ("1", "02"):
        client.create_task("job", task(task_id))
    client.create_task("job", task("3", FAILS, exit_conditions=default_options(dependency_action="satisfy")))
    client.create_task("job", task("child", ranges=[(1, 3)]))
    child = wait_task_done(client, "job", "child")
    assert child.execution_info.result == "success"
    assert client.get_task("job", "other").state == "running"
    gate.touch()


def test_a_range_waits_for_a_task_in_it_that_is_blocked(client, job):
    client.create_task("job", task("1"))
    client.create_task("job", task("5", FAILS))
    client.create_task("job", task("child", ranges=[(1, 10)]))
    wait_task_done(client, "job", "5")
    stays_active(client, "child")


def test_the_tasks_of_one_collection_exist_before_a_range_is_settled(client, job):
    tasks = [task("child", ranges=[(1, 2)]), task("1", "/bin/sh -c 'sleep 0.2'"), task("2")]
    results = client.create_task_collection("job", batch_models.BatchTaskGroup(task_values=tasks))
    assert [result.status for result in results.result_values] == ["success"] * 3
    child = wait_task_done(client, "job", "child")
    first = client.get_task("job", "1")
    assert child.execution_info.start_time >= first.execution_info.end_time


def test_a_reactivated_parent_that_succeeds_releases_its_dependent(client, job, tmp_path):
    marker = tmp_path / "tried"
    fails_once = py(
        f"import os, sys\np = {str(marker)!r}\ntried = os.path.exists(p)\nopen(p, 'a').close()\n"
        "sys.exit(0 if tried else 3)"
    )
    client.create_task("job", task("parent", fails_once))
    client.create_task("job", task("child", ids=["parent"]))
    wait_task_done(client, "job", "parent")
    stays_active(client, "child")
    client.reactivate_task("job", "parent")
    assert wait_task_done(client, "job", "child").execution_info.result == "success"


def test_dependents_wait_across_a_restart(tmp_path):
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05) as first:
        client = BatchClient(first.endpoint, first.credential)
        make_pool(client)
        wait_idle(client)
        make_job(client, uses_task_dependencies=True)
        client.create_task("job", task("parent", FAILS))
        client.create_task("job", task("child", ids=["parent"]))
        client.create_task("job", task("late", ids=["later"]))
        wait_task_done(client, "job", "parent")
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05) as second:
        client = BatchClient(second.endpoint, second.credential)
        wait_idle(client)
        stays_active(client, "child")
        client.create_task("job", task("later"))
        assert wait_task_done(client, "job", "late").execution_info.result == "success"
        assert client.get_task("job", "child").state == "active"


# -- job actions -----------------------------------------------------------------


def test_job_action_terminate_ends_the_job_and_leaves_its_waiting_tasks_active(client, pool):
    make_job(client, uses_task_dependencies=True, task_failure_mode="performexitoptionsjobaction")
    client.create_task("job", task("waiting", ids=["never"]))
    client.create_task("job", task("fails", FAILS))  # default for a failure: terminate
    job = wait_for(lambda: (j := client.get_job("job")).state == "completed" and j)
    assert job.execution_info.termination_reason == "TaskFailed"
    assert client.get_task("job", "waiting").state == "active"  # as Terminate Job leaves them


def test_job_action_none_and_disable(client, pool):
    make_job(client, uses_task_dependencies=True, task_failure_mode="performexitoptionsjobaction")
    client.create_task("job", task("tolerated", FAILS, exit_conditions=default_options(job_action="none")))
    wait_task_done(client, "job", "tolerated")
    client.create_task("job", task("ok"))
    wait_task_done(client, "job", "ok")
    assert client.get_job("job").state == "active"
    client.create_task("job", task("disables", FAILS, exit_conditions=default_options(job_action="disable")))
    wait_for(lambda: client.get_job("job").state == "disabled")


def test_a_job_that_does_not_perform_exit_options_ignores_failures(client, pool):
    make_job(client)  # onTaskFailure noaction
    client.create_task("job", task("fails", FAILS))
    wait_task_done(client, "job", "fails")
    assert client.get_job("job").state == "active"


# -- refusals ----------------------------------------------------------------------


def test_a_job_without_task_dependencies_refuses_dependents(client):
    make_pool(client, nodes=0)
    make_job(client)
    error = refused(lambda: client.create_task("job", task("child", ids=["parent"])))
    assert (error.status_code, error.error.code) == (400, "TaskDependenciesNotSpecifiedOnJob")
    group = batch_models.BatchTaskGroup(task_values=[task("child", ids=["parent"]), task("plain")])
    by_id = {result.task_id: result for result in client.create_task_collection("job", group).result_values}
    assert by_id["child"].status == "clienterror"
    assert by_id["child"].error.code == "TaskDependenciesNotSpecifiedOnJob"
    assert by_id["plain"].status == "success"
    assert [t.id for t in client.list_tasks("job")] == ["plain"]


@pytest.mark.parametrize(
    ("options", "code", "property_name"),
    [
        (task("t", ids=["x" * 64] * 1001), "TaskDependencyListTooLong", None),
        (task("t", ranges=[(5, 1)]), "InvalidPropertyValue", "dependsOn.taskIdRanges[0]"),
        (
            task("t", exit_conditions=default_options(job_action="terminate")),
            "InvalidPropertyValue",
            "exitConditions.default.jobAction",
        ),
        (
            task("t", exit_conditions=default_options(dependency_action="sometimes")),
            "InvalidPropertyValue",
            "exitConditions.default.dependencyAction",
        ),
    ],
    ids=["too-many-id-characters", "range-end-before-start", "job-action-without-exit-options", "bad-action"],
)
def test_invalid_dependencies_and_exit_conditions_are_refused(client, options, code, property_name):
    make_pool(client, nodes=0)
    make_job(client, uses_task_dependencies=True)  # onTaskFailure noaction
    error = refused(lambda: client.create_task("job", options))
    assert (error.status_code, error.error.code) == (400, code)
    if property_name is not None:
        assert {"key": "PropertyName", "value": property_name} in error.response.json()["values"]
    assert list(client.list_tasks("job")) == []


def test_a_dependency_action_needs_a_job_with_task_dependencies(client):
    make_pool(client, nodes=0)
    make_job(client)
    options = task("t", exit_conditions=default_options(dependency_action="satisfy"))
    error = refused(lambda: client.create_task("job", options))
    assert (error.status_code, error.error.code) == (400, "InvalidPropertyValue")


def test_id_characters_up_to_the_limit_are_taken(client):
    make_pool(client, nodes=0)
    make_job(client, uses_task_dependencies=True)
    client.create_task("job", task("t", ids=["x" * 64] * 1000))  # 64,000 characters
    assert len(client.get_task("job", "t").depends_on.task_ids) == 1000


# -- what list and get return -------------------------------------------------------


def test_list_and_get_return_depends_on_and_exit_conditions_as_given(client):
    make_pool(client, nodes=0)
    make_job(client, uses_task_dependencies=True, task_failure_mode="performexitoptionsjobaction")
    conditions = batch_models.ExitConditions(
        exit_codes=[
            batch_models.ExitCodeMapping(code=3, exit_options=batch_models.ExitOptions(job_action="none"))
        ],
        exit_code_ranges=[
            batch_models.ExitCodeRangeMapping(
                start=4, end=9, exit_options=batch_models.ExitOptions(dependency_action="satisfy")
            )
        ],
        pre_processing_error=batch_models.ExitOptions(job_action="terminate", dependency_action="block"),
        file_upload_error=batch_models.ExitOptions(job_action="disable"),
        default=batch_models.ExitOptions(job_action="none", dependency_action="satisfy"),
    )
    client.create_task("job", task("t", ids=["a", "b"], ranges=[(1, 10)], exit_conditions=conditions))
    listed = next(iter(client.list_tasks("job")))
    got = client.get_task("job", "t")
    for found in (listed, got):
        assert found.depends_on.task_ids == ["a", "b"]
        assert [(r.start, r.end) for r in found.depends_on.task_id_ranges] == [(1, 10)]
        assert found.exit_conditions.as_dict() == conditions.as_dict()
    assert got.state == "active"


# -- which exit options apply --------------------------------------------------------

CONDITIONS = {
    "exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none"}}],
    "exitCodeRanges": [{"start": 2, "end": 9, "exitOptions": {"dependencyAction": "satisfy"}}],
    "preProcessingError": {"jobAction": "disable"},
    "fileUploadError": {"dependencyAction": "satisfy", "jobAction": "none"},
}


def failure(code: str) -> dict[str, str]:
    return {"category": "usererror", "code": code, "message": "m"}


@pytest.mark.parametrize(
    ("execution", "conditions", "expected"),
    [
        ({"exitCode": 0, "result": "success"}, {}, ("none", "satisfy")),
        (
            {"exitCode": 1, "result": "failure", "failureInfo": failure("FailureExitCode")},
            {},
            ("terminate", "block"),
        ),
        # The exact code first (what it leaves out: a failure's defaults), then a range.
        (
            {"exitCode": 3, "result": "failure", "failureInfo": failure("FailureExitCode")},
            CONDITIONS,
            ("none", "block"),
        ),
        (
            {"exitCode": 4, "result": "failure", "failureInfo": failure("FailureExitCode")},
            CONDITIONS,
            ("terminate", "satisfy"),
        ),
        # Could not start: preProcessingError; an upload after an unmapped code: fileUploadError.
        (
            {"result": "failure", "failureInfo": failure("ResourceFileDownloadFailed")},
            CONDITIONS,
            ("disable", "block"),
        ),
        (
            {"exitCode": 0, "result": "failure", "failureInfo": failure("FileUploadMiscError")},
            CONDITIONS,
            ("none", "satisfy"),
        ),
        # A mapped code takes precedence over the upload's error.
        (
            {"exitCode": 3, "result": "failure", "failureInfo": failure("FileUploadMiscError")},
            CONDITIONS,
            ("none", "block"),
        ),
        # Neither given: default.
        (
            {"result": "failure", "failureInfo": failure("CommandProgramNotFound")},
            {"default": {"dependencyAction": "satisfy"}},
            ("terminate", "satisfy"),
        ),
        # Terminated: no exit code explains it.
        (
            {"exitCode": 3, "result": "failure", "failureInfo": failure("TaskEnded")},
            CONDITIONS,
            ("terminate", "block"),
        ),
        # Success keeps its defaults unless its code is listed.
        (
            {"exitCode": 0, "result": "success"},
            {"default": {"dependencyAction": "block"}},
            ("none", "satisfy"),
        ),
    ],
)
def test_the_exit_options_that_apply(execution, conditions, expected):
    assert tuple(exit_actions({"exitConditions": conditions, "executionInfo": execution})) == expected
