from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nodetask import ExitCode, read_counts_file, result_name
from nodetask.__main__ import MAX_LOCAL_NAME, local_name, main
from tests.support.words import tutorial_counts

DATA = Path(__file__).resolve().parents[2] / "data"
BATCH_ENV = {
    "AZ_BATCH_NODE_ID": "tvm-1234_1-20261124t000000z",
    "AZ_BATCH_TASK_ID": "alice-3f2a",
    "AZ_BATCH_JOB_ID": "batchwords-job",
    "AZ_BATCH_POOL_ID": "batchwords-pool",
}


@pytest.fixture
def no_batch_env(monkeypatch):
    for name in BATCH_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NODETASK_SAS_TOKEN", raising=False)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "alice.txt"
    path.parent.mkdir()
    path.write_bytes((DATA / "alice_down_the_rabbit_hole.txt").read_bytes())
    return path


def local(sample: Path, out: Path, *extra: str) -> list[str]:
    return ["--filepath", str(sample), "--no-upload", "--output-dir", str(out), *extra]


@pytest.mark.usefixtures("no_batch_env")
class TestLocalRun:
    def test_a_name_of_240_bytes_and_more_gets_short_local_results(self, tmp_path, capsys):
        """Its output name plus a temporary prefix would pass the file system's 255 bytes;
        the local files get a shortened name, the blobs keep the full one."""
        name = ("ü" * 120) + "-" + ("w" * 10) + ".txt"  # 255 bytes in UTF-8
        source = tmp_path / name
        source.write_text("one two two", encoding="utf-8")
        out = tmp_path / "out"
        assert main(local(source, out, "--format", "json", "--quiet")) == ExitCode.OK
        written = sorted(path.name for path in out.iterdir())
        assert len(written) == 2
        assert all(len(n.encode()) <= MAX_LOCAL_NAME for n in written)
        result = next(n for n in written if n.endswith("_OUTPUT.json"))
        assert result == local_name(result_name(name))
        assert result.startswith("ü" * 10)
        document = json.loads((out / result).read_text(encoding="utf-8"))
        assert document["input"] == name  # the result still names its input in full
        assert document["top"][0] == {"word": "two", "count": 2}
        assert local_name("short_OUTPUT.json") == "short_OUTPUT.json"

    def test_text_result_beside_the_tutorial_name(self, sample, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(local(sample, out, "--numwords", "3")) == ExitCode.OK
        table = (out / "alice_OUTPUT.txt").read_text(encoding="utf-8")
        assert capsys.readouterr().out == table
        expected = tutorial_counts(sample.read_text(encoding="utf-8"))
        ranked = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:3]
        rows = [line.split() for line in table.splitlines() if line[:4].strip().isdigit()]
        assert [(word, int(count.replace(",", ""))) for _, word, count in rows] == ranked
        assert "Node:" not in table  # no AZ_BATCH_* variables here

    def test_default_output_is_beside_the_input(self, sample):
        assert main(["--filepath", str(sample), "--no-upload", "--quiet"]) == ExitCode.OK
        assert (sample.parent / "alice_OUTPUT.txt").is_file()
        assert (sample.parent / "alice_COUNTS.tsv.gz").is_file()

    def test_counts_file_holds_every_word(self, sample, tmp_path):
        out = tmp_path / "out"
        assert main(local(sample, out, "--quiet")) == ExitCode.OK
        counts = read_counts_file((out / "alice_COUNTS.tsv.gz").read_bytes())
        assert counts == dict(tutorial_counts(sample.read_text(encoding="utf-8")))

    def test_counts_file_is_reproducible(self, sample, tmp_path):
        for name in ("a", "b"):
            assert main(local(sample, tmp_path / name, "--quiet")) == ExitCode.OK
        first = (tmp_path / "a" / "alice_COUNTS.tsv.gz").read_bytes()
        assert first == (tmp_path / "b" / "alice_COUNTS.tsv.gz").read_bytes()

    def test_json_result(self, sample, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(local(sample, out, "--format", "json", "--numwords", "5", "--ignore-case")) == 0
        document = json.loads((out / "alice_OUTPUT.json").read_text(encoding="utf-8"))
        assert json.loads(capsys.readouterr().out) == document
        expected = tutorial_counts(sample.read_text(encoding="utf-8"), ignore_case=True)
        assert document["total_words"] == sum(expected.values())
        assert document["distinct_words"] == len(expected)
        assert document["bytes_read"] == sample.stat().st_size
        assert len(document["sha256"]) == 64
        assert document["elapsed_seconds"] >= 0
        assert document["numwords"] == 5
        assert document["ignore_case"] is True
        assert document["batch"] is None
        top = [(item["word"], item["count"]) for item in document["top"]]
        assert top == sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:5]

    def test_batch_environment_appears_in_the_table(self, sample, tmp_path, monkeypatch):
        for name, value in BATCH_ENV.items():
            monkeypatch.setenv(name, value)
        out = tmp_path / "out"
        assert main(local(sample, out, "--quiet")) == ExitCode.OK
        table = (out / "alice_OUTPUT.txt").read_text(encoding="utf-8")
        for label, name in (("Node", "NODE"), ("Task", "TASK"), ("Job", "JOB"), ("Pool", "POOL")):
            assert f"{label}:" in table
            assert BATCH_ENV[f"AZ_BATCH_{name}_ID"] in table

    def test_numwords_larger_than_vocabulary(self, tmp_path, capsys):
        path = tmp_path / "small.txt"
        path.write_text("b a b\n", encoding="utf-8")
        assert main(local(path, tmp_path, "--numwords", "100", "--format", "json")) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["top"] == [{"word": "b", "count": 2}, {"word": "a", "count": 1}]

    def test_allow_empty_gives_an_empty_result(self, tmp_path, capsys):
        path = tmp_path / "blank.txt"
        path.write_text("  \n\n", encoding="utf-8")
        assert main(local(path, tmp_path, "--allow-empty")) == ExitCode.OK
        assert "(no words)" in capsys.readouterr().out


