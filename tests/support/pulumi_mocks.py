"""The one set of Pulumi mocks: answers as Azure and the BatchJob provider would."""

from __future__ import annotations

from typing import Any

import pulumi

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
DEPLOYER = "00000000-0000-0000-0000-0000000000d0"
#: The input that holds each Azure resource type's own name.
NAME_INPUTS = {
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:batch:BatchAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:storage:Blob": "blobName",
    "azure-native:batch:Pool": "poolName",
    "azure-native:authorization:RoleAssignment": "roleAssignmentName",
}
#: The dynamic resources' own types (``pulumi.dynamic.Resource`` subclasses with module and name).
BATCH_JOB = "pulumi-python:dynamic/batchwords:BatchJob"
BLOB_FILES = "pulumi-python:dynamic/batchwords:BlobFiles"


class Mocks(pulumi.runtime.Mocks):
    """Answers like Azure would: ids, names, endpoints and principals."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        inputs = dict(args.inputs)
        # Azure names a resource by its explicit name input; azure-native otherwise adds a suffix.
        name = inputs.get(NAME_INPUTS.get(args.typ, ""), f"{args.name}x")
        outputs = {**inputs, "name": name, "id": f"/subscriptions/{SUBSCRIPTION}/mock/{args.typ}/{args.name}"}
        identity = inputs.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # Azure takes a list of identity ids and answers a map of them.
            assigned = {
                ident: {"principalId": "p", "clientId": "c"} for ident in identity["userAssignedIdentities"]
            }
            outputs["identity"] = {**identity, "userAssignedIdentities": assigned}
        if args.typ == "azure-native:storage:StorageAccount":
            outputs["primaryEndpoints"] = {"blob": f"https://{name}.blob.core.windows.net/"}
        if args.typ == "azure-native:batch:BatchAccount":
            outputs["accountEndpoint"] = f"{name}.westeurope.batch.azure.com"
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outputs.update(principalId="00000000-0000-0000-0000-0000000000a1", clientId="client")
        if args.typ == BATCH_JOB:
            outputs.update(state="succeeded", job_ids=[inputs["job_id"]], top_words=[["the", 9]], tasks={})
        if args.typ == BLOB_FILES:
            files = inputs["files"]
            outputs.update(
                blobs={name: entry["md5"] for name, entry in files.items()},
                urls={name: f"{inputs['storage_endpoint']}/{inputs['container']}/{name}" for name in files},
            )
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": SUBSCRIPTION,
                "objectId": DEPLOYER,
                "tenantId": "t",
                "clientId": "c",
            }, []
        if args.token == "azure-native:resources:getResourceGroup":
            return {"name": args.args["resourceGroupName"], "location": "westeurope"}, []
        return {}, []

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def dynamic(self, marker: str) -> list[pulumi.runtime.MockResourceArgs]:
        """The dynamic resources with input ``marker`` (job_id: BatchJob, files: BlobFiles)."""
        return [r for typ in (BATCH_JOB, BLOB_FILES) for r in self.of_type(typ) if marker in r.inputs]


def install(project: str = "batchwords", stack: str = "unit") -> Mocks:
    """Fresh mocks for one program run."""
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    return mocks


def outs_of(result: Any) -> dict[str, Any]:
    """The outputs of a dynamic provider verb's result (Create, Update or Read)."""
    assert result.outs is not None
    return dict(result.outs)
