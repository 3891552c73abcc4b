"""The deployer's Batch job role: Batch job and task operations are dataActions, granted by the
"Azure Batch Job Submitter" role, which takes minutes to apply after `pulumi up` assigns it.

localbatch signs requests with Shared Key only, so the 403 Batch gives an Entra ID caller
meanwhile is injected into the SDK client (a fault the emulator cannot produce).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError

import batchwords
from batchwords import BatchServiceError
from tests.support.emulators import upload_samples

ENDPOINT = "https://bwbaexample.westeurope.batch.azure.com"


class Token:
    """An Entra ID credential (never asked for a token here: the client call is replaced)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("token", 4_102_444_800)


def forbidden() -> HttpResponseError:
    error = HttpResponseError(message="This request is not authorized to perform this operation.")
    error.status_code = 403
    return error


def test_a_403_while_the_job_role_applies_is_waited_for(mocker, caplog):
    failures = [forbidden(), forbidden()]

    def list_jobs(self: BatchClient, **kwargs: Any) -> list[object]:
        if failures:
            raise failures.pop(0)
        return []

    listing = mocker.patch.object(BatchClient, "list_jobs", autospec=True, side_effect=list_jobs)
    slept = mocker.patch("batchwords._roles.time.sleep")
    batchwords.Batch(ENDPOINT, Token()).wait_for_job_role()
    assert listing.call_count == 3
    assert [call.args[0] for call in slept.call_args_list] == [2.0, 4.0]
    assert "Batch refused (403" in caplog.text
    assert "waiting for a new role assignment to apply" in caplog.text


def test_the_wait_is_bounded_and_names_the_role(mocker):
    mocker.patch.object(BatchClient, "list_jobs", side_effect=forbidden())
    mocker.patch("batchwords._roles.ROLE_WAIT_SECONDS", 0.0)
    with pytest.raises(BatchServiceError, match="needs the Azure Batch Job Submitter role"):
        batchwords.Batch(ENDPOINT, Token()).wait_for_job_role()


def test_other_failures_are_not_waited_for(mocker):
    error = HttpResponseError(message="bad")
    error.status_code = 400
    mocker.patch.object(BatchClient, "list_jobs", side_effect=error)
    slept = mocker.patch("batchwords._roles.time.sleep")
    with pytest.raises(BatchServiceError) as failed:
        batchwords.Batch(ENDPOINT, Token()).wait_for_job_role()
    assert "Job Submitter" not in str(failed.value)
    assert slept.call_count == 0


def test_shared_key_asks_nothing(emulators, mocker):
    listing = mocker.patch.object(BatchClient, "list_jobs", side_effect=forbidden())
    emulators.batch.wait_for_job_role()
    assert listing.call_count == 0


def test_a_submission_waits_for_the_role_before_its_deadline_starts(emulators, mocker):
    spec = emulators.spec()
    order: list[str] = []
    mocker.patch.object(
        batchwords.Batch, "wait_for_job_role", autospec=True, side_effect=lambda self: order.append("role")
    )
    real = batchwords.Batch.with_deadline

    def with_deadline(self: batchwords.Batch, *args: Any, **kwargs: Any) -> batchwords.Batch:
        order.append("deadline")
        return real(self, *args, **kwargs)

    mocker.patch.object(batchwords.Batch, "with_deadline", with_deadline)
    inputs = upload_samples(emulators, spec)
    emulators.job_set(spec).submit(inputs)
    assert order[:2] == ["role", "deadline"]
