"""Waiting for a new role assignment to apply: Azure takes up to about 10 minutes.

Right after ``pulumi up`` creates the deployer's data roles, Storage can answer
403 AuthorizationPermissionMismatch or AuthorizationFailure, and Batch 403 to a
job operation (its job and task operations are dataActions, which the "Azure
Batch Job Submitter" role grants). Those (and only those) are retried with
backoff for a bounded time, saying what is waited for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from azure.core.exceptions import AzureError, HttpResponseError

from ._deadline import batch_error
from ._exceptions import BatchServiceError

logger = logging.getLogger(__name__)

#: The error codes Storage gives while a role assignment has not applied yet.
NOT_YET_AUTHORIZED = {"AuthorizationPermissionMismatch", "AuthorizationFailure"}
#: The least Batch role that creates jobs and tasks (what the Pulumi program grants the deployer).
JOB_ROLE = "Azure Batch Job Submitter"
#: Azure documents up to 10 minutes for a role assignment to apply.
ROLE_WAIT_SECONDS = 660.0
T = TypeVar("T")


def waiting_for_roles(
    action: str,
    call: Callable[[], T],
    *,
    timeout: float | None = None,
    service: str = "Storage",
    codes: Collection[str] | None = NOT_YET_AUTHORIZED,
) -> T:
    """``call()``, retried while ``service`` says the caller's role has not applied yet: a 403
    with one of ``codes`` (None: any 403, for a caller that signs in with Entra ID only), for
    ``timeout`` seconds, by default ``ROLE_WAIT_SECONDS``."""
    deadline = time.monotonic() + (ROLE_WAIT_SECONDS if timeout is None else timeout)
    delay = 2.0
    while True:
        try:
            return call()
        except HttpResponseError as exc:
            code = getattr(exc, "error_code", None)
            remaining = deadline - time.monotonic()
            if exc.status_code != 403 or (codes is not None and code not in codes) or remaining <= 0:
                raise
            logger.warning(
                "%s: %s refused (403 %s); waiting for a new role assignment to apply, "
                "retrying for up to %.0f s more",
                action,
                service,
                code,
                remaining,
            )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 30.0)


def job_role_applied(endpoint: str, first_call: Callable[[], object]) -> None:
    """``first_call()`` to Batch with Entra ID, retried while the caller's job role is not applied
    yet; a 403 after the wait names the role to assign."""
    try:
        waiting_for_roles(f"reading jobs at {endpoint}", first_call, service="Batch", codes=None)
    except AzureError as exc:
        error = batch_error("reading the jobs", exc, endpoint)
        if getattr(exc, "status_code", None) == 403:
            error = BatchServiceError(
                f"{error}; the signed-in principal needs the {JOB_ROLE} role on the Batch account "
                "(the Pulumi program assigns it to the deployer; a role takes up to 10 minutes to apply)"
            )
        raise error from exc
