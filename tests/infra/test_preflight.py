"""`batchwords preflight`: each check against a local stand-in for the few ARM endpoints it reads
and for the retail prices API, answering in the shapes the REST specifications document."""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pulumi
import pytest
from azure.core.credentials import AccessToken

from infra import config as stack_config
from infra.arm import Arm
from infra.naming import account_name
from infra.preflight import FAIL, PASS, UNKNOWN, Preflight, main, stack_values
from tests.support.words import ROOT

SUB = "00000000-0000-0000-0000-00000000a001"
OID = "11111111-2222-3333-4444-555555555555"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"


class Token:
    """A signed-in user's token (Entra cannot be reached here): its claims are what preflight reads."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        claims = {"oid": OID, "upn": "alice@contoso.example", "tid": "tenant-1"}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return AccessToken(f"eyJhbGciOiJub25lIn0.{payload}.sig", 4_102_444_800)


def sku(name: str, family: str, vcpus: int) -> dict[str, Any]:
    return {"name": name, "familyName": family, "capabilities": [{"name": "vCPUs", "value": str(vcpus)}]}


def batch_account(name: str, **quotas: Any) -> dict[str, Any]:
    """A BatchService account as ``batchAccounts`` lists it (BatchManagement.json), with its quotas."""
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/batchwords1a2b/providers/Microsoft.Batch"
        f"/batchAccounts/{name}",
        "name": name,
        "type": "Microsoft.Batch/batchAccounts",
        "location": "westeurope",
        "properties": {
            "accountEndpoint": f"{name}.westeurope.batch.azure.com",
            "provisioningState": "Succeeded",
            "poolAllocationMode": "BatchService",
            "dedicatedCoreQuota": 20,
            "dedicatedCoreQuotaPerVMFamily": [
                {"name": "standardDSv3Family", "coreQuota": 20},
                {"name": "standardFSv2Family", "coreQuota": 0},
            ],
            "dedicatedCoreQuotaPerVMFamilyEnforced": True,
            "lowPriorityCoreQuota": 100,
            "poolQuota": 100,
            "activeJobAndJobScheduleQuota": 300,
            **quotas,
        },
    }


def pool(
    account: dict[str, Any], name: str, vm_size: str, dedicated: int, low_priority: int = 0
) -> dict[str, Any]:
    """A pool as ``batchAccounts/{name}/pools`` lists it: Batch reports vmSize in its own case."""
    return {
        "id": f"{account['id']}/pools/{name}",
        "name": name,
        "type": "Microsoft.Batch/batchAccounts/pools",
        "properties": {
            "vmSize": vm_size.upper(),
            "allocationState": "Steady",
            "currentDedicatedNodes": dedicated,
            "currentLowPriorityNodes": low_priority,
        },
    }


def role(role_id: str, name: str, actions: list[str], not_actions: list[str]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
        "properties": {"roleName": name, "permissions": [{"actions": actions, "notActions": not_actions}]},
    }


class FakeAzure:
    """ARM's answers for one subscription, changeable per test; every request is recorded."""

    def __init__(self) -> None:
        sub = f"/subscriptions/{SUB}"
        batch = f"{sub}/providers/Microsoft.Batch"
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.taken: set[str] = set()
        self.roles = {
            OWNER: role(OWNER, "Owner", ["*"], []),
            CONTRIBUTOR: role(
                CONTRIBUTOR,
                "Contributor",
                ["*"],
                ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"],
            ),
        }
        self.roles[RBAC_ADMINISTRATOR] = role(
            RBAC_ADMINISTRATOR,
            "Role Based Access Control Administrator",
            [
                "Microsoft.Authorization/roleAssignments/write",
                "Microsoft.Authorization/roleAssignments/delete",
                "*/read",
                "Microsoft.Support/*",
            ],
            [],
        )
        self.assigned = [OWNER]
        #: role id -> the ABAC condition of its assignment (none: unconditional)
        self.conditions: dict[str, str] = {}
        self.get_routes: dict[str, Any] = {
            sub: {"subscriptionId": SUB, "displayName": "Research", "state": "Enabled"},
            "/subscriptions": {"value": [{"subscriptionId": SUB, "state": "Enabled"}]},
            f"{sub}/providers/Microsoft.Batch": {
                "namespace": "Microsoft.Batch",
                "registrationState": "Registered",
            },
            f"{sub}/providers/Microsoft.Storage": {"registrationState": "Registered"},
            f"{sub}/providers/Microsoft.ManagedIdentity": {"registrationState": "Registered"},
            f"{batch}/locations/westeurope/quotas": {"accountQuota": 1},
            f"{batch}/batchAccounts": {"value": []},
            f"{batch}/locations/westeurope/virtualMachineSkus": {
                "value": [sku("Standard_D2s_v3", "standardDSv3Family", 2)],
                "nextLink": None,
            },
            f"{sub}/providers/Microsoft.Storage/storageAccounts": {"value": []},
        }
        self.prices = [
            {
                "armSkuName": "Standard_D2s_v3",
                "skuName": "D2s v3",
                "productName": "Virtual Machines DSv3 Series",
                "retailPrice": 0.11,
                "unitOfMeasure": "1 Hour",
            },
            {
                "armSkuName": "Standard_D2s_v3",
                "skuName": "D2s v3 Spot",
                "productName": "Virtual Machines DSv3 Series",
                "retailPrice": 0.022,
                "unitOfMeasure": "1 Hour",
            },
            {
                "armSkuName": "Standard_D2s_v3",
                "skuName": "D2s v3",
                "productName": "Virtual Machines DSv3 Series Windows",
                "retailPrice": 0.2,
                "unitOfMeasure": "1 Hour",
            },
        ]

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, query, body))
        if path == "/prices":
            # Filter values are case-sensitive since the 2023-01-01-preview API version.
            sku_name = re.search(r"armSkuName eq '([^']*)'", query["$filter"][0])
            items = [i for i in self.prices if sku_name is None or i["armSkuName"] == sku_name[1]]
            return 200, {"Items": items, "NextPageLink": None}
        if "api-version" not in query:
            return 400, {"error": {"code": "MissingApiVersionParameter", "message": "api-version"}}
        if method == "POST" and path.endswith("/checkNameAvailability"):
            free = body["name"] not in self.taken
            return 200, {"nameAvailable": free, **({} if free else {"reason": "AlreadyExists"})}
        if path.endswith("/roleAssignments"):
            assert query["$filter"] == [f"assignedTo('{OID}')"]
            return 200, {
                "value": [
                    {
                        "properties": {
                            "scope": f"/subscriptions/{SUB}",
                            "roleDefinitionId": self.roles[r]["id"],
                            **(
                                {"condition": self.conditions[r], "conditionVersion": "2.0"}
                                if r in self.conditions
                                else {}
                            ),
                        }
                    }
                    for r in self.assigned
                ]
            }
        for definition in self.roles.values():
            if path == definition["id"]:
                return 200, definition
        if path in self.get_routes:
            return 200, self.get_routes[path]
        return 404, {"error": {"code": "NotFound", "message": path}}


