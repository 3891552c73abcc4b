"""`batchwords files`: upload, list, find and download against Azurite; without an endpoint, advice."""

from __future__ import annotations

import json

import pytest

from batchwords.cli import main
from tests.support.cli import run_json
from tests.support.words import DATA


@pytest.mark.azurite
def test_files_upload_list_find_download(target, emulators, capsys, tmp_path):
    container = f"input-{emulators.suffix}"
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    assert "uploaded 4, unchanged 0" in capsys.readouterr().out
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    assert "uploaded 0, unchanged 4" in capsys.readouterr().out
    code, listed = run_json(capsys, "files", "list", "--container", container, "--json", *target)
    assert code == 0
    assert sorted(item["name"] for item in listed) == sorted(p.name for p in DATA.glob("*.txt"))
    assert all("sig=" not in item["url"] for item in listed)
    code, found = run_json(
        capsys, "files", "find", "gettysburg_address.txt", "--container", container, "--json", *target
    )
    assert (code, [item["name"] for item in found]) == (0, ["gettysburg_address.txt"])
    assert main(["files", "find", "nothing-like-this", "--container", container, *target]) == 1
    dest = tmp_path / "down"
    assert main(["files", "download", "--container", container, "--dest", str(dest), *target]) == 0
    assert (dest / "erlkoenig_goethe_de.txt").read_bytes() == (DATA / "erlkoenig_goethe_de.txt").read_bytes()


@pytest.mark.azurite
def test_files_find_matches_substrings_and_globs(target, emulators, capsys):
    container = f"find-{emulators.suffix}"
    assert main(["files", "upload", str(DATA), "--container", container, *target]) == 0
    capsys.readouterr()
    for pattern, expected in (
        ("rabbit", ["alice_down_the_rabbit_hole.txt"]),
        ("GOETHE", ["erlkoenig_goethe_de.txt"]),
        ("*_de.txt", ["erlkoenig_goethe_de.txt"]),
        ("[ab]*", ["alice_down_the_rabbit_hole.txt", "batch_tutorial_notes.txt"]),
    ):
        assert main(["files", "find", pattern, "--container", container, "--json", *target]) == 0
        assert [item["name"] for item in json.loads(capsys.readouterr().out)] == expected, pattern
    assert main(["files", "find", "*.pdf", "--container", container, *target]) == 1
    assert capsys.readouterr().out.strip() == "no files"


@pytest.mark.azurite
def test_files_list_stays_aligned_with_long_names(target, emulators, capsys, tmp_path):
    container = f"long-{emulators.suffix}"
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / ("a-very-long-name-" * 5 + ".txt")).write_text("x" * 12345, encoding="utf-8")
    (folder / "short.txt").write_text("y", encoding="utf-8")
    assert main(["files", "upload", str(folder), "--container", container, *target]) == 0
    capsys.readouterr()
    assert main(["files", "list", "--container", container, *target]) == 0
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert lines[0].split() == ["name", "bytes"]
    assert lines[1].endswith(" 12,345")
    assert lines[2].endswith(" 1")
    assert len({len(line) for line in lines}) == 1  # the bytes column ends at one place


def test_files_without_an_endpoint_advise_storage_endpoint(no_target, capsys):
    assert main(["files", "list"]) == 2
    error = capsys.readouterr().err
    assert "no --storage-endpoint" in error
    assert "config set storage_endpoint" in error
    assert "batch_endpoint" not in error
    assert main(["jobs", "list"]) == 2
    error = capsys.readouterr().err
    assert "config set batch_endpoint" in error
    assert "config set storage_endpoint" in error
