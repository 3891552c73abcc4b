"""nodetask over several inputs in one run: each with its own results, failures per input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodetask import ERROR_FORMAT, ExitCode, read_counts_file
from nodetask.__main__ import main
from tests.nodetask.storage import download, make_sas
from tests.support.words import tutorial_counts

TEXTS = {
    "one.txt": "the cat and the hat\n",
    "two.txt": "a b a, (a) b c\n",
    "three.txt": "Zebra zebra ZEBRA!\n",
}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "input"
    folder.mkdir()
    paths = {}
    for name, text in TEXTS.items():
        paths[name] = folder / name
        paths[name].write_text(text, encoding="utf-8")
    return paths


def counts_of(out: Path, name: str) -> dict[str, int]:
    return read_counts_file((out / f"{Path(name).stem}_COUNTS.tsv.gz").read_bytes())


class TestLocal:
    def test_repeated_filepath_counts_each_input(self, inputs, tmp_path, capsys):
        out = tmp_path / "out"
        argv = [arg for path in inputs.values() for arg in ("--filepath", str(path))]
        assert main([*argv, "--no-upload", "--output-dir", str(out), "--format", "json"]) == ExitCode.OK
        for name, text in TEXTS.items():
            assert counts_of(out, name) == dict(tutorial_counts(text))
            result = json.loads((out / f"{Path(name).stem}_OUTPUT.json").read_text(encoding="utf-8"))
            assert result["input"] == name
            assert result["total_words"] == sum(tutorial_counts(text).values())
        assert "Top 10 words of one.txt" not in capsys.readouterr().out  # json, not the table

    def test_manifest_lists_inputs(self, inputs, tmp_path):
        manifest = tmp_path / "inputs.tsv"
        lines = ["# the inputs of this run", "", *(str(path) for path in inputs.values())]
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = tmp_path / "out"
        assert main(["--manifest", str(manifest), "--no-upload", "--output-dir", str(out), "--quiet"]) == 0
        assert {path.name for path in out.iterdir()} == {
            f"{Path(name).stem}_{suffix}" for name in TEXTS for suffix in ("OUTPUT.txt", "COUNTS.tsv.gz")
        }

    def test_one_bad_input_does_not_stop_the_others(self, inputs, tmp_path, capsys):
        bad = inputs["one.txt"].with_name("binary.txt")
        bad.write_bytes(b"text\x00more")
        out = tmp_path / "out"
        argv = ["--filepath", str(bad), "--filepath", str(inputs["two.txt"])]
        assert main([*argv, "--no-upload", "--output-dir", str(out), "--quiet"]) == ExitCode.BAD_INPUT
        assert counts_of(out, "two.txt") == dict(tutorial_counts(TEXTS["two.txt"]))
        assert not (out / "binary_COUNTS.tsv.gz").exists()
        err = capsys.readouterr().err
        assert "binary.txt: looks like a binary file (NUL byte at offset 4)" in err
        assert f"1 of 2 inputs could not be counted: {bad}" in err


class TestRefused:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            ([], "no input: give --filepath FILE"),
            (["--manifest", "nosuch.tsv"], "--manifest nosuch.tsv: no such file"),
        ],
    )
    def test_no_input(self, argv, message, capsys):
        assert main([*argv, "--no-upload"]) == ExitCode.USAGE
        assert message in capsys.readouterr().err

    def test_bad_manifest_line(self, tmp_path, capsys):
        manifest = tmp_path / "m.tsv"
        manifest.write_text("a.txt\tP/\textra\n", encoding="utf-8")
        assert main(["--manifest", str(manifest), "--no-upload"]) == ExitCode.USAGE
        assert "line 1: expected PATH or PATH<TAB>BLOB_PREFIX" in capsys.readouterr().err

    def test_the_same_input_twice(self, inputs, capsys):
        path = str(inputs["one.txt"])
        assert main(["--filepath", path, "--filepath", path, "--no-upload"]) == ExitCode.USAGE
        assert "input given more than once" in capsys.readouterr().err

    def test_inputs_whose_results_would_clash(self, inputs, tmp_path, capsys):
        other = tmp_path / "elsewhere" / "one.md"  # one_OUTPUT.json, as one.txt's
        other.parent.mkdir()
        other.write_text("x\n", encoding="utf-8")
        argv = ["--filepath", str(inputs["one.txt"]), "--filepath", str(other)]
        assert main([*argv, "--no-upload", "--output-dir", str(tmp_path / "out")]) == ExitCode.USAGE
        assert "would both write one_OUTPUT.json" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.azurite
class TestUploadPerInput:
    def test_each_input_under_its_own_prefix(self, azurite, container, inputs, tmp_path, monkeypatch):
        monkeypatch.setenv("NODETASK_SAS_TOKEN", make_sas(azurite, container.container_name))
        bad = inputs["one.txt"].with_name("latin1.txt")
        bad.write_bytes("caf\xe9 ok\n".encode("latin-1"))
        argv = [
            *("--input", str(inputs["one.txt"]), "set/one-1/"),
            *("--input", str(bad), "set/latin-2/"),
            *("--input", str(inputs["two.txt"]), "set/two-3/"),
        ]
        url = azurite.container_url(container.container_name)
        code = main([*argv, "--container-url", url, "--format", "json", "--quiet"])
        assert code == ExitCode.BAD_INPUT
        names = {blob.name for blob in container.list_blobs()}
        assert names == {
            "set/one-1/one_OUTPUT.json",
            "set/one-1/one_COUNTS.tsv.gz",
            "set/latin-2/latin1_ERROR.json",
            "set/two-3/two_OUTPUT.json",
            "set/two-3/two_COUNTS.tsv.gz",
        }
        assert read_counts_file(download(container, "set/two-3/two_COUNTS.tsv.gz")) == dict(
            tutorial_counts(TEXTS["two.txt"])
        )
        error = json.loads(download(container, "set/latin-2/latin1_ERROR.json"))
        assert error["format"] == ERROR_FORMAT
        assert error["input"] == "latin1.txt"
        assert error["exit_code"] == ExitCode.BAD_INPUT
        assert "not valid UTF-8 at byte offset 3" in error["error"]
        # A retried task writes the same bytes again and converges.
        assert main([*argv, "--container-url", url, "--format", "json", "--quiet"]) == ExitCode.BAD_INPUT
        assert {blob.name for blob in container.list_blobs()} == names
