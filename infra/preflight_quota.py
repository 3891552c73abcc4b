"""What the stack's pool needs of its Batch account's quotas, against what the account allows.

The quotas are properties of the account (Microsoft.Batch ``batchAccounts`` GET, pool
allocation mode BatchService): ``dedicatedCoreQuota`` and ``lowPriorityCoreQuota`` count
cores over all pools (low-priority covers Spot), ``dedicatedCoreQuotaPerVMFamily`` counts
them per VM family as well when ``dedicatedCoreQuotaPerVMFamilyEnforced`` is true,
``poolQuota`` counts pools and ``activeJobAndJobScheduleQuota`` active jobs. Batch documents
that new accounts in some regions and subscription types get some of them reduced to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.compute import POOL_NAME
from infra.config import StackConfig

#: The portal's way to more of an account's quota (there is no CLI for it).
QUOTA_REQUEST = "Azure portal: Batch account {account}, Quotas, Request quota increase"


@dataclass(frozen=True)
class Needs:
    """What one ``pulumi up`` asks of the account: the pool at its largest, and one job."""

    family: str
    dedicated_cores: int
    spot_cores: int
    jobs: int = 1

    def __str__(self) -> str:
        return (
            f"{self.dedicated_cores} dedicated {self.family} cores, {self.spot_cores} Spot cores, "
            f"1 pool and {self.jobs} active job"
        )


@dataclass(frozen=True)
class Quota:
    """One quota of the account: what the stack needs on top of what other pools use, and its limit."""

    name: str
    need: int
    #: None: the account does not report it (quotas of a user-subscription account are the subscription's).
    limit: int | None
    used: int = 0

    @property
    def short(self) -> bool:
        return self.limit is not None and self.used + self.need > self.limit

    def __str__(self) -> str:
        if self.limit is None:
            return f"{self.name} not reported"
        used = f" + {self.used} in use" if self.used else ""
        return f"{self.name}: need {self.need}{used} of {self.limit}"


def vcpus(sku: dict[str, Any]) -> int:
    """A ``virtualMachineSkus`` item's vCPUs, from its capabilities."""
    return next((int(c["value"]) for c in sku.get("capabilities") or [] if c.get("name") == "vCPUs"), 0)


def needs(config: StackConfig, sku: dict[str, Any]) -> Needs:
    cores = vcpus(sku)
    # Autoscale sets $TargetLowPriorityNodes = 0, so it needs dedicated cores only.
    dedicated = (config.max_nodes if config.autoscale else config.dedicated_nodes) * cores
    spot = 0 if config.autoscale else config.spot_nodes * cores
    return Needs(str(sku.get("familyName", "?")), dedicated, spot)


def quotas(
    need: Needs,
    account: dict[str, Any],
    pools: list[dict[str, Any]] | None,
    skus: dict[str, dict[str, Any]],
) -> list[Quota]:
    """The account's quotas against ``need``; ``pools`` are its pools (None: not listed),
    ``skus`` the region's VM sizes by lowercase name (pools report ``vmSize`` in any case)."""
    props = account.get("properties") or {}
    others = [p.get("properties") or {} for p in pools or [] if p.get("name") != POOL_NAME]

    def in_use(nodes: str, family: str | None = None) -> int:
        total = 0
        for pool in others:
            sku = skus.get(str(pool.get("vmSize", "")).lower()) or {}
            if family is None or str(sku.get("familyName", "")).lower() == family.lower():
                total += int(pool.get(nodes) or 0) * vcpus(sku)
        return total

    found = [
        Quota(
            "dedicatedCoreQuota",
            need.dedicated_cores,
            _int(props, "dedicatedCoreQuota"),
            in_use("currentDedicatedNodes"),
        )
    ]
    # Not enforced: dedicatedCoreQuota alone counts. Absent (older answers): assume enforced.
    if props.get("dedicatedCoreQuotaPerVMFamilyEnforced", True) and "dedicatedCoreQuotaPerVMFamily" in props:
        family = next(
            (
                int(q.get("coreQuota") or 0)
                for q in props.get("dedicatedCoreQuotaPerVMFamily") or []
                if str(q.get("name", "")).lower() == need.family.lower()
            ),
            0,  # a family the account does not list has no cores
        )
        found.append(
            Quota(
                f"dedicatedCoreQuotaPerVMFamily {need.family}",
                need.dedicated_cores,
                family,
                in_use("currentDedicatedNodes", need.family),
            )
        )
    ours = pools is not None and any(p.get("name") == POOL_NAME for p in pools)
    found += [
        Quota(
            "lowPriorityCoreQuota",
            need.spot_cores,
            _int(props, "lowPriorityCoreQuota"),
            in_use("currentLowPriorityNodes"),
        ),
        # The stack's pool, once it exists, is updated in place: it needs no second one.
        Quota("poolQuota", 0 if ours else 1, _int(props, "poolQuota"), len(others)),
        Quota("activeJobAndJobScheduleQuota", need.jobs, _int(props, "activeJobAndJobScheduleQuota")),
    ]
    return found


def quota_fix(short: list[Quota], account: str) -> str:
    """The fix for the quotas that are too small, each named."""
    names = ", ".join(q.name for q in short)
    fix = f"ask for more {names} ({QUOTA_REQUEST.format(account=account)})"
    if any("Core" in q.name for q in short):
        fix += ", or lower batchwords:dedicatedNodes / spotNodes / maxNodes"
    if any(q.name == "poolQuota" for q in short):
        fix += f", or delete an unused pool of {account}"
    return fix


def _int(props: dict[str, Any], key: str) -> int | None:
    value = props.get(key)
    return None if value is None else int(value)
