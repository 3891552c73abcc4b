"""``make wheel``: the nodetask release for the Azure nodes, in ``build/wheels``.

Builds nodetask's wheel, downloads its dependency closure for the Azure
nodes (Ubuntu 24.04: CPython 3.12, glibc 2.39, x86_64) as wheels only, and
writes the lock pinning every wheel by sha256 (``_wheels``). The Pulumi
program uploads all of them; the nodes install them with no package index.

    python -m batchwords._wheel_build build/wheels
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._exceptions import ConfigError, ServiceStartError
from ._wheels import LOCK, NodeFile, locked_files, write_lock

#: The Azure nodes (``UBUNTU_IMAGE``): Ubuntu 24.04's CPython and glibc, and the VM sizes' CPUs.
NODE_PYTHON_VERSION = "3.12"
NODE_GLIBC_MINOR = 39
NODE_ARCH = "x86_64"


def node_platforms(glibc_minor: int = NODE_GLIBC_MINOR, arch: str = NODE_ARCH) -> list[str]:
    """Platform tags a node with that glibc runs: pip does not widen ``manylinux_2_X`` by itself."""
    return [f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1)] + [
        f"manylinux2014_{arch}"  # pip adds manylinux2010 and manylinux1
    ]


def _pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceStartError(f"pip {args[0]} failed: {proc.stderr.strip()[-800:]}")


def build_node_wheels(
    project: Path,
    out: Path,
    *,
    python_version: str = NODE_PYTHON_VERSION,
    platforms: Sequence[str] | None = None,
    pip_args: Sequence[str] = (),
) -> list[NodeFile]:
    """nodetask's wheel from ``project``, its dependencies as wheels for the nodes, and the lock, in ``out``.

    Only wheels (``--only-binary=:all:``): nothing is built on, or for, the
    node. ``pip_args`` go to the download (``--no-index --find-links DIR`` in
    tests, where no package index is reachable).
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.whl"), out / LOCK]:  # a file left from another build would join the lock
        old.unlink(missing_ok=True)
    # A path pip cannot take for a requirement's name (a bare "nodetask" would go to the index).
    source = str(project.resolve())
    _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), source)
    (wheel,) = out.glob("*.whl")
    platform_args = [arg for tag in platforms or node_platforms() for arg in ("--platform", tag)]
    _pip(
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--abi",
        "cp" + python_version.replace(".", ""),
        *platform_args,
        *pip_args,
        "--dest",
        str(out),
        str(wheel.resolve()),
    )
    write_lock(out)
    return locked_files(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchwords._wheel_build",
        description="Build the nodetask release for the Azure nodes: the wheels and their lock.",
    )
    parser.add_argument("out", type=Path, nargs="?", default=Path("build/wheels"))
    parser.add_argument("--project", type=Path, default=Path("nodetask"), help="nodetask's source folder")
    parser.add_argument("--python-version", default=NODE_PYTHON_VERSION, help="the nodes' Python")
    args = parser.parse_args(argv)
    try:
        files = build_node_wheels(args.project, args.out, python_version=args.python_version)
    except (ConfigError, ServiceStartError) as exc:
        print(f"wheel: error: {exc}", file=sys.stderr)
        return 1
    for file in files:
        print(f"{file.name:<80} {file.path.stat().st_size / 1e6:7.2f} MB  sha256:{file.sha256[:12]}")
    total = sum(file.path.stat().st_size for file in files)
    print(f"{len(files) - 1} wheels and {LOCK} in {args.out}: {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