@pytest.fixture
def fake() -> Iterator[tuple[FakeAzure, str]]:
    azure = FakeAzure()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if parts.path != "/prices" and not str(self.headers.get("Authorization", "")).startswith(
                "Bearer "
            ):
                status, answer = 401, {"error": {"code": "AuthenticationFailed", "message": "no token"}}
            else:
                status, answer = azure.answer(method, parts.path, parse_qs(parts.query), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield azure, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        pulumi.runtime.set_all_config({})


def preflight(stack: str, base: str, subscription: str | None = SUB) -> dict[str, Any]:
    project, values = stack_values(stack)
    pulumi.runtime.set_all_config(values)
    config = stack_config.load(pulumi.Config("batchwords"), stack=stack)
    checks = Preflight(config, (project, stack), Arm(Token(), base), subscription, f"{base}/prices").run()
    return {check.name: check for check in checks}


def test_a_ready_subscription_passes_and_says_what_it_found(fake):
    azure, base = fake
    checks = preflight("dev", base, subscription=None)  # the only enabled subscription is used
    statuses = {name: check.status for name, check in checks.items()}
    assert statuses == {
        "Signed in, with a subscription": PASS,
        "Resource providers registered": PASS,
        "Batch account quota in the region": PASS,
        "VM size offered to Batch in the region": PASS,
        # A new account's quotas exist only once it does: said, with the command that shows them.
        "Core, pool and job quotas of the account": UNKNOWN,
        "Right to create role assignments": PASS,
        "Account names available": PASS,
        "Hourly cost of the pool": PASS,
    }
    assert "user alice@contoso.example" in checks["Signed in, with a subscription"].detail
    assert f"Research ({SUB})" in checks["Signed in, with a subscription"].detail
    batch = account_name("ba", "batchwords", "dev", SUB)
    quotas = checks["Core, pool and job quotas of the account"]
    assert f"az batch account show --name {batch}" in quotas.fix
    assert quotas.detail.startswith(
        "the stack needs 2 dedicated standardDSv3Family cores, 0 Spot cores, 1 pool and 1 active job; "
        f"Batch account {batch} does not exist yet"
    )
    assert "Owner at /subscriptions/" in checks["Right to create role assignments"].detail
    assert (
        "Azure Batch Job Submitter on the Batch account" in checks["Right to create role assignments"].detail
    )
    # dev: 1 dedicated node at the Linux price (the Windows price is not the pool's)
    assert (
        "$0.1100/h dedicated, $0.0220/h spot; 1 dedicated + 0 spot = $0.11/h"
        in checks["Hourly cost of the pool"].detail
    )
    names = [body["name"] for method, _, _, body in azure.requests if method == "POST"]
    assert names == [account_name("st", "batchwords", "dev", SUB), batch]


def test_each_blocker_fails_with_its_fix(fake):
    azure, base = fake
    sub = f"/subscriptions/{SUB}"
    azure.get_routes[f"{sub}/providers/Microsoft.Batch"]["registrationState"] = "NotRegistered"
    azure.get_routes[f"{sub}/providers/Microsoft.Batch/batchAccounts"]["value"] = [
        {"name": "someoneelses", "location": "West Europe", "properties": {}}
    ]
    azure.get_routes[f"{sub}/providers/Microsoft.Batch/locations/westeurope/virtualMachineSkus"]["value"] = [
        sku("Standard_F2s_v2", "standardFSv2Family", 2)
    ]
    azure.assigned = [CONTRIBUTOR]
    azure.taken = {account_name("st", "batchwords", "dev", SUB)}
    checks = preflight("dev", base)
    failed = {name: check for name, check in checks.items() if check.status == FAIL}
    assert set(failed) == {
        "Resource providers registered",
        "Batch account quota in the region",
        "VM size offered to Batch in the region",
        "Right to create role assignments",
        "Account names available",
    }
    assert failed["Resource providers registered"].fix == "az provider register --namespace Microsoft.Batch"
    assert "1 of 1 Batch accounts used in westeurope" in failed["Batch account quota in the region"].detail
    assert (
        "az batch location list-skus --location westeurope"
        in failed["VM size offered to Batch in the region"].fix
    )
    assert "User Access Administrator" in failed["Right to create role assignments"].fix
    assert "is taken (AlreadyExists)" in failed["Account names available"].detail
    assert "batchwords:storageAccountName" in failed["Account names available"].fix


def test_an_existing_deployment_passes_names_and_reads_the_core_quota(fake):
    azure, base = fake
    sub = f"/subscriptions/{SUB}"
    storage, batch = (account_name(kind, "batchwords", "dev", SUB) for kind in ("st", "ba"))
    azure.taken = {storage, batch}
    azure.get_routes[f"{sub}/providers/Microsoft.Storage/storageAccounts"]["value"] = [{"name": storage}]
    account = batch_account(
        batch, dedicatedCoreQuotaPerVMFamily=[{"name": "standardDSv3Family", "coreQuota": 1}]
    )
    azure.get_routes[f"{sub}/providers/Microsoft.Batch/batchAccounts"]["value"] = [account]
    azure.get_routes[f"{account['id']}/pools"] = {
        "value": [pool(account, "batchwords", "Standard_D2s_v3", 1)]
    }
    checks = preflight("dev", base)
    assert checks["Account names available"].status == PASS
    assert "exists in this subscription: pulumi up updates it" in checks["Account names available"].detail
    assert checks["Batch account quota in the region"].status == PASS  # the account is ours
    core = checks["Core, pool and job quotas of the account"]
    assert core.status == FAIL  # 1 node x 2 vCPUs > 1 core
    assert core.detail == (
        "dedicatedCoreQuota: need 2 of 20; dedicatedCoreQuotaPerVMFamily standardDSv3Family: need 2 of 1; "
        "lowPriorityCoreQuota: need 0 of 100; poolQuota: need 0 of 100; "
        "activeJobAndJobScheduleQuota: need 1 of 300"
    )  # the stack's own pool exists: it is updated, not added


QUOTAS = "Core, pool and job quotas of the account"
STORAGE_ROLES = (
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",  # Storage Blob Delegator
)
BATCH_JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"


def preflight_of(base: str, **settings: str) -> dict[str, Any]:
    """The checks of a stack configured here, without a stack file: ``settings`` are batchwords: keys."""
    pulumi.runtime.set_all_config({f"batchwords:{key}": value for key, value in settings.items()})
    config = stack_config.load(pulumi.Config("batchwords"), stack="quota")
    checks = Preflight(config, ("batchwords", "quota"), Arm(Token(), base), SUB, f"{base}/prices").run()
    return {check.name: check for check in checks}


def with_account(
    azure: FakeAzure, pools: list[tuple[str, str, int]] | None = None, **quotas: Any
) -> dict[str, Any]:
    """The stack's Batch account (batchAccountName bwquotatest) exists, with these quotas and pools."""
    account = batch_account("bwquotatest", **quotas)
    azure.get_routes[f"/subscriptions/{SUB}/providers/Microsoft.Batch/batchAccounts"]["value"] = [account]
    azure.get_routes.pop(f"{account['id']}/pools", None)  # None: listing them is refused
    if pools is not None:
        azure.get_routes[f"{account['id']}/pools"] = {"value": [pool(account, *p) for p in pools]}
    return account


@pytest.mark.parametrize(
    ("quotas", "settings", "short"),
    [
        ({"dedicatedCoreQuota": 0}, {}, "dedicatedCoreQuota: need 2 of 0"),
        (
            {"dedicatedCoreQuotaPerVMFamily": [{"name": "standardDSv3Family", "coreQuota": 0}]},
            {},
            "dedicatedCoreQuotaPerVMFamily standardDSv3Family: need 2 of 0",
        ),
        (
            {"lowPriorityCoreQuota": 0},
            {"dedicatedNodes": "0", "spotNodes": "3"},
            "lowPriorityCoreQuota: need 6 of 0",
        ),
        ({"activeJobAndJobScheduleQuota": 0}, {}, "activeJobAndJobScheduleQuota: need 1 of 0"),
        (
            {"dedicatedCoreQuota": 0},
            {"autoscale": "true", "maxNodes": "3"},
            "dedicatedCoreQuota: need 6 of 0",
        ),
    ],
    ids=["dedicated", "family", "spot", "jobs", "autoscale-maximum"],
)
def test_a_quota_reduced_to_zero_fails_naming_it_and_the_quota_request(fake, quotas, settings, short):
    azure, base = fake
    with_account(azure, pools=[], **quotas)
    check = preflight_of(base, batchAccountName="bwquotatest", **settings)[QUOTAS]
    assert check.status == FAIL
    assert short in check.detail
    assert check.fix.startswith(
        f"ask for more {short.split(':')[0]} "
        "(Azure portal: Batch account bwquotatest, Quotas, Request quota increase)"
    )


def test_enough_of_every_quota_passes_and_lists_each(fake):
    azure, base = fake
    with_account(azure, pools=[])
    check = preflight_of(base, batchAccountName="bwquotatest", spotNodes="1")[QUOTAS]
    assert (check.status, check.fix) == (PASS, "")
    assert check.detail == (
        "dedicatedCoreQuota: need 2 of 20; dedicatedCoreQuotaPerVMFamily standardDSv3Family: need 2 of 20; "
        "lowPriorityCoreQuota: need 2 of 100; poolQuota: need 1 of 100; "
        "activeJobAndJobScheduleQuota: need 1 of 300"
    )


def test_the_pool_quota_counts_other_pools_but_not_the_stacks_own(fake):
    azure, base = fake
    with_account(
        azure, poolQuota=2, pools=[("other1", "Standard_F2s_v2", 0), ("other2", "Standard_F2s_v2", 0)]
    )
    check = preflight_of(base, batchAccountName="bwquotatest")[QUOTAS]
    assert check.status == FAIL
    assert "poolQuota: need 1 + 2 in use of 2" in check.detail
    assert check.fix.startswith("ask for more poolQuota")
    assert check.fix.endswith("or delete an unused pool of bwquotatest")

    with_account(azure, poolQuota=1, pools=[("batchwords", "Standard_D2s_v3", 1)])  # a rerun: updated
    check = preflight_of(base, batchAccountName="bwquotatest")[QUOTAS]
    assert check.status == PASS
    assert "poolQuota: need 0 of 1" in check.detail

    with_account(azure, poolQuota=1, pools=None)  # pools not listed: the stack's pool alone is counted
    check = preflight_of(base, batchAccountName="bwquotatest")[QUOTAS]
    assert check.status == PASS
    assert check.detail.endswith(
        "poolQuota: need 1 of 1; activeJobAndJobScheduleQuota: need 1 of 300; pools not listed"
    )


def test_cores_that_other_pools_hold_count_against_the_account(fake):
    azure, base = fake
    # Batch reports a pool's vmSize in its own case: 3 nodes x 2 vCPUs are in use.
    with_account(azure, dedicatedCoreQuota=7, pools=[("other", "standard_d2s_v3", 3)])
    check = preflight_of(base, batchAccountName="bwquotatest")[QUOTAS]
    assert check.status == FAIL
    assert "dedicatedCoreQuota: need 2 + 6 in use of 7" in check.detail
    assert "dedicatedCoreQuotaPerVMFamily standardDSv3Family: need 2 + 6 in use of 20" in check.detail


def test_the_family_quota_counts_only_where_batch_enforces_it(fake):
    azure, base = fake
    with_account(
        azure,
        pools=[],
        dedicatedCoreQuotaPerVMFamilyEnforced=False,
        dedicatedCoreQuotaPerVMFamily=[{"name": "standardDSv3Family", "coreQuota": 0}],
    )
    check = preflight_of(base, batchAccountName="bwquotatest")[QUOTAS]
    assert check.status == PASS  # dedicatedCoreQuota alone applies
    assert check.detail.startswith("dedicatedCoreQuota: need 2 of 20; lowPriorityCoreQuota")


def test_a_vm_size_in_any_case_is_found_and_priced_as_batch_spells_it(fake):
    azure, base = fake
    checks = preflight_of(base, vmSize="standard_d2s_v3")
    size = checks["VM size offered to Batch in the region"]
    assert (size.status, size.detail) == (PASS, "Standard_D2s_v3: 2 vCPUs, family standardDSv3Family")
    cost = checks["Hourly cost of the pool"]
    assert cost.status == PASS, cost.detail
    assert cost.detail.startswith("Standard_D2s_v3 $0.1100/h dedicated")
    asked = [query["$filter"][0] for _, path, query, _ in azure.requests if path == "/prices"]
    assert asked == [
        "serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' "
        "and armSkuName eq 'Standard_D2s_v3' and priceType eq 'Consumption'"
    ]


def only_roles(*role_ids: str, negated: bool = False) -> str:
    """A role-assignment condition as the portal writes it: which roles its holder may (not) assign."""
    ids = ", ".join(role_ids)
    operator = "ForAnyOfAllValues:GuidNotEquals" if negated else "ForAnyOfAnyValues:GuidEquals"
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] {operator} {{{ids}}})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] {operator} {{{ids}}}))"
    )


