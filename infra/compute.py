"""The Batch account and the pool whose StartTask installs nodetask."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import batch, managedidentity

from batchwords import deploy

#: The same Ubuntu image and node agent as the offline pool's.
IMAGE = batch.ImageReferenceArgs(**deploy.UBUNTU_IMAGE)
#: The pool's name in its Batch account (preflight looks for it among the account's pools).
POOL_NAME = "batchwords"


def autoscale_formula(max_nodes: int, slots: int) -> str:
    """Scale with the pending tasks, and to zero when none are pending.

    An idle pool is the top cost complaint of Batch users; this formula keeps
    nodes only while tasks wait or run, and lets running tasks finish. The
    target is ``ceil(pending / slots)`` by the formula language's own ``ceil``:
    an average of samples is fractional, and the service truncates a fractional
    target (2.9 nodes would be 2). ``$PendingTasks`` counts running tasks too,
    so a latest sample of 0 means nothing is left: then 0 nodes, whatever the
    average over the last minutes says.
    """
    return (
        "$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);\n"
        "$latest = max(0, $PendingTasks.GetSample(1));\n"
        "$pending = $samples < 70 ? $latest : "
        "max($latest, avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));\n"
        f"$wanted = $latest > 0 ? ceil($pending / {slots}) : 0;\n"
        f"$TargetDedicatedNodes = min({max_nodes}, $wanted);\n"
        "$TargetLowPriorityNodes = 0;\n"
        "$NodeDeallocationOption = taskcompletion;"
    )


def _elevation(task: deploy.StartTask) -> batch.ElevationLevel:
    return batch.ElevationLevel.ADMIN if task.elevated else batch.ElevationLevel.NON_ADMIN


@dataclass
class BatchComputeArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: 3 to 24 lowercase letters and digits, unique in Azure (see infra.naming).
    account_name: pulumi.Input[str]
    identity: managedidentity.UserAssignedIdentity
    #: The release the StartTask installs (see ``nodetask_release``).
    nodetask: pulumi.Output[deploy.NodetaskRelease]
    vm_size: str
    dedicated_nodes: int
    spot_nodes: int
    autoscale: bool
    max_nodes: int
    task_slots_per_node: int
    entra_only: bool


class BatchCompute(pulumi.ComponentResource):
    """A Batch account (no auto-storage) and one pool, which runs as the pool identity."""

    def __init__(self, name: str, args: BatchComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchwords:compute:BatchCompute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        modes = (
            [batch.AuthenticationMode.AAD]
            if args.entra_only
            else [
                batch.AuthenticationMode.AAD,
                batch.AuthenticationMode.SHARED_KEY,
            ]
        )
        self.account = batch.BatchAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            pool_allocation_mode=batch.PoolAllocationMode.BATCH_SERVICE,
            allowed_authentication_modes=modes,
            # No auto-storage: nothing here uses it (no application packages, no auto-storage
            # container URLs), and with BatchAccountManagedIdentity it would need the account an
            # identity with a Storage role of its own. The nodes read and write Storage with the
            # pool's identity and the job's SAS.
            opts=child,
        )
        if args.autoscale:
            scale = batch.ScaleSettingsArgs(
                auto_scale=batch.AutoScaleSettingsArgs(
                    formula=autoscale_formula(args.max_nodes, args.task_slots_per_node),
                    evaluation_interval="PT5M",
                )
            )
        else:
            scale = batch.ScaleSettingsArgs(
                fixed_scale=batch.FixedScaleSettingsArgs(
                    target_dedicated_nodes=args.dedicated_nodes,
                    target_low_priority_nodes=args.spot_nodes,
                    node_deallocation_option=batch.ComputeNodeDeallocationOption.TASK_COMPLETION,
                )
            )
        # The same StartTask as the offline pool's; here Ubuntu images lack python3-venv, which
        # needs an elevated StartTask. It downloads the wheel itself, with the pool identity,
        # waiting out role propagation (Batch does not retry a failed resource file).
        install = args.nodetask.apply(
            lambda release: deploy.nodetask_start_task(release, elevated=True, install_venv_package=True)
        )
        self.start_task = batch.StartTaskArgs(
            command_line=install.apply(lambda task: task.command_line),
            environment_settings=install.apply(
                lambda task: [
                    batch.EnvironmentSettingArgs(name=name, value=value)
                    for name, value in task.environment.items()
                ]
            ),
            user_identity=batch.UserIdentityArgs(
                auto_user=batch.AutoUserSpecificationArgs(
                    scope=batch.AutoUserScope.POOL,
                    elevation_level=install.apply(_elevation),
                )
            ),
            max_task_retry_count=install.apply(lambda task: task.max_retries),
            wait_for_success=install.apply(lambda task: task.wait_for_success),
        )
        self.pool = batch.Pool(
            f"{name}-pool",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            pool_name=POOL_NAME,
            vm_size=args.vm_size,
            deployment_configuration=batch.DeploymentConfigurationArgs(
                virtual_machine_configuration=batch.VirtualMachineConfigurationArgs(
                    image_reference=IMAGE, node_agent_sku_id=deploy.NODE_AGENT_SKU
                )
            ),
            scale_settings=scale,
            task_slots_per_node=args.task_slots_per_node,
            identity=batch.BatchPoolIdentityArgs(
                type=batch.PoolIdentityType.USER_ASSIGNED, user_assigned_identities=[args.identity.id]
            ),
            target_node_communication_mode=batch.NodeCommunicationMode.SIMPLIFIED,
            start_task=self.start_task,
            opts=child,
        )
        self.endpoint = self.account.account_endpoint.apply(
            lambda host: host if host.startswith("https://") else f"https://{host}"
        )
        self.register_outputs({"endpoint": self.endpoint, "pool_id": self.pool.name})
