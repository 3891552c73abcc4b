"""The nodetask wheelhouse: from the installed nodetask, per content, in the user cache; run from anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from batchwords.deploy import locked_files
from batchwords.offline import _wheelhouse
from batchwords.offline._wheelhouse import build_wheelhouse, cache_root

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check")


def _editable_copy(tmp_path: Path) -> tuple[Path, metadata.Distribution]:
    """A copy of nodetask's source and a distribution that says it was installed editable from there."""
    source = tmp_path / "nodetask-src"
    shutil.copytree(
        ROOT / "nodetask", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    info = tmp_path / "site" / "batchwords_nodetask-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: batchwords-nodetask\nVersion: 0.1.0\n")
    (info / "direct_url.json").write_text(
        json.dumps({"url": source.as_uri(), "dir_info": {"editable": True}})
    )
    return source, metadata.PathDistribution(info)


def _wheel_text(folder: Path, member: str) -> str:
    (wheel,) = folder.glob("batchwords_nodetask-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member).decode()


def test_changed_nodetask_gives_a_new_wheelhouse(tmp_path, monkeypatch):
    source, dist = _editable_copy(tmp_path)
    monkeypatch.setattr(f"{_wheelhouse.__name__}.metadata.distribution", lambda name: dist)
    said: list[str] = []
    cache = tmp_path / "cache"
    first = build_wheelhouse(said.append, cache)
    where = f"(nodetask 0.1.0, from the editable source in {source})"
    assert said == [f"building the nodetask wheelhouse in {first[0].parent} {where}"]
    assert first[0].parent.parent == cache
    assert any(wheel.name.startswith("azure_storage_blob-") for wheel in first)  # its dependencies too
    # ... and the lock pinning every one by sha256, as `make wheel` writes it: nodes install by hash.
    assert [file.path for file in locked_files(first[0].parent)][:-1] == first
    said.clear()
    assert build_wheelhouse(said.append, cache) == first  # unchanged: reused, and it says where it is
    assert said == [f"nodetask wheelhouse: {first[0].parent}"]

    counter = source / "src" / "nodetask" / "_count.py"
    counter.write_text(counter.read_text() + "\n# changed\n")
    second = build_wheelhouse(said.append, cache)
    assert second[0].parent != first[0].parent
    assert said[-1].startswith(f"building the nodetask wheelhouse in {second[0].parent}")
    assert _wheel_text(second[0].parent, "nodetask/_count.py").endswith("# changed\n")
    assert not _wheel_text(first[0].parent, "nodetask/_count.py").endswith("# changed\n")
    assert sorted(path.name for path in cache.iterdir()) == sorted(
        [first[0].parent.name, second[0].parent.name]
    )  # no partial folders left behind


def test_a_regular_install_is_packed_from_its_installed_files(tmp_path, monkeypatch):
    site = tmp_path / "site"
    subprocess.run(
        [*PIP_INSTALL, "--no-build-isolation", "--target", str(site), str(ROOT / "nodetask")],
        check=True,
    )
    (info,) = site.glob("batchwords_nodetask-*.dist-info")
    dist = metadata.PathDistribution(info)
    assert (
        json.loads(dist.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable") is not True
    )
    monkeypatch.setattr(f"{_wheelhouse.__name__}.metadata.distribution", lambda name: dist)
    said: list[str] = []
    wheels = build_wheelhouse(said.append, tmp_path / "cache")
    assert said[0].endswith("(nodetask 0.1.0, from the installed nodetask)")
    folder = wheels[0].parent
    assert "Requires-Dist: azure-storage-blob" in _wheel_text(
        folder, "batchwords_nodetask-0.1.0.dist-info/METADATA"
    )
    # The packed wheel installs and runs on its own, as a node installs it.
    target = tmp_path / "node"
    subprocess.run(
        [*PIP_INSTALL, "--target", str(target), str(next(folder.glob("batchwords_nodetask-*.whl")))],
        check=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "nodetask", "--version"],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout == "nodetask 0.1.0\n"
    assert (target / "bin" / "nodetask").exists()  # the console script came along


def test_the_cache_is_the_user_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_root() == tmp_path / "xdg" / "batchwords" / "wheelhouse"


@pytest.mark.azurite
def test_run_works_from_a_folder_outside_the_checkout(tmp_path):
    data = tmp_path / "texts"
    data.mkdir()
    (data / "a.txt").write_text("the rabbit and the hatter and the rabbit\n")
    (data / "b.txt").write_text("the queen the queen the queen\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(
        [str(BIN / "batchwords"), "run", "texts", "--numwords", "2", "--output-dir", "out", "--nodes", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    wheelhouse = tmp_path / "cache" / "batchwords" / "wheelhouse"
    (folder,) = wheelhouse.iterdir()
    assert f"building the nodetask wheelhouse in {folder}" in said
    assert any(folder.glob("batchwords_nodetask-*.whl"))
    assert [file.name for file in locked_files(folder)][-1] == "nodetask-lock.txt"
    assert "queen" in said
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert sorted(entry["input"] for entry in summary["files"] if entry["ok"]) == ["a.txt", "b.txt"]
