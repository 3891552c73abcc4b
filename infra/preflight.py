"""``batchwords preflight --stack NAME``: what would stop a first ``pulumi up``, checked before it.

With the user's own credentials, against Azure Resource Manager and the public
retail prices API: sign-in and subscription, resource providers, the Batch
account quota, the account's core, pool and job quotas (``preflight_quota``),
the right to create the program's role assignments (``preflight_roles``), the
account names, the VM size in the region, and the pool's hourly cost. Each
check passes, fails or could not be checked, and says the fix.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import DefaultAzureCredential

from batchwords.deploy import ARM_ENDPOINT, PRICES_ENDPOINT
from infra.arm import ARM, PRICES, Arm, ArmError, retail_prices
from infra.config import ROOT, StackConfig, StackConfigError, load
from infra.naming import account_name
from infra.preflight_quota import needs, quota_fix, quotas, vcpus
from infra.preflight_roles import ASSIGNED_ROLES, ROLE_WRITE, allows, roles_blocked

PASS, FAIL, UNKNOWN = "pass", "fail", "could not check"
#: Where azure-native (ARM_*) and azure-identity (AZURE_*) take the subscription from.
SUBSCRIPTION_VARIABLES = ("ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")
PROVIDERS = ("Microsoft.Batch", "Microsoft.Storage", "Microsoft.ManagedIdentity")
BATCH_API = "2024-07-01"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


class Preflight:
    """The checks for one stack, in order; each turns an ARM error into 'could not check'."""

    def __init__(
        self,
        config: StackConfig,
        names: tuple[str, str],
        arm: Arm,
        subscription: str | None,
        prices: str = PRICES,
    ) -> None:
        #: (project, stack): with the subscription, they name the accounts.
        self.config, (self.project, self.stack) = config, names
        self.arm, self.subscription, self.prices = arm, subscription, prices
        self._skus: dict[str, Any] | None = None
        self._accounts: list[dict[str, Any]] | None = None

    def run(self) -> list[Check]:
        try:
            first = self.signed_in()
        except (ArmError, AzureError) as exc:
            first = Check(
                "Signed in, with a subscription", UNKNOWN, str(exc), "check the network and try again"
            )
        checks = [
            ("Resource providers registered", self.providers, "az provider register --namespace NAME"),
            ("Batch account quota in the region", self.batch_quota, ""),
            ("VM size offered to Batch in the region", self.vm_size, ""),
            ("Core, pool and job quotas of the account", self.account_quotas, ""),
            ("Right to create role assignments", self.role_rights, ""),
            ("Account names available", self.names, ""),
            ("Hourly cost of the pool", self.cost, ""),
        ]
        results = [first]
        for name, check, fix in checks:
            if (first.status != PASS or self.subscription is None) and check != self.cost:
                results.append(Check(name, UNKNOWN, "needs a subscription (see above)"))
                continue
            try:
                results.append(check())
            except (ArmError, AzureError) as exc:
                results.append(Check(name, UNKNOWN, str(exc), fix))
        return results

    # -- the checks --------------------------------------------------------

    def signed_in(self) -> Check:
        name = "Signed in, with a subscription"
        try:
            claims = self.arm.token_claims()
        except AzureError as exc:
            return Check(
                name,
                FAIL,
                f"no token: {str(exc).splitlines()[0]}",
                "az login (or set AZURE_* for a service principal)",
            )
        who = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("oid", "?")
        kind = "service principal" if claims.get("idtyp") == "app" or "upn" not in claims else "user"
        if self.subscription is None:
            subscriptions = [
                s for s in self.arm.list("/subscriptions", "2022-12-01") if s.get("state") == "Enabled"
            ]
            if len(subscriptions) != 1:
                return Check(
                    name,
                    FAIL,
                    f"{kind} {who}: {len(subscriptions)} enabled subscriptions, none chosen",
                    "pulumi config set azure-native:subscriptionId ID (or set ARM_SUBSCRIPTION_ID)",
                )
            self.subscription = subscriptions[0]["subscriptionId"]
        sub = self.arm.get(f"/subscriptions/{self.subscription}", "2022-12-01")
        detail = (
            f"{kind} {who}, tenant {claims.get('tid', '?')}; "
            f"subscription {sub.get('displayName')} ({self.subscription})"
        )
        if sub.get("state") != "Enabled":
            return Check(name, FAIL, f"{detail} is {sub.get('state')}", "use an enabled subscription")
        return Check(name, PASS, detail)

    def providers(self) -> Check:
        states = {
            namespace: self.arm.get(
                f"/subscriptions/{self.subscription}/providers/{namespace}", "2021-04-01"
            ).get("registrationState", "?")
            for namespace in PROVIDERS
        }
        missing = [namespace for namespace, state in states.items() if state != "Registered"]
        detail = ", ".join(f"{namespace} {state}" for namespace, state in states.items())
        fix = "; ".join(f"az provider register --namespace {namespace}" for namespace in missing)
        return Check("Resource providers registered", FAIL if missing else PASS, detail, fix)

    def batch_quota(self) -> Check:
        location = self.config.location
        quota = int(
            self.arm.get(
                f"/subscriptions/{self.subscription}/providers/Microsoft.Batch/locations/{location}/quotas",
                BATCH_API,
            ).get("accountQuota", 0)
        )
        here = [a["name"] for a in self.accounts() if _same_region(a.get("location", ""), location)]
        name = "Batch account quota in the region"
        if self.batch_account in here:
            return Check(name, PASS, f"{self.batch_account} exists in {location}: pulumi up updates it")
        detail = f"{len(here)} of {quota} Batch accounts used in {location}"
        if len(here) >= quota:
            return Check(
                name,
                FAIL,
                detail,
                f"delete an unused Batch account in {location}, set batchwords:location elsewhere, "
                "or ask for a higher quota (Azure portal: Quotas, Batch)",
            )
        return Check(name, PASS, detail)

    def vm_size(self) -> Check:
        name = "VM size offered to Batch in the region"
        sku = self.sku()
        if sku is None:
            return Check(
                name,
                FAIL,
                f"{self.config.vm_size} is not offered to Batch pools in {self.config.location}",
                f"az batch location list-skus --location {self.config.location} -o table; "
                "then pulumi config set batchwords:vmSize SIZE",
            )
        return Check(name, PASS, f"{sku['name']}: {vcpus(sku)} vCPUs, family {sku.get('familyName')}")

    def account_quotas(self) -> Check:
        name = "Core, pool and job quotas of the account"
        sku = self.sku()
        if sku is None:
            return Check(name, UNKNOWN, "the VM size is not offered (see above)")
        need = needs(self.config, sku)
        account = next((a for a in self.accounts() if a["name"] == self.batch_account), None)
        if account is None:
            return Check(
                name,
                UNKNOWN,
                f"the stack needs {need}; Batch account {self.batch_account} does not exist yet, so its "
                "quotas are checked once it does (run preflight again after pulumi up creates it)",
                f"after pulumi up: az batch account show --name {self.batch_account} (new accounts in some "
                "regions get 0 of a quota: ask for more in the portal, Batch account, Quotas)",
            )
        try:
            pools: list[dict[str, Any]] | None = self.arm.list(f"{account['id']}/pools", BATCH_API)
        except (ArmError, KeyError):
            pools = None  # counted as none: the stack's pool alone against poolQuota
        found = quotas(need, account, pools, self._skus or {})
        short = [q for q in found if q.short]
        detail = "; ".join(str(q) for q in found) + ("" if pools is not None else "; pools not listed")
        fix = quota_fix(short, self.batch_account) if short else ""
        return Check(name, FAIL if short else PASS, detail, fix)

    def role_rights(self) -> Check:
        name = "Right to create role assignments"
        oid = self.arm.token_claims().get("oid")
        if not oid:
            return Check(name, UNKNOWN, "the token names no object id")
        scope = f"/subscriptions/{self.subscription}"
        wanted = (
            [scope, f"{scope}/resourcegroups/{self.config.resource_group_name}".lower()]
            if self.config.resource_group_name
            else [scope]
        )
        assignments = self.arm.list(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments",
            "2022-04-01",
            **{"$filter": f"assignedTo('{oid}')"},
        )
        granting, conditioned = [], []
        for assignment in assignments:
            props = assignment.get("properties") or {}
            where = str(props.get("scope", "")).lower()
            if not (
                where.startswith("/providers/microsoft.management")
                or where == "/"
                or where in (w.lower() for w in wanted)
            ):
                continue
            definition = self.arm.get(str(props["roleDefinitionId"]), "2022-04-01").get("properties") or {}
            if any(allows(p, ROLE_WRITE) for p in definition.get("permissions") or []):
                held = f"{definition.get('roleName')} at {props.get('scope')}"
                blocked = roles_blocked(props.get("condition"))
                if blocked:
                    conditioned.append(f"{held} under a condition that excludes {', '.join(blocked)}")
                else:
                    granting.append(held)
        # The Batch account and the Storage containers sit in the resource group: one scope covers all.
        covers = "the Storage data roles and Azure Batch Job Submitter on the Batch account"
        if granting:
            return Check(name, PASS, "; ".join(granting) + f": enough to assign {covers}")
        return Check(
            name,
            FAIL,
            "; ".join([f"no role of yours at {wanted[-1]} allows {ROLE_WRITE} for {covers}", *conditioned]),
            "ask for Owner, User Access Administrator or Role Based Access Control Administrator on "
            "the subscription (or the resource group of batchwords:resourceGroupName), with no condition "
            f"or one that allows {', '.join(ASSIGNED_ROLES.values())}",
        )

    def names(self) -> Check:
        storage = self.config.storage_account_name or account_name(
            "st", self.project, self.stack, str(self.subscription)
        )
        sub = f"/subscriptions/{self.subscription}"
        problems: list[str] = []
        notes: list[str] = []
        answer = self.arm.post(
            f"{sub}/providers/Microsoft.Storage/checkNameAvailability",
            "2023-05-01",
            {"name": storage, "type": "Microsoft.Storage/storageAccounts"},
        )
        if not answer.get("nameAvailable"):
            ours = any(
                a.get("name") == storage
                for a in self.arm.list(f"{sub}/providers/Microsoft.Storage/storageAccounts", "2023-05-01")
            )
            (notes if ours else problems).append(
                f"storage {storage} "
                + (
                    "exists in this subscription: pulumi up updates it"
                    if ours
                    else f"is taken ({answer.get('reason')})"
                )
            )
        else:
            notes.append(f"storage {storage} is free")
        answer = self.arm.post(
            f"{sub}/providers/Microsoft.Batch/locations/{self.config.location}/checkNameAvailability",
            BATCH_API,
            {"name": self.batch_account, "type": "Microsoft.Batch/batchAccounts"},
        )
        ours = any(a["name"] == self.batch_account for a in self.accounts())
        if answer.get("nameAvailable") or ours:
            notes.append(
                f"Batch {self.batch_account} "
                + ("exists in this subscription: pulumi up updates it" if ours else "is free")
            )
        else:
            problems.append(f"Batch {self.batch_account} is taken ({answer.get('reason')})")
        fix = (
            "pulumi config set batchwords:storageAccountName / batchwords:batchAccountName to names "
            "of your own"
            if problems
            else ""
        )
        return Check("Account names available", FAIL if problems else PASS, "; ".join(problems + notes), fix)

    def cost(self) -> Check:
        name = "Hourly cost of the pool"
        location = self.config.location
        # The prices API matches names case-sensitively: ask in virtualMachineSkus' spelling.
        sku = self._skus.get(self.config.vm_size.lower()) if self._skus is not None else None
        vm = str(sku["name"]) if sku else self.config.vm_size
        items = retail_prices(
            f"serviceName eq 'Virtual Machines' and armRegionName eq '{location}' "
            f"and armSkuName eq '{vm}' and priceType eq 'Consumption'",
            self.prices,
        )
        linux = [
            i
            for i in items
            if "Windows" not in i.get("productName", "")
            and i.get("unitOfMeasure") == "1 Hour"
            and str(i.get("armSkuName", vm)).lower() == vm.lower()
        ]
        regular = min(
            (
                i["retailPrice"]
                for i in linux
                if not any(s in i.get("skuName", "") for s in ("Spot", "Low Priority"))
            ),
            default=None,
        )
        spot = min((i["retailPrice"] for i in linux if "Spot" in i.get("skuName", "")), default=None)
        if regular is None:
            return Check(
                name,
                UNKNOWN,
                f"no Linux price for {vm} in {location}",
                "see the Azure pricing calculator"
                + ("" if sku else "; the prices API wants the size spelled as Batch lists it"),
            )
        if self.config.autoscale:
            top = self.config.max_nodes * regular
            return Check(
                name,
                PASS,
                f"{vm} ${regular:.4f}/h per node; autoscale: $0 idle, "
                f"up to ${top:.2f}/h with {self.config.max_nodes} nodes",
            )
        total = self.config.dedicated_nodes * regular + self.config.spot_nodes * (spot or 0.0)
        detail = (
            f"{vm} ${regular:.4f}/h dedicated"
            + (f", ${spot:.4f}/h spot" if spot is not None else "")
            + f"; {self.config.dedicated_nodes} dedicated + {self.config.spot_nodes} spot = ${total:.2f}/h "
            f"(${total * HOURS_PER_MONTH:.0f} a month if left running)"
        )
        return Check(name, PASS, detail)

    # -- shared lookups ----------------------------------------------------

    @property
    def batch_account(self) -> str:
        return self.config.batch_account_name or account_name(
            "ba", self.project, self.stack, str(self.subscription)
        )

    def accounts(self) -> list[dict[str, Any]]:
        if self._accounts is None:
            self._accounts = self.arm.list(
                f"/subscriptions/{self.subscription}/providers/Microsoft.Batch/batchAccounts", BATCH_API
            )
        return self._accounts

    def sku(self) -> dict[str, Any] | None:
        if self._skus is None:
            skus = self.arm.list(
                f"/subscriptions/{self.subscription}/providers/Microsoft.Batch/locations/{self.config.location}/virtualMachineSkus",
                BATCH_API,
            )
            self._skus = {str(s.get("name", "")).lower(): s for s in skus}
        return self._skus.get(self.config.vm_size.lower())


def _same_region(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


# -- the command ------------------------------------------------------------------


def project_folder(start: Path | None = None) -> Path:
    """The folder holding Pulumi.yaml and the stack files: the current one, or one above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise StackConfigError(
        f"no Pulumi.yaml in {here} or above it; run preflight in the project's checkout "
        "(the folder with Pulumi.yaml and the Pulumi.STACK.yaml files)"
    )


