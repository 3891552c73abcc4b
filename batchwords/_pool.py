"""The pool, and how nodetask gets onto its nodes: the StartTask and each job's preparation task.

A nodetask release is its wheels and their lock (``_wheels``), named by the
digest of those files and installed on a node into a folder of that name, at
most once: each file fetched is checked against its sha256 before it takes
its name, and pip installs from those files only, by hash, with no index. The pool's StartTask installs
the release the pool was created with; every job's preparation task installs
the job's own release when the node lacks it, so a job's tasks always run the
wheel it was submitted with, whatever the nodes booted with.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from azure.batch import models as batch_models

from . import _node_fetch
from ._env import NODE_FETCH
from ._wheels import LOCK, NodeFile, sha256_of

#: A current Ubuntu LTS marketplace image and the node agent that matches it
#: (the Pulumi program's pool and the offline run's use the same).
UBUNTU_IMAGE = {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
NODE_AGENT_SKU = "batch.node.ubuntu 24.04"
DEFAULT_VM_SIZE = "standard_d2s_v3"

#: Where nodetask releases live on a node (expanded by /bin/sh there).
RELEASES = "$AZ_BATCH_NODE_SHARED_DIR/batchwords"
#: Seconds apt waits for the dpkg lock (held by unattended-upgrades on a fresh node).
APT_LOCK_TIMEOUT = 600
#: Runs of apt, APT_RETRY_DELAY s apart: the lock timeout does not cover apt-get update's lists lock.
APT_TRIES = 20
APT_RETRY_DELAY = 30
#: The install's folder of wheels (relative to its task's working directory).
WHEEL_DIR = "wheels"
DIGEST_CHARS = 16
#: Decodes and runs the fetch program, which comes base64-encoded in the environment (one line).
FETCH_BOOTSTRAP = f'import base64,os;exec(base64.b64decode(os.environ["{NODE_FETCH}"]))'
#: ... as one shell word in double quotes: no single quote for ``retrying``'s quoting to multiply.
_FETCH_ARG = '"' + FETCH_BOOTSTRAP.replace('"', '\\"') + '"'
_FILE_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


def release_digest(files: Iterable[tuple[str, str]]) -> str:
    """The content digest that names a release: every file's name and sha256 (hex)."""
    digest = hashlib.sha256()
    for name, sha256 in sorted(files):
        digest.update(name.encode() + b"\0" + bytes.fromhex(sha256))
    return digest.hexdigest()[:DIGEST_CHARS]


def wheels_digest(wheels: Sequence[Path]) -> str:
    """The content digest that names a release: every file's name and bytes (the wheels and the lock)."""
    return release_digest((path.name, sha256_of(path)) for path in wheels)


def _fetch_program() -> str:
    """``_node_fetch`` as one ``python3 -c`` argument: its code without docstring or comments."""
    tree = ast.parse(Path(_node_fetch.__file__).read_text(encoding="utf-8"))
    tree.body = tree.body[1:]  # the module docstring
    return ast.unparse(tree)


def encoded_fetch_program() -> str:
    """The fetch program as an environment value: base64, one line of ASCII (Batch documents
    nothing about newlines in environment values)."""
    return base64.b64encode(_fetch_program().encode()).decode("ascii")


