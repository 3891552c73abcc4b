"""Faults on demand, restarts, and the ``localbatch serve`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from localbatch import LocalBatch, new_key
from localbatch.__main__ import main as localbatch_main
from localbatch._lagging import LaggingCounts
from tests.support.batch import (
    make_job,
    make_pool,
    py,
    signed_headers,
    wait_for,
    wait_idle,
    wait_task_done,
)


class Counting(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Counts the requests the SDK sends, retries included."""

    def __init__(self) -> None:
        self.attempts = 0

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        self.attempts += 1


@pytest.mark.parametrize(("status", "code"), [(503, "ServerBusy"), (429, "TooManyRequests")])
def test_throttling_is_retried_by_the_sdk(localbatch, status, code):
    counter = Counting()
    client = BatchClient(
        localbatch.endpoint, localbatch.credential, per_retry_policies=[counter], retry_backoff_factor=0.01
    )
    localbatch.throttle(3, status=status, retry_after=0)
    assert list(client.list_pools()) == []
    assert counter.attempts == 4  # three refusals, retried by the SDK's own policy
    no_retry = BatchClient(localbatch.endpoint, localbatch.credential, retry_total=0)
    localbatch.throttle(1, status=status)
    with pytest.raises(HttpResponseError) as throttled:
        list(no_retry.list_pools())
    assert throttled.value.status_code == status
    assert throttled.value.error.code == code


def test_retry_after_header(localbatch):
    localbatch.throttle(1, status=429, retry_after=7)
    headers = signed_headers(localbatch, "GET", "/pools", "api-version=2025-06-01")
    response = requests.get(
        f"{localbatch.endpoint}/pools?api-version=2025-06-01", headers=headers, timeout=10
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_throttle_through_the_admin_path(localbatch, client):
    body = b'{"count": 1, "status": 503}'
    path = "/localbatch/faults/throttle"
    extra = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    headers = signed_headers(localbatch, "POST", path, extra=extra)
    assert (
        requests.post(localbatch.endpoint + path, data=body, headers=headers, timeout=10).status_code == 204
    )
    no_retry = BatchClient(localbatch.endpoint, localbatch.credential, retry_total=0)
    with pytest.raises(HttpResponseError):
        list(no_retry.list_pools())
    assert list(no_retry.list_pools()) == []


def test_injected_start_task_failure(localbatch, client):
    localbatch.fail_start_tasks("pool", 1)
    make_pool(
        client, nodes=2, start_task=batch_models.BatchStartTask(command_line="true", wait_for_success=True)
    )
    states = wait_for(
        lambda: (
            sorted(n.state for n in client.list_nodes("pool")) == ["idle", "starttaskfailed"]
            and sorted(n.state for n in client.list_nodes("pool"))
        )
    )
    assert states == ["idle", "starttaskfailed"]


def test_preempted_node_requeues_its_task(localbatch, client):
    make_pool(client)
    make_job(client)
    # The first run waits to be preempted; the rerun finds its marker and finishes.
    code = (
        "import os, pathlib, time; p = pathlib.Path(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'seen'); "
        "first = not p.exists(); p.touch(); time.sleep(60 if first else 0)"
    )
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="victim", command_line=py(code)))
    task = wait_for(lambda: (t := client.get_task("job", "victim")).state == "running" and t)
    time.sleep(0.3)
    localbatch.preempt_node("pool", task.node_info.node_id)
    done = wait_task_done(client, "job", "victim")
    assert done.execution_info.result == "success"
    assert done.execution_info.requeue_count == 1
    assert done.execution_info.retry_count == 0


def test_state_survives_a_restart_and_running_tasks_are_requeued(tmp_path):
    data = tmp_path / "state"
    key = new_key()
    with LocalBatch(data, key=key, scheduler_interval=0.05) as first:
        client = BatchClient(first.endpoint, first.credential)
        make_pool(client, nodes=1)
        wait_idle(client)
        make_job(client)
        marker = tmp_path / "attempts"
        code = (
            f"import pathlib, time; p = pathlib.Path({str(marker)!r}); "
            "n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1)); "
            "time.sleep(60 if n == 0 else 0)"
        )
        client.create_task("job", batch_models.BatchTaskCreateOptions(id="long", command_line=py(code)))
        client.create_task("job", batch_models.BatchTaskCreateOptions(id="queued", command_line="true"))
        wait_for(lambda: client.get_task("job", "long").state == "running")
    with LocalBatch(data, key=key, scheduler_interval=0.05) as second:
        client = BatchClient(second.endpoint, AzureNamedKeyCredential(second.account, key))
        assert client.get_pool("pool").current_dedicated_nodes == 1
        assert client.get_pool("pool").url == f"{second.endpoint}/pools/pool"
        assert client.get_job("job").state == "active"
        done = wait_task_done(client, "job", "long")
        assert done.execution_info.result == "success"
        assert done.execution_info.requeue_count == 1
        assert wait_task_done(client, "job", "queued").execution_info.result == "success"
    assert marker.read_text() == "xx"


def test_serve_command_takes_its_key_from_the_environment_and_keeps_its_data_private(tmp_path):
    key = new_key()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "localbatch", "serve", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOCALBATCH_KEY": key},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        endpoint = re.search(r"at (http://127\.0\.0\.1:\d+)", line)
        assert endpoint, line
        client = BatchClient(endpoint.group(1), AzureNamedKeyCredential("localbatch", key))
        assert list(client.list_pools()) == []
        # Every task's environment (SAS tokens) is in the store: the owner's only.
        assert oct(data.stat().st_mode & 0o777) == "0o700"
        assert oct((data / "localbatch.db").stat().st_mode & 0o777) == "0o600"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        assert key not in (process.stdout.read() if process.stdout else "")


def test_lagging_task_counts_serve_the_state_of_lag_seconds_ago():
    now = [100.0]
    counts = LaggingCounts(5, clock=lambda: now[0])
    one = {"taskCounts": {"active": 1, "completed": 0}}
    done = {"taskCounts": {"active": 0, "completed": 1}}
    assert counts.serve("job", one) == {"taskCounts": {"active": 0, "completed": 0}}  # nothing yet
    now[0] = 103.0
    assert counts.serve("job", done)["taskCounts"]["completed"] == 0
    now[0] = 105.0
    assert counts.serve("job", done) == one  # the snapshot of 5 s ago
    now[0] = 108.0
    assert counts.serve("job", done) == done
    assert LaggingCounts(0).serve("job", done) is done


def test_serve_refuses_a_negative_lag(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        localbatch_main(["serve", "--data-dir", str(tmp_path), "--task-counts-lag", "-1"])
    assert refused.value.code == 2
    assert "--task-counts-lag: must be a number of at least 0, not '-1'" in capsys.readouterr().err