def stack_values(stack: str, folder: Path = ROOT) -> tuple[str, dict[str, str]]:
    """The project's name and the stack file's config, as the engine would give it."""
    path = folder / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in folder.glob("Pulumi.*.yaml"))
        raise StackConfigError(f"no stack file {path.name}; stacks here: {', '.join(known)}")
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    values = yaml.safe_load(path.read_text(encoding="utf-8")).get("config") or {}
    return str(project), {
        str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()
    }


def render(checks: list[Check], out: Callable[[str], None] = print) -> None:
    width = max(len(c.name) for c in checks)
    for check in checks:
        out(f"{check.name:<{width}}  {check.status:<15}  {check.detail}")
        if check.fix and check.status != PASS:
            out(f"{'':<{width}}  {'':<15}  fix: {check.fix}")


def main(argv: list[str] | None = None, credential: TokenCredential | None = None) -> int:
    """The checks of a stack in the checkout (the current folder or above it); the exit code.

    Also the deploy extra's console script ``batchwords-preflight``, which ``batchwords preflight`` runs.
    """
    parser = argparse.ArgumentParser(prog="batchwords preflight", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", required=True, help="the stack to check (Pulumi.STACK.yaml at the checkout's top)"
    )
    parser.add_argument("--json", action="store_true", help="the checks as JSON")
    args = parser.parse_args(argv)
    try:
        folder = project_folder()
        project, values = stack_values(args.stack, folder)
        pulumi.runtime.set_all_config(values)
        config = load(pulumi.Config("batchwords"), stack=args.stack, root=folder)
    except StackConfigError as exc:
        print(f"batchwords preflight: {exc}", file=sys.stderr)
        return 2
    subscription = values.get("azure-native:subscriptionId") or next(
        (os.environ[v] for v in SUBSCRIPTION_VARIABLES if os.environ.get(v)), None
    )
    if credential is None:
        # The check says what failed; azure-identity's own warnings would repeat it at length.
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    arm = Arm(credential, os.environ.get(ARM_ENDPOINT) or ARM)
    checks = Preflight(
        config, (project, args.stack), arm, subscription, os.environ.get(PRICES_ENDPOINT) or PRICES
    ).run()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        render(checks)
    failed = [c for c in checks if c.status == FAIL]
    unknown = [c for c in checks if c.status == UNKNOWN]
    print(
        f"\n{len(checks) - len(failed) - len(unknown)} passed, {len(failed)} failed, "
        f"{len(unknown)} could not be checked",
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
