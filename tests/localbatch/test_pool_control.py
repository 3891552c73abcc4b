"""Changing a pool after it exists: PATCH and updateproperties, stopresize, removenodes, how
nodes leave (nodeDeallocationOption), and autoscale with formula evaluation (issue 12, point 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError

from infra.compute import autoscale_formula
from localbatch import LocalBatch, Realism
from tests.support.batch import make_job, make_pool, py, wait_for, wait_idle, wait_task_done

IMAGE = batch_models.VirtualMachineConfiguration(
    image_reference=batch_models.BatchVmImageReference(
        publisher="canonical", offer="ubuntu-24_04-lts", sku="server"
    ),
    node_agent_sku_id="batch.node.ubuntu 24.04",
)


def autoscale_pool(client: BatchClient, formula: str, pool_id: str = "pool", slots: int = 1) -> None:
    client.create_pool(
        batch_models.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="standard_d2s_v3",
            virtual_machine_configuration=IMAGE,
            task_slots_per_node=slots,
            enable_auto_scale=True,
            auto_scale_formula=formula,
            auto_scale_evaluation_interval=timedelta(minutes=5),
        )
    )


def code(exc: pytest.ExceptionInfo[HttpResponseError]) -> str | None:
    return exc.value.error.code if exc.value.error else None


def test_patch_changes_what_it_names_and_updateproperties_replaces_all(client):
    make_pool(client, nodes=0)
    start = batch_models.BatchStartTask(command_line="/bin/true")
    client.update_pool(
        "pool",
        batch_models.BatchPoolUpdateOptions(
            start_task=start, metadata=[batch_models.BatchMetadataItem(name="a", value="1")]
        ),
    )
    pool = client.get_pool("pool")
    assert pool.start_task is not None
    assert pool.start_task.command_line == "/bin/true"
    assert pool.start_task.wait_for_success is True  # the service's default
    assert [(m.name, m.value) for m in pool.metadata or []] == [("a", "1")]
    client.update_pool("pool", batch_models.BatchPoolUpdateOptions(metadata=[]))
    assert client.get_pool("pool").start_task is not None  # not named: kept
    client.replace_pool_properties(
        "pool",
        batch_models.BatchPoolReplaceOptions(application_package_references=[], metadata=[]),
    )
    assert client.get_pool("pool").start_task is None  # not given: removed


def test_a_patch_of_what_localbatch_cannot_change_is_refused_by_name(client):
    make_pool(client, nodes=0)
    with pytest.raises(HttpResponseError) as refused:
        client.update_pool("pool", batch_models.BatchPoolUpdateOptions(vm_size="standard_e2s_v3"))
    assert refused.value.status_code == 400
    assert "vmSize" in str(refused.value)


def test_stop_resize_leaves_the_nodes_not_yet_allocated_out(tmp_path):
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(allocation_delay=30)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client, nodes=2)
        assert client.get_pool("pool").allocation_state == "resizing"
        client.begin_stop_pool_resize("pool", polling_interval=1).result()
        pool = client.get_pool("pool")
        assert pool.allocation_state == "steady"
        assert pool.current_dedicated_nodes == 0
        assert [error.code for error in pool.resize_errors or []] == ["ResizeStopped"]


def test_remove_nodes_takes_those_nodes_and_lowers_the_target(client):
    make_pool(client, nodes=2)
    first, second = (node.id for node in wait_idle(client))
    client.begin_remove_nodes(
        "pool", batch_models.BatchNodeRemoveOptions(node_ids=[str(first)]), polling_interval=1
    ).result()
    assert [node.id for node in client.list_nodes("pool")] == [second]
    assert client.get_pool("pool").target_dedicated_nodes == 1
    with pytest.raises(HttpResponseError) as missing:
        client.begin_remove_nodes(
            "pool", batch_models.BatchNodeRemoveOptions(node_ids=["tvmps_nosuch_d"]), polling_interval=1
        ).result()
    assert missing.value.status_code == 404


@pytest.mark.parametrize(("option", "state", "result"), [("taskcompletion", "completed", "success")])
def test_a_node_leaving_after_task_completion_finishes_its_task(tmp_path, client, option, state, result):
    flag = tmp_path / "go"
    make_pool(client, nodes=1)
    wait_idle(client)
    make_job(client)
    wait_code = f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.05)"
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="t", command_line=py(wait_code)))
    wait_for(lambda: client.get_task("job", "t").state == "running")
    client.begin_resize_pool(
        "pool", batch_models.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option=option)
    )
    assert [node.state for node in client.list_nodes("pool")] == ["leavingpool"]
    flag.touch()
    task = wait_task_done(client, "job", "t")
    assert (task.state, task.execution_info.result if task.execution_info else None) == (state, result)
    wait_for(lambda: list(client.list_nodes("pool")) == [])


def test_a_node_leaving_with_terminate_ends_its_task(client):
    make_pool(client, nodes=1)
    wait_idle(client)
    make_job(client)
    client.create_task(
        "job", batch_models.BatchTaskCreateOptions(id="t", command_line=py("import time; time.sleep(60)"))
    )
    wait_for(lambda: client.get_task("job", "t").state == "running")
    client.begin_resize_pool(
        "pool",
        batch_models.BatchPoolResizeOptions(target_dedicated_nodes=0, node_deallocation_option="terminate"),
    )
    task = wait_task_done(client, "job", "t")
    assert task.execution_info is not None
    assert task.execution_info.result == "failure"
    assert list(client.list_nodes("pool")) == []


def test_an_autoscale_pool_takes_its_formulas_targets(client):
    autoscale_pool(client, "$TargetDedicatedNodes = 2;\n$NodeDeallocationOption = taskcompletion;")
    pool = client.get_pool("pool")
    assert pool.target_dedicated_nodes == 2
    assert pool.auto_scale_run is not None
    assert pool.auto_scale_run.results == (
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion"
    )
    wait_idle(client)
    run = client.evaluate_pool_auto_scale(
        "pool",
        batch_models.BatchPoolEvaluateAutoScaleOptions(
            auto_scale_formula="$TargetDedicatedNodes = 5; $x = 1"
        ),
    )
    assert (
        run.results
        == "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$x=1"
    )
    assert client.get_pool("pool").target_dedicated_nodes == 2  # evaluating changes nothing
    with pytest.raises(HttpResponseError) as by_hand:
        client.begin_resize_pool(
            "pool", batch_models.BatchPoolResizeOptions(target_dedicated_nodes=1)
        ).result()
    assert by_hand.value.status_code == 409
    with pytest.raises(HttpResponseError) as too_soon:
        client.enable_pool_auto_scale(
            "pool",
            batch_models.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1;"),
        )
    assert code(too_soon) == "AutoScaleTooManyRequestsToEnable"
    client.disable_pool_auto_scale("pool")
    pool = client.get_pool("pool")
    assert (pool.enable_auto_scale, pool.target_dedicated_nodes, pool.auto_scale_formula) == (False, 2, None)


@pytest.mark.parametrize(
    ("formula", "interval", "expected"),
    [
        ("$TargetDedicatedNodes = ;", timedelta(minutes=5), "AutoScalingFormulaSyntaxError"),
        ("$TargetDedicatedNodes = 1;", timedelta(minutes=1), "InvalidPropertyValue"),
        ("", timedelta(minutes=5), "InvalidAutoScalingSettings"),
    ],
)
def test_a_bad_formula_or_interval_is_refused_with_the_services_code(client, formula, interval, expected):
    with pytest.raises(HttpResponseError) as refused:
        client.create_pool(
            batch_models.BatchPoolCreateOptions(
                id="pool",
                vm_size="standard_d2s_v3",
                virtual_machine_configuration=IMAGE,
                enable_auto_scale=True,
                auto_scale_formula=formula,
                auto_scale_evaluation_interval=interval,
            )
        )
    assert (refused.value.status_code, code(refused)) == (400, expected)
    assert list(client.list_pools()) == []


def test_the_projects_formula_follows_pending_tasks_up_and_down(tmp_path):
    """infra/compute.py's formula, evaluated every 0.3 s instead of every 5 minutes."""
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, autoscale_period=0.3) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        autoscale_pool(client, autoscale_formula(3, 2), slots=2)
        assert client.get_pool("pool").target_dedicated_nodes == 0  # nothing pending
        make_job(client)
        tasks = [
            batch_models.BatchTaskCreateOptions(id=f"t{i}", command_line=py("import time; time.sleep(1)"))
            for i in range(10)
        ]
        client.create_tasks("job", tasks)
        wait_for(lambda: client.get_pool("pool").target_dedicated_nodes == 3, timeout=20)  # min(3, 5)
        for index in range(10):
            wait_task_done(client, "job", f"t{index}", timeout=60)
        wait_for(lambda: client.get_pool("pool").target_dedicated_nodes == 0, timeout=20)
        wait_for(lambda: list(client.list_nodes("pool")) == [], timeout=20)


def test_a_new_pool_of_a_deleted_ones_id_may_enable_autoscale_at_once(tmp_path):
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(delete_delay=0)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        enable = batch_models.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 0;")
        make_pool(client, nodes=0)
        client.enable_pool_auto_scale("pool", enable)
        client.begin_delete_pool("pool", polling_interval=1).result()
        make_pool(client, nodes=0)
        client.enable_pool_auto_scale("pool", enable)  # the 30 s rule is the old pool's
        assert client.get_pool("pool").enable_auto_scale is True