@dataclass(frozen=True)
class NodetaskRelease:
    """One build of nodetask for the nodes: its files and where a node installs them."""

    #: ``release_digest`` of the files.
    digest: str
    #: (file name, URL, sha256) of every wheel and of the lock (``LOCK``) that pins them.
    files: tuple[tuple[str, str, str], ...]
    #: Resource id of the managed identity the node downloads with; None when the URLs carry a SAS.
    identity: str | None = None
    #: The node's Python (Ubuntu's python3 on Azure).
    python: str = "python3"
    #: Seconds a download keeps retrying (new role assignments take up to about 10 minutes).
    fetch_wait: float = 900.0
    #: Runs of an install script, ``retry_delay`` x n seconds apart, within each of Batch's tries.
    attempts: int = 3
    retry_delay: int = 30

    def __post_init__(self) -> None:
        names = [name for name, _, _ in self.files]
        bad = [name for name in names if not _FILE_NAME.fullmatch(name)]
        bad += [name for name, _, sha256 in self.files if not _SHA256.fullmatch(sha256)]
        if bad or LOCK not in names or len(set(names)) != len(names):
            raise ValueError(
                f"a release is distinct plain file names, each with a lowercase hex sha256, {LOCK} "
                f"among them (got {names!r}; wrong: {bad!r})"
            )

    @classmethod
    def of(cls, files: Sequence[NodeFile], urls: Mapping[str, str], **options: object) -> NodetaskRelease:
        """The release of a locked folder's files (``_wheels.locked_files``), each at ``urls[name]``."""
        return cls(
            digest=release_digest((file.name, file.sha256) for file in files),
            files=tuple((file.name, urls[file.name], file.sha256) for file in files),
            **options,  # type: ignore[arg-type]
        )

    @property
    def venv(self) -> str:
        return f"{RELEASES}/nodetask-{self.digest}"

    @property
    def command(self) -> str:
        """How a task runs this release's nodetask (under /bin/sh)."""
        return f'"{self.venv}/bin/nodetask"'

    def environment(self) -> dict[str, str]:
        """What an install script needs in its environment: the fetch program (encoded)."""
        return {NODE_FETCH: encoded_fetch_program()}

    def install_script(self) -> str:
        """Shell commands installing the release unless the node has it; safe to run concurrently.

        A lock serialises installers (StartTask, several jobs' preparation
        tasks); a marker written last tells a finished install from a broken one.
        The fetch refuses a file whose sha256 is not the release's; pip then
        installs the lock's pins from those files only (no index, by hash).
        """
        fetch = ["--wait", str(self.fetch_wait)]
        if self.identity:
            fetch += ["--identity", self.identity]
        for name, url, sha256 in self.files:
            fetch += [f"{WHEEL_DIR}/{name}", url, sha256]
        venv, python = self.venv, shlex.quote(self.python)
        return (
            "set -e; "
            f'mkdir -p "{RELEASES}"; chmod 1777 "{RELEASES}" 2>/dev/null || true; '
            f'(umask 0; : >> "{venv}.lock") 2>/dev/null || true; '
            f'exec 9< "{venv}.lock"; flock 9; '
            f'if [ -f "{venv}/.installed" ]; then echo "nodetask {self.digest} is installed"; exit 0; fi; '
            f'rm -rf "{venv}" {WHEEL_DIR}; mkdir -p {WHEEL_DIR}; '
            # The fetch program comes in the environment: command lines stay short.
            f"{python} -c {_FETCH_ARG} {shlex.join(fetch)}; "
            f'{python} -m venv "{venv}"; '
            f'"{venv}/bin/python" -m pip install --quiet --disable-pip-version-check --isolated --no-index '
            f"--only-binary=:all: --require-hashes --find-links {WHEEL_DIR} -r {WHEEL_DIR}/{LOCK}; "
            # Installed by one user, run by the tasks' others.
            f'chmod -R a+rX "{venv}"; '
            f'"{venv}/bin/nodetask" --help > /dev/null; '
            f'touch "{venv}/.installed"; echo "installed nodetask {self.digest}"'
        )


