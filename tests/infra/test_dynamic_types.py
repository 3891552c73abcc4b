"""Each dynamic resource has its own type, and an alias from the type existing stacks' state holds."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from infra.batch_job import BatchJob
from infra.blob_files import BlobFiles
from infra.dynamic import UNNAMED_TYPE
from tests.support import pulumi_mocks
from tests.support.pulumi_mocks import BATCH_JOB, BLOB_FILES, Mocks


@pytest.fixture
def registered(monkeypatch) -> dict[str, Any]:
    """Every RegisterResource request the program sends to the engine, by resource name."""
    requests: dict[str, Any] = {}
    register: Any = MockMonitor.RegisterResource  # the SDK leaves it untyped

    def record(self: MockMonitor, request: Any) -> Any:
        requests[request.name] = request
        return register(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", record)
    return requests


@pytest.fixture
def mocks() -> Mocks:
    return pulumi_mocks.install()


@pulumi.runtime.test
def test_own_types_with_an_alias_from_the_unnamed_one(mocks, registered, tmp_path):
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    other = pulumi.CustomResource("test:index:Other", "other")
    files = BlobFiles(
        "files",
        storage_endpoint="https://acct.blob.core.windows.net",
        container="input",
        files={"a.txt": tmp_path / "a.txt"},
        # The caller's options are kept, its aliases too.
        opts=pulumi.ResourceOptions(depends_on=[other], aliases=[pulumi.Alias(name="uploads")]),
    )
    job = BatchJob(
        "job",
        job_id="words",
        pool_id="pool",
        batch_endpoint="https://acct.westeurope.batch.azure.com",
        storage_endpoint="https://acct.blob.core.windows.net",
        input_container="input",
        inputs={"a.txt": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        output_container="output",
        opts=pulumi.ResourceOptions(depends_on=[files]),
    )

    def check(_: Any) -> None:
        assert {r.name: r.typ for r in mocks.resources if r.name in ("files", "job")} == {
            "files": BLOB_FILES,
            "job": BATCH_JOB,
        }
        for name in ("files", "job"):
            request = registered[name]
            # The type the state of a stack deployed before holds: same name and parent, so the
            # engine finds `urn:...::pulumi-python:dynamic:Resource::NAME` and keeps it.
            specs = [(alias.spec.type, alias.spec.name) for alias in request.aliases]
            assert (UNNAMED_TYPE, "") in specs
            assert all(not alias.spec.noParent and not alias.spec.parentUrn for alias in request.aliases)
        assert ("", "uploads") in [(a.spec.type, a.spec.name) for a in registered["files"].aliases]
        (dependency,) = registered["files"].dependencies
        assert dependency.endswith("test:index:Other::other")

    return pulumi.Output.all(files.urls, job.state).apply(check)


def test_the_type_names():
    assert BATCH_JOB == "pulumi-python:dynamic/batchwords:BatchJob"
    assert BLOB_FILES == "pulumi-python:dynamic/batchwords:BlobFiles"
    assert f"pulumi-python:{BatchJob._resource_type_name}" == BATCH_JOB
    assert f"pulumi-python:{BlobFiles._resource_type_name}" == BLOB_FILES
