"""The Pulumi program under pulumi.runtime.set_mocks, for each stack file."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

import infra.batch_job
from batchwords import JobSpec, parse_size
from batchwords.deploy import NODE_AGENT_SKU, locked_files, nodetask_wheel, preparation_task, wheels_digest
from infra import config as stack_config
from infra import naming
from infra.batch_job import nodetask_release
from infra.compute import IMAGE, autoscale_formula
from infra.identity import (
    AZURE_BATCH_JOB_SUBMITTER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DELEGATOR,
)
from infra.program import WHEEL_PREFIX, build, find_wheel
from infra.storage import CONTAINERS
from tests.support import pulumi_mocks
from tests.support.pulumi_mocks import DEPLOYER, SUBSCRIPTION, Mocks
from tests.support.words import ROOT


def stack_values(stack: str) -> dict[str, str]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return {key: str(value) for key, value in document["config"].items()}


@pytest.fixture
def use_stack(monkeypatch) -> Iterator[Any]:
    def apply(stack: str, **overrides: str) -> Mocks:
        values = stack_values(stack)
        values.update({f"batchwords:{key}": value for key, value in overrides.items()})
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
        mocks = pulumi_mocks.install(stack=stack)
        pulumi.runtime.set_all_config(values)  # replaces the whole config
        return mocks

    yield apply
    pulumi.runtime.set_all_config({})


def run_program(stack: str, use_stack: Any, wheel: Path, **overrides: str) -> tuple[Mocks, dict[str, Any]]:
    mocks = use_stack(stack, **overrides)
    outputs = build(stack_config.load(stack=stack), wheel)
    return mocks, outputs


def assert_installs_by_hash_only(command: str) -> None:
    """Every pip install in a node's command installs the lock's pins, by hash, with no index."""
    installs = re.findall(r"-m pip install ([^;]*);", command)
    assert installs
    for arguments in installs:
        words = arguments.replace('\\"', "").split()
        assert {"--no-index", "--isolated", "--require-hashes"} <= set(words), arguments
        named = [
            w
            for i, w in enumerate(words)
            if not w.startswith("-") and words[i - 1] not in ("-r", "--find-links")
        ]
        assert named == [], f"pip install by name: {arguments}"


@pytest.fixture
def wheel(wheelhouse: Path) -> Path:
    """The real nodetask wheel (what `make wheel` makes), from the session's wheelhouse."""
    return find_wheel(wheelhouse)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pulumi.runtime.test
