"""Each component on its own, under Pulumi's mocks, with fixture arguments."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest

from batchwords.deploy import NodetaskRelease, nodetask_start_task
from infra.blob_files import BlobFiles
from infra.compute import BatchCompute, BatchComputeArgs
from infra.identity import STORAGE_BLOB_DATA_READER, PoolIdentity, PoolIdentityArgs
from infra.storage import CONTAINERS, JobStorage, JobStorageArgs
from tests.support import pulumi_mocks
from tests.support.pulumi_mocks import DEPLOYER, SUBSCRIPTION, Mocks


@pytest.fixture
def mocks() -> Mocks:
    return pulumi_mocks.install()


def storage_component(entra_only: bool = False) -> JobStorage:
    return JobStorage(
        "storage",
        JobStorageArgs(
            resource_group_name="rg", location="westeurope", account_name="bwstunit", entra_only=entra_only
        ),
    )


@pulumi.runtime.test
def test_job_storage(mocks):
    store = storage_component(entra_only=True)

    def check(values: list[Any]) -> None:
        (blob_endpoint,) = values
        assert blob_endpoint == "https://bwstunit.blob.core.windows.net"
        (account,) = mocks.of_type("azure-native:storage:StorageAccount")
        assert account.inputs["allowSharedKeyAccess"] is False
        assert account.inputs["defaultToOAuthAuthentication"] is True
        assert sorted(store.containers) == sorted(CONTAINERS)

    return pulumi.Output.all(store.blob_endpoint).apply(check)


@pulumi.runtime.test
def test_blob_files_is_one_resource_for_any_number_of_files(mocks, tmp_path):
    folder = tmp_path / "texts"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha beta", encoding="utf-8")
    (folder / "nested" / "b.txt").write_text("gamma", encoding="utf-8")
    files = BlobFiles(
        "inputs",
        storage_endpoint="https://bwstunit.blob.core.windows.net",
        container="input",
        files={"a.txt": folder / "a.txt", "nested/b.txt": folder / "nested" / "b.txt"},
    )

    def check(blobs: dict[str, str]) -> None:
        (declared,) = mocks.dynamic("files")
        assert sorted(declared.inputs["files"]) == ["a.txt", "nested/b.txt"]  # names keep their folders
        assert declared.inputs["files"]["a.txt"]["md5"] == "M89hI91cRte2/cnNcqu/Zg=="  # MD5 of "alpha beta"
        assert blobs["a.txt"] == "M89hI91cRte2/cnNcqu/Zg=="

    return files.blobs.apply(check)


@pulumi.runtime.test
def test_pool_identity(mocks):
    store = storage_component()
    identity = PoolIdentity(
        "pool",
        PoolIdentityArgs(
            resource_group_name="rg",
            location="westeurope",
            subscription_id=SUBSCRIPTION,
            deployer_object_id=DEPLOYER,
            account=store.account,
            containers=store.containers,
        ),
    )

    def check(_: object) -> None:
        assignments = mocks.of_type("azure-native:authorization:RoleAssignment")
        assert len(assignments) == 5
        names = {a.inputs["roleAssignmentName"] for a in assignments}
        assert len(names) == 5  # distinct, deterministic GUIDs
        reader = [a for a in assignments if a.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_READER)]
        assert sorted(a.inputs["scope"] for a in reader) == ["storage-application-id", "storage-input-id"]
        assert all(
            a.inputs["roleDefinitionId"].startswith(f"/subscriptions/{SUBSCRIPTION}/") for a in assignments
        )

    return pulumi.Output.all(*(a.id for a in identity.assignments.values())).apply(check)


def release(identity: str) -> NodetaskRelease:
    base = "https://bwstunit.blob.core.windows.net/application/nodetask/0123456789abcdef"
    return NodetaskRelease(
        digest="0123456789abcdef",
        files=(
            ("batchwords_nodetask-9.9.9-py3-none-any.whl", f"{base}/w.whl", "a" * 64),
            ("nodetask-lock.txt", f"{base}/nodetask-lock.txt", "b" * 64),
        ),
        identity=identity,
    )


@pytest.mark.parametrize("autoscale", [False, True])
@pulumi.runtime.test
def test_batch_compute(mocks, autoscale):
    store = storage_component()
    identity = PoolIdentity(
        "pool",
        PoolIdentityArgs("rg", "westeurope", SUBSCRIPTION, DEPLOYER, store.account, store.containers),
    )
    compute = BatchCompute(
        "batch",
        BatchComputeArgs(
            resource_group_name="rg",
            location="westeurope",
            account_name="bwbaunit",
            identity=identity.identity,
            nodetask=identity.identity.id.apply(release),
            vm_size="Standard_D2s_v3",
            dedicated_nodes=2,
            spot_nodes=1,
            autoscale=autoscale,
            max_nodes=6,
            task_slots_per_node=3,
            entra_only=False,
        ),
    )

    def check(values: list[Any]) -> None:
        endpoint = values[0]
        assert endpoint == "https://bwbaunit.westeurope.batch.azure.com"
        (pool,) = mocks.of_type("azure-native:batch:Pool")
        assert pool.inputs["taskSlotsPerNode"] == 3
        scale = pool.inputs["scaleSettings"]
        if autoscale:
            assert "min(6, $wanted)" in scale["autoScale"]["formula"]
            assert "ceil($pending / 3)" in scale["autoScale"]["formula"]
        else:
            assert scale["fixedScale"]["targetDedicatedNodes"] == 2
            assert scale["fixedScale"]["targetLowPriorityNodes"] == 1
        start = pool.inputs["startTask"]
        command = start["commandLine"]
        assert command.startswith("/bin/sh -c ")
        # apt waits for the dpkg lock unattended-upgrades holds on first boot, under set -e, and
        # the update (whose lists lock that timeout does not cover) is retried, bounded
        assert "apt-get -o DPkg::Lock::Timeout=600 -qq install -y python3-venv" in command
        assert "until apt-get -o DPkg::Lock::Timeout=600 -qq update &&" in command
        assert "if [ $n -ge 20 ]; then" in command
        # the release's own folder, readable by the non-admin tasks
        assert 'chmod -R a+rX "$AZ_BATCH_NODE_SHARED_DIR/batchwords/nodetask-0123456789abcdef"' in command
        # Azure nodes install the release's files only, by hash: never a name from an index
        assert "--isolated --no-index --only-binary=:all: --require-hashes" in command
        assert "-r wheels/nodetask-lock.txt" in command
        assert "wheels/batchwords_nodetask-9.9.9-py3-none-any.whl https://" in command
        # The wheel is fetched by the script with the pool identity, retrying while roles propagate:
        # Batch would not retry a resource file that fails to download.
        assert "resourceFiles" not in start
        assert "--identity pool-identity-id" in command
        # ... by a program that comes in the environment, so the command line stays short
        # (under cmd.exe's 8191 characters, the tightest limit a Batch tool may apply).
        (fetch,) = start["environmentSettings"]
        assert fetch["name"] == "BATCHWORDS_FETCH"
        assert "msi_res_id" in base64.b64decode(fetch["value"]).decode()
        assert fetch["value"].isascii()  # one line of base64
        assert "\n" not in fetch["value"]
        assert len(command) < 8191
        assert "retrying in" in command
        # One StartTask: the offline pool's comes from the same function, with other parameters.
        azure = nodetask_start_task(release("pool-identity-id"), elevated=True, install_venv_package=True)
        assert command == azure.command_line
        assert start["maxTaskRetryCount"] == azure.max_retries
        assert start["userIdentity"]["autoUser"] == {"scope": "Pool", "elevationLevel": "Admin"}

    return pulumi.Output.all(compute.endpoint, compute.pool.id).apply(check)
