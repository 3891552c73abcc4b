"""A nodetask release's files: `make wheel` builds the closure for the nodes and the lock pinning it."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from batchwords import ConfigError
from batchwords import _wheel_build as wheel_build
from batchwords._wheels import LOCK, lock_text, sha256_of, wheel_requirement, write_lock
from batchwords.deploy import locked_files, nodetask_wheel
from tests.support.words import ROOT


@pytest.fixture
def release(wheelhouse: Path, tmp_path: Path) -> Path:
    """A copy of the session's wheelhouse with its lock."""
    folder = tmp_path / "release"
    shutil.copytree(wheelhouse, folder)
    write_lock(folder)
    return folder


def test_the_lock_pins_every_wheel_by_version_and_sha256(release):
    lines = [line for line in (release / LOCK).read_text().splitlines() if not line.startswith("#")]
    wheels = sorted(release.glob("*.whl"))
    assert len(lines) == len(wheels)
    for wheel in wheels:
        name, version = wheel_requirement(wheel.name)
        assert f"{name}=={version} --hash=sha256:{sha256_of(wheel)}" in lines
    assert any(line.startswith("batchwords-nodetask==0.1.0 --hash=sha256:") for line in lines)
    files = locked_files(release)
    assert [file.name for file in files] == [*(wheel.name for wheel in wheels), LOCK]
    assert nodetask_wheel(files).name == "batchwords_nodetask-0.1.0-py3-none-any.whl"


def test_a_folder_that_is_not_its_lock_is_refused_with_the_fix(release):
    pyarrow = next(release.glob("pyarrow-*.whl"))
    saved = pyarrow.read_bytes()
    pyarrow.write_bytes(saved + b"\0")
    with pytest.raises(ConfigError, match=r"pyarrow-.*is not the file nodetask-lock.txt records.*make wheel"):
        locked_files(release)
    pyarrow.unlink()
    with pytest.raises(ConfigError, match=r"lacks the wheels of pyarrow==26"):
        locked_files(release)
    pyarrow.write_bytes(saved)
    (release / "batchwords_nodetask-0.1.1-py3-none-any.whl").write_bytes(b"a higher version")
    with pytest.raises(ConfigError, match=r"batchwords_nodetask-0.1.1-py3-none-any.whl is not in"):
        locked_files(release)
    (release / LOCK).unlink()
    with pytest.raises(ConfigError, match=r"no nodetask-lock\.txt in"):
        locked_files(release)


def test_one_wheel_per_distribution(release):
    shutil.copy(next(release.glob("idna-*.whl")), release / "idna-9.0-py3-none-any.whl")
    with pytest.raises(ConfigError, match="two wheels of idna"):
        lock_text(sorted(release.glob("*.whl")))


def test_make_wheel_downloads_wheels_for_the_azure_nodes(monkeypatch, tmp_path):
    """Every dependency as a wheel for CPython 3.12 on glibc 2.39 x86_64 (Ubuntu 24.04), from
    nodetask's wheel by its path: no name for an index to answer in place of ours."""
    calls: list[tuple[str, ...]] = []

    def pip(*args: str) -> None:
        calls.append(args)
        if args[0] == "wheel":
            (tmp_path / "out" / "batchwords_nodetask-0.1.0-py3-none-any.whl").write_bytes(b"w")

    monkeypatch.setattr(wheel_build, "_pip", pip)
    monkeypatch.setattr(wheel_build, "locked_files", lambda folder: [])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale-1.0-py3-none-any.whl").write_bytes(b"from an older build")
    wheel_build.build_node_wheels(Path("nodetask"), tmp_path / "out")
    build, download = calls
    assert build[-1] == str(Path("nodetask").resolve())
    assert "--no-deps" in build
    assert download[-1] == str(tmp_path / "out" / "batchwords_nodetask-0.1.0-py3-none-any.whl")
    assert "--only-binary=:all:" in download
    pairs = dict(itertools.pairwise(download))
    assert (pairs["--python-version"], pairs["--abi"], pairs["--implementation"]) == ("3.12", "cp312", "cp")
    platforms = [download[i + 1] for i, arg in enumerate(download) if arg == "--platform"]
    assert platforms[0] == "manylinux_2_39_x86_64"  # Ubuntu 24.04's glibc: cryptography ships 2_34
    assert {"manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64"} <= set(platforms)
    assert not (tmp_path / "out" / "stale-1.0-py3-none-any.whl").exists()
    assert (tmp_path / "out" / LOCK).is_file()


def test_make_wheel_builds_a_release_that_installs_with_no_index(wheelhouse, tmp_path):
    """The real build, for this machine's Python, the dependencies taken from the session's
    wheelhouse (no package index here); then the node's own pip command installs it."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    out = tmp_path / "wheels"
    files = wheel_build.build_node_wheels(
        ROOT / "nodetask",
        out,
        python_version=version,
        pip_args=["--no-index", "--find-links", str(wheelhouse)],
    )
    names = {wheel_requirement(file.name)[0] for file in files if file.name != LOCK}
    assert {"batchwords-nodetask", "pyarrow", "azure-storage-blob", "azure-core", "cryptography"} <= names
    assert files[-1].name == LOCK
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--isolated", "--no-index"]
    subprocess.run([*pip, "--require-hashes", "--find-links", str(out), "-r", str(out / LOCK)], check=True)
    probe = subprocess.run(
        [venv / "bin" / "nodetask", "--version"], capture_output=True, text=True, check=True
    )
    assert probe.stdout == "nodetask 0.1.0\n"


def test_the_makefile_builds_the_release_with_this_module():
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nwheel:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python -m batchwords._wheel_build build/wheels" in target
    assert "pip wheel" not in target
