"""Wires the components together; ``__main__`` exports what this returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import authorization, resources

import batchwords
from batchwords import deploy
from infra.batch_job import BatchJob, job_props, nodetask_props
from infra.blob_files import BlobFiles
from infra.compute import BatchCompute, BatchComputeArgs
from infra.config import ROOT, StackConfig, StackConfigError
from infra.identity import PoolIdentity, PoolIdentityArgs
from infra.naming import account_name
from infra.storage import JobStorage, JobStorageArgs

BUILT_WHEELS = ROOT / "build" / "wheels"
#: Where the wheels go in the application container, each under its content digest.
WHEEL_PREFIX = "nodetask/"


def find_wheel(folder: Path = BUILT_WHEELS) -> Path:
    """The nodetask wheel built by `make wheel`, whose folder holds its dependencies' wheels and
    the lock pinning them all; a clear error when one is missing or does not match the lock."""
    try:
        files = deploy.locked_files(folder)
    except batchwords.ConfigError as exc:
        raise StackConfigError(
            f"{exc}; run `make wheel` (it builds the node release the StartTask installs), then `pulumi up`"
        ) from None
    return deploy.nodetask_wheel(files).path


def build(config: StackConfig, wheel: Path) -> dict[str, Any]:
    """Declare every resource; returns the stack outputs by name (never a key or SAS)."""
    client = authorization.get_client_config_output()
    project, stack = pulumi.get_project(), pulumi.get_stack()

    def name(kind: str, override: str | None) -> pulumi.Input[str]:
        return override or client.subscription_id.apply(lambda sub: account_name(kind, project, stack, sub))

    if config.resource_group_name:
        group_name: pulumi.Input[str] = resources.get_resource_group_output(
            resource_group_name=config.resource_group_name
        ).name
    else:
        group_name = resources.ResourceGroup("batchwords", location=config.location).name
    store = JobStorage(
        "storage",
        JobStorageArgs(
            resource_group_name=group_name,
            location=config.location,
            account_name=name("st", config.storage_account_name),
            entra_only=config.entra_only,
        ),
    )
    identity = PoolIdentity(
        "pool",
        PoolIdentityArgs(
            resource_group_name=group_name,
            location=config.location,
            subscription_id=client.subscription_id,
            deployer_object_id=client.object_id,
            account=store.account,
            containers=store.containers,
        ),
    )
    # Uploads use the deployer's data role (Entra ID) or Shared Key: after the role assignments.
    uploads = pulumi.ResourceOptions(depends_on=[*store.containers.values(), *identity.assignments.values()])
    # Named by content: a changed release is new URLs and a new folder on the nodes, so the
    # pool's StartTask changes with it and each job's preparation task installs its own.
    # Every wheel travels (no package index on the nodes), with the lock that pins them by hash.
    node_files = deploy.locked_files(wheel.parent)
    # From the sha256s locked_files has just checked: the files are not read again.
    digest = deploy.release_digest((file.name, file.sha256) for file in node_files)
    node_blobs = {f"{WHEEL_PREFIX}{digest}/{file.name}": file for file in node_files}
    wheels = BlobFiles(
        "wheel",
        storage_endpoint=store.blob_endpoint,
        container=store.containers["application"].name,
        prefix=WHEEL_PREFIX,
        files={blob: file.path for blob, file in node_blobs.items()},
        principal_id=client.object_id,
        opts=uploads,
    )
    inputs = BlobFiles(
        "inputs",
        storage_endpoint=store.blob_endpoint,
        container=store.containers["input"].name,
        files=config.input_files,
        principal_id=client.object_id,
        opts=uploads,
    )
    # Downloaded by the nodes with the pool identity (Storage Blob Data Reader), no SAS.
    release = pulumi.Output.all(wheels.urls, identity.identity.id).apply(
        lambda values: deploy.NodetaskRelease.of(
            node_files, {file.name: values[0][blob] for blob, file in node_blobs.items()}, identity=values[1]
        )
    )
    compute = BatchCompute(
        "batch",
        BatchComputeArgs(
            resource_group_name=group_name,
            location=config.location,
            account_name=name("ba", config.batch_account_name),
            identity=identity.identity,
            nodetask=release,
            vm_size=config.vm_size,
            dedicated_nodes=config.dedicated_nodes,
            spot_nodes=config.spot_nodes,
            autoscale=config.autoscale,
            max_nodes=config.max_nodes,
            task_slots_per_node=config.task_slots_per_node,
            entra_only=config.entra_only,
        ),
        opts=pulumi.ResourceOptions(depends_on=list(identity.assignments.values())),
    )
    # Job and task operations are Batch dataActions: the deployer's job role, before the job.
    batch_jobs = identity.grant_deployer_jobs(compute.account)
    job = BatchJob(
        "job",
        **job_props(config.job),
        pool_id=compute.pool.name,
        batch_endpoint=compute.endpoint,
        storage_endpoint=store.blob_endpoint,
        input_container=store.containers["input"].name,
        # Known in a preview too; depending on `inputs` orders the job after the upload.
        inputs=inputs.local_md5,
        output_container=store.containers["output"].name,
        wait=config.wait_for_job,
        wait_timeout_seconds=config.wait_timeout_seconds,
        nodetask=release.apply(nodetask_props),
        # The roles above went to this principal: the provider refuses other credentials at once.
        principal_id=client.object_id,
        opts=pulumi.ResourceOptions(
            depends_on=[compute.pool, inputs, batch_jobs, *identity.assignments.values()]
        ),
    )
    return {
        "resource_group": group_name,
        "storage_account": store.account.name,
        "blob_endpoint": store.blob_endpoint,
        "containers": {name: container.name for name, container in store.containers.items()},
        "batch_account_endpoint": compute.endpoint,
        "pool_id": compute.pool.name,
        "job_ids": job.job_ids,
        "job_state": job.state,
        "task_counts": job.task_counts,
        "top_words": job.top_words,
        "output_blob_urls": job.tasks.apply(
            lambda tasks: {name: task.get("output_url") for name, task in (tasks or {}).items()}
        ),
    }