def test_program_graph(stack, use_stack, wheel):
    mocks, outputs = run_program(stack, use_stack, wheel)
    values = stack_values(stack)

    def check(resolved: list[Any]) -> None:
        exported = dict(zip(outputs, resolved, strict=True))
        (account,) = mocks.of_type("azure-native:storage:StorageAccount")
        assert account.inputs["kind"] == "StorageV2"
        assert account.inputs["enableHttpsTrafficOnly"] is True
        assert account.inputs["minimumTlsVersion"] == "TLS1_2"
        assert account.inputs["allowBlobPublicAccess"] is False
        entra = values["batchwords:entraOnly"] == "true"
        assert account.inputs["allowSharedKeyAccess"] is (not entra)
        containers = mocks.of_type("azure-native:storage:BlobContainer")
        assert sorted(c.inputs["containerName"] for c in containers) == sorted(CONTAINERS)
        assert all(c.inputs["publicAccess"] == "None" for c in containers)
        # No per-file Blob resources (they upload with ListKeys): one BlobFiles each for wheel and inputs.
        assert mocks.of_type("azure-native:storage:Blob") == []
        assert not [call for call in mocks.calls if "listStorageAccountKeys" in call or "ListKeys" in call]
        (wheels,) = [r for r in mocks.dynamic("files") if r.inputs["prefix"] == WHEEL_PREFIX]
        # Every wheel of the release and its lock: the nodes have no package index.
        files = locked_files(wheel.parent)
        digest = wheels_digest([file.path for file in files])
        wheel_blob = f"{WHEEL_PREFIX}{digest}/{wheel.name}"
        assert sorted(wheels.inputs["files"]) == sorted(
            f"{WHEEL_PREFIX}{digest}/{file.name}" for file in files
        )
        assert any(name.endswith("/nodetask-lock.txt") for name in wheels.inputs["files"])
        (uploads,) = [r for r in mocks.dynamic("files") if r.inputs["prefix"] == ""]
        inputs = sorted(uploads.inputs["files"])
        assert inputs == sorted(p.name for p in (ROOT / "data").glob("*.txt"))

        (pool,) = mocks.of_type("azure-native:batch:Pool")
        vm = pool.inputs["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vm["imageReference"]["offer"] == IMAGE.offer == "ubuntu-24_04-lts"
        assert vm["nodeAgentSkuId"] == NODE_AGENT_SKU == "batch.node.ubuntu 24.04"
        assert pool.inputs["vmSize"] == values["batchwords:vmSize"]
        assert pool.inputs["targetNodeCommunicationMode"] == "Simplified"
        assert pool.inputs["identity"]["type"] == "UserAssigned"
        start = pool.inputs["startTask"]
        assert start["waitForSuccess"] is True
        assert start["maxTaskRetryCount"] > 0
        assert "pip install" in start["commandLine"]
        assert "nodetask" in start["commandLine"]
        assert start["userIdentity"]["autoUser"]["elevationLevel"] == "Admin"
        # The script fetches the wheel, with the pool identity, under its own name (pip needs it);
        # a new wheel is a new URL and a new folder, so the StartTask changes with it.
        assert "resourceFiles" not in start
        wheel_url = f"https://{exported['storage_account']}.blob.core.windows.net/application/{wheel_blob}"
        sha256 = nodetask_wheel(files).sha256
        assert f"wheels/{wheel.name} {wheel_url} {sha256}" in start["commandLine"]
        assert f"nodetask-{digest}/bin/nodetask" in start["commandLine"]
        assert "--identity pool-identity-id" in start["commandLine"]
        # Each job installs the same release where a node lacks it, and its tasks run it.
        (job,) = mocks.dynamic("job_id")
        config = stack_config.load(stack=stack)
        assert (job.inputs["task_bytes"], job.inputs["pool_slots"]) == (
            config.job.task_bytes,
            config.job.pool_slots,
        )
        url = (
            f"https://{exported['storage_account']}.blob.core.windows.net/application/{WHEEL_PREFIX}{digest}"
        )
        assert job.inputs["nodetask"] == {
            "digest": digest,
            "files": {file.name: {"url": f"{url}/{file.name}", "sha256": file.sha256} for file in files},
            "identity": "pool-identity-id",
            "python": "python3",
        }
        # Neither the StartTask nor the jobs' preparation task installs a name with an index on.
        release = nodetask_release(job.inputs["nodetask"])
        assert release is not None
        for command in (start["commandLine"], preparation_task(release).command_line):
            assert_installs_by_hash_only(command)
        scale = pool.inputs["scaleSettings"]
        if values.get("batchwords:autoscale") == "true":
            formula = scale["autoScale"]["formula"]
            assert formula == autoscale_formula(
                int(values["batchwords:maxNodes"]), int(values["batchwords:taskSlotsPerNode"])
            )
            assert "$latest > 0 ? ceil($pending / " in formula
            assert ": 0;" in formula  # to zero when nothing is pending
        else:
            assert scale["fixedScale"]["targetLowPriorityNodes"] == int(values["batchwords:spotNodes"])

        (batch_account,) = mocks.of_type("azure-native:batch:BatchAccount")
        modes = batch_account.inputs["allowedAuthenticationModes"]
        assert modes == (["AAD"] if entra else ["AAD", "SharedKey"])
        # No auto-storage, so no account identity that would need a Storage role of its own.
        assert "autoStorage" not in batch_account.inputs
        assert "identity" not in batch_account.inputs

        roles = {
            (r.inputs["scope"].rsplit("/", 1)[-1], r.inputs["roleDefinitionId"].rsplit("/", 1)[-1])
            for r in mocks.of_type("azure-native:authorization:RoleAssignment")
            if r.inputs["principalId"] != DEPLOYER
        }
        assert roles == {
            # a mock resource's id is "<resource name>-id": each grant is scoped to one container
            ("storage-application-id", STORAGE_BLOB_DATA_READER),
            ("storage-input-id", STORAGE_BLOB_DATA_READER),
            ("storage-output-id", STORAGE_BLOB_DATA_CONTRIBUTOR),
        }

        deployer = {
            (r.inputs["scope"].rsplit("/", 1)[-1], r.inputs["roleDefinitionId"].rsplit("/", 1)[-1])
            for r in mocks.of_type("azure-native:authorization:RoleAssignment")
            if r.inputs["principalId"] == DEPLOYER
        }
        # What a user delegation SAS and reading the outputs need, on the storage account; and
        # the Batch dataActions for jobs and tasks, on the Batch account.
        assert deployer == {
            ("storage-account-id", STORAGE_BLOB_DELEGATOR),
            ("storage-account-id", STORAGE_BLOB_DATA_CONTRIBUTOR),
            ("batch-account-id", AZURE_BATCH_JOB_SUBMITTER),
        }

        (job,) = mocks.dynamic("job_id")
        assert job.inputs["numwords"] == int(values.get("batchwords:numwords", 10))
        assert job.inputs["job_max_wall_clock_hours"] == int(
            values.get("batchwords:jobMaxWallClockHours", 24)
        )
        assert set(job.inputs["inputs"]) == set(inputs)
        text = json.dumps(exported)
        assert "sig=" not in text
        assert "AccountKey" not in text
        assert exported["containers"] == {name: name for name in CONTAINERS}
        assert exported["top_words"] == [["the", 9]]

    return pulumi.Output.all(*outputs.values()).apply(check)


@pulumi.runtime.test
def test_job_depends_on_the_pool_and_the_blobs(use_stack, wheel, mocker):
    spy = mocker.spy(infra.batch_job.BatchJob, "__init__")
    run_program("dev", use_stack, wheel)
    opts = spy.call_args.kwargs["opts"]
    types = sorted({type(dep).__name__ for dep in opts.depends_on})
    assert types == ["BlobFiles", "Pool", "RoleAssignment"]
    # Among them the deployer's Batch job role: the job's first call needs its dataActions.
    names = {dep._name for dep in opts.depends_on if type(dep).__name__ == "RoleAssignment"}
    assert "pool-deployer-batch-jobs" in names
    return pulumi.Output.from_input(True)


@pulumi.runtime.test
def test_the_number_of_resources_does_not_grow_with_the_inputs(use_stack, wheel, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for index in range(60):
        (many / f"text{index}.txt").write_text(f"word{index}", encoding="utf-8")
    lots, outputs = run_program("dev", use_stack, wheel, inputFolder=str(many))

    def check(_: Any) -> None:
        # 60 inputs, and still the same handful of resources: none per input.
        assert len(lots.resources) < 25
        assert lots.of_type("azure-native:storage:Blob") == []
        assert len(lots.dynamic("files")) == 2
        (uploads,) = [r for r in lots.dynamic("files") if r.inputs["prefix"] == ""]
        assert len(uploads.inputs["files"]) == 60

    return pulumi.Output.all(*outputs.values()).apply(check)


STACKS = sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACKS)
@pulumi.runtime.test
def test_every_azure_name_follows_the_rule_of_its_type(stack, use_stack, wheel):
    mocks, outputs = run_program(stack, use_stack, wheel)

    def check(_: Any) -> None:
        accounts = [
            r.inputs["accountName"]
            for typ in ("azure-native:storage:StorageAccount", "azure-native:batch:BatchAccount")
            for r in mocks.of_type(typ)
        ]
        assert len(accounts) == 2
        assert all(naming.ACCOUNT_NAME.fullmatch(name) for name in accounts), accounts
        assert accounts == [
            naming.account_name(kind, "batchwords", stack, SUBSCRIPTION) for kind in ("st", "ba")
        ]  # stable: the same on every run of the stack
        for container in mocks.of_type("azure-native:storage:BlobContainer"):
            assert naming.CONTAINER_NAME.fullmatch(container.inputs["containerName"])
        (pool,) = mocks.of_type("azure-native:batch:Pool")
        assert naming.BATCH_ID.fullmatch(pool.inputs["poolName"])
        (job,) = mocks.dynamic("job_id")
        assert naming.BATCH_ID.fullmatch(job.inputs["job_id"])
        grants = mocks.of_type("azure-native:authorization:RoleAssignment")
        names = [r.inputs["roleAssignmentName"] for r in grants]
        assert all(str(uuid.UUID(name)) == name for name in names)
        assert len(set(names)) == len(names) == 6  # 3 for the pool, 3 for the deployer

    return pulumi.Output.all(*outputs.values()).apply(check)


def test_account_names_differ_per_stack_and_subscription():
    names = {
        naming.account_name("st", "batchwords", stack, subscription)
        for stack in ("dev", "prod")
        for subscription in (SUBSCRIPTION, "00000000-0000-0000-0000-000000000002")
    }
    assert len(names) == 4


def test_role_assignment_names_differ_for_different_principals():
    scope, role = "/subscriptions/s/containers/input", "/roleDefinitions/r"
    first = naming.role_assignment_name(scope, "principal-1", role)
    assert first == naming.role_assignment_name(scope, "principal-1", role)
    assert first != naming.role_assignment_name(scope, "principal-2", role)
    assert first != naming.role_assignment_name(scope, "principal-1", "/roleDefinitions/other")


@pulumi.runtime.test
def test_account_names_from_the_stack_config(use_stack, wheel):
    mocks, outputs = run_program(
        "dev", use_stack, wheel, storageAccountName="mystore1", batchAccountName="mybatch1"
    )

    def check(_: Any) -> None:
        (store,) = mocks.of_type("azure-native:storage:StorageAccount")
        (batch,) = mocks.of_type("azure-native:batch:BatchAccount")
        assert (store.inputs["accountName"], batch.inputs["accountName"]) == ("mystore1", "mybatch1")

    return pulumi.Output.all(*outputs.values()).apply(check)


def test_the_stacks_differ_where_they_should():
    dev, prod = stack_values("dev"), stack_values("prod")
    for key in ("location", "vmSize", "taskRetentionHours", "entraOnly"):
        assert dev[f"batchwords:{key}"] != prod[f"batchwords:{key}"], key
    # Spot nodes may never be allocated in a Batch-managed account: dev gets a dedicated node.
    assert (dev["batchwords:dedicatedNodes"], dev["batchwords:spotNodes"]) == ("1", "0")
    assert prod["batchwords:autoscale"] == "true"
    assert prod["batchwords:entraOnly"] == "true"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("vmSize", "huge", "config vmSize: 'huge' is not an Azure VM size"),
        ("dedicatedNodes", "-1", "config dedicatedNodes: must be at least 0"),
        ("numwords", "0", "config numwords: must be at least 1"),
        ("inputFolder", "no-such-folder", "config inputFolder: folder"),
        ("taskRetries", "zero", "config taskRetries: is not a whole number"),
        ("jobMaxWallClockHours", "200", "config jobMaxWallClockHours: must be at most 144"),
        ("storageAccountName", "My_Store", "config storageAccountName: 'My_Store' must be 3 to 24 lowercase"),
        ("taskBytes", "lots", "config taskBytes: 'lots' is not a size"),
    ],
)
def test_bad_config_names_the_key_and_the_stack_file(use_stack, key, value, message):
    use_stack("dev", **{key: value})
    with pytest.raises(stack_config.StackConfigError) as bad:
        stack_config.load(stack="dev")
    assert message in str(bad.value)
    assert "fix it in Pulumi.dev.yaml" in str(bad.value)


