"""The stack's configuration, read once into a frozen dataclass and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pulumi

import batchwords
from infra.compute import POOL_NAME
from infra.naming import ACCOUNT_NAME

ROOT = Path(__file__).resolve().parent.parent
VM_SIZE = re.compile(r"(?i)standard_[a-z][a-z0-9_]*")
#: Each job parameter: its ``JobSpec`` field -> (stack config key, ``BatchJob`` prop). Both
#: count in the units the prop names (minutes, hours, bytes); one left out takes JobSpec's default.
JOB_PARAMETERS = {
    "job_set": ("jobId", "job_id"),
    "numwords": ("numwords", "numwords"),
    "max_wall_clock": ("taskMaxWallClockMinutes", "max_wall_clock_minutes"),
    "max_retries": ("taskRetries", "max_retries"),
    "retention": ("taskRetentionHours", "retention_hours"),
    "job_max_wall_clock": ("jobMaxWallClockHours", "job_max_wall_clock_hours"),
    "task_bytes": ("taskBytes", "task_bytes"),
    "pool_slots": ("taskSlotsPerNode", "pool_slots"),
}
#: The unit of each duration among them.
_UNITS = {
    "max_wall_clock": timedelta(minutes=1),
    "retention": timedelta(hours=1),
    "job_max_wall_clock": timedelta(hours=1),
}
_LIMITS = ("max_wall_clock", "max_retries", "retention")


def job_spec(values: Mapping[str, int | str | None], **names: Any) -> batchwords.JobSpec:
    """A ``JobSpec`` from job parameters by field, in the units of ``JOB_PARAMETERS`` (None: the
    default); ``names`` are its other fields (pool, containers, release). Raises its ``ConfigError``."""
    given: dict[str, Any] = {field: value for field, value in values.items() if value is not None}
    for field, unit in _UNITS.items():
        if field in given:
            given[field] = unit * int(given[field])
    limits = batchwords.TaskLimits(**{field: given.pop(field) for field in _LIMITS if field in given})
    return batchwords.JobSpec(**names, **given, limits=limits)


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
    input_folder: Path
    #: The job's parameters (numwords, task limits, task bytes, ...), checked by the core.
    job: batchwords.JobSpec
    entra_only: bool
    wait_for_job: bool
    wait_timeout_seconds: int
    #: Explicit account names; None derives a stable one per stack (see infra.naming).
    storage_account_name: str | None = None
    batch_account_name: str | None = None

    @property
    def input_files(self) -> dict[str, Path]:
        """Blob name -> file, by the one rule of what an input is (``batchwords.select_inputs``)."""
        return batchwords.select_inputs(self.input_folder).files


def load(config: pulumi.Config | None = None, stack: str | None = None, root: Path = ROOT) -> StackConfig:
    """Read every value once; a bad one raises with its key and the stack file."""
    config = config or pulumi.Config()
    stack = stack or pulumi.get_stack()
    where = f"Pulumi.{stack}.yaml"

    def fail_all(problems: list[tuple[str, str]]) -> StackConfigError:
        return StackConfigError(
            "; ".join(f"config {key}: {problem}" for key, problem in problems)
            + f"; fix it in {where} (pulumi config set {problems[0][0]} ...)"
        )

    def fail(key: str, problem: str) -> StackConfigError:
        return fail_all([(key, problem)])

    def optional_int(key: str) -> int | None:
        try:
            return config.get_int(key)
        except pulumi.ConfigTypeError as exc:
            raise fail(key, "is not a whole number") from exc

    def integer(key: str, default: int, minimum: int) -> int:
        value = optional_int(key)
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
    autoscale = boolean("autoscale", False)
    dedicated_nodes, spot_nodes = integer("dedicatedNodes", 1, 0), integer("spotNodes", 0, 0)
    max_nodes = integer("maxNodes", 4, 1)
    slots_per_node = integer("taskSlotsPerNode", 2, 1)
    if slots_per_node > batchwords.JobSpec.MAX_SLOTS_PER_NODE:
        raise fail(
            "taskSlotsPerNode",
            f"must be at most {batchwords.JobSpec.MAX_SLOTS_PER_NODE} (got {slots_per_node})",
        )
    # The pool's task slots at its planned size: a small job is spread over them.
    nodes = max_nodes if autoscale else dedicated_nodes + spot_nodes
    parameters: dict[str, int | str | None] = {
        field: optional_int(key)
        for field, (key, _) in JOB_PARAMETERS.items()
        if field not in ("job_set", "task_bytes", "pool_slots")
    }
    parameters |= {
        "job_set": config.get("jobId") or f"batchwords-{stack}",
        "task_bytes": task_bytes,
        "pool_slots": max(nodes, 1) * slots_per_node,
    }
    try:
        # The job's pool and containers are this program's own, by name.
        job = job_spec(parameters, pool_id=POOL_NAME, input_container="input", output_container="output")
    except batchwords.ConfigError as exc:
        raise fail_all(
            [(JOB_PARAMETERS.get(field, (field,))[0], problem) for field, problem in exc.problems]
        ) from exc
    values = StackConfig(
        stack=stack,
        location=config.get("location") or "westeurope",
        resource_group_name=config.get("resourceGroupName") or None,
        vm_size=vm_size,
        dedicated_nodes=dedicated_nodes,
        spot_nodes=spot_nodes,
        autoscale=autoscale,
        max_nodes=max_nodes,
        task_slots_per_node=slots_per_node,
        input_folder=folder,
        job=job,
        entra_only=boolean("entraOnly", False),
        wait_for_job=boolean("waitForJob", True),
        wait_timeout_seconds=integer("waitTimeoutSeconds", 1800, 0),
        storage_account_name=names["storageAccountName"],
        batch_account_name=names["batchAccountName"],
    )
    try:
        values.input_files  # noqa: B018 (checked now, with the key and stack file named)
    except batchwords.ConfigError as exc:
        raise fail("inputFolder", str(exc)) from exc
    if not autoscale and nodes == 0:
        raise fail(
            "dedicatedNodes", "and spotNodes are both 0: the job would never run; set one, or autoscale"
        )
    return values
