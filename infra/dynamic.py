"""What the two dynamic resources (``BlobFiles``, ``BatchJob``) share: their type names' history,
the principal their roles were granted to, and an account deleted outside Pulumi."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from typing import Any

import pulumi

import batchwords
from batchwords import deploy

#: The type every Python dynamic resource had before each named its own; existing stacks' state
#: holds it, and an alias maps it to the new type, so that state is kept, not replaced.
UNNAMED_TYPE = "pulumi-python:dynamic:Resource"


def keep_state(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options plus the alias from the unnamed type."""
    alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=UNNAMED_TYPE)])
    return pulumi.ResourceOptions.merge(alias, opts)


def principal_id(props: Mapping[str, Any]) -> str | None:
    """The ``principal_id`` prop: the object id the program granted the data roles to (None: not
    checked, as in a state written before the prop existed)."""
    value = props.get("principal_id")
    if value is None or value == "":
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        reason = f"must be an Entra ID object id (a GUID), not {str(value)[:60]!r}"
        raise batchwords.ConfigError(f"principal_id {reason}", [("principal_id", reason)]) from None


def gone(endpoint: str, account: str) -> bool:
    """True, and said on the provider's stderr, when ``endpoint``'s name no longer resolves: the
    account was deleted outside Pulumi, with everything in it."""
    if not deploy.endpoint_gone(endpoint):
        return False
    print(
        f"batchwords: the {account} account's endpoint {endpoint} does not resolve: it was deleted "
        "outside Pulumi, with everything in it; nothing of it is left to delete",
        file=sys.stderr,
        flush=True,
    )
    return True
