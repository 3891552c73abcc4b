"""Nodes, StartTasks and tasks as a Linux Batch node runs them, with Azurite for files."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)

from localbatch import AutoStorage, LocalBatch
from tests.support.batch import make_job, make_pool, py, wait_for, wait_idle, wait_task_done


def container_sas_url(azurite, container: str, permission: ContainerSasPermissions) -> str:
    now = datetime.now(UTC)
    sas = generate_container_sas(
        azurite.account,
        container,
        account_key=azurite.key,
        permission=permission,
        start=now - timedelta(minutes=15),
        expiry=now + timedelta(hours=1),
    )
    return f"{azurite.container_url(container)}?{sas}"


def blob_sas_url(azurite, container: str, blob: str) -> str:
    now = datetime.now(UTC)
    sas = generate_blob_sas(
        azurite.account,
        container,
        blob,
        account_key=azurite.key,
        permission=BlobSasPermissions(read=True),
        expiry=now + timedelta(hours=1),
    )
    return f"{azurite.container_url(container)}/{blob}?{sas}"


@pytest.fixture
def containers(blob_service: BlobServiceClient):
    suffix = uuid.uuid4().hex[:8]
    made = {name: blob_service.create_container(f"{name}-{suffix}") for name in ("app", "input", "output")}
    yield made
    for container in made.values():
        container.delete_container()


@pytest.mark.azurite
def test_pipeline_with_start_task_resource_files_and_output_files(client, azurite, containers):
    app, inputs, outputs = containers["app"], containers["input"], containers["output"]
    app.upload_blob("tool.py", b"import sys\nprint('tool ran with', sys.argv[1:])\n")
    for index in range(3):
        inputs.upload_blob(f"in/{index}.txt", f"file {index}\n".encode())
    start_task = batch_models.BatchStartTask(
        command_line=py(
            "import os, shutil; "
            "shutil.copy('tool.py', os.path.join(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'tool.py'))"
        ),
        resource_files=[
            batch_models.ResourceFile(
                http_url=blob_sas_url(azurite, app.container_name, "tool.py"), file_path="tool.py"
            )
        ],
        wait_for_success=True,
        max_task_retry_count=1,
    )
    make_pool(client, nodes=2, slots=2, start_task=start_task)
    nodes = wait_idle(client)
    assert all(node.start_task_info.result == "success" for node in nodes)
    make_job(client)
    input_url = container_sas_url(
        azurite, inputs.container_name, ContainerSasPermissions(read=True, list=True)
    )
    output_url = container_sas_url(
        azurite, outputs.container_name, ContainerSasPermissions(create=True, write=True)
    )
    reader = (
        "import os, pathlib, runpy, sys; "
        "sys.argv = ['tool', os.environ['AZ_BATCH_TASK_ID']]; "
        "runpy.run_path(os.path.join(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'tool.py')); "
        "text = pathlib.Path('data/in', os.environ['WHICH'] + '.txt').read_text(); "
        "pathlib.Path('result.txt').write_text(text.upper())"
    )
    tasks = [
        batch_models.BatchTaskCreateOptions(
            id=f"task-{index}",
            command_line=py(reader),
            environment_settings=[batch_models.EnvironmentSetting(name="WHICH", value=str(index))],
            resource_files=[
                batch_models.ResourceFile(
                    storage_container_url=input_url, blob_prefix="in/", file_path="data"
                )
            ],
            output_files=[
                batch_models.OutputFile(
                    file_pattern="result.txt",
                    destination=batch_models.OutputFileDestination(
                        container=batch_models.OutputFileBlobContainerDestination(
                            container_url=output_url, path=f"results/{index}.txt"
                        )
                    ),
                    upload_options=batch_models.OutputFileUploadConfiguration(upload_condition="taskSuccess"),
                ),
                batch_models.OutputFile(
                    file_pattern="../std*.txt",
                    destination=batch_models.OutputFileDestination(
                        container=batch_models.OutputFileBlobContainerDestination(
                            container_url=output_url, path=f"logs/{index}"
                        )
                    ),
                    upload_options=batch_models.OutputFileUploadConfiguration(
                        upload_condition="taskCompletion"
                    ),
                ),
            ],
            constraints=batch_models.BatchTaskConstraints(
                max_task_retry_count=1, max_wall_clock_time=timedelta(minutes=5)
            ),
        )
        for index in range(3)
    ]
    client.create_tasks("job", tasks)
    client.update_job("job", batch_models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    wait_for(lambda: client.get_job_task_counts("job").task_counts.completed == 3)
    counts = client.get_job_task_counts("job").task_counts
    assert (counts.succeeded, counts.failed) == (3, 0)
    wait_for(lambda: client.get_job("job").state == "completed")
    for index in range(3):
        assert outputs.download_blob(f"results/{index}.txt").readall() == f"FILE {index}\n".encode()
        stdout = outputs.download_blob(f"logs/{index}/stdout.txt").readall().decode()
        assert f"tool ran with ['task-{index}']" in stdout
    stdout = b"".join(client.download_task_file("job", "task-1", "stdout.txt")).decode()
    assert "tool ran with ['task-1']" in stdout
    names = {f.name for f in client.list_task_files("job", "task-1")}
    assert {"stdout.txt", "stderr.txt", "wd"} <= names
    client.begin_delete_job("job", polling_interval=0).result()
    client.begin_delete_pool("pool", polling_interval=0).result()


def test_batch_environment_variables(client):
    make_pool(client)
    make_job(client)
    dump = (
        "import json, os; "
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('AZ_BATCH')}))"
    )
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="env", command_line=py(dump)))
    task = wait_task_done(client, "job", "env")
    assert task.execution_info.result == "success"
    env = json.loads(b"".join(client.download_task_file("job", "env", "stdout.txt")))
    assert env["AZ_BATCH_JOB_ID"] == "job"
    assert env["AZ_BATCH_TASK_ID"] == "env"
    assert env["AZ_BATCH_POOL_ID"] == "pool"
    assert env["AZ_BATCH_NODE_ID"] == task.node_info.node_id
    assert env["AZ_BATCH_TASK_WORKING_DIR"].endswith("/workitems/job/job-1/env/wd")
    assert env["AZ_BATCH_NODE_SHARED_DIR"].endswith("/shared")
    assert env["AZ_BATCH_ACCOUNT_NAME"] == "localbatch"
    assert env["AZ_BATCH_ACCOUNT_URL"].startswith("http://127.0.0.1:")


def idle_nodes(client: BatchClient, count: int) -> list[batch_models.BatchNode] | None:
    nodes = list(client.list_nodes("pool"))
    return nodes if len(nodes) == count and all(node.state == "idle" for node in nodes) else None


def test_a_shared_dir_is_every_nodes_shared_folder_across_instances(tmp_path, monkeypatch):
    """``$LOCALBATCH_SHARED_DIR``: every node of every instance shares it (a cache for tests)."""
    shared = tmp_path / "shared"
    monkeypatch.setenv("LOCALBATCH_SHARED_DIR", str(shared))
    mark = py(
        "import os, pathlib; p = pathlib.Path(os.environ['AZ_BATCH_NODE_SHARED_DIR'], 'seen'); "
        "f = p.open('a'); f.write(os.environ['AZ_BATCH_NODE_ID'] + '\\n'); f.close()"
    )
    start_task = batch_models.BatchStartTask(command_line=mark, wait_for_success=True)
    for run in range(2):
        with LocalBatch(tmp_path / f"localbatch{run}", scheduler_interval=0.05) as service:
            client = BatchClient(service.endpoint, service.credential)
            make_pool(client, nodes=2, start_task=start_task)
            nodes = wait_for(functools.partial(idle_nodes, client, 2))
            assert service.service.node_shared_dir("pool", nodes[0].id) == shared.resolve()
    assert len((shared / "seen").read_text().splitlines()) == 4


def test_no_implicit_shell(client):
    make_pool(client)
    make_job(client)
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="echo", command_line="echo $HOME && ls"))
    wait_task_done(client, "job", "echo")
    assert b"".join(client.download_task_file("job", "echo", "stdout.txt")) == b"$HOME && ls\n"


def test_missing_program(client):
    make_pool(client)
    make_job(client)
    client.create_task(
        "job", batch_models.BatchTaskCreateOptions(id="nope", command_line="no-such-program-x")
    )
    task = wait_task_done(client, "job", "nope")
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "CommandProgramNotFound"


def test_failing_task_is_retried_then_failed(client):
    make_pool(client)
    make_job(client)
    counter = (
        "import pathlib; p = pathlib.Path('runs'); "
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x'); raise SystemExit(3)"
    )
    client.create_task(
        "job",
        batch_models.BatchTaskCreateOptions(
            id="flaky",
            command_line=py(counter),
            constraints=batch_models.BatchTaskConstraints(max_task_retry_count=2),
        ),
    )
    task = wait_task_done(client, "job", "flaky")
    assert task.execution_info.retry_count == 2
    assert task.execution_info.exit_code == 3
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "FailureExitCode"
    assert b"".join(client.download_task_file("job", "flaky", "wd/runs")) == b"xxx"


def test_wall_clock_limit_ends_the_task(client):
    make_pool(client)
    make_job(client)
    client.create_task(
        "job",
        batch_models.BatchTaskCreateOptions(
            id="slow",
            command_line=py("import time; time.sleep(60)"),
            constraints=batch_models.BatchTaskConstraints(
                max_wall_clock_time=timedelta(seconds=1), max_task_retry_count=3
            ),
        ),
    )
    task = wait_task_done(client, "job", "slow", timeout=20)
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "MaxWallClockTimeExpiry"
    assert task.execution_info.retry_count == 0  # a wall-clock expiry is not retried
    elapsed = task.execution_info.end_time - task.execution_info.start_time
    assert elapsed < timedelta(seconds=10)


def test_start_task_failure_keeps_the_node_from_running_tasks(client):
    make_pool(
        client,
        start_task=batch_models.BatchStartTask(
            command_line=py("import sys; print('setup broke', file=sys.stderr); raise SystemExit(7)"),
            wait_for_success=True,
            max_task_retry_count=1,
        ),
    )
    node = wait_for(lambda: (n := next(iter(client.list_nodes("pool")))).state == "starttaskfailed" and n)
    assert node.start_task_info.exit_code == 7
    assert node.start_task_info.retry_count == 1
    assert node.start_task_info.result == "failure"
    stderr = b"".join(client.download_node_file("pool", node.id, "startup/stderr.txt"))
    assert stderr.count(b"setup broke") == 2  # the first run and its retry
    make_job(client)
    client.create_task("job", batch_models.BatchTaskCreateOptions(id="never", command_line="true"))
    assert client.get_task("job", "never").state == "active"


@pytest.mark.azurite
def test_auto_storage_file_mode_and_failure_uploads(tmp_path, azurite, containers):
    """A pool linked to Storage reads ``autoStorageContainerName``; a failed task
    uploads only its taskFailure outputs."""
    app, outputs = containers["app"], containers["output"]
    app.upload_blob("bin/run.sh", b"#!/bin/sh\necho running; echo oops >&2; exit 4\n")
    storage = AutoStorage(azurite.account_url, azurite.account, azurite.key)
    output_url = container_sas_url(
        azurite, outputs.container_name, ContainerSasPermissions(create=True, write=True)
    )

    def upload(pattern: str, path: str, condition: str) -> batch_models.OutputFile:
        return batch_models.OutputFile(
            file_pattern=pattern,
            destination=batch_models.OutputFileDestination(
                container=batch_models.OutputFileBlobContainerDestination(container_url=output_url, path=path)
            ),
            upload_options=batch_models.OutputFileUploadConfiguration(upload_condition=condition),
        )

    with LocalBatch(tmp_path / "lb", auto_storage=storage, scheduler_interval=0.05) as service:
        client = BatchClient(service.endpoint, service.credential)
        make_pool(client)
        make_job(client)
        client.create_task(
            "job",
            batch_models.BatchTaskCreateOptions(
                id="script",
                command_line="./tools/bin/run.sh",
                resource_files=[
                    batch_models.ResourceFile(
                        auto_storage_container_name=app.container_name,
                        blob_prefix="bin/",
                        file_path="tools",
                        file_mode="0755",
                    )
                ],
                output_files=[
                    upload("../stderr.txt", "on-failure/stderr.txt", "taskFailure"),
                    upload("../stdout.txt", "on-success/stdout.txt", "taskSuccess"),
                ],
            ),
        )
        task = wait_task_done(client, "job", "script")
    assert task.execution_info.exit_code == 4
    assert task.execution_info.result == "failure"
    assert outputs.download_blob("on-failure/stderr.txt").readall() == b"oops\n"
    assert [blob.name for blob in outputs.list_blobs()] == ["on-failure/stderr.txt"]


def test_resource_file_download_failure(client):
    make_pool(client)
    make_job(client)
    client.create_task(
        "job",
        batch_models.BatchTaskCreateOptions(
            id="fetch",
            command_line="true",
            resource_files=[batch_models.ResourceFile(http_url="http://127.0.0.1:9/missing", file_path="x")],
        ),
    )
    task = wait_task_done(client, "job", "fetch")
    assert task.execution_info.result == "failure"
    assert task.execution_info.failure_info.code == "ResourceFileDownloadFailed"
