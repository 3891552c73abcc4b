"""The Batch REST surface, through the unmodified azure-batch BatchClient."""

from __future__ import annotations

import base64
import json
import time
from email.utils import formatdate

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from localbatch import SUPPORTED_API_VERSIONS, LocalBatch, new_key
from localbatch._auth import sign, string_to_sign
from tests.support.batch import (
    make_job,
    make_pool,
    py,
    signed_headers,
    wait_for,
    wait_idle,
    wait_task_done,
)

# azure-batch 15.1 cannot send a terminate request without a body, and does not
# export the body's model from azure.batch.models.
TERMINATE = BatchJobTerminateOptions(termination_reason="UserTerminate")


def task(task_id: str, command: str = "true", **extra) -> batch_models.BatchTaskCreateOptions:
    return batch_models.BatchTaskCreateOptions(id=task_id, command_line=command, **extra)


class TestAuthentication:
    def test_wrong_key_is_refused(self, localbatch):
        stranger = BatchClient(localbatch.endpoint, batch_models_credential(localbatch.account, new_key()))
        with pytest.raises(HttpResponseError) as refused:
            list(stranger.list_pools())
        assert refused.value.status_code == 403
        assert refused.value.error.code == "AuthenticationFailed"

    def test_tampered_request_is_refused(self, localbatch):
        # Sign GET /pools, then send GET /jobs with that signature.
        headers = signed_headers(localbatch, "GET", "/pools", "api-version=2025-06-01")
        ok = requests.get(f"{localbatch.endpoint}/pools?api-version=2025-06-01", headers=headers, timeout=10)
        assert ok.status_code == 200
        tampered = requests.get(
            f"{localbatch.endpoint}/jobs?api-version=2025-06-01", headers=headers, timeout=10
        )
        assert tampered.status_code == 403
        assert tampered.json()["code"] == "AuthenticationFailed"

    @pytest.mark.parametrize(
        ("date", "detail"),
        [
            (None, "Request date header not specified"),
            ("Tue, 24 Nov 2026 00:00:00 GMT", "too old"),  # a captured request, replayed later
            (formatdate(time.time() + 3600, usegmt=True), "too far ahead"),
            ("yesterday", "not an RFC 1123 date"),
        ],
        ids=["no date", "old", "ahead", "not a date"],  # the same on every run (pytest-xdist's workers)
    )
    def test_a_request_without_a_recent_date_is_refused(self, localbatch, date, detail):
        headers = {"ocp-date": date} if date else {}
        text = string_to_sign("GET", "/pools", "api-version=2025-06-01", headers.items(), localbatch.account)
        headers["Authorization"] = f"SharedKey {localbatch.account}:{sign(localbatch.key, text)}"
        url = f"{localbatch.endpoint}/pools?api-version=2025-06-01"
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 403
        assert detail in json.dumps(response.json())

    def test_a_repeated_query_parameter_is_refused_not_half_signed(self, localbatch, client):
        """Appending a second $select to a signed request must not change what it returns."""
        query = "api-version=2025-06-01&$select=id"
        headers = signed_headers(localbatch, "GET", "/pools", query)
        sneaky = f"{localbatch.endpoint}/pools?{query}&$select=id,startTask"
        response = requests.get(sneaky, headers=headers, timeout=10)
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidQueryParameterValue"
        assert "$select is given more than once" in response.json()["message"]["value"]

    def test_an_id_with_a_trailing_newline_is_refused(self, client):
        with pytest.raises(HttpResponseError) as refused:
            client.create_job(
                batch_models.BatchJobCreateOptions(
                    id="job\n", pool_info=batch_models.BatchPoolInfo(pool_id="p")
                )
            )
        assert refused.value.status_code == 400

    def test_missing_authorization(self, localbatch):
        response = requests.get(f"{localbatch.endpoint}/pools?api-version=2025-06-01", timeout=10)
        assert response.status_code == 403
        assert response.headers["request-id"]


def batch_models_credential(account: str, key: str):
    from azure.core.credentials import AzureNamedKeyCredential

    return AzureNamedKeyCredential(account, key)


