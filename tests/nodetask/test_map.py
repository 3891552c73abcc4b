"""Task mode (``--task-output``), the map: 1 + P files per task, partitions disjoint by word
whose union is each input's counts, the same bytes on every run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from nodetask import (
    TASK_RESULTS_NAME,
    ExitCode,
    TaskResults,
    count_file,
    input_counts,
    partition_name,
    partition_of,
)
from nodetask.__main__ import main
from tests.support.words import DATA, tutorial_counts

SAMPLES = sorted(DATA.glob("*.txt"))
PREFIX = "SET/tasks/t1/"


@pytest.fixture(autouse=True)
def no_sas(monkeypatch):
    monkeypatch.delenv("NODETASK_SAS_TOKEN", raising=False)


def map_task(out: Path, inputs: list[tuple[Path, str]], *extra: str, prefix: str = PREFIX) -> int:
    pairs = [arg for path, input_id in inputs for arg in ("--input", str(path), input_id)]
    return main([*pairs, "--task-output", prefix, "--no-upload", "--output-dir", str(out), "--quiet", *extra])


def samples(count: int = len(SAMPLES)) -> list[tuple[Path, str]]:
    return [(path, f"in-{index}") for index, path in enumerate(SAMPLES[:count])]


def partition_rows(folder: Path, partitions: int) -> list[list[dict[str, object]]]:
    return [pq.read_table(folder / partition_name(p, partitions)).to_pylist() for p in range(partitions)]


def expected(path: Path) -> Counter[str]:
    return tutorial_counts(path.read_text(encoding="utf-8-sig"))


@pytest.mark.parametrize("partitions", [1, 2, 8])
@pytest.mark.parametrize("inputs", [1, len(SAMPLES)])
def test_a_task_writes_1_plus_p_files_whatever_its_inputs(tmp_path, partitions, inputs):
    assert map_task(tmp_path, samples(inputs), "--partitions", str(partitions)) == ExitCode.OK
    written = sorted(path.name for path in (tmp_path / PREFIX).iterdir())
    assert written == sorted([TASK_RESULTS_NAME, *(partition_name(p, partitions) for p in range(partitions))])
    everything = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    assert everything == sorted(tmp_path / PREFIX / name for name in written)  # nothing else


def test_partitions_are_disjoint_by_word_and_their_union_is_each_inputs_counts(tmp_path):
    inputs = samples()
    assert map_task(tmp_path, inputs, "--partitions", "4") == ExitCode.OK
    per_input: dict[str, Counter[str]] = {input_id: Counter() for _, input_id in inputs}
    for p, rows in enumerate(partition_rows(tmp_path / PREFIX, 4)):
        for row in rows:
            assert partition_of(str(row["word"]), 4) == p
            assert row["word"] not in per_input[str(row["input"])]  # once per input
            per_input[str(row["input"])][str(row["word"])] = int(row["count"])  # type: ignore[call-overload]
    for path, input_id in inputs:
        assert per_input[input_id] == expected(path)
        assert per_input[input_id] == dict(count_file(str(path)).counts)


def test_rows_are_sorted_by_input_then_word_and_typed(tmp_path):
    inputs = [
        (path, f"z-{index}" if index % 2 else f"a-{index}") for index, (path, _) in enumerate(samples())
    ]
    assert map_task(tmp_path, inputs, "--partitions", "2") == ExitCode.OK
    for p in range(2):
        table = pq.read_table(tmp_path / PREFIX / partition_name(p, 2))
        assert table.schema.field("input").type == pa.dictionary(pa.int32(), pa.string())
        assert table.schema.field("word").type == pa.string()
        assert table.schema.field("count").type == pa.int64()
        keys = list(zip(table["input"].to_pylist(), table["word"].to_pylist(), strict=True))
        assert keys == sorted(keys)
    results = TaskResults.from_json((tmp_path / PREFIX / TASK_RESULTS_NAME).read_bytes())
    assert [row.id for row in results.rows] == [input_id for _, input_id in inputs]  # as given


def test_results_hold_a_row_per_input_in_the_order_given(tmp_path):
    inputs = samples()
    assert map_task(tmp_path, inputs, "--partitions", "2", "--numwords", "3") == ExitCode.OK
    results = TaskResults.from_json((tmp_path / PREFIX / TASK_RESULTS_NAME).read_bytes())
    assert results.partitions == 2
    for (path, input_id), row in zip(inputs, results.rows, strict=True):
        assert row.ok
        assert row.id == input_id
        assert row.result is not None
        assert row.result.input == path.name
        ranked = sorted(expected(path).items(), key=lambda item: (-item[1], item[0]))[:3]
        assert list(row.result.top) == ranked
        assert row.result.total_words == sum(expected(path).values())


def big_text(tmp_path: Path) -> Path:
    """About 3 MB of words with a large vocabulary: the Arrow engine cuts it into pieces."""
    words = [w for path in SAMPLES for w in path.read_text(encoding="utf-8-sig").split()]
    words += [f"w{n}" for n in range(40_000)]
    path = tmp_path / "big.txt"
    path.write_text(" ".join(words[n * 7919 % len(words)] for n in range(450_000)), encoding="utf-8")
    return path


def test_the_same_inputs_give_the_same_bytes_on_every_engine_and_worker_count(tmp_path):
    inputs = [*samples(), (big_text(tmp_path), "big")]
    runs = {
        "first": ("--engine", "arrow"),
        "again": ("--engine", "arrow"),
        "workers": ("--engine", "arrow", "--workers", "2"),
        "python": ("--engine", "python"),
        "python-workers": ("--engine", "python", "--workers", "2"),
    }
    files = {}
    for name, options in runs.items():
        out = tmp_path / name
        assert map_task(out, inputs, "--partitions", "4", *options) == ExitCode.OK
        files[name] = {p: (out / PREFIX / partition_name(p, 4)).read_bytes() for p in range(4)}
    assert all(written == files["first"] for written in files.values())
    counted = input_counts(files["first"].values(), "big")
    assert counted == expected(inputs[-1][0])


def test_input_counts_gives_back_one_inputs_counts_exactly(tmp_path):
    inputs = samples()
    assert map_task(tmp_path, inputs, "--partitions", "8") == ExitCode.OK
    files = [(tmp_path / PREFIX / partition_name(p, 8)).read_bytes() for p in range(8)]
    for path, input_id in inputs:
        assert input_counts(files, input_id) == expected(path)
    assert input_counts(files, "no-such-input") == {}
    with pytest.raises(ValueError, match="not a partition file"):
        input_counts([b"not parquet"], "in-0")


def test_an_empty_partition_is_still_a_valid_file(tmp_path):
    source = tmp_path / "one.txt"
    source.write_text("word word\n", encoding="utf-8")
    assert map_task(tmp_path / "out", [(source, "one")], "--partitions", "4") == ExitCode.OK
    rows = partition_rows(tmp_path / "out" / PREFIX, 4)
    assert sum(len(part) for part in rows) == 1
    assert rows[partition_of("word", 4)] == [{"input": "one", "word": "word", "count": 2}]


def test_an_input_that_fails_gets_an_error_row_and_the_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"binary\x00data")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    inputs = [(SAMPLES[0], "good"), (bad, "bad"), (empty, "empty")]
    assert map_task(tmp_path / "out", inputs, "--partitions", "2") == ExitCode.BAD_INPUT
    assert "2 of 3 inputs could not be counted" in capsys.readouterr().err
    results = TaskResults.from_json((tmp_path / "out" / PREFIX / TASK_RESULTS_NAME).read_bytes())
    good, bad_row, empty_row = results.rows
    assert good.ok
    assert not bad_row.ok
    assert bad_row.error is not None
    assert (bad_row.error.input, bad_row.error.exit_code) == ("bad.txt", ExitCode.BAD_INPUT)
    assert "binary" in bad_row.error.error
    assert empty_row.error is not None
    assert "is empty" in empty_row.error.error
    files = [(tmp_path / "out" / PREFIX / partition_name(p, 2)).read_bytes() for p in range(2)]
    assert input_counts(files, "good") == expected(SAMPLES[0])
    assert input_counts(files, "bad") == {}


def test_a_bare_files_id_is_its_name(tmp_path):
    argv = [
        "--filepath",
        str(SAMPLES[0]),
        "--task-output",
        PREFIX,
        "--no-upload",
        "--output-dir",
        str(tmp_path),
    ]
    assert main([*argv, "--quiet"]) == ExitCode.OK
    results = json.loads((tmp_path / PREFIX / TASK_RESULTS_NAME).read_text(encoding="utf-8"))
    assert [row["id"] for row in results["rows"]] == [SAMPLES[0].name]
    assert results["partitions"] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "text"], "--format text does not apply with --task-output"),
        (["--blob-prefix", "x/"], "--blob-prefix does not apply"),
        (["--partitions", "3"], "power of two from 1 to 64"),
        (["--partitions", "128"], "power of two from 1 to 64"),
    ],
)
def test_task_mode_refusals(tmp_path, capsys, extra, message):
    assert map_task(tmp_path, samples(1), *extra) == ExitCode.USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / PREFIX).exists()


@pytest.mark.parametrize("prefix", ["SET/tasks/t1", "/abs/", "a//b/", "a/../b/", "./a/", "/"])
def test_a_task_output_that_is_no_relative_prefix_is_refused(tmp_path, capsys, prefix):
    assert map_task(tmp_path, samples(1), prefix=prefix) == ExitCode.USAGE
    assert "--task-output" in capsys.readouterr().err


def test_ids_are_unique_and_partitions_need_task_output(tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text("words here\n", encoding="utf-8")
    assert map_task(tmp_path, [(SAMPLES[0], "same"), (other, "same")]) == ExitCode.USAGE
    assert "input id given more than once: same" in capsys.readouterr().err
    argv = ["--filepath", str(other), "--no-upload", "--partitions", "2"]
    assert main(argv) == ExitCode.USAGE
    assert "--partitions applies only with --task-output" in capsys.readouterr().err


def test_json_format_is_accepted_and_the_default_mode_is_unchanged(tmp_path):
    assert map_task(tmp_path / "a", samples(1), "--format", "json") == ExitCode.OK
    source = tmp_path / "one.txt"
    source.write_text("one two two\n", encoding="utf-8")
    assert main(["--filepath", str(source), "--no-upload", "--quiet"]) == ExitCode.OK
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [
        "one.txt",
        "one_COUNTS.tsv.gz",
        "one_OUTPUT.txt",
    ]
