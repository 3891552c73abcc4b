"""The dynamic providers behind Pulumi's own provider host, over gRPC, as the engine drives them.

The engine starts ``pulumi-resource-pulumi-python`` in the program's folder with
``PULUMI_RUNTIME_VIRTUALENV`` set to the project's ``virtualenv`` option; that
script resolves the option against its working directory and runs
``python -u -m pulumi.dynamic`` from it. This test does the same from this
project's ``Pulumi.yaml``, then sends Configure, Check, Diff, Create, Read,
Update and Delete as protobuf Structs (every number a float) against Azurite
and localbatch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from azure.batch import BatchClient
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from batchwords import deploy
from infra.batch_job import _BatchJobProvider
from infra.blob_files import _BlobFilesProvider
from tests.support import gone
from tests.support.emulators import batch_job_props, upload_samples
from tests.support.words import ROOT

pytestmark = pytest.mark.azurite
#: Where Pulumi.yaml lives: the checkout's top, where users run `pulumi up`.
PROJECT = ROOT
URN = "urn:pulumi:dev::batchwords::pulumi-python:dynamic:Resource::{}"
#: A BatchJob's ``nodetask`` prop as the program sets it (the wheel read with the pool identity).
APPLICATION = "https://bwstexample.blob.core.windows.net/application/nodetask/0123456789abcdef"
RELEASE = {
    "digest": "0123456789abcdef",
    "files": {
        "batchwords_nodetask-0.1.0-py3-none-any.whl": {"url": f"{APPLICATION}/w.whl", "sha256": "a" * 64},
        "nodetask-lock.txt": {"url": f"{APPLICATION}/nodetask-lock.txt", "sha256": "b" * 64},
    },
    "identity": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/identities/i",
    "python": "python3",
}


def engine_launch() -> tuple[Path, Path, str]:
    """(working directory, Python, virtualenv option) as the engine and its provider script pick them."""
    project = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text(encoding="utf-8"))
    workdir = PROJECT / project.get("main", ".")
    option = project["runtime"]["options"]["virtualenv"]
    venv = (workdir / option).resolve()  # the script: relative paths are against $PWD
    return workdir, venv / "bin" / "python", option


def test_the_provider_host_finds_the_programs_virtualenv():
    workdir, python, _ = engine_launch()
    assert python.is_file(), f"the provider host would look for {python} and fall back to a bare python3"
    assert Path(sys.prefix).resolve() == python.parent.parent.resolve()  # the environment the program uses
    assert workdir.resolve() == PROJECT.resolve()  # no `main:` elsewhere to move the working directory


class Host:
    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub) -> None:
        self.stub = stub

    def configure(self) -> None:
        self.stub.Configure(provider_pb2.ConfigureRequest(args=struct({})))

    def check(self, name: str, news: dict[str, Any], olds: dict[str, Any] | None = None) -> Any:
        return self.stub.Check(
            provider_pb2.CheckRequest(urn=URN.format(name), olds=struct(olds or {}), news=struct(news))
        )

    def diff(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        request = provider_pb2.DiffRequest(id=id_, urn=URN.format(name), olds=struct(olds), news=struct(news))
        return self.stub.Diff(request)

    def create(self, name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        reply = self.stub.Create(provider_pb2.CreateRequest(urn=URN.format(name), properties=struct(props)))
        return reply.id, plain(reply.properties)

    def read(self, name: str, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        reply = self.stub.Read(
            provider_pb2.ReadRequest(id=id_, urn=URN.format(name), properties=struct(props))
        )
        return plain(reply.properties)

    def update(self, name: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        request = provider_pb2.UpdateRequest(
            id=id_, urn=URN.format(name), olds=struct(olds), news=struct(news)
        )
        return plain(self.stub.Update(request).properties)

    def delete(self, name: str, id_: str, props: dict[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=URN.format(name), properties=struct(props)))


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)  # as on the wire: every number becomes a float
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    values: dict[str, Any] = json_format.MessageToDict(message)
    return values


@contextmanager
def provider_host(credentials: dict[str, str]) -> Iterator[tuple[Host, subprocess.Popen[bytes]]]:
    """Pulumi's provider host, started as the engine starts it (its folder, its virtualenv option),
    with ``credentials`` in its environment."""
    workdir, python, option = engine_launch()
    environ = {
        **os.environ,
        **credentials,
        "PULUMI_RUNTIME_VIRTUALENV": option,
        "PULUMI_PROJECT": "batchwords",
    }
    process = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.dynamic"],
        cwd=workdir,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().strip() or 0)
        assert port, process.stderr.read().decode() if process.stderr else "no port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Host(provider_pb2_grpc.ResourceProviderStub(channel)), process
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def host(env) -> Iterator[Host]:
    with provider_host(env) as (started, _):
        yield started


def test_batch_job_verbs_over_grpc(emulators, host, tmp_path):
    spec = emulators.spec()
    inputs = upload_samples(emulators, spec)
    props = batch_job_props(
        emulators,
        spec=spec,
        __provider=serialize_provider(_BatchJobProvider()),
        max_wall_clock_minutes=30,
        retention_hours=24,
        job_max_wall_clock_hours=24,
        wait=False,  # no pool: the tasks wait, and the verbs must not
        wait_timeout_seconds=0,
        nodetask=RELEASE,
    )
    host.configure()
    checked = host.check("job", props)
    assert list(checked.failures) == []
    # In a preview the wheel's URL is not known yet: the engine sends it as the sentinel, nested.
    unknown = {name: {**file, "url": rpc.UNKNOWN} for name, file in RELEASE["files"].items()}  # type: ignore[attr-defined]
    preview = {**props, "nodetask": {**RELEASE, "files": unknown}}
    assert list(host.check("job", preview).failures) == []
    bad = host.check("job", {**props, "numwords": 0.0})
    assert [(f.property, f.reason) for f in bad.failures] == [
        ("numwords", "numwords must be at least 1 (got 0)")
    ]

    id_, outs = host.create("job", props)
    assert id_ == spec.job_set
    # The job installs its own release on every node before its tasks run there.
    job = BatchClient(emulators.localbatch.endpoint, emulators.localbatch.credential).get_job(id_)
    assert job.job_preparation_task is not None
    assert "nodetask-0123456789abcdef" in job.job_preparation_task.command_line
    assert outs["state"] == "running"
    assert outs["job_ids"] == [spec.job_set]
    assert (
        outs["task_counts"]["total"] == 3
    )  # the small samples packed, the reduce and the summary; a float on the wire, equal all the same
    assert set(outs["tasks"]) == set(inputs)
    assert "sig=" not in str(outs)
    assert host.read("job", id_, outs)["state"] == "running"

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extra.txt").write_text("zebra", encoding="utf-8")
    news = {**props, "inputs": {**inputs, **upload_samples(emulators, spec, extra)}}
    diff = host.diff("job", id_, outs, news)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == []
    updated = host.update("job", id_, outs, news)
    assert updated["job_ids"] == [spec.job_set, f"{spec.job_set}-1"]

    host.delete("job", id_, updated)
    assert [job.id for job in emulators.batch.list_jobs()] == []


def test_blob_files_verbs_over_grpc(emulators, host, tmp_path):
    container = f"files-{emulators.suffix}"
    emulators.storage.ensure_container(container)
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    (tmp_path / "b.txt").write_text("beta", encoding="utf-8")

    def props_for(*names: str) -> dict[str, Any]:
        files = {n: {"path": str(tmp_path / n), "md5": deploy.md5_base64(tmp_path / n)} for n in names}
        return {
            "__provider": serialize_provider(_BlobFilesProvider()),
            "storage_endpoint": emulators.storage.account_url,
            "container": container,
            "prefix": "",
            "files": files,
        }

    host.configure()
    props = props_for("a.txt", "b.txt")
    assert list(host.check("files", props).failures) == []
    assert list(host.check("files", {**props, "storage_endpoint": rpc.UNKNOWN}).failures) == []
    id_, outs = host.create("files", props)
    assert sorted(outs["blobs"]) == ["a.txt", "b.txt"]
    assert sorted(host.read("files", id_, outs)["blobs"]) == ["a.txt", "b.txt"]
    news = props_for("b.txt")
    assert host.diff("files", id_, outs, news).changes == provider_pb2.DiffResponse.DIFF_SOME
    updated = host.update("files", id_, outs, news)
    assert sorted(updated["blobs"]) == ["b.txt"]
    assert [blob.name for blob in emulators.storage.list_blobs(container)] == ["b.txt"]
    host.delete("files", id_, updated)
    assert emulators.storage.list_blobs(container) == []


#: The providers as the state of a stack deployed before holds them (``__provider``): dill pickles
#: each class by reference, so ``infra.batch_job._BatchJobProvider`` and
#: ``infra.blob_files._BlobFilesProvider`` must stay importable under these names, or no
#: existing stack can be updated or destroyed.
STATE_PROVIDERS = {
    "BatchJob": "gASVLAAAAAAAAACMD2luZnJhLmJhdGNoX2pvYpSMEV9CYXRjaEpvYlByb3ZpZGVylJOUKYGULg==",
    "BlobFiles": "gASVLgAAAAAAAACMEGluZnJhLmJsb2JfZmlsZXOUjBJfQmxvYkZpbGVzUHJvdmlkZXKUk5QpgZQu",
}


@pytest.fixture
def state_host() -> Iterator[tuple[Host, subprocess.Popen[bytes]]]:
    """A fresh provider host, started as the engine starts it, with Shared Key credentials for
    accounts that no longer exist (no emulator: nothing is reached)."""
    with provider_host(gone.SHARED_KEY) as started:
        yield started


def test_the_state_providers_are_what_serialize_provider_makes_today():
    assert serialize_provider(_BatchJobProvider()) == STATE_PROVIDERS["BatchJob"]
    assert serialize_provider(_BlobFilesProvider()) == STATE_PROVIDERS["BlobFiles"]


def test_destroy_from_an_existing_state_after_the_accounts_were_deleted(state_host):
    """`pulumi destroy` after both accounts were deleted outside Pulumi: the provider host loads
    the providers from the state and deletes both resources as gone, over gRPC."""
    host, process = state_host
    host.configure()
    job = {
        "__provider": STATE_PROVIDERS["BatchJob"],
        "job_id": "batchwords-dev",
        "pool_id": "batchwords",
        "batch_endpoint": gone.BATCH,
        "storage_endpoint": gone.STORAGE,
        "input_container": "input",
        "output_container": "output",
        "inputs": {"a.txt": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        "numwords": 10.0,
        "job_ids": ["batchwords-dev", "batchwords-dev-1"],
        "state": "succeeded",
    }
    files = {
        "__provider": STATE_PROVIDERS["BlobFiles"],
        "storage_endpoint": gone.STORAGE,
        "container": "input",
        "prefix": "",
        "files": {"a.txt": {"path": "/gone/a.txt", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
    }
    assert list(host.check("job", job).failures) == []
    assert list(host.check("files", files).failures) == []
    host.delete("job", "batchwords-dev", job)  # a gRPC error (an import error, a failure) raises
    host.delete("files", "input/", files)
    process.kill()
    assert process.stderr is not None
    said = process.stderr.read().decode()
    assert f"the Batch account's endpoint {gone.BATCH} does not resolve" in said
    assert said.count(f"the Storage account's endpoint {gone.STORAGE} does not resolve") == 2