@pytest.mark.parametrize(
    ("condition", "status"),
    [
        (only_roles(*STORAGE_ROLES), FAIL),
        (only_roles(*STORAGE_ROLES, BATCH_JOB_SUBMITTER.upper()), PASS),
        (only_roles(OWNER, "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", RBAC_ADMINISTRATOR, negated=True), PASS),
        (only_roles(BATCH_JOB_SUBMITTER, negated=True), FAIL),
    ],
    ids=["storage-roles-only", "with-batch-job-submitter", "all-but-privileged", "all-but-batch"],
)
def test_a_condition_on_the_right_to_assign_roles_must_allow_the_batch_data_role(fake, condition, status):
    azure, base = fake
    azure.assigned = [RBAC_ADMINISTRATOR]
    azure.conditions[RBAC_ADMINISTRATOR] = condition
    rights = preflight_of(base)["Right to create role assignments"]
    assert rights.status == status, rights.detail
    if status == FAIL:
        assert (
            f"Role Based Access Control Administrator at /subscriptions/{SUB} under a condition that "
            "excludes Azure Batch Job Submitter" in rights.detail
        )
        assert "one that allows Storage Blob Data Reader" in rights.fix
        assert rights.fix.endswith("Azure Batch Job Submitter")
    else:
        assert rights.detail.endswith("Azure Batch Job Submitter on the Batch account")


