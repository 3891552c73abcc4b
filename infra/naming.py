"""Azure names that satisfy Azure's rules for their type, stable per stack.

Without an explicit name azure-native appends a random suffix to the logical
name ("storage-account1a2b3c4d"), which breaks the accounts' rule: 3 to 24
lowercase letters and digits, globally unique.
"""

from __future__ import annotations

import hashlib
import re
import uuid

#: Storage and Batch account names: 3 to 24 lowercase letters and digits.
ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")
#: Blob container names: 3 to 63 lowercase letters, digits and single hyphens, not at either end.
CONTAINER_NAME = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
#: Batch pool and job ids: 1 to 64 letters, digits, hyphens and underscores.
BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Kept short so the stable suffix has room: "bw" + kind + 20 hex digits = 24.
PREFIX = "bw"


def account_name(kind: str, project: str, stack: str, subscription_id: str) -> str:
    """``bw`` + a two-letter kind + 20 hex digits of (project, stack, subscription): stable per stack."""
    if not re.fullmatch(r"[a-z]{2}", kind):
        raise ValueError(f"an account kind is two lowercase letters (got {kind!r})")
    digest = hashlib.sha256(f"{project}/{stack}/{subscription_id}".encode()).hexdigest()
    return f"{PREFIX}{kind}{digest}"[:24]


def role_assignment_name(scope: str, principal_id: str, role_definition_id: str) -> str:
    """A role assignment's GUID from what it grants: unique in the tenant, the same on a rerun."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal_id}|{role_definition_id}"))
