"""The roles ``pulumi up`` assigns, and whether a role (and its assignment's condition) lets the
deployer assign them.

The Role Based Access Control Administrator role is often granted with a condition (ABAC,
``conditionVersion`` 2.0) that constrains which roles its holder may assign: either a list
of allowed role definitions (``GuidEquals``) or of excluded ones (``GuidNotEquals``). A right
to write role assignments under such a condition is no right to assign a role it leaves out.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any

from infra.identity import (
    AZURE_BATCH_JOB_SUBMITTER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DELEGATOR,
)

ROLE_WRITE = "microsoft.authorization/roleassignments/write"
#: Every role the program assigns: the Storage roles of the pool identity and of the deployer,
#: and the deployer's Batch data role on the Batch account (job and task operations are dataActions).
ASSIGNED_ROLES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    STORAGE_BLOB_DELEGATOR: "Storage Blob Delegator",
    AZURE_BATCH_JOB_SUBMITTER: "Azure Batch Job Submitter",
}

# A clause on the role a new assignment grants, e.g.
# @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {id, id}
_ROLE_CLAUSE = re.compile(
    r"@Request\[Microsoft\.Authorization/roleAssignments:RoleDefinitionId\]\s*\w+:Guid(Not)?Equals\s*\{([^}]*)\}",
    re.IGNORECASE,
)


def roles_blocked(condition: str | None) -> list[str]:
    """The names of the assigned roles that ``condition`` does not let its holder assign."""
    allowed: set[str] | None = None
    excluded: set[str] = set()
    for negated, ids in _ROLE_CLAUSE.findall(condition or ""):
        listed = {i.strip().lower() for i in ids.split(",")}
        if negated:
            excluded |= listed
        else:
            allowed = (allowed or set()) | listed
    return [
        name
        for role, name in ASSIGNED_ROLES.items()
        if role in excluded or (allowed is not None and role not in allowed)
    ]


def allows(permission: dict[str, Any], action: str) -> bool:
    """Whether a role definition's permission grants ``action`` (lowercase): its ``actions``
    match it, with wildcards, and its ``notActions`` do not."""

    def matches(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatch(action, str(p).lower()) for p in patterns)

    return matches(permission.get("actions") or []) and not matches(permission.get("notActions") or [])
