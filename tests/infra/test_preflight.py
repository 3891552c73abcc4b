"""`batchwords preflight`: each check against a local stand-in for the few ARM endpoints it reads
and for the retail prices API, answering in the shapes the REST specifications document."""

from __future__ import annotations

import base64
import http.server
import json
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


class Token:
    """A signed-in user's token (Entra cannot be reached here): its claims are what preflight reads."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        claims = {"oid": OID, "upn": "alice@contoso.example", "tid": "tenant-1"}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return AccessToken(f"eyJhbGciOiJub25lIn0.{payload}.sig", 4_102_444_800)


def sku(name: str, family: str, vcpus: int) -> dict[str, Any]:
    return {"name": name, "familyName": family, "capabilities": [{"name": "vCPUs", "value": str(vcpus)}]}


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
        self.assigned = [OWNER]
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
            return 200, {"Items": self.prices, "NextPageLink": None}
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
        "Core quota of the VM family": UNKNOWN,
        "Right to create role assignments": PASS,
        "Account names available": PASS,
        "Hourly cost of the pool": PASS,
    }
    assert "user alice@contoso.example" in checks["Signed in, with a subscription"].detail
    assert f"Research ({SUB})" in checks["Signed in, with a subscription"].detail
    batch = account_name("ba", "batchwords", "dev", SUB)
    assert f"az batch account show --name {batch}" in checks["Core quota of the VM family"].fix
    assert "Owner at /subscriptions/" in checks["Right to create role assignments"].detail
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
    azure.get_routes[f"{sub}/providers/Microsoft.Batch/batchAccounts"]["value"] = [
        {
            "name": batch,
            "location": "westeurope",
            "properties": {
                "dedicatedCoreQuotaPerVMFamily": [{"name": "standardDSv3Family", "coreQuota": 1}],
                "lowPriorityCoreQuota": 10,
            },
        }
    ]
    checks = preflight("dev", base)
    assert checks["Account names available"].status == PASS
    assert "exists in this subscription: pulumi up updates it" in checks["Account names available"].detail
    assert checks["Batch account quota in the region"].status == PASS  # the account is ours
    core = checks["Core quota of the VM family"]
    assert core.status == FAIL  # 1 node x 2 vCPUs > 1 core
    assert core.detail == "dedicated standardDSv3Family: need 2 of 1 cores; spot: need 0 of 10"


def test_autoscale_costs_nothing_idle_and_the_maximum_at_most(fake):
    _, base = fake
    _, values = stack_values("prod")
    checks = preflight("prod", base)
    cost = checks["Hourly cost of the pool"]
    top = int(values["batchwords:maxNodes"])
    assert cost.status == PASS, cost.detail
    assert (
        f"autoscale: $0 idle, up to ${top * 0.11:.2f}/h with {top} nodes" in cost.detail
    )  # prod: D4s_v3 priced as given


def test_an_unreachable_service_is_could_not_check_not_pass(fake):
    checks = preflight("dev", "http://127.0.0.1:9")
    assert {check.status for check in checks.values()} == {UNKNOWN}
    assert "Connection refused" in checks["Signed in, with a subscription"].detail


def test_the_command_names_an_unknown_stack_and_exits_2(capsys):
    assert main(["--stack", "nosuch"], credential=Token()) == 2
    assert "no stack file infra/Pulumi.nosuch.yaml; stacks here: dev, prod" in capsys.readouterr().err


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
    assert "no stack file infra/Pulumi.nosuch.yaml" in done.stderr


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
