"""The pool's managed identity and who may do what on Storage."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, batch, managedidentity, storage

from infra.naming import role_assignment_name

# Built-in role definition ids (the same in every Azure subscription).
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE_BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
#: Batch's job and task operations are dataActions (``Microsoft.Batch/batchAccounts/jobs/*``,
#: ``.../jobSchedules/*``), which Owner and Contributor lack. "Azure Batch Job Submitter" grants
#: them and reads pools, no more: the least that lets the BatchJob provider submit, watch and
#: delete jobs (the pool itself is an ARM resource, managed by azure-native).
AZURE_BATCH_JOB_SUBMITTER = "48e5e92e-a480-4e71-aa9c-2778f4c13781"


def assignment_name(
    scope: pulumi.Input[str], principal_id: pulumi.Input[str], role: pulumi.Input[str]
) -> pulumi.Output[str]:
    """Derived from scope, principal and role: unique within the tenant, so a rerun converges."""
    return pulumi.Output.all(scope, principal_id, role).apply(lambda parts: role_assignment_name(*parts))


def role_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


@dataclass
class PoolIdentityArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    #: The signed-in principal running `pulumi up`: it uploads inputs, signs
    #: user delegation SAS and reads the outputs.
    deployer_object_id: pulumi.Input[str]
    account: storage.StorageAccount
    containers: dict[str, storage.BlobContainer]


class PoolIdentity(pulumi.ComponentResource):
    """A user-assigned identity for the pool: read application and input, write output."""

    def __init__(self, name: str, args: PoolIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchwords:identity:PoolIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args.resource_group_name,
            location=args.location,
            opts=child,
        )
        grants = [
            ("application-reader", args.containers["application"].id, STORAGE_BLOB_DATA_READER),
            ("input-reader", args.containers["input"].id, STORAGE_BLOB_DATA_READER),
            ("output-contributor", args.containers["output"].id, STORAGE_BLOB_DATA_CONTRIBUTOR),
        ]
        self.assignments = {
            label: authorization.RoleAssignment(
                f"{name}-{label}",
                role_assignment_name=assignment_name(
                    scope, self.identity.principal_id, role_id(args.subscription_id, role)
                ),
                principal_id=self.identity.principal_id,
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=role_id(args.subscription_id, role),
                scope=scope,
                opts=child,
            )
            for label, scope, role in grants
        }
        for label, role in (
            ("deployer-delegator", STORAGE_BLOB_DELEGATOR),
            ("deployer-data", STORAGE_BLOB_DATA_CONTRIBUTOR),
        ):
            self.assignments[label] = authorization.RoleAssignment(
                f"{name}-{label}",
                role_assignment_name=assignment_name(
                    args.account.id, args.deployer_object_id, role_id(args.subscription_id, role)
                ),
                principal_id=args.deployer_object_id,
                role_definition_id=role_id(args.subscription_id, role),
                scope=args.account.id,
                opts=child,
            )
        self._deployer = args.deployer_object_id
        self._subscription = args.subscription_id
        self.register_outputs({"identity_id": self.identity.id, "principal_id": self.identity.principal_id})

    def grant_deployer_jobs(self, account: batch.BatchAccount) -> authorization.RoleAssignment:
        """The deployer's Batch job role on ``account`` (which exists only after this identity)."""
        role = role_id(self._subscription, AZURE_BATCH_JOB_SUBMITTER)
        self.assignments["deployer-batch-jobs"] = assignment = authorization.RoleAssignment(
            "pool-deployer-batch-jobs",
            role_assignment_name=assignment_name(account.id, self._deployer, role),
            principal_id=self._deployer,
            role_definition_id=role,
            scope=account.id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return assignment
