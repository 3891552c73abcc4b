"""The pool's StartTask that installs nodetask, shared by the Pulumi program and the offline run."""

from __future__ import annotations

import shlex

from azure.batch import models as batch_models

#: A current Ubuntu LTS marketplace image and the node agent that matches it
#: (the Pulumi program's pool and the offline run's use the same).
UBUNTU_IMAGE = {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
NODE_AGENT_SKU = "batch.node.ubuntu 24.04"
DEFAULT_VM_SIZE = "standard_d2s_v3"

#: Where nodetask lives on a node; tasks run ``$VENV/bin/nodetask`` (see _tasks).
VENV = "$AZ_BATCH_NODE_SHARED_DIR/batchwords/venv"
WHEEL_DIR = "wheels"


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


def install_script(*, offline: bool, python: str = "python3", install_venv_package: bool = False) -> str:
    """Shell commands that (re)install nodetask into the shared virtual environment.

    Idempotent: a rerun (node reboot, recovery) rebuilds the same environment.
    ``offline`` installs from the wheels given as resource files only, for
    nodes without access to a package index. ``install_venv_package`` first
    installs Debian's python3-venv (absent from Ubuntu's marketplace images;
    needs an elevated StartTask).
    """
    index = "--no-index " if offline else ""
    apt = (
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq python3-venv; "
        if install_venv_package
        else ""
    )
    return (
        "set -e; "
        f"{apt}"
        f'{shlex.quote(python)} -m venv --clear "{VENV}"; '
        f'"{VENV}/bin/python" -m pip install --quiet --disable-pip-version-check '
        f"{index}--find-links {WHEEL_DIR} nodetask; "
        f'"{VENV}/bin/nodetask" --help > /dev/null'
    )


def install_command(*, offline: bool, python: str = "python3", install_venv_package: bool = False) -> str:
    """The StartTask command line: ``install_script`` under /bin/sh (Batch uses no shell)."""
    script = install_script(offline=offline, python=python, install_venv_package=install_venv_package)
    return f"/bin/sh -c {shlex.quote(script)}"


def nodetask_start_task(
    wheels: list[tuple[str, str]],
    *,
    offline: bool,
    python: str = "python3",
    elevated: bool = False,
) -> batch_models.BatchStartTask:
    """A StartTask downloading ``wheels`` ((file name, URL) pairs) and installing nodetask.

    It waits for success and retries, so a node that cannot install nodetask
    never takes a task.
    """
    return batch_models.BatchStartTask(
        command_line=install_command(offline=offline, python=python),
        resource_files=[
            batch_models.ResourceFile(http_url=url, file_path=f"{WHEEL_DIR}/{name}") for name, url in wheels
        ],
        user_identity=batch_models.UserIdentity(
            auto_user=batch_models.AutoUserSpecification(
                scope="pool", elevation_level="admin" if elevated else "nonadmin"
            )
        ),
        max_task_retry_count=2,
        wait_for_success=True,
    )