def test_task_bytes_and_the_pool_slots_reach_the_job(use_stack):
    use_stack("dev", taskBytes="64MB", taskSlotsPerNode="3")
    config = stack_config.load(stack="dev")
    assert config.job.task_bytes == 64_000_000
    assert config.job.pool_slots == (config.dedicated_nodes + config.spot_nodes) * 3


def test_the_stack_documents_the_job_defaults_that_jobspec_holds():
    """Pulumi.yaml documents each job parameter's default for `pulumi config`; JobSpec owns it."""
    documented = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    values = {
        field: documented[key]["default"]
        for field, (key, _) in stack_config.JOB_PARAMETERS.items()
        if field not in ("job_set", "pool_slots")  # the stack's name; the pool's size
    }
    values["task_bytes"] = parse_size(values["task_bytes"])
    default = JobSpec(job_set="job", pool_id="pool", input_container="input", output_container="output")
    documented_spec = stack_config.job_spec(
        values | {"job_set": "job"}, pool_id="pool", input_container="input", output_container="output"
    )
    assert documented_spec == default


def test_empty_input_folder(use_stack, tmp_path):
    use_stack("dev", inputFolder=str(tmp_path))
    with pytest.raises(stack_config.StackConfigError, match="has no input files"):
        stack_config.load(stack="dev")


def test_missing_wheel_is_a_clear_error(tmp_path):
    with pytest.raises(stack_config.StackConfigError, match="run `make wheel`"):
        find_wheel(tmp_path)


@pulumi.runtime.test
def test_the_providers_know_whom_the_roles_went_to(use_stack, wheel):
    """The object id azure-native signs in as (getClientConfig) got the data roles; the uploads and
    the job are given it, to refuse other credentials at once."""
    mocks, outputs = run_program("dev", use_stack, wheel)

    def check(_: Any) -> None:
        data_roles = {
            r.inputs["roleDefinitionId"].rsplit("/", 1)[-1]
            for r in mocks.of_type("azure-native:authorization:RoleAssignment")
            if r.inputs["principalId"] == DEPLOYER
        }
        assert {STORAGE_BLOB_DATA_CONTRIBUTOR, AZURE_BATCH_JOB_SUBMITTER} <= data_roles
        dynamic = mocks.dynamic("job_id") + mocks.dynamic("files")
        assert len(dynamic) == 3
        assert {r.inputs["principal_id"] for r in dynamic} == {DEPLOYER}

    return pulumi.Output.all(*outputs.values()).apply(check)
