"""The stack's configuration, read once into a frozen dataclass and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

import batchwords
from infra.naming import ACCOUNT_NAME

ROOT = Path(__file__).resolve().parent.parent
VM_SIZE = re.compile(r"(?i)standard_[a-z][a-z0-9_]*")
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,60}")


class StackConfigError(pulumi.RunError):
    """A bad configuration value; the message names the key and the stack file."""


@dataclass(frozen=True)
class StackConfig:
    stack: str
    location: str
    resource_group_name: str | None
    vm_size: str
    dedicated_nodes: int
    spot_nodes: int
    autoscale: bool
    max_nodes: int
    task_slots_per_node: int
    numwords: int
    input_folder: Path
    job_id: str
    task_max_wall_clock_minutes: int
    task_retries: int
    task_retention_hours: int
    job_max_wall_clock_hours: int
    entra_only: bool
    wait_for_job: bool
    wait_timeout_seconds: int
    #: Input bytes per task: smaller files are packed together (``batchwords:taskBytes``).
    task_bytes: int = batchwords.TASK_BYTES
    #: Explicit account names; None derives a stable one per stack (see infra.naming).
    storage_account_name: str | None = None
    batch_account_name: str | None = None

    @property
    def pool_slots(self) -> int:
        """Task slots of the pool at its planned size: a small job is spread over them."""
        nodes = self.max_nodes if self.autoscale else self.dedicated_nodes + self.spot_nodes
        return max(nodes, 1) * self.task_slots_per_node

    @property
    def input_files(self) -> dict[str, Path]:
        """Blob name -> file, by the one rule of what an input is (``batchwords.select_inputs``)."""
        return batchwords.select_inputs(self.input_folder).files


def load(config: pulumi.Config | None = None, stack: str | None = None, root: Path = ROOT) -> StackConfig:
    """Read every value once; a bad one raises with its key and the stack file."""
    config = config or pulumi.Config()
    stack = stack or pulumi.get_stack()
    where = f"Pulumi.{stack}.yaml"

    def fail(key: str, problem: str) -> StackConfigError:
        return StackConfigError(f"config {key}: {problem}; fix it in {where} (pulumi config set {key} ...)")

    def integer(key: str, default: int, minimum: int) -> int:
        try:
            value = config.get_int(key)
        except pulumi.ConfigTypeError as exc:
            raise fail(key, "is not a whole number") from exc
        value = default if value is None else value
        if value < minimum:
            raise fail(key, f"must be at least {minimum} (got {value})")
        return value

    def boolean(key: str, default: bool) -> bool:
        try:
            value = config.get_bool(key)
        except pulumi.ConfigTypeError as exc:
            raise fail(key, "must be true or false") from exc
        return default if value is None else value

    vm_size = config.get("vmSize") or "Standard_D2s_v3"
    if not VM_SIZE.fullmatch(vm_size):
        raise fail("vmSize", f"{vm_size!r} is not an Azure VM size such as Standard_D2s_v3")
    folder = Path(config.get("inputFolder") or "data")
    folder = folder if folder.is_absolute() else root / folder
    if not folder.is_dir():
        raise fail("inputFolder", f"folder {folder} does not exist")
    job_id = config.get("jobId") or f"batchwords-{stack}"
    if not JOB_ID.fullmatch(job_id):
        raise fail("jobId", f"{job_id!r} must be 1 to 60 letters, digits, '-' or '_'")
    try:
        task_bytes = batchwords.parse_size(config.get("taskBytes") or batchwords.TASK_BYTES)
    except ValueError as exc:
        raise fail("taskBytes", str(exc)) from exc
    names: dict[str, str | None] = {}
    for key in ("storageAccountName", "batchAccountName"):
        name = config.get(key) or None
        if name is not None and not ACCOUNT_NAME.fullmatch(name):
            raise fail(key, f"{name!r} must be 3 to 24 lowercase letters and digits, unique in Azure")
        names[key] = name
    values = StackConfig(
        stack=stack,
        location=config.get("location") or "westeurope",
        resource_group_name=config.get("resourceGroupName") or None,
        vm_size=vm_size,
        dedicated_nodes=integer("dedicatedNodes", 1, 0),
        spot_nodes=integer("spotNodes", 0, 0),
        autoscale=boolean("autoscale", False),
        max_nodes=integer("maxNodes", 4, 1),
        task_slots_per_node=integer("taskSlotsPerNode", 2, 1),
        numwords=integer("numwords", 10, 1),
        input_folder=folder,
        job_id=job_id,
        task_max_wall_clock_minutes=integer("taskMaxWallClockMinutes", 30, 1),
        task_retries=integer("taskRetries", 2, 1),
        task_retention_hours=integer("taskRetentionHours", 24, 1),
        job_max_wall_clock_hours=integer("jobMaxWallClockHours", 24, 1),
        entra_only=boolean("entraOnly", False),
        wait_for_job=boolean("waitForJob", True),
        wait_timeout_seconds=integer("waitTimeoutSeconds", 1800, 0),
        storage_account_name=names["storageAccountName"],
        batch_account_name=names["batchAccountName"],
        task_bytes=task_bytes,
    )
    try:
        values.input_files  # noqa: B018 (checked now, with the key and stack file named)
    except batchwords.ConfigError as exc:
        raise fail("inputFolder", str(exc)) from exc
    if values.job_max_wall_clock_hours > 144:
        raise fail(
            "jobMaxWallClockHours", f"must be at most 144 (6 days) (got {values.job_max_wall_clock_hours})"
        )
    if values.job_max_wall_clock_hours * 60 < values.task_max_wall_clock_minutes:
        raise fail(
            "jobMaxWallClockHours",
            "must cover at least one task's wall-clock limit (taskMaxWallClockMinutes)",
        )
    if values.task_slots_per_node > 256:
        raise fail("taskSlotsPerNode", f"must be at most 256 (got {values.task_slots_per_node})")
    if not values.autoscale and values.dedicated_nodes + values.spot_nodes == 0:
        raise fail(
            "dedicatedNodes", "and spotNodes are both 0: the job would never run; set one, or autoscale"
        )
    return values
