"""Waiting for a new role assignment to apply: Azure takes up to about 10 minutes.

Right after ``pulumi up`` creates the deployer's data roles, Storage can answer
403 AuthorizationPermissionMismatch or AuthorizationFailure. Those (and only
those) are retried with backoff for a bounded time, saying what is waited for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import HttpResponseError

logger = logging.getLogger(__name__)

#: The error codes Storage gives while a role assignment has not applied yet.
NOT_YET_AUTHORIZED = {"AuthorizationPermissionMismatch", "AuthorizationFailure"}
#: Azure documents up to 10 minutes for a role assignment to apply.
ROLE_WAIT_SECONDS = 660.0
T = TypeVar("T")


def waiting_for_roles(
    action: str,
    call: Callable[[], T],
    *,
    timeout: float | None = None,
) -> T:
    """``call()``, retried while Storage says the caller's role has not applied yet
    (for ``timeout`` seconds, by default ``ROLE_WAIT_SECONDS``)."""
    deadline = time.monotonic() + (ROLE_WAIT_SECONDS if timeout is None else timeout)
    delay = 2.0
    while True:
        try:
            return call()
        except HttpResponseError as exc:
            code = getattr(exc, "error_code", None)
            remaining = deadline - time.monotonic()
            if exc.status_code != 403 or code not in NOT_YET_AUTHORIZED or remaining <= 0:
                raise
            logger.warning(
                "%s: Storage refused (403 %s); waiting for a new role assignment to apply, "
                "retrying for up to %.0f s more",
                action,
                code,
                remaining,
            )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 30.0)