def test_autoscale_costs_nothing_idle_and_the_maximum_at_most(fake):
    azure, base = fake
    azure.prices.append(
        {
            "armSkuName": "Standard_D4s_v3",
            "skuName": "D4s v3",
            "productName": "Virtual Machines DSv3 Series",
            "retailPrice": 0.192,
            "unitOfMeasure": "1 Hour",
        }
    )
    _, values = stack_values("prod")
    checks = preflight("prod", base)
    cost = checks["Hourly cost of the pool"]
    top = int(values["batchwords:maxNodes"])
    assert cost.status == PASS, cost.detail
    assert f"autoscale: $0 idle, up to ${top * 0.192:.2f}/h with {top} nodes" in cost.detail  # prod: D4s_v3


def test_an_unreachable_service_is_could_not_check_not_pass(fake):
    checks = preflight("dev", "http://127.0.0.1:9")
    assert {check.status for check in checks.values()} == {UNKNOWN}
    assert "Connection refused" in checks["Signed in, with a subscription"].detail


def test_the_command_names_an_unknown_stack_and_exits_2(capsys):
    assert main(["--stack", "nosuch"], credential=Token()) == 2
    assert "no stack file Pulumi.nosuch.yaml; stacks here: dev, prod" in capsys.readouterr().err


def test_the_cli_runs_the_checks_in_the_projects_python(fake):
    """`batchwords preflight` hands over to infra/preflight.py (the CLI never imports the program)."""
    done = subprocess.run(
        [sys.executable, "-m", "batchwords", "preflight", "--stack", "nosuch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "no stack file Pulumi.nosuch.yaml" in done.stderr


def test_the_command_prints_json_and_exits_by_the_worst_result(fake, monkeypatch, capsys):
    azure, base = fake
    monkeypatch.setenv("BATCHWORDS_ARM_ENDPOINT", base)
    monkeypatch.setenv("BATCHWORDS_PRICES_ENDPOINT", f"{base}/prices")
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", SUB)  # what azure-native deploys into
    assert main(["--stack", "dev", "--json"], credential=Token()) == 0  # one "could not check" only
    printed = json.loads(capsys.readouterr().out)
    assert [check["status"] for check in printed].count(PASS) == 7
    assert {"name", "status", "detail", "fix"} <= set(printed[0])

    azure.assigned = [CONTRIBUTOR]
    assert main(["--stack", "dev"], credential=Token()) == 1
    out, err = capsys.readouterr()
    assert "Right to create role assignments" in out
    assert "fix: ask for Owner" in out
    assert "6 passed, 1 failed, 1 could not be checked" in err
