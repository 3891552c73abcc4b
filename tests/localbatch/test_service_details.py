"""What the service answers besides the body: create headers, one Date, paging limits, no host
paths, absolute node paths, numbers as strings, deletes that take time (issue 12, points 2, 3, 6,
7 and 8)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as batch_models

from localbatch import LocalBatch, Realism
from tests.support.batch import make_job, make_pool, py, signed_headers, wait_for, wait_idle, wait_task_done

API = "api-version=2025-06-01"


def post(localbatch: LocalBatch, path: str, body: Mapping[str, object]) -> requests.Response:
    data = json.dumps(body).encode()
    extra = {"Content-Type": "application/json; odata=minimalmetadata", "Content-Length": str(len(data))}
    headers = signed_headers(localbatch, "POST", path, API, extra)
    return requests.post(f"{localbatch.endpoint}{path}?{API}", data=data, headers=headers, timeout=10)


def get(localbatch: LocalBatch, path: str, query: str = API) -> requests.Response:
    headers = signed_headers(localbatch, "GET", path, query)
    return requests.get(f"{localbatch.endpoint}{path}?{query}", headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/pools",
            {
                "id": "p1",
                "vmSize": "standard_d2s_v3",
                "virtualMachineConfiguration": {
                    "imageReference": {"publisher": "canonical"},
                    "nodeAgentSKUId": "batch.node.ubuntu 24.04",
                },
            },
        ),
        ("/jobs", {"id": "j1", "poolInfo": {"poolId": "p1"}}),
    ],
)
def test_a_create_names_the_new_entity_with_its_etag(localbatch, path, body):
    response = post(localbatch, path, body)
    assert response.status_code == 201
    entity = f"{localbatch.endpoint}{path}/{body['id']}"
    assert response.headers["DataServiceId"] == response.headers["Location"] == entity
    assert response.headers["ETag"]
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert get(localbatch, f"{path}/{body['id']}").headers["ETag"] == response.headers["ETag"]


def test_one_date_header(localbatch):
    response = get(localbatch, "/pools")
    assert response.status_code == 200
    assert len(response.raw.headers.getlist("Date")) == 1


@pytest.mark.parametrize("value", ["0", "abc", "1001", "-1"])
def test_maxresults_out_of_range_is_refused(localbatch, value):
    response = get(localbatch, "/pools", f"{API}&maxresults={value}")
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidQueryParameterValue"
    assert "maxresults" in response.json()["message"]["value"]


def test_paging_one_by_one_ends(localbatch, client):
    make_pool(client)
    for job_id in ("a", "b", "c"):
        make_job(client, job_id)
    seen, query = [], f"{API}&maxresults=1"
    while True:
        page = get(localbatch, "/jobs", query).json()
        seen += [job["id"] for job in page["value"]]
        if "odata.nextLink" not in page:
            break
        query = page["odata.nextLink"].split("?", 1)[1]
    assert seen == ["a", "b", "c"]


def test_no_host_path_in_a_task_and_absolute_node_paths_from_a_relative_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with LocalBatch(Path("relative-data"), scheduler_interval=0.05) as localbatch:
        client = BatchClient(localbatch.endpoint, localbatch.credential)
        make_pool(client)
        wait_idle(client)
        make_job(client)
        code = "import os, json; print(json.dumps({k: os.environ[k] for k in os.environ if 'AZ_BATCH' in k}))"
        client.create_task("job", batch_models.BatchTaskCreateOptions(id="t", command_line=py(code)))
        task = wait_task_done(client, "job", "t")
        assert task.execution_info.result == "success"
        raw = get(localbatch, "/jobs/job/tasks/t").json()
        assert "taskRootDirectoryPath" not in raw["nodeInfo"]
        assert str(tmp_path) not in json.dumps(raw)
        variables = json.loads(b"".join(client.download_task_file("job", "t", "stdout.txt")))
        paths = {k: v for k, v in variables.items() if k.endswith("_DIR")}
        assert paths
        assert all(os.path.isabs(v) for v in paths.values()), paths


def test_integers_sent_as_strings_are_taken_as_the_cli_sends_them(localbatch):
    pool = {
        "id": "cli-pool",
        "vmSize": "standard_d2s_v3",
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "canonical"},
            "nodeAgentSKUId": "batch.node.ubuntu 24.04",
        },
        "targetDedicatedNodes": "1",
        "taskSlotsPerNode": "2",
        "startTask": {"commandLine": "true", "maxTaskRetryCount": "1"},
    }
    assert post(localbatch, "/pools", pool).status_code == 201
    stored = get(localbatch, "/pools/cli-pool").json()
    assert (stored["targetDedicatedNodes"], stored["taskSlotsPerNode"]) == (1, 2)
    assert stored["startTask"]["maxTaskRetryCount"] == 1
    job = {
        "id": "cli-job",
        "poolInfo": {"poolId": "cli-pool"},
        "priority": "5",
        "constraints": {"maxTaskRetryCount": "2"},
    }
    assert post(localbatch, "/jobs", job).status_code == 201
    stored = get(localbatch, "/jobs/cli-job").json()
    assert (stored["priority"], stored["constraints"]["maxTaskRetryCount"]) == (5, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "high"), ("priority", 1001), ("priority", "1.5"), ("maxParallelTasks", 0)],
)
def test_numbers_that_are_not_are_refused_not_stored(localbatch, field, value):
    response = post(localbatch, "/jobs", {"id": "bad", "poolInfo": {"poolId": "p"}, field: value})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidPropertyValue"
    assert get(localbatch, "/jobs/bad").status_code == 404


def test_a_deleted_job_is_deleting_for_a_while_then_gone(localbatch, client):
    make_pool(client)
    make_job(client)
    assert requests_delete(localbatch, "/jobs/job").status_code == 202
    assert get(localbatch, "/jobs/job").json()["state"] == "deleting"
    again = requests_delete(localbatch, "/jobs/job")
    assert (again.status_code, again.json()["code"]) == (409, "JobBeingDeleted")
    recreate = post(localbatch, "/jobs", {"id": "job", "poolInfo": {"poolId": "pool"}})
    assert (recreate.status_code, recreate.json()["code"]) == (409, "JobBeingDeleted")
    wait_for(lambda: get(localbatch, "/jobs/job").status_code == 404, timeout=10)
    assert post(localbatch, "/jobs", {"id": "job", "poolInfo": {"poolId": "pool"}}).status_code == 201


def test_a_deleted_pool_is_deleting_for_a_while_then_gone(localbatch, client):
    make_pool(client, nodes=1)
    wait_idle(client)
    assert requests_delete(localbatch, "/pools/pool").status_code == 202
    pool = get(localbatch, "/pools/pool").json()
    assert (pool["state"], pool["currentDedicatedNodes"]) == ("deleting", 0)
    again = requests_delete(localbatch, "/pools/pool")
    assert (again.status_code, again.json()["code"]) == (409, "PoolBeingDeleted")
    wait_for(lambda: get(localbatch, "/pools/pool").status_code == 404, timeout=10)


def test_a_deletion_the_service_did_not_finish_ends_at_its_next_start(tmp_path):
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(delete_delay=3600)) as first:
        client = BatchClient(first.endpoint, first.credential)
        make_pool(client)
        make_job(client)
        assert requests_delete(first, "/jobs/job").status_code == 202
    with LocalBatch(tmp_path / "lb", scheduler_interval=0.05, realism=Realism(delete_delay=0)) as second:
        wait_for(lambda: get(second, "/jobs/job").status_code == 404, timeout=10)


def requests_delete(localbatch: LocalBatch, path: str) -> requests.Response:
    headers = signed_headers(localbatch, "DELETE", path, API)
    return requests.delete(f"{localbatch.endpoint}{path}?{API}", headers=headers, timeout=10)


def send(localbatch: LocalBatch, method: str, path: str, **headers: str) -> requests.Response:
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    if method in ("DELETE", "PATCH"):
        extra["Content-Length"] = "0" if method == "DELETE" else extra.get("Content-Length", "0")
    signed = signed_headers(localbatch, method, path, API, extra)
    return requests.request(method, f"{localbatch.endpoint}{path}?{API}", headers=signed, timeout=10)


def test_conditional_reads_and_changes(localbatch, client):
    make_pool(client)
    make_job(client)
    tag = get(localbatch, "/jobs/job").headers["ETag"]
    assert not tag.startswith('"')  # unquoted, as in the service's examples
    assert send(localbatch, "GET", "/jobs/job", If_None_Match=tag).status_code == 304
    assert send(localbatch, "GET", "/jobs/job", If_None_Match="0xOTHER").status_code == 200
    assert send(localbatch, "GET", "/jobs/job", If_Match=tag).status_code == 200
    refused = send(localbatch, "GET", "/jobs/job", If_Match="0xSTALE")
    assert (refused.status_code, refused.json()["code"]) == (412, "ConditionNotMet")
    # A change on a stale tag is refused and changes nothing.
    stale = send(localbatch, "DELETE", "/jobs/job", If_Match="0xSTALE")
    assert (stale.status_code, stale.json()["code"]) == (412, "ConditionNotMet")
    assert get(localbatch, "/jobs/job").json()["state"] == "active"
    assert send(localbatch, "DELETE", "/jobs/job", If_Match=tag).status_code == 202
    pool_tag = get(localbatch, "/pools/pool").headers["ETag"]
    assert send(localbatch, "DELETE", "/pools/pool", If_None_Match=pool_tag).status_code == 412


def test_supported_images_and_node_counts_as_the_cli_asks_for_them(client):
    images = list(client.list_supported_images())
    ubuntu = next(image for image in images if image.node_agent_sku_id == "batch.node.ubuntu 24.04")
    assert ubuntu.image_reference.offer == "ubuntu-24_04-lts"
    assert ubuntu.os_type == "linux"
    make_pool(client, nodes=2)
    wait_idle(client)
    (counts,) = list(client.list_pool_node_counts())
    assert counts.pool_id == "pool"
    assert (counts.dedicated.idle, counts.dedicated.total, counts.low_priority.total) == (2, 2, 0)


def test_bodies_carry_odata_metadata_as_the_service_writes_it(localbatch, client):
    make_pool(client)
    make_job(client)
    base = localbatch.endpoint
    assert get(localbatch, "/pools").json()["odata.metadata"] == f"{base}/$metadata#pools"
    assert get(localbatch, "/pools/pool").json()["odata.metadata"] == f"{base}/$metadata#pools/@Element"
    assert get(localbatch, "/jobs/job").json()["odata.metadata"] == f"{base}/$metadata#jobs/@Element"
    selected = get(localbatch, "/jobs/job", f"{API}&$select=id").json()
    assert set(selected) == {"odata.metadata", "id"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("state ne 'completed'", []),
        ("startswith(id,'t00')", ["t001", "t002"]),
        ("not startswith(id,'t00')", ["fail", "x"]),
        ("executionInfo/exitCode gt 0", ["fail"]),
        ("executionInfo/exitCode eq 0 and (id eq 'x' or id eq 't001')", ["t001", "x"]),
        ("state eq 'COMPLETED' and executionInfo/exitCode le 0", ["t001", "t002", "x"]),
    ],
)
def test_filter_is_odata(client, expression, expected):
    make_pool(client, slots=4)
    make_job(client)
    for task_id, command in (("t001", "true"), ("t002", "true"), ("x", "true"), ("fail", "false")):
        client.create_task("job", batch_models.BatchTaskCreateOptions(id=task_id, command_line=command))
    for task_id in ("t001", "t002", "x", "fail"):
        wait_task_done(client, "job", task_id)
    assert sorted(task.id for task in client.list_tasks("job", filter=expression)) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "state eq",
        "startswith(id)",
        "id add 1",
        "state eq 'a' xor id eq 'b'",
        "state eq 'a' and id add 1 eq 2",
    ],
)
def test_a_filter_it_cannot_evaluate_is_refused(localbatch, expression):
    make_job_query = f"{API}&$filter={quote(expression)}"
    response = get(localbatch, "/jobs", make_job_query)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidQueryParameterValue"
