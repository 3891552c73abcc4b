"""The nodetask wheel that a pool's StartTask installs builds and runs on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile


def test_wheel_builds_and_runs_from_itself(wheelhouse, tmp_path):
    (wheel,) = wheelhouse.glob("batchwords_nodetask-*-py3-none-any.whl")  # built by the session fixture
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        requires = [
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
        ]
        scripts = archive.read(entry_points).decode()
    assert "nodetask/py.typed" in names
    assert "nodetask = nodetask.__main__:entrypoint" in scripts
    # Storage to upload, and the counting engine.
    assert sorted(line.split()[1].split(">")[0].split("<")[0] for line in requires) == [
        "azure-storage-blob",
        "pyarrow",
    ]

    text = tmp_path / "words.txt"
    text.write_text("one two two\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(wheel)}  # pure Python: importable from the zip
    probe = subprocess.run(
        [sys.executable, "-c", "import nodetask; print(nodetask.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert probe.stdout.startswith(str(wheel))
    run = subprocess.run(
        [sys.executable, "-m", "nodetask", "--filepath", str(text), "--no-upload", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert '"word": "two"' in run.stdout
