"""Task and node files as the service serves them (issue 12, point 4): ISO times of the file
itself, node listings, deletes, ``ocp-range`` and the modified-since conditions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import pytest
import requests
from azure.batch import models as batch_models
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.support.batch import make_job, make_pool, py, signed_headers, wait_idle, wait_task_done

API = "api-version=2025-06-01"


@pytest.fixture
def task(client):
    """A finished task whose working folder holds out/a.txt, written a while before it ended."""
    make_pool(client)
    (node,) = wait_idle(client)
    make_job(client)
    code = (
        "import os, time; os.makedirs('out'); open('out/a.txt', 'w').write('0123456789'); "
        "print('hello world'); time.sleep(1.2)"
    )
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="t", command_line=py(code)))
    assert wait_task_done(client, "job", "t").execution_info.result == "success"
    return node.id


def test_a_listing_gives_each_files_own_times_in_iso_8601(client, task):
    files = {f.name: f for f in client.list_task_files("job", "t", recursive=True)}
    assert {"stdout.txt", "stderr.txt", "wd/out/a.txt"} <= set(files)
    written = files["wd/out/a.txt"].properties
    assert written.content_length == 10
    assert written.file_mode.startswith("0o100")
    assert isinstance(written.last_modified, datetime)
    # the file's time, not the request's: it was written over a second before the listing
    assert datetime.now(UTC) - written.last_modified > timedelta(seconds=1)
    assert written.creation_time is not None


def test_node_files_are_listed_read_and_deleted(client, task):
    names = {f.name for f in client.list_node_files("pool", task, recursive=True)}
    assert "workitems/job/job-1/t/wd/out/a.txt" in names
    path = "workitems/job/job-1/t/wd/out/a.txt"
    assert b"".join(client.download_node_file("pool", task, path)) == b"0123456789"
    client.delete_node_file("pool", task, path)
    with pytest.raises(ResourceNotFoundError):
        b"".join(client.download_node_file("pool", task, path))


def test_task_files_and_folders_are_deleted_recursively_only_when_asked(client, task):
    with pytest.raises(HttpResponseError) as refused:
        client.delete_task_file("job", "t", "wd/out")
    assert refused.value.status_code == 409
    client.delete_task_file("job", "t", "wd/out", recursive=True)
    assert "wd/out/a.txt" not in {f.name for f in client.list_task_files("job", "t", recursive=True)}


@pytest.mark.parametrize(
    ("wanted", "expected"), [("bytes=6-10", b"world"), ("bytes=6-", b"world\n"), ("bytes=-3", b"ld\n")]
)
def test_a_range_is_what_comes_back(client, task, wanted, expected):
    assert b"".join(client.download_task_file("job", "t", "stdout.txt", ocp_range=wanted)) == expected


def test_modified_since_conditions(localbatch, task):
    path = "/jobs/job/tasks/t/files/stdout.txt"
    later, earlier = formatdate(time.time() + 3600, usegmt=True), formatdate(time.time() - 3600, usegmt=True)
    for header, value, status in (
        ("If-Modified-Since", later, 304),
        ("If-Modified-Since", earlier, 200),
        ("If-Unmodified-Since", earlier, 412),
        ("If-Unmodified-Since", later, 200),
    ):
        headers = signed_headers(localbatch, "GET", path, API, {header: value})
        response = requests.get(f"{localbatch.endpoint}{path}?{API}", headers=headers, timeout=10)
        assert response.status_code == status, (header, value)
