"""The BatchJob resource as a Pulumi program declares it (under Pulumi's mocks)."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest

from infra.batch_job import OUTPUT_FIELDS, BatchJob
from tests.support import pulumi_mocks
from tests.support.pulumi_mocks import BATCH_JOB, Mocks


@pytest.fixture
def mocks() -> Mocks:
    return pulumi_mocks.install()


@pulumi.runtime.test
def test_resource_inputs_outputs_and_provider(mocks):
    job = BatchJob(
        "words",
        job_id="words",
        pool_id="pool",
        batch_endpoint="https://acct.westeurope.batch.azure.com",
        storage_endpoint="https://acct.blob.core.windows.net",
        input_container="input",
        inputs={"a.txt": "1B2M2Y8AsgTpgAmY7PhCfg=="},
        output_container="output",
        numwords=5,
    )

    def check(values: list[Any]) -> None:
        state, top = values
        (declared,) = [r for r in mocks.resources if r.name == "words"]
        assert declared.typ == BATCH_JOB
        assert declared.inputs["numwords"] == 5
        assert declared.inputs["inputs"] == {"a.txt": "1B2M2Y8AsgTpgAmY7PhCfg=="}
        provider = declared.inputs["__provider"]
        # Pulumi marks the pickled provider secret; it holds a reference to the
        # importable provider class and nothing else.
        pickled = base64.b64decode(provider["value"] if isinstance(provider, dict) else provider)
        assert b"infra.batch_job" in pickled
        assert b"_BatchJobProvider" in pickled
        assert len(pickled) < 200
        for name in OUTPUT_FIELDS:
            assert hasattr(job, name)
        assert state == "succeeded"
        assert top == [["the", 9]]

    return pulumi.Output.all(job.state, job.top_words).apply(check)