class TestProtocol:
    def test_unknown_api_version(self, localbatch):
        old = BatchClient(localbatch.endpoint, localbatch.credential, api_version="2019-01-01.8.0")
        with pytest.raises(HttpResponseError) as refused:
            list(old.list_pools())
        assert refused.value.status_code == 400
        assert refused.value.error.code == "InvalidQueryParameterValue"
        assert "2025-06-01" in refused.value.error.message
        assert "2021-06-01.14.0" in refused.value.error.message  # azure-batch 11.0's, the oldest served

    @pytest.mark.parametrize("version", SUPPORTED_API_VERSIONS)
    def test_supported_api_versions(self, localbatch, version):
        client = BatchClient(localbatch.endpoint, localbatch.credential, api_version=version)
        assert list(client.list_pools()) == []

    def test_unsupported_operation_is_a_batch_error(self, client):
        with pytest.raises(HttpResponseError) as refused:
            list(client.list_applications())
        assert refused.value.status_code == 400
        assert refused.value.error.code == "OperationNotSupported"

    def test_entity_headers(self, localbatch, client):
        make_pool(client)
        response = client.get_pool("pool", cls=lambda pipeline, _body, headers: pipeline.http_response)
        assert response.headers["ETag"].startswith("0x")  # unquoted, as in the service's examples
        assert response.headers["Last-Modified"].endswith("GMT")
        assert response.headers["request-id"]


class TestPools:
    def test_create_get_list_exists_delete(self, client):
        make_pool(client, nodes=2, slots=3)
        pool = client.get_pool("pool")
        assert pool.state == "active"
        assert pool.vm_size == "standard_d2s_v3"
        assert pool.task_slots_per_node == 3
        assert pool.current_dedicated_nodes == 2
        assert pool.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 24.04"
        assert [p.id for p in client.list_pools()] == ["pool"]
        assert client.pool_exists("pool") is True
        # azure-batch 15.1's error policy raises on the 404 before pool_exists sees it.
        with pytest.raises(ResourceNotFoundError):
            client.pool_exists("other")
        nodes = wait_idle(client)
        assert len(nodes) == 2
        assert client.get_node("pool", nodes[0].id).id == nodes[0].id
        client.begin_delete_pool("pool", polling_interval=0).result()
        with pytest.raises(ResourceNotFoundError):
            client.get_pool("pool")

    def test_resize(self, client):
        make_pool(client, nodes=1)
        client.begin_resize_pool(
            "pool", batch_models.BatchPoolResizeOptions(target_dedicated_nodes=3), polling_interval=0
        ).result()
        assert len(list(client.list_nodes("pool"))) == 3
        client.begin_resize_pool(
            "pool", batch_models.BatchPoolResizeOptions(target_dedicated_nodes=0), polling_interval=0
        ).result()
        assert list(client.list_nodes("pool")) == []

    def test_pool_errors(self, client):
        make_pool(client)
        with pytest.raises(ResourceExistsError) as duplicate:
            make_pool(client)
        assert duplicate.value.error.code == "PoolExists"
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_pool("nope")
        assert missing.value.error.code == "PoolNotFound"
        with pytest.raises(HttpResponseError) as bad:
            make_pool(client, "bad id!")
        assert bad.value.error.code == "InvalidPropertyValue"
        assert any(detail.code == "PropertyName" for detail in bad.value.error.details)


