"""Storage for a word-count deployment: the account and its three containers.

The files in them (the nodetask wheel, the inputs) are ``BlobFiles`` resources,
uploaded with the deployer's Entra ID or Shared Key, never with ListKeys.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

CONTAINERS = ("application", "input", "output")


@dataclass
class JobStorageArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: 3 to 24 lowercase letters and digits, unique in Azure (see infra.naming).
    account_name: pulumi.Input[str]
    #: Entra ID only: shared-key access (and so account-key SAS) is turned off.
    entra_only: bool = False


class JobStorage(pulumi.ComponentResource):
    """StorageV2, HTTPS only, TLS 1.2, no public access; application/input/output."""

    def __init__(self, name: str, args: JobStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchwords:storage:JobStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            allow_shared_key_access=not args.entra_only,
            default_to_o_auth_authentication=args.entra_only,
            opts=child,
        )
        self.containers = {
            container: storage.BlobContainer(
                f"{name}-{container}",
                container_name=container,
                account_name=self.account.name,
                resource_group_name=args.resource_group_name,
                public_access=storage.PublicAccess.NONE,
                opts=child,
            )
            for container in CONTAINERS
        }
        self.blob_endpoint = self.account.primary_endpoints.apply(
            lambda endpoints: endpoints.blob.rstrip("/")
        )
        self.register_outputs({"account_name": self.account.name, "blob_endpoint": self.blob_endpoint})