def system_script(
    *, install_venv_package: bool, apt_tries: int = APT_TRIES, apt_delay: int = APT_RETRY_DELAY
) -> str:
    """What the node needs before any release: Debian's python3-venv, absent from Ubuntu's
    marketplace images (needs an elevated StartTask).

    On first boot unattended-upgrades often holds apt's locks. apt waits for
    the dpkg lock (``DPkg::Lock::Timeout``), but not for the lists lock that
    ``apt-get update`` takes, nor the download cache's: so the update and the
    install run up to ``apt_tries`` times, ``apt_delay`` s apart.
    """
    if not install_venv_package:
        return ""
    apt = f"apt-get -o DPkg::Lock::Timeout={APT_LOCK_TIMEOUT} -qq"
    return (
        "set -e; export DEBIAN_FRONTEND=noninteractive; "
        f"n=1; until {apt} update && {apt} install -y python3-venv; do "
        f"if [ $n -ge {apt_tries} ]; then "
        f'echo "batchwords: apt-get failed {apt_tries} times" >&2; exit 1; fi; '
        f'echo "batchwords: apt-get failed (try $n of {apt_tries}; is another apt holding its locks?); '
        f'retrying in {apt_delay} s" >&2; sleep {apt_delay}; n=$((n + 1)); done; '
    )


def retrying(script: str, *, attempts: int, delay: int) -> str:
    """``script`` under /bin/sh, run up to ``attempts`` times with growing pauses between.

    Batch retries a failed task at once; mirrors, package indexes and the
    node's own first boot recover better with a pause.
    """
    if attempts <= 1:
        return f"/bin/sh -c {shlex.quote(script)}"
    loop = (
        f"n=1; until /bin/sh -c {shlex.quote(script)}; do "
        f"if [ $n -ge {attempts} ]; then exit 1; fi; "
        f'echo "batchwords: attempt $n of {attempts} failed; retrying in $((n * {delay})) s" >&2; '
        f"sleep $((n * {delay})); n=$((n + 1)); done"
    )
    return f"/bin/sh -c {shlex.quote(loop)}"


@dataclass(frozen=True)
class StartTask:
    """The pool's StartTask, independent of the API that creates the pool.

    ``to_batch_model`` gives the data-plane form (the offline run); the Pulumi
    program maps the same fields onto azure-native's ``StartTaskArgs``.
    """

    command_line: str
    environment: dict[str, str]
    elevated: bool
    max_retries: int
    #: A node whose StartTask fails never takes a task.
    wait_for_success: bool = True

    def to_batch_model(self) -> batch_models.BatchStartTask:
        return batch_models.BatchStartTask(
            command_line=self.command_line,
            environment_settings=[
                batch_models.EnvironmentSetting(name=name, value=value)
                for name, value in self.environment.items()
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
    release: NodetaskRelease,
    *,
    elevated: bool,
    install_venv_package: bool = False,
    max_retries: int = 1,
) -> StartTask:
    """The StartTask preparing the node and installing ``release`` (the pool's).

    ``install_venv_package`` needs ``elevated``. Batch tries it ``max_retries``
    + 1 times, each running the script up to ``release.attempts`` times.
    """
    if install_venv_package and not elevated:
        raise ValueError("installing python3-venv needs an elevated StartTask")
    script = system_script(install_venv_package=install_venv_package) + release.install_script()
    return StartTask(
        command_line=retrying(script, attempts=release.attempts, delay=release.retry_delay),
        environment=release.environment(),
        elevated=elevated,
        max_retries=max_retries,
    )


def preparation_task(
    release: NodetaskRelease, *, max_retries: int = 1
) -> batch_models.BatchJobPreparationTask:
    """A job's preparation task: installs the job's release on each node that lacks it.

    Runs as the pool's non-admin user (Linux's default), before the job's first
    task on every node; a node where it fails takes no task of the job.
    """
    return batch_models.BatchJobPreparationTask(
        id="install-nodetask",
        environment_settings=[
            batch_models.EnvironmentSetting(name=name, value=value)
            for name, value in release.environment().items()
        ],
        command_line=retrying(release.install_script(), attempts=release.attempts, delay=release.retry_delay),
        constraints=batch_models.BatchTaskConstraints(max_task_retry_count=max_retries),
        wait_for_success=True,
        rerun_on_node_reboot_after_success=False,
    )