class TestJobs:
    def test_create_get_list_update_terminate_delete(self, client):
        make_pool(client)
        make_job(client, all_tasks_complete_mode="noaction")
        job = client.get_job("job")
        assert job.state == "active"
        assert job.pool_info.pool_id == "pool"
        assert job.all_tasks_complete_mode == "noaction"
        assert [j.id for j in client.list_jobs()] == ["job"]
        client.update_job("job", batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
        # No tasks: all (zero) tasks are complete, so the job completes.
        assert client.get_job("job").state == "completed"
        assert client.get_job("job").execution_info.termination_reason == "AllTasksComplete"
        make_job(client, "job2")
        client.begin_terminate_job("job2", TERMINATE, polling_interval=0).result()
        assert client.get_job("job2").execution_info.termination_reason == "UserTerminate"
        client.begin_delete_job("job2", polling_interval=0).result()
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_job("job2")
        assert missing.value.error.code == "JobNotFound"

    def test_job_exists(self, client):
        make_pool(client)
        make_job(client)
        with pytest.raises(ResourceExistsError) as duplicate:
            make_job(client)
        assert duplicate.value.error.code == "JobExists"

    def test_completed_job_takes_no_tasks(self, client):
        make_pool(client)
        make_job(client)
        client.begin_terminate_job("job", TERMINATE, polling_interval=0).result()
        with pytest.raises(ResourceExistsError) as refused:
            client.create_task("job", task("late"))
        assert refused.value.error.code == "JobCompleted"


class TestTasks:
    def test_create_get_list_filter_select(self, client):
        make_pool(client, nodes=1, slots=4)
        make_job(client)
        client.create_task("job", task("ok", py("print('hi')")))
        client.create_task("job", task("bad", py("raise SystemExit(2)")))
        wait_task_done(client, "job", "ok")
        wait_task_done(client, "job", "bad")
        assert client.get_task("job", "ok").execution_info.result == "success"
        failed = list(client.list_tasks("job", filter="executionInfo/result eq 'failure'"))
        assert [t.id for t in failed] == ["bad"]
        done = list(client.list_tasks("job", filter="state eq 'completed'", select=["id", "state"]))
        assert sorted(t.id for t in done) == ["bad", "ok"]
        assert all(t.command_line is None for t in done)  # not selected

    def test_collection_of_101_is_too_large_and_create_tasks_splits(self, client):
        make_pool(client, nodes=0)
        make_job(client)
        too_many = [task(f"t{i}") for i in range(101)]
        with pytest.raises(HttpResponseError) as refused:
            client.create_task_collection("job", batch_models.BatchTaskGroup(task_values=too_many))
        assert refused.value.status_code == 413
        assert refused.value.error.code == "RequestBodyTooLarge"
        result = client.create_tasks("job", [task(f"t{i}") for i in range(250)])
        assert len(result.result_values) == 250
        assert len(list(client.list_tasks("job"))) == 250

    def test_bodies_over_the_byte_limit_are_split_by_the_sdk(self, client):
        make_pool(client, nodes=0)
        make_job(client)
        padding = "x" * 20_000  # 100 of these exceed the 1 MiB request limit
        tasks = [task(f"big{i}", f"echo {padding}") for i in range(100)]
        result = client.create_tasks("job", tasks)
        assert len(result.result_values) == 100

    def test_task_exists(self, client):
        make_pool(client, nodes=0)
        make_job(client)
        client.create_task("job", task("once"))
        with pytest.raises(ResourceExistsError) as duplicate:
            client.create_task("job", task("once"))
        assert duplicate.value.error.code == "TaskExists"
        raw = client.create_task_collection(
            "job", batch_models.BatchTaskGroup(task_values=[task("once"), task("twice")])
        )
        statuses = {r.task_id: (r.status, r.error.code if r.error else None) for r in raw.result_values}
        assert statuses == {"once": ("clienterror", "TaskExists"), "twice": ("success", None)}
        # The SDK's create_tasks counts TaskExists as success: a retried submit converges.
        again = client.create_tasks("job", [task("once"), task("twice"), task("thrice")])
        assert len(again.result_values) == 3

    def test_invalid_task_in_a_collection_is_reported_by_id(self, client):
        make_pool(client, nodes=0)
        make_job(client)
        bad = batch_models.BatchTaskCreateOptions(
            id="slow",
            command_line="true",
            constraints=batch_models.BatchTaskConstraints(max_task_retry_count=-5),
        )
        raw = client.create_task_collection(
            "job", batch_models.BatchTaskGroup(task_values=[bad, task("fine")])
        )
        statuses = {r.task_id: (r.status, r.error.code if r.error else None) for r in raw.result_values}
        assert statuses == {"slow": ("clienterror", "InvalidPropertyValue"), "fine": ("success", None)}

    def test_task_not_found(self, client):
        make_pool(client, nodes=0)
        make_job(client)
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_task("job", "ghost")
        assert missing.value.error.code == "TaskNotFound"

    def test_terminate_and_delete(self, client):
        make_pool(client)
        make_job(client)
        client.create_task("job", task("sleeper", py("import time; time.sleep(60)")))
        wait_for(lambda: client.get_task("job", "sleeper").state == "running")
        client.terminate_task("job", "sleeper")
        ended = client.get_task("job", "sleeper")
        assert ended.state == "completed"
        assert ended.execution_info.failure_info.code == "TaskEnded"
        client.delete_task("job", "sleeper")
        assert list(client.list_tasks("job")) == []

    def test_task_counts(self, client):
        make_pool(client, nodes=1, slots=2)
        make_job(client)
        client.create_tasks("job", [task("a"), task("b", "false"), task("c")])
        for task_id in "abc":
            wait_task_done(client, "job", task_id)
        counts = client.get_job_task_counts("job")
        assert counts.task_counts.completed == 3
        assert counts.task_counts.succeeded == 2
        assert counts.task_counts.failed == 1
        assert counts.task_counts.active == counts.task_counts.running == 0


def test_account_key_must_be_base64(tmp_path):
    with pytest.raises(ValueError, match=r"base64|Incorrect padding|Non-base64"):
        LocalBatch(tmp_path, key="not base64!")
    assert base64.b64decode(new_key())
