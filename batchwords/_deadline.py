"""Deadlines and retries around the Batch client: no pause past the caller's deadline.

azure-core's retry policy honours ``Retry-After`` however long it is, and its
backoff grows to 30 s: a wait of 5 s once took 75 s under three 429s with
``Retry-After: 25``. ``BoundedRetry`` cuts every pause at the deadline, and
``Deadline`` refuses to start a request after it (and bounds a submission's
server errors).
"""

from __future__ import annotations

import enum
import time
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from ._credentials import sign_in_failure
from ._exceptions import BatchServiceError, BatchwordsError, DeadlineError

Policy = SansIOHTTPPolicy[HttpRequest, HttpResponse]


def text(value: object) -> str:
    """An SDK enum's wire value ("completed"), not its repr ("BatchTaskState.COMPLETED")."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


class BoundedRetry(RetryPolicy):  # type: ignore[type-arg]
    """azure-core's retries (throttling, server errors, ``Retry-After``), never sleeping past ``deadline``
    (a ``time.monotonic()`` value; None: no deadline)."""

    def __init__(self, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline

    def sleep(self, settings: Any, transport: Any, response: Any = None) -> None:
        if self.deadline is None:
            super().sleep(settings, transport, response)
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineError("the deadline passed while the Batch service asked to wait")
        wanted = self.get_retry_after(response) if response is not None else None
        if not wanted:  # as azure-core: no (or a zero) Retry-After means its own backoff
            wanted = self.get_backoff_time(settings)
        transport.sleep(min(wanted, remaining))


class Deadline(Policy):
    """Ends a submission at its deadline or after its budget of server errors.

    azure-batch's ``create_tasks`` requeues a chunk that fails with 5xx forever;
    raising here makes it record the error and stop.
    """

    def __init__(self, seconds: float, server_errors: int, what: str = "the submission") -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.budget = server_errors
        self.what = what

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlineError(f"{self.what} did not finish within {self.seconds:.0f} s")

    def on_response(
        self, request: PipelineRequest[HttpRequest], response: PipelineResponse[HttpRequest, HttpResponse]
    ) -> None:
        if response.http_response.status_code >= 500:
            self.budget -= 1
            if self.budget < 0:
                raise DeadlineError(
                    f"the Batch service kept failing ({response.http_response.status_code}) "
                    "beyond the retry budget"
                )


def error_code(exc: AzureError) -> str | None:
    """The service's error code ("JobCompleted"), if it gave one."""
    code = getattr(getattr(exc, "error", None), "code", None)
    return str(code) if code else None


def transient(exc: AzureError) -> bool:
    """Trying again later may help: unreachable, throttled, or a server error."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    status = getattr(exc, "status_code", None) if isinstance(exc, HttpResponseError) else None
    return status is not None and (status == 429 or status >= 500)


def batch_error(action: str, exc: AzureError, endpoint: str = "") -> BatchwordsError:
    """One line for a failed Batch request; ``transient`` set when a retry may help."""
    no_token = sign_in_failure(exc)
    if no_token is not None:
        return no_token
    if isinstance(exc, ServiceRequestError):
        return BatchServiceError(
            f"{action} failed: the Batch service at {endpoint or 'its endpoint'} cannot be reached "
            f"({str(exc).splitlines()[0][:200]})",
            transient=True,
        )
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or type(exc).__name__
    message = getattr(error, "message", None) or str(exc)
    return BatchServiceError(
        f"{action} failed ({code}): {str(message).splitlines()[0]}", transient=transient(exc)
    )
