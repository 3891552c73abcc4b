"""``nodetask merge`` on local folders: the reduce and the summary against a Counter over
every input (an independent oracle), whatever partitions the map tasks wrote."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from nodetask import (
    MANIFEST_NAME,
    SUMMARY_NAME,
    TASK_RESULTS_NAME,
    ExitCode,
    PartitionResult,
    ReduceManifest,
    ReduceSource,
    Summary,
    partition_name,
    partition_result_name,
)
from nodetask.__main__ import main
from tests.support.words import DATA, ranked, tutorial_counts

SAMPLES = sorted(DATA.glob("*.txt"))


@pytest.fixture(autouse=True)
def no_sas(monkeypatch):
    monkeypatch.delenv("NODETASK_SAS_TOKEN", raising=False)
    monkeypatch.delenv("NODETASK_READ_SAS", raising=False)


def map_task(root: Path, task: str, partitions: int, inputs: list[tuple[Path, str]]) -> int:
    pairs = [arg for path, input_id in inputs for arg in ("--input", str(path), input_id)]
    prefix = f"SET/tasks/{task}/"
    argv = [*pairs, "--task-output", prefix, "--partitions", str(partitions), "--output-dir", str(root)]
    return main([*argv, "--no-upload", "--quiet"])


def merge(root: Path, *extra: str) -> int:
    return main(["merge", "--from", str(root), "--quiet", *extra])


def counts_of(*paths: Path) -> Counter[str]:
    total: Counter[str] = Counter()
    for path in paths:
        total.update(tutorial_counts(path.read_text(encoding="utf-8-sig")))
    return total


def summary(root: Path, folder: str = "") -> Summary:
    return Summary.from_json((root / folder / SUMMARY_NAME).read_bytes())


@pytest.fixture
def three_maps(tmp_path: Path) -> Path:
    """Three map tasks over the samples, written with 1, 2 and 4 partitions."""
    root = tmp_path / "out"
    assert map_task(root, "t1", 1, [(SAMPLES[0], "s0")]) == ExitCode.OK
    assert map_task(root, "t2", 2, [(SAMPLES[1], "s1"), (SAMPLES[2], "s2")]) == ExitCode.OK
    assert map_task(root, "t4", 4, [(SAMPLES[3], "s3")]) == ExitCode.OK
    return root


@pytest.mark.parametrize("partitions", [1, 2, 8])
def test_a_local_merge_equals_a_counter_over_every_input(three_maps, partitions):
    assert merge(three_maps, "--partitions", str(partitions), "--numwords", "25") == ExitCode.OK
    oracle = counts_of(*SAMPLES[:4])
    merged = summary(three_maps)
    assert merged.total_words == sum(oracle.values())
    assert merged.distinct_words == len(oracle)
    assert list(merged.top) == ranked(oracle, 25)
    assert (merged.numwords, merged.partitions) == (25, partitions)
    assert [(row.id, row.task_id, row.ok) for row in merged.rows] == [
        ("s0", "SET/tasks/t1", True),
        ("s1", "SET/tasks/t2", True),
        ("s2", "SET/tasks/t2", True),
        ("s3", "SET/tasks/t4", True),
    ]
    assert merged.failed == ()
    parts = [
        PartitionResult.from_json((three_maps / partition_result_name(p, partitions)).read_bytes())
        for p in range(partitions)
    ]
    assert sum(part.distinct_words for part in parts) == len(oracle)
    manifest = ReduceManifest.from_json((three_maps / MANIFEST_NAME).read_bytes())
    assert [(source.prefix, source.partitions) for source in manifest.sources] == [
        ("SET/tasks/t1/", 1),
        ("SET/tasks/t2/", 2),
        ("SET/tasks/t4/", 4),
    ]


def test_the_default_partitions_are_the_most_a_map_task_wrote_and_the_table_is_printed(three_maps, capsys):
    assert main(["merge", "--from", str(three_maps), "--numwords", "3"]) == ExitCode.OK
    assert summary(three_maps).partitions == 4
    table = capsys.readouterr().out
    assert "Top 3 words of 4 of 4 inputs" in table
    word, count = ranked(counts_of(*SAMPLES[:4]), 1)[0]
    assert f"   1  {word}" in table
    assert f"{count:,}" in table


def test_ties_are_ranked_by_word_across_partitions(tmp_path):
    words = ["delta", "alpha", "Zulu", "charlie", "bravo", "échelle", "echo", "zz"]
    root = tmp_path / "out"
    for index, word in enumerate(words):
        source = tmp_path / f"{index}.txt"
        source.write_text(f"{word} {word} once{index}\n", encoding="utf-8")
        assert map_task(root, f"t{index}", [1, 2, 4, 8][index % 4], [(source, f"in{index}")]) == ExitCode.OK
    assert merge(root, "--partitions", "4", "--numwords", "5") == ExitCode.OK
    assert list(summary(root).top) == [(word, 2) for word in sorted(words)[:5]]
    assert sorted(words)[:2] == ["Zulu", "alpha"]  # code-point order: capitals first


def write_manifest(root: Path, manifest: ReduceManifest, folder: str = "jobs/j1/") -> str:
    name = folder + MANIFEST_NAME
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / name).write_text(manifest.to_json(), encoding="utf-8")
    return name


def test_a_source_without_results_is_reported_as_failed_rows(three_maps):
    manifest = ReduceManifest(
        partitions=2,
        numwords=10,
        sources=(
            ReduceSource("t1", "SET/tasks/t1/", 1, ("s0",)),
            ReduceSource("t2", "SET/tasks/t2/", 2, ("s1", "s2", "s9")),
            ReduceSource("gone", "SET/tasks/gone/", 4, ("g1", "g2")),
        ),
    )
    name = write_manifest(three_maps, manifest)
    assert merge(three_maps, "--manifest", name) == ExitCode.OK
    merged = summary(three_maps, "jobs/j1/")
    oracle = counts_of(*SAMPLES[:3])
    assert (merged.total_words, merged.distinct_words) == (sum(oracle.values()), len(oracle))
    assert list(merged.top) == ranked(oracle, 10)
    failed = {row.id: row for row in merged.failed}
    assert sorted(failed) == ["g1", "g2", "s9"]
    for input_id in ("g1", "g2"):
        error = failed[input_id].error
        assert error is not None
        assert failed[input_id].task_id == "gone"
        assert (error.input, error.exit_code) == (input_id, ExitCode.NO_RESULTS)
        assert error.error == "no results: map task gone wrote none"
    assert failed["s9"].error is not None
    assert failed["s9"].error.error == "not in the results of map task t2"
    assert (three_maps / "jobs/j1" / partition_result_name(1, 2)).is_file()


def test_the_reduce_takes_only_the_manifests_inputs(three_maps):
    manifest = ReduceManifest(1, 5, (ReduceSource("t2", "SET/tasks/t2/", 2, ("s2",)),))
    assert merge(three_maps, "--manifest", write_manifest(three_maps, manifest)) == ExitCode.OK
    merged = summary(three_maps, "jobs/j1/")
    assert merged.total_words == sum(counts_of(SAMPLES[2]).values())
    assert [row.id for row in merged.rows] == ["s2"]


def test_inputs_the_map_could_not_count_are_rows_not_counts(tmp_path):
    root = tmp_path / "out"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert map_task(root, "t1", 2, [(SAMPLES[0], "good"), (empty, "empty")]) == ExitCode.BAD_INPUT
    assert merge(root, "--numwords", "4") == ExitCode.OK
    merged = summary(root)
    assert merged.total_words == sum(counts_of(SAMPLES[0]).values())
    (failed,) = merged.failed
    assert failed.id == "empty"
    assert failed.error is not None
    assert failed.error.exit_code == ExitCode.BAD_INPUT


def test_one_step_at_a_time_and_a_missing_partition_result_fails_the_summary(three_maps, capsys):
    manifest = ReduceManifest(2, 10, (ReduceSource("t4", "SET/tasks/t4/", 4, ("s3",)),))
    name = write_manifest(three_maps, manifest)
    assert merge(three_maps, "--manifest", name, "--partition", "0") == ExitCode.OK
    assert sorted(path.name for path in (three_maps / "jobs/j1").iterdir()) == [
        MANIFEST_NAME,
        partition_result_name(0, 2),
    ]
    capsys.readouterr()
    assert merge(three_maps, "--manifest", name, "--summary") == ExitCode.NO_RESULTS
    err = capsys.readouterr().err
    assert partition_result_name(1, 2) in err
    assert "the reduce task of partition 1 of 2 failed or did not run" in err
    assert not (three_maps / "jobs/j1" / SUMMARY_NAME).exists()
    assert merge(three_maps, "--manifest", name, "--partition", "1") == ExitCode.OK
    assert merge(three_maps, "--manifest", name, "--summary") == ExitCode.OK
    assert summary(three_maps, "jobs/j1/").total_words == sum(counts_of(SAMPLES[3]).values())


def test_a_missing_partition_file_fails_the_reduce(three_maps, capsys):
    (three_maps / "SET/tasks/t2" / partition_name(1, 2)).unlink()
    manifest = ReduceManifest(2, 10, (ReduceSource("t2", "SET/tasks/t2/", 2, ("s1",)),))
    name = write_manifest(three_maps, manifest)
    assert merge(three_maps, "--manifest", name, "--partition", "0") == ExitCode.OK  # reads file 0 only
    assert merge(three_maps, "--manifest", name, "--partition", "1") == ExitCode.NO_RESULTS
    err = capsys.readouterr().err
    assert "SET/tasks/t2/part-00001-of-00002.parquet is missing" in err
    assert "map task t2" in err
    assert not (three_maps / "jobs/j1" / partition_result_name(1, 2)).exists()


def test_an_unreadable_partition_file_or_manifest_fails_clearly(three_maps, capsys):
    (three_maps / "SET/tasks/t1" / partition_name(0, 1)).write_bytes(b"not parquet")
    assert merge(three_maps) == ExitCode.NO_RESULTS
    assert "part-00000-of-00001.parquet is unreadable" in capsys.readouterr().err
    (three_maps / "bad.json").write_text("{}", encoding="utf-8")
    assert merge(three_maps, "--manifest", "bad.json") == ExitCode.NO_RESULTS
    assert "manifest" in capsys.readouterr().err
    assert merge(three_maps, "--manifest", "none.json") == ExitCode.NO_RESULTS
    assert "does not exist" in capsys.readouterr().err


def test_a_results_json_that_disagrees_with_the_manifest_is_refused(three_maps, capsys):
    manifest = ReduceManifest(2, 10, (ReduceSource("t2", "SET/tasks/t2/", 4, ("s1",)),))
    assert merge(three_maps, "--manifest", write_manifest(three_maps, manifest)) == ExitCode.NO_RESULTS
    assert "has 2 partitions, the manifest says 4" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--summary"], "give --manifest BLOB"),
        (["--partition", "0"], "give --manifest BLOB"),
        (["--manifest", "jobs/j1/manifest.json", "--partitions", "2"], "come from the manifest"),
        (["--manifest", "jobs/j1/manifest.json", "--partition", "2"], "partitions 0 to 1"),
    ],
)
def test_merge_usage_errors(three_maps, capsys, argv, message):
    write_manifest(three_maps, ReduceManifest(2, 10, ()))
    assert merge(three_maps, *argv) == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_merge_needs_one_place_and_both_sas_for_blobs(tmp_path, capsys, monkeypatch):
    assert main(["merge", "--summary", "--manifest", "m.json"]) == ExitCode.USAGE
    assert "--container-url" in capsys.readouterr().err
    url = "http://127.0.0.1:1/devstoreaccount1/out"
    assert main(["merge", "--container-url", url, "--manifest", "m.json"]) == ExitCode.USAGE
    assert "set NODETASK_READ_SAS and NODETASK_SAS_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("NODETASK_READ_SAS", "sv=x&sig=y")
    assert main(["merge", "--container-url", f"{url}?sv=x", "--manifest", "m.json"]) == ExitCode.USAGE
    assert "keep the SAS off the command line" in capsys.readouterr().err


def test_a_merge_without_map_results_says_so(tmp_path, capsys):
    assert merge(tmp_path) == ExitCode.NO_RESULTS
    assert f"no {TASK_RESULTS_NAME} under" in capsys.readouterr().err


def test_summary_json_names_its_format(three_maps):
    assert merge(three_maps) == ExitCode.OK
    document = json.loads((three_maps / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert document["format"] == "nodetask-summary/1"
    assert all(row["ok"] for row in document["rows"])
