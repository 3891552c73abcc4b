"""Which files of a folder are inputs: one rule, decided before any upload (issue 11, point 9)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchwords import ConfigError, select_inputs
from batchwords.offline import input_files


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Inputs among everything that is not one."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha", encoding="utf-8")
    (data / "sub" / "b.txt").write_text("beta", encoding="utf-8")
    (data / ".hidden.txt").write_text("no", encoding="utf-8")
    (data / ".git").mkdir()
    (data / ".git" / "config").write_text("no", encoding="utf-8")
    (data / "a_OUTPUT.json").write_text("{}", encoding="utf-8")  # nodetask wrote it beside its input
    (data / "a_COUNTS.tsv.gz").write_bytes(b"\x1f\x8b")
    (data / "out").mkdir()
    (data / "out" / "previous_run.txt").write_text("no", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside", encoding="utf-8")
    (data / "link.txt").symlink_to(outside)
    (data / "inner-link.txt").symlink_to(data / "a.txt")  # a link inside the folder is fine
    return data


def test_only_inputs_are_selected_and_the_rest_is_said(folder):
    inputs = select_inputs(folder, exclude=[folder / "out"])
    assert sorted(inputs.files) == ["a.txt", "inner-link.txt", "sub/b.txt"]
    why = {path.relative_to(folder).as_posix(): reason for path, reason in inputs.skipped}
    assert why[".hidden.txt"] == why[".git/config"] == "hidden"
    assert why["a_OUTPUT.json"] == why["a_COUNTS.tsv.gz"] == "a nodetask result"
    assert why["out/previous_run.txt"] == "inside the output folder"
    assert why["link.txt"].startswith("a link to ")
    (warning,) = inputs.warnings()
    assert "link.txt" in warning
    assert "--follow-links" in warning


def test_links_out_of_the_folder_are_read_when_allowed(folder):
    assert "link.txt" in select_inputs(folder, follow_links=True).files


def test_a_backslash_is_refused_before_any_upload(tmp_path):
    (tmp_path / "a\\b.txt").write_text("x", encoding="utf-8")
    (tmp_path / "fine.txt").write_text("y", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"1 input\(s\) refused before any upload: 'a\\\\b.txt' has a backslash"
    ):
        select_inputs(tmp_path)


def test_names_that_collapse_to_one_task_id_are_found_before_the_upload(tmp_path):
    for name in ("a b.txt", "a-b.txt"):
        (tmp_path / name).write_text("same words", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        input_files(tmp_path)
    assert str(refused.value).startswith("'a b.txt' and 'a-b.txt' both map to task id a-b-txt-")
    assert "inputs inputs" not in str(refused.value)


def test_a_folder_of_nothing_but_non_inputs_is_an_error(tmp_path):
    (tmp_path / ".only-hidden").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no input files"):
        select_inputs(tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names")
def test_very_long_names_are_inputs(tmp_path):
    long = ("w" * 236) + ".txt"  # 240 bytes: nodetask's own output name would not fit before
    (tmp_path / long).write_text("words", encoding="utf-8")
    assert list(select_inputs(tmp_path).files) == [long]