@pytest.mark.usefixtures("no_batch_env")
class TestErrors:
    @pytest.mark.parametrize("value", ["0", "-3", "ten"])
    def test_bad_numwords_is_a_usage_error(self, sample, tmp_path, value, capsys):
        assert main(local(sample, tmp_path, "--numwords", value)) == ExitCode.USAGE
        assert "--numwords" in capsys.readouterr().err
        assert not list(tmp_path.glob("*_OUTPUT*"))

    def test_missing_file(self, tmp_path, capsys):
        missing = tmp_path / "nope.txt"
        assert main(local(missing, tmp_path)) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert str(missing) in err
        assert "--filepath" in err

    def test_directory_as_input(self, tmp_path, capsys):
        assert main(local(tmp_path, tmp_path)) == ExitCode.BAD_INPUT
        assert "directory" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("content", "message"),
        [(b"", "is empty"), (b" \n\t\n", "has no words in 4 bytes"), (b"-- ... !!", "has no words")],
    )
    def test_input_without_words(self, tmp_path, content, message, capsys):
        path = tmp_path / "blank.txt"
        path.write_bytes(content)
        assert main(local(path, tmp_path / "out")) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert message in err
        assert "--allow-empty" in err
        assert not (tmp_path / "out").exists()  # nothing half-written

    def test_binary_input(self, tmp_path, capsys):
        path = tmp_path / "image.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        assert main(local(path, tmp_path / "out")) == ExitCode.BAD_INPUT
        assert "binary" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()

    def test_not_utf8(self, tmp_path, capsys):
        path = tmp_path / "latin1.txt"
        path.write_bytes("café crème".encode("latin-1"))
        assert main(local(path, tmp_path)) == ExitCode.BAD_INPUT
        assert "--errors replace" in capsys.readouterr().err
        assert main(local(path, tmp_path, "--errors", "replace")) == ExitCode.OK

    def test_unwritable_output_dir(self, sample, tmp_path, capsys):
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory", encoding="utf-8")
        assert main(local(sample, blocker / "out")) == ExitCode.USAGE
        err = capsys.readouterr().err
        assert "--output-dir" in err
        assert str(blocker / "out") in err

    def test_no_destination(self, sample, capsys):
        assert main(["--filepath", str(sample)]) == ExitCode.USAGE
        err = capsys.readouterr().err
        assert "--container-url" in err
        assert "--no-upload" in err

    def test_destination_without_sas(self, sample, capsys):
        url = "https://acct.blob.core.windows.net/output"
        assert main(["--filepath", str(sample), "--container-url", url]) == ExitCode.USAGE
        assert "NODETASK_SAS_TOKEN" in capsys.readouterr().err

    def test_sas_over_plain_http_to_a_remote_host_is_refused(self, sample, capsys):
        url = "http://acct.blob.core.windows.net/output"
        code = main(["--filepath", str(sample), "--container-url", url, "--sastoken", "sv=x&sig=SECRET"])
        assert code == ExitCode.USAGE
        err = capsys.readouterr().err
        assert "https" in err
        assert "SECRET" not in err

    def test_sas_given_twice(self, sample, capsys):
        url = "https://acct.blob.core.windows.net/output?sv=1&sig=A"
        assert main(["--filepath", str(sample), "--container-url", url, "--sastoken", "sig=B"]) == 2
        assert "given twice" in capsys.readouterr().err

    def test_both_destination_forms(self, sample, capsys):
        args = ["--container-url", "https://a.blob.core.windows.net/c", "--storageaccount", "a"]
        assert main(["--filepath", str(sample), *args, "--storagecontainer", "c"]) == ExitCode.USAGE
        assert "not both" in capsys.readouterr().err


def test_console_script_exit_code_in_a_real_process(tmp_path):
    """The installed entry point maps errors to exit codes in a real process."""
    missing = tmp_path / "missing.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "nodetask", "--filepath", str(missing), "--no-upload"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == ExitCode.BAD_INPUT
    assert proc.stderr.startswith(f"nodetask: error: {missing}")
    assert proc.stdout == ""


def test_help_documents_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value}  {code.name.lower().replace('_', ' ')}" in out
