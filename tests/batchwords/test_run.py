"""`batchwords run`: the whole pipeline offline, end to end, and its error paths."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

import batchwords.offline._services as offline_services
from batchwords import Storage
from batchwords.cli import main
from localbatch import LocalBatch
from nodetask import count_file, read_counts_file
from tests.support.words import DATA, all_words, ranked

pytestmark = pytest.mark.azurite


@pytest.fixture
def spies(mocker, monkeypatch, tmp_path):
    """Watch the services start and stop."""
    return {
        "azurite": mocker.spy(offline_services, "start_azurite"),
        "localbatch_stop": mocker.spy(LocalBatch, "stop"),
    }


def assert_services_stopped(spies) -> None:
    for call in spies["azurite"].spy_return_list:
        assert call.process.poll() is not None
    assert spies["localbatch_stop"].call_count == spies["azurite"].call_count


def test_run_end_to_end(sample_run):
    """``batchwords run data --numwords 6 --nodes 1`` (shared with test_run_summary.py)."""
    captured, out = sample_run, sample_run.folder
    assert captured.code == 0, captured.err
    rows = re.findall(r"^\s*\d+\s+(\S+)\s+([\d,]+)\s+#+\s*$", captured.out, flags=re.MULTILINE)
    merged = [(word, int(count.replace(",", ""))) for word, count in rows]
    own: Counter[str] = Counter()
    for path in DATA.glob("*.txt"):  # nodetask's own counts of each input, summed
        own.update(count_file(str(path)).counts)
    assert merged == ranked(own, 6)
    assert merged == ranked(all_words(DATA), 6)
    for path in DATA.glob("*.txt"):
        assert path.name in captured.out
    # The summary and the merged results, and (asked for with --counts) each input's counts.
    assert [path.name for path in out.rglob("summary.json") if path.parent != out] == ["summary.json"]
    for path in DATA.glob("*.txt"):
        counts = read_counts_file((out / "counts" / f"{path.stem}_COUNTS.tsv.gz").read_bytes())
        assert counts == dict(count_file(str(path)).counts)
    assert re.search(r"tasks \d+/\d+ done \(map \d+/\d+, reduce \d+/\d+\)", captured.err)
    assert "Stage timings: start services" in captured.out
    sample_run.assert_services_stopped()


def test_missing_input_folder(spies, tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope")])
    assert code == 2
    assert f"input folder {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    assert spies["azurite"].call_count == 0


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_an_output_folder_that_cannot_be_one_is_refused_before_any_work(spies, tmp_path, capsys, where):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker if where == "file" else blocker / "out"
    assert main(["run", str(DATA), "--output-dir", str(out)]) == 2
    assert f"--output-dir {out}" in capsys.readouterr().err
    assert spies["azurite"].call_count == 0  # nothing started, nothing computed and lost


def test_results_that_the_output_folder_refuses_are_kept_elsewhere(spies, tmp_path, capsys, mocker):
    """A disk that fills up, or a folder made read-only during the run (root ignores modes,
    so the refusal is injected): the computed outputs land in a new folder, said, exit 1."""
    out = tmp_path / "out"
    real = Storage.download

    def refusing(self, container, dest, **kwargs):
        if Path(dest) == out:
            raise OSError(28, "No space left on device")
        return real(self, container, dest, **kwargs)

    mocker.patch.object(Storage, "download", refusing)
    code = main(["run", str(DATA), "--nodes", "1", "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    match = re.search(
        r"writing the outputs to \S+ failed \(\[Errno 28\] No space left on device\); "
        r"the outputs are in (\S+)",
        captured.err,
    )
    assert match, captured.err
    kept = Path(match.group(1))
    assert list(kept.rglob("summary.json"))
    assert not list(kept.rglob("*_COUNTS.tsv.gz"))  # not asked for
    assert "Merged top" in captured.out  # the results are still shown
    assert_services_stopped(spies)


def test_failing_start_task_reports_its_stderr(spies, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BATCHWORDS_NODE_PYTHON", "/no/such/python3")
    monkeypatch.delenv("LOCALBATCH_SHARED_DIR")  # a fresh node, without the session's installs
    code = main(["run", str(DATA), "--nodes", "1", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3
    assert "the StartTask that installs nodetask failed" in err
    assert "/no/such/python3" in err  # the tail of the StartTask's stderr
    assert_services_stopped(spies)


def test_failing_task_reports_exit_code_and_stderr(spies, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.txt").write_text("one two two", encoding="utf-8")
    (data / "image.bin").write_bytes(b"\x89PNG\x00\x00binary")
    code = main(["run", str(data), "--nodes", "1", "--output-dir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "image.bin" in captured.err
    assert "exit code 3" in captured.err
    assert "looks like a binary file" in captured.err
    assert "good.txt" in captured.out
    assert "files: 2 (1 ok, 1 failed)" in captured.out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    by_name = {entry["input"]: entry for entry in summary["files"]}
    assert by_name["image.bin"]["ok"] is False
    assert by_name["image.bin"]["exit_code"] == 3
    assert by_name["image.bin"]["failure"]
    assert by_name["image.bin"]["top"] == []
    assert by_name["good.txt"]["ok"] is True
    assert by_name["good.txt"]["exit_code"] == 0
    assert by_name["good.txt"]["top"] == [{"word": "two", "count": 2}, {"word": "one", "count": 1}]
    assert summary["totals"] == {"files": 2, "ok": 1, "failed": 1, "words": 3, "distinct_words": 2}
    assert summary["state"] == "failed"
    assert_services_stopped(spies)


def test_keep_leaves_services_for_local_commands(spies, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BATCHWORDS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BATCHWORDS_CONFIG_DIR", str(tmp_path / "config"))
    for name in (
        "BATCHWORDS_BATCH_KEY",
        "BATCHWORDS_STORAGE_KEY",
        "BATCHWORDS_BATCH_ACCOUNT",
        "BATCHWORDS_STORAGE_ACCOUNT",
    ):
        monkeypatch.delenv(name, raising=False)
    try:
        code = main(["run", str(DATA), "--nodes", "1", "--keep", "--output-dir", str(tmp_path / "out")])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        state = json.loads((tmp_path / "state" / "local.json").read_text(encoding="utf-8"))
        assert oct((tmp_path / "state" / "local.json").stat().st_mode & 0o777) == "0o600"
        # The closing summary says what stays up and how to stop it; nothing was cleaned up.
        assert "Kept up for --local commands:" in captured.out
        assert "Stop them (and remove their data) with: batchwords local stop" in captured.out
        assert "Cleaned up:" not in captured.out
        summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
        assert summary["stop_command"] == "batchwords local stop"
        assert summary["cleaned_up"] == []
        assert main(["jobs", "list", "--local", "--json"]) == 0
        assert [job["id"] for job in json.loads(capsys.readouterr().out)] == ["batchwords-local"]
        assert main(["files", "list", "--local", "--container", "input", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(list(DATA.glob("*.txt")))
        assert main(["local", "show", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["batch_endpoint"].startswith("http://127.0.0.1:")
        assert shown["storage_endpoint"].startswith("http://127.0.0.1:")

        # Secrets stay the user's: the store and the folders are private, the key is not on
        # the command line that every local user can read.
        services = tmp_path / "state" / "services"
        assert oct((services / "localbatch").stat().st_mode & 0o777) == "0o700"
        assert oct((services / "localbatch" / "localbatch.db").stat().st_mode & 0o777) == "0o600"
        command_line = Path(f"/proc/{state['pids'][0]}/cmdline").read_bytes().decode()
        assert "localbatch" in command_line
        assert state["batch_key"] not in command_line
        assert state["storage_key"] not in command_line

        # A second --keep refuses before touching anything of the first session.
        files = sorted(str(path) for path in services.rglob("*"))
        assert main(["run", str(DATA), "--keep", "--output-dir", str(tmp_path / "out2")]) == 2
        assert "still up" in capsys.readouterr().err
        assert sorted(str(path) for path in services.rglob("*")) == files
        assert main(["files", "list", "--local", "--container", "input", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(list(DATA.glob("*.txt")))
    finally:
        assert main(["local", "stop"]) == 0
    for pid in state["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (tmp_path / "state" / "services").exists()  # no state left behind
    assert main(["jobs", "list", "--local"]) == 1  # nothing recorded: not found
    assert "batchwords run --keep" in capsys.readouterr().err


def test_run_against_given_endpoints(spies, emulators, azurite, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BATCHWORDS_BATCH_ACCOUNT", emulators.localbatch.account)
    monkeypatch.setenv("BATCHWORDS_BATCH_KEY", emulators.localbatch.key)
    monkeypatch.setenv("BATCHWORDS_STORAGE_ACCOUNT", azurite.account)
    monkeypatch.setenv("BATCHWORDS_STORAGE_KEY", azurite.key)
    argv = ["run", str(DATA), "--nodes", "1", "--output-dir", str(tmp_path / "out")]
    endpoints = ["--batch-endpoint", emulators.localbatch.endpoint, "--storage-endpoint", azurite.account_url]
    assert main([*argv, *endpoints]) == 0, capsys.readouterr().err
    assert spies["azurite"].call_count == 0  # nothing started: the given services did the work
    assert "Merged top 10 of 4 files" in capsys.readouterr().out
    assert main([*argv, "--batch-endpoint", emulators.localbatch.endpoint]) == 2
    assert "both --batch-endpoint and --storage-endpoint" in capsys.readouterr().err


def test_a_second_run_does_not_read_its_own_outputs_or_nodetasks(spies, tmp_path, capsys):
    """An --output-dir inside the data folder, nodetask results and hidden files beside the
    inputs: the next run counts the inputs only (once the README's example broke `make demo`)."""
    data = tmp_path / "data"
    data.mkdir()
    for path in DATA.glob("*.txt"):
        (data / path.name).write_bytes(path.read_bytes())
    (data / "gettysburg_address_OUTPUT.txt").write_text("the the the", encoding="utf-8")
    (data / ".notes").mkdir()
    (data / ".notes" / "todo.txt").write_text("the the", encoding="utf-8")
    out = data / "results"
    for _ in range(2):  # the second run finds the first one's outputs inside data/
        assert main(["run", str(data), "--nodes", "1", "--output-dir", str(out), "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert sorted(item["input"] for item in document["files"]) == sorted(
            p.name for p in DATA.glob("*.txt")
        )
        assert document["totals"]["words"] == sum(all_words(DATA).values())
        assert document == json.loads((out / "summary.json").read_text(encoding="utf-8"))
