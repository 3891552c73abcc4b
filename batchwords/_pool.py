"""The pool and the one StartTask that installs nodetask, for the Pulumi program and the offline run."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from azure.batch import models as batch_models

#: A current Ubuntu LTS marketplace image and the node agent that matches it
#: (the Pulumi program's pool and the offline run's use the same).
UBUNTU_IMAGE = {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
NODE_AGENT_SKU = "batch.node.ubuntu 24.04"
DEFAULT_VM_SIZE = "standard_d2s_v3"

#: Where nodetask lives on a node; tasks run ``$VENV/bin/nodetask`` (see _tasks).
VENV = "$AZ_BATCH_NODE_SHARED_DIR/batchwords/venv"
#: Seconds apt waits for the dpkg lock (held by unattended-upgrades on a fresh node).
APT_LOCK_TIMEOUT = 600
#: The StartTask's folder of wheels (relative to its working directory).
WHEEL_DIR = "wheels"

#: A wheel's URL: a string, or in the Pulumi program an Output of one.
Url = TypeVar("Url")


def pool_options(
    pool_id: str,
    *,
    nodes: int,
    slots: int,
    start_task: batch_models.BatchStartTask | None = None,
    vm_size: str = DEFAULT_VM_SIZE,
) -> batch_models.BatchPoolCreateOptions:
    """A fixed-size Ubuntu pool, for the offline run and its tests."""
    return batch_models.BatchPoolCreateOptions(
        id=pool_id,
        vm_size=vm_size,
        virtual_machine_configuration=batch_models.VirtualMachineConfiguration(
            image_reference=batch_models.BatchVmImageReference(**UBUNTU_IMAGE),
            node_agent_sku_id=NODE_AGENT_SKU,
        ),
        target_dedicated_nodes=nodes,
        task_slots_per_node=slots,
        start_task=start_task,
    )


def install_script(*, use_index: bool, python: str = "python3", install_venv_package: bool = False) -> str:
    """Shell commands that (re)install nodetask into the shared virtual environment.

    Idempotent: a rerun (node reboot, recovery) rebuilds the same environment.
    Without ``use_index`` nodetask and its dependencies come from the wheels
    given as resource files only, for nodes without a package index.
    ``install_venv_package`` first installs Debian's python3-venv (absent from
    Ubuntu's marketplace images; needs an elevated StartTask).
    """
    index = "" if use_index else "--no-index "
    # On first boot unattended-upgrades often holds the dpkg lock: wait for it.
    apt = f"apt-get -o DPkg::Lock::Timeout={APT_LOCK_TIMEOUT} -qq"
    venv_package = (
        f"export DEBIAN_FRONTEND=noninteractive; {apt} update; {apt} install -y python3-venv; "
        if install_venv_package
        else ""
    )
    return (
        "set -e; "
        f"{venv_package}"
        f'{shlex.quote(python)} -m venv --clear "{VENV}"; '
        f'"{VENV}/bin/python" -m pip install --quiet --disable-pip-version-check '
        f"{index}--find-links {WHEEL_DIR} nodetask; "
        # An elevated StartTask's files must stay usable by the tasks' non-admin user.
        f'chmod -R a+rX "{VENV}"; '
        f'"{VENV}/bin/nodetask" --help > /dev/null'
    )


@dataclass(frozen=True)
class StartTask(Generic[Url]):
    """The StartTask that installs nodetask, independent of the API that creates the pool.

    ``to_batch_model`` gives the data-plane form (the offline run); the Pulumi
    program maps the same fields onto azure-native's ``StartTaskArgs``.
    """

    command_line: str
    #: (file path on the node, URL) of every wheel.
    resource_files: list[tuple[str, Url]]
    elevated: bool
    max_retries: int
    #: A node whose StartTask fails never takes a task.
    wait_for_success: bool = True

    def to_batch_model(self) -> batch_models.BatchStartTask:
        return batch_models.BatchStartTask(
            command_line=self.command_line,
            resource_files=[
                batch_models.ResourceFile(http_url=str(url), file_path=path)
                for path, url in self.resource_files
            ],
            user_identity=batch_models.UserIdentity(
                auto_user=batch_models.AutoUserSpecification(
                    scope="pool", elevation_level="admin" if self.elevated else "nonadmin"
                )
            ),
            max_task_retry_count=self.max_retries,
            wait_for_success=self.wait_for_success,
        )


def nodetask_start_task(
    wheels: Sequence[tuple[str, Url]],
    *,
    use_index: bool,
    elevated: bool,
    max_retries: int = 3,
    python: str = "python3",
    install_venv_package: bool = False,
) -> StartTask[Url]:
    """The StartTask downloading ``wheels`` ((file name, URL) pairs) and installing nodetask.

    ``use_index``: dependencies may come from the package index (Azure), or
    only from the given wheels (offline). ``install_venv_package`` needs
    ``elevated``.
    """
    if install_venv_package and not elevated:
        raise ValueError("installing python3-venv needs an elevated StartTask")
    script = install_script(use_index=use_index, python=python, install_venv_package=install_venv_package)
    return StartTask(
        command_line=f"/bin/sh -c {shlex.quote(script)}",
        resource_files=[(f"{WHEEL_DIR}/{name}", url) for name, url in wheels],
        elevated=elevated,
        max_retries=max_retries,
    )
