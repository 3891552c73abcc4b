"""What `batchwords run` leaves and says at its end: summary.json, top_words.csv and the
closing summary, driven through the real command against the emulators."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from batchwords.cli import main
from batchwords.cli._output import BAR_WIDTH
from tests.support.words import DATA, all_words, ranked, tutorial_counts

pytestmark = pytest.mark.azurite

NUMWORDS = 6


@pytest.fixture
def project(monkeypatch, tmp_path):
    """A folder to run from (the wheelhouse is the test session's cache, see tests/conftest.py)."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def as_objects(pairs: list[tuple[str, int]]) -> list[dict[str, object]]:
    return [{"word": word, "count": count} for word, count in pairs]


def test_json_is_summary_json_with_each_files_counts(project, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", str(DATA), "--numwords", str(NUMWORDS), "--output-dir", str(out), "--nodes", "1"]
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)  # stdout is the JSON document only
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert printed == summary

    texts = sorted(DATA.glob("*.txt"))
    assert [entry["input"] for entry in summary["files"]] == sorted(path.name for path in texts)
    for entry in summary["files"]:
        expected = tutorial_counts((DATA / entry["input"]).read_text(encoding="utf-8-sig"))
        assert entry["ok"] is True
        assert entry["words"] == sum(expected.values()), entry["input"]
        assert entry["distinct_words"] == len(expected), entry["input"]
        assert entry["top"] == as_objects(ranked(expected, NUMWORDS)), entry["input"]
        assert entry["exit_code"] == 0
        assert entry["node_id"]  # from Batch's nodeInfo
        start, end = datetime.fromisoformat(entry["start"]), datetime.fromisoformat(entry["end"])
        assert start <= end
        assert entry["duration_s"] == pytest.approx((end - start).total_seconds(), abs=0.001)
        assert entry["task_id"]
        assert entry["counts_file"] is None  # counts only on request (run --counts)

    everything = all_words(DATA)
    assert summary["top_words"] == as_objects(ranked(everything, NUMWORDS))
    assert summary["totals"] == {
        "files": len(texts),
        "ok": len(texts),
        "failed": 0,
        "words": sum(everything.values()),
        "distinct_words": len(everything),
    }
    assert set(summary["timings"]) >= {"start services", "upload", "pool ready", "tasks", "download", "total"}
    assert summary["timings"]["total"] >= summary["timings"]["tasks"] > 0
    assert summary["outputs"]["folder"] == str(out)
    assert summary["outputs"]["summary"] == str(out / "summary.json")
    assert summary["outputs"]["top_words_csv"] == str(out / "top_words.csv")
    # The job's manifest, its partition's result and its summary: nothing per input without --counts.
    names = sorted(Path(path).name for path in summary["outputs"]["files"])
    assert names == ["manifest.json", "part-00000-of-00001.json", "summary.json"]
    assert all(Path(path).is_file() for path in summary["outputs"]["files"])
    assert "stopped Azurite and localbatch" in summary["cleaned_up"]
    assert summary["kept"] == []
    assert summary["stop_command"] is None
    # The people's summary went to stderr, out of the JSON's way.
    assert "Summary:" in captured.err
    assert not list(out.glob("*.partial"))  # written whole, through a temporary file


def test_tables_csv_and_the_closing_summary(sample_run):
    """``batchwords run data --numwords 6 --nodes 1`` from an empty folder (shared with test_run.py)."""
    captured, out = sample_run, sample_run.folder
    assert captured.code == 0, captured.err
    expected = ranked(all_words(DATA), NUMWORDS)

    with (out / "top_words.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["rank", "word", "count"]
    assert rows[1:] == [[str(rank), word, str(count)] for rank, (word, count) in enumerate(expected, 1)]

    # The merged table: rank, word, count and a bar proportional to the count (not a terminal: #).
    merged = re.findall(r"^\s*(\d+)\s+(\S+)\s+([\d,]+)\s+(#+)\s*$", captured.out, flags=re.MULTILINE)
    assert [(word, int(count.replace(",", ""))) for _, word, count, _ in merged] == expected
    largest = expected[0][1]
    assert [len(bars) for *_, bars in merged] == [
        max(1, round(BAR_WIDTH * count / largest)) for _, count in expected
    ]

    lines = captured.out.splitlines()
    tail = "\n".join(lines[lines.index("Summary:") :])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert f"duration: {summary['timings']['total']:.1f} s" in tail
    assert re.search(r"duration: \d+\.\d s", tail)
    assert "files: 4 (4 ok, 0 failed)" in tail
    assert f"Results in {out}:" in tail
    assert str(out / "summary.json") in tail
    assert str(out / "top_words.csv") in tail
    assert "Cleaned up:" in tail
    assert "deleted job batchwords-local and pool batchwords-local" in tail
    assert "deleted containers application, input, output" in tail
    assert "stopped Azurite and localbatch" in tail
    assert "local stop" not in tail  # nothing kept, nothing to stop
