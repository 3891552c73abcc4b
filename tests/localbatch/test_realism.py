"""Each part of the realism profile on its own (issue 12, point 11); the main job under all of
them together is ``tests/faults/test_realism.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as batch_models

from localbatch import LocalBatch, Realism
from localbatch.__main__ import _realism, build_parser, main
from tests.support.batch import make_pool, py, signed_headers, wait_for

API = "api-version=2025-06-01"


def serve(tmp_path: Path, realism: Realism) -> LocalBatch:
    return LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=realism)


def state(node: batch_models.BatchNode) -> str:
    return batch_models.BatchNodeState(node.state).value if node.state else ""


def node_states(client: BatchClient, pool_id: str = "pool") -> list[str]:
    return [state(node) for node in client.list_nodes(pool_id)]


def test_new_nodes_wait_for_their_allocation(tmp_path):
    with serve(tmp_path, Realism(allocation_delay=1.5)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client, nodes=2)
        assert client.get_pool("pool").allocation_state == "resizing"
        assert node_states(client) == ["starting", "starting"]
        wait_for(lambda: node_states(client) == ["idle", "idle"], timeout=20)
        assert client.get_pool("pool").allocation_state == "steady"


def test_an_allocation_failure_ends_the_resize_steady_with_its_error_and_no_node(tmp_path):
    with serve(tmp_path, Realism(allocation_failure="AccountCoreQuotaReached")) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client, nodes=2)
        pool = client.get_pool("pool")
        assert (pool.allocation_state, pool.current_dedicated_nodes, node_states(client)) == ("steady", 0, [])
        assert [(e.code, e.message) for e in pool.resize_errors or []] == [
            ("AccountCoreQuotaReached", "The specified account has reached core quota")
        ]


def test_a_failing_allocation_is_resizing_for_the_allocation_delay_first(tmp_path):
    with serve(tmp_path, Realism(allocation_delay=1.0, allocation_failure="AllocationFailed")) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client, nodes=1)
        pool = client.get_pool("pool")
        assert (pool.allocation_state, pool.resize_errors, node_states(client)) == ("resizing", None, [])
        wait_for(lambda: client.get_pool("pool").allocation_state == "steady", timeout=20)
        (error,) = client.get_pool("pool").resize_errors or []
        assert error.code == "AllocationFailed"
        assert node_states(client) == []


def test_the_start_task_waits_for_its_latency(tmp_path):
    marker = tmp_path / "started"
    start_task = batch_models.BatchStartTask(
        command_line=py(f"open({str(marker)!r}, 'w').close()"), wait_for_success=True
    )
    with serve(tmp_path, Realism(start_task_latency=1.5)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        make_pool(client, start_task=start_task)
        assert node_states(client) == ["waitingforstarttask"]
        assert not marker.exists()
        wait_for(lambda: node_states(client) == ["idle"], timeout=20)
        assert marker.exists()


def raw(batch: LocalBatch, method: str, path: str, body: object | None = None) -> requests.Response:
    data = json.dumps(body).encode() if body is not None else b""
    extra = {"Content-Type": "application/json; odata=minimalmetadata", "Content-Length": str(len(data))}
    headers = signed_headers(batch, method, path, API, extra if body is not None else None)
    return requests.request(
        method, f"{batch.endpoint}{path}?{API}", data=data or None, headers=headers, timeout=10
    )


def test_transient_errors_come_at_their_rate_and_clients_retry_them(tmp_path):
    with serve(tmp_path, Realism(error_rate=0.3, seed=5)) as batch:
        answers = [raw(batch, "GET", "/pools") for _ in range(60)]
        statuses = {response.status_code for response in answers}
        assert statuses == {200, 500, 503}
        errors = [r.json()["code"] for r in answers if r.status_code != 200]
        assert set(errors) == {"InternalServerError", "ServerBusy"}
        assert batch.events["transient error"] == len(errors)
        # The SDK's retries carry a client through (the draws are seeded: no flakes).
        client = BatchClient(batch.endpoint, batch.credential)
        for _ in range(10):
            assert list(client.list_pools()) == []
        assert batch.events["transient error"] > len(errors)


def test_some_changes_are_made_though_the_answer_says_they_failed(tmp_path):
    with serve(tmp_path, Realism(error_rate=0.6, seed=2)) as batch:
        failed = []
        for index in range(40):
            body = {"id": f"job{index}", "poolInfo": {"poolId": "pool"}}
            if raw(batch, "POST", "/jobs", body).status_code >= 500:
                failed.append(f"job{index}")
        made = set(batch.service.list_jobs(lambda docs: [doc["id"] for doc in docs]))
        lost = [job_id for job_id in failed if job_id in made]
        refused = [job_id for job_id in failed if job_id not in made]
        assert lost
        assert refused
        assert batch.events["lost answer"] == len(lost)


def test_spot_nodes_are_preempted_and_come_back_dedicated_ones_are_not(tmp_path):
    with serve(tmp_path, Realism(preemption_rate=120.0, seed=1)) as batch:
        client = BatchClient(batch.endpoint, batch.credential)
        client.create_pool(
            batch_models.BatchPoolCreateOptions(
                id="pool",
                vm_size="standard_d2s_v3",
                virtual_machine_configuration=batch_models.VirtualMachineConfiguration(
                    image_reference=batch_models.BatchVmImageReference(
                        publisher="canonical", offer="ubuntu-24_04-lts", sku="server"
                    ),
                    node_agent_sku_id="batch.node.ubuntu 24.04",
                ),
                target_dedicated_nodes=1,
                target_low_priority_nodes=1,
            )
        )
        seen: set[tuple[bool, str]] = set()

        def preempted_and_back() -> bool:
            for node in client.list_nodes("pool"):
                seen.add((bool(node.is_dedicated), state(node)))
            return batch.events.get("preemption", 0) >= 2 and (False, "idle") in seen

        wait_for(preempted_and_back, timeout=30)
        assert (True, "preempted") not in seen
        assert (True, "idle") in seen


def test_serve_takes_the_profile_whole_or_in_parts():
    whole = _realism(
        build_parser().parse_args(["serve", "--data-dir", "d", "--realism", "--error-rate", "0"])
    )
    assert whole == Realism.azure(error_rate=0)
    part = _realism(build_parser().parse_args(["serve", "--data-dir", "d", "--allocation-delay", "4"]))
    assert part == Realism(allocation_delay=4)


def test_serve_takes_an_allocation_failure_by_its_resize_error_code(tmp_path, capsys):
    args = ["serve", "--data-dir", "d", "--allocation-failure", "AccountCoreQuotaReached"]
    assert _realism(build_parser().parse_args(args)) == Realism(allocation_failure="AccountCoreQuotaReached")
    with pytest.raises(SystemExit):
        main(["serve", "--data-dir", str(tmp_path / "lb"), "--allocation-failure", "NoQuota"])
    assert "invalid choice: 'NoQuota'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="allocation_failure is one of AccountCoreQuotaReached"):
        Realism(allocation_failure="NoQuota")


def test_serve_refuses_an_impossible_rate_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--data-dir", str(tmp_path / "lb"), "--error-rate", "1.5"])
    assert exited.value.code == 2
    assert "--error-rate: must be a fraction below 1 (0.05 is 5%), not '1.5'" in capsys.readouterr().err
    assert not (tmp_path / "lb").exists()
