"""The reduce's plan, without services: P, task ids, dependencies, exit options, gates, stages."""

from __future__ import annotations

import shlex
from datetime import timedelta

import pytest
from azure.batch import models as batch_models

import nodetask
from batchwords._reduce import (
    DEPENDS_CHARS,
    PARTITION_BYTES,
    SUMMARY_TASK,
    gate_groups,
    in_reduce_stage,
    is_reduce_task,
    partitions_for,
    reduce_stages,
)
from batchwords._storage import BlobInfo
from batchwords._tasks import TaskLimits, TaskPlan, build_task, input_id_for
from batchwords._types import TaskCounts

MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # of b""


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, 1),
        (1, 1),
        (PARTITION_BYTES, 1),
        (PARTITION_BYTES + 1, 2),
        (3 * PARTITION_BYTES, 4),
        (5 * PARTITION_BYTES, 8),
        (1000 * PARTITION_BYTES, nodetask.MAX_PARTITIONS),
    ],
)
def test_partitions_grow_with_the_inputs_bytes_as_powers_of_two(total, expected):
    assert partitions_for(total) == expected


def _stages(map_ids: list[str], partitions: int = 2) -> list[list[batch_models.BatchTaskCreateOptions]]:
    return reduce_stages(
        job_set="SET",
        job_id="SET-1",
        map_ids=map_ids,
        partitions=partitions,
        container_url="https://acct.blob.core.windows.net/output",
        write_sas="sig=WRITE",
        read_sas="sig=READ",
        limits=TaskLimits(),
        command='"$AZ_BATCH_NODE_SHARED_DIR/nodetask"',
    )


def test_the_reduce_depends_on_every_map_task_and_the_summary_on_every_reduce():
    reducers, (summary,) = _stages(["a-1", "b-2"], partitions=2)
    assert [task.id for task in reducers] == ["_reduce-00000-of-00002", "_reduce-00001-of-00002"]
    for partition, task in enumerate(reducers):
        assert task.depends_on.task_ids == ["a-1", "b-2"]
        words = shlex.split(shlex.split(task.command_line)[2])
        assert words[2:] == [
            "merge",
            "--manifest",
            "SET/jobs/SET-1/manifest.json",
            "--partition",
            str(partition),
            "--container-url",
            "https://acct.blob.core.windows.net/output",
            "--quiet",
        ]
    assert summary.id == SUMMARY_TASK
    assert summary.depends_on.task_ids == [task.id for task in reducers]
    assert "--summary" in summary.command_line


def test_the_sas_travel_in_the_environment_never_on_the_command_line():
    reducers, (summary,) = _stages(["a-1"])
    for task in [*reducers, summary]:
        assert "sig=" not in task.command_line
        env = {setting.name: setting.value for setting in task.environment_settings}
        assert env == {nodetask.SAS_ENV: "sig=WRITE", nodetask.READ_SAS_ENV: "sig=READ"}


def test_a_failed_reduce_ends_the_job_and_a_failed_map_task_does_not_hold_up_the_reduce():
    reducers, (summary,) = _stages(["a-1"])
    for task in [*reducers, summary]:
        for options in (task.exit_conditions.default, task.exit_conditions.pre_processing_error):
            assert (options.job_action, options.dependency_action) == ("terminate", "block")
    blob = BlobInfo("in/a.txt", 1, MD5, "https://x/in/a.txt")
    plan = TaskPlan(input_id_for(blob.name, blob.md5), ((input_id_for(blob.name, blob.md5), blob),))
    mapped = build_task(
        plan,
        input_urls={blob.name: "https://x/in/a.txt?sig=READ"},
        output_container_url="https://x/output",
        output_sas="sig=WRITE",
        job_set="SET",
        numwords=5,
        partitions=4,
        limits=TaskLimits(max_wall_clock=timedelta(minutes=5)),
    )
    conditions = mapped.exit_conditions
    for options in (conditions.default, conditions.pre_processing_error, conditions.file_upload_error):
        assert (options.job_action, options.dependency_action) == ("none", "satisfy")
    words = shlex.split(shlex.split(mapped.command_line)[2])
    assert words[words.index("--task-output") + 1] == f"SET/tasks/{plan.task_id}/"
    assert words[words.index("--partitions") + 1] == "4"
    assert words[words.index("--input") + 2] == plan.task_id  # the input's id names its rows


def test_map_task_ids_never_look_like_the_reduces():
    for name in ("_reduce-00000-of-00001", "_summary", "__x", "-_gate-00001"):
        assert not is_reduce_task(input_id_for(name, MD5))


def test_too_many_map_tasks_for_one_dependency_list_go_through_gates():
    map_ids = [f"input-{index:05d}-{'a' * 50}" for index in range(3000)]  # ~190,000 characters
    gates, reducers, (summary,) = _stages(map_ids)
    parents = [list(gate.depends_on.task_ids or []) for gate in gates if gate.depends_on is not None]
    assert len(parents) == len(gates)
    assert all(sum(len(task_id) for task_id in group) <= DEPENDS_CHARS for group in parents)
    assert [task_id for group in parents for task_id in group] == map_ids
    assert all(gate.command_line == "/bin/true" for gate in gates)
    assert all(gate.exit_conditions.default.dependency_action == "satisfy" for gate in gates)
    for task in reducers:
        assert task.depends_on.task_ids == [gate.id for gate in gates]
    assert not in_reduce_stage(gates[0].id)
    assert in_reduce_stage(summary.id)


def test_gate_groups_keep_order_and_fill_up_to_the_limit():
    groups = gate_groups(["x" * 40_000, "y" * 20_000, "z" * 1])
    assert groups == [["x" * 40_000, "y" * 20_000], ["z"]]


def test_a_reduce_only_job_has_no_dependencies_for_its_reduce():
    reducers, _ = _stages([], partitions=1)
    assert reducers[0].depends_on is None


@pytest.mark.parametrize(
    ("counts", "maps", "reduce"),
    [
        (TaskCounts(active=3, running=2, completed=5), (0, 2, 5), (3, 0, 0)),  # mapping
        (TaskCounts(active=2, running=1, completed=7), (0, 0, 7), (2, 1, 0)),  # reducing
        (TaskCounts(completed=10, succeeded=9, failed=1), (0, 0, 7), (0, 0, 3)),  # done
    ],
)
def test_task_counts_split_into_the_map_and_the_reduce_stage(counts, maps, reduce):
    staged = counts.with_reduce(3)
    assert (staged.map.active, staged.map.running, staged.map.completed) == maps
    assert (staged.reduce.active, staged.reduce.running, staged.reduce.completed) == reduce
    assert staged.as_dict() == counts.as_dict()  # the stack output keeps its shape
