"""The records of the map, the reduce and the summary: each reads back as written, and
anything else is refused naming its format."""

from __future__ import annotations

import json
import zlib

import pytest

from nodetask import (
    MAX_PARTITIONS,
    PARTITION_FORMAT,
    REDUCE_MANIFEST_FORMAT,
    SUMMARY_FORMAT,
    TASK_RESULTS_FORMAT,
    ErrorRecord,
    InputRow,
    PartitionResult,
    ReduceManifest,
    ReduceSource,
    Result,
    Summary,
    TaskResults,
    partition_name,
    partition_of,
    partition_result_name,
)

RESULT = Result(
    input="book.txt",
    bytes_read=31,
    sha256="ab" * 32,
    numwords=2,
    ignore_case=False,
    errors="strict",
    total_words=8,
    distinct_words=5,
    top=(("the", 3), ("and", 2)),
    elapsed_seconds=0.25,
    batch={"node": "n1", "task": "t1", "job": "j", "pool": "p"},
)
OK_ROW = InputRow("in-1", RESULT, None)
FAILED_ROW = InputRow("in-2", None, ErrorRecord("empty.txt", 3, "empty.txt: is empty"), task_id="t1")
MANIFEST = ReduceManifest(
    partitions=2,
    numwords=10,
    sources=(
        ReduceSource("t1", "SET/tasks/t1/", 4, ("in-1", "in-2")),
        ReduceSource("t2", "SET/tasks/t2/", 1, ("in-3",)),
    ),
)
PARTITION = PartitionResult(1, 2, total_words=40, distinct_words=12, top=(("a", 9), ("b", 9), ("c", 1)))
SUMMARY = Summary(10, 2, 80, 20, (("a", 9), ("b", 9)), (OK_ROW, FAILED_ROW))


def test_names():
    assert partition_name(3, 4) == "part-00003-of-00004.parquet"
    assert partition_result_name(0, 1) == "part-00000-of-00001.json"
    assert partition_of("the", 4) == zlib.crc32(b"the") % 4
    assert partition_of("über", 64) == zlib.crc32("über".encode()) % 64
    assert partition_of("anything", 1) == 0


@pytest.mark.parametrize("partitions", [0, 3, 6, 128, -2])
def test_names_refuse_a_partition_count_that_is_no_power_of_two_up_to_64(partitions):
    with pytest.raises(ValueError, match="power of two from 1 to 64"):
        partition_name(0, partitions)


def test_names_refuse_a_partition_out_of_range():
    with pytest.raises(ValueError, match="from 0 to 3"):
        partition_result_name(4, 4)


@pytest.mark.parametrize(
    "record",
    [
        TaskResults(4, (OK_ROW, FAILED_ROW)),
        TaskResults(1, ()),
        MANIFEST,
        PARTITION,
        SUMMARY,
    ],
    ids=["task-results", "task-results-empty", "manifest", "partition", "summary"],
)
def test_a_record_reads_back_as_written(record):
    assert type(record).from_json(record.to_json()) == record
    assert type(record).from_json(record.to_json().encode("utf-8")) == record


def test_rows_nest_the_result_and_error_records():
    document = json.loads(TaskResults(2, (OK_ROW, FAILED_ROW)).to_json())
    assert document["format"] == TASK_RESULTS_FORMAT
    ok, failed = document["rows"]
    assert ok["ok"] is True
    assert ok["result"] == json.loads(RESULT.to_json())
    assert failed["ok"] is False
    assert failed["error"] == json.loads(FAILED_ROW.error.to_json())
    assert failed["task_id"] == "t1"


def test_ok_and_failed():
    assert OK_ROW.ok
    assert not FAILED_ROW.ok
    assert SUMMARY.failed == (FAILED_ROW,)
    with pytest.raises(ValueError, match="neither a result nor an error"):
        InputRow("x", None, None)


def test_the_task_results_digest_leaves_out_where_and_how_fast():
    elsewhere = InputRow("in-1", Result(**{**RESULT.__dict__, "elapsed_seconds": 9.0, "batch": None}), None)
    assert TaskResults(2, (OK_ROW,)).digest() == TaskResults(2, (elsewhere,)).digest()
    other = InputRow("in-1", Result(**{**RESULT.__dict__, "total_words": 9}), None)
    assert TaskResults(2, (OK_ROW,)).digest() != TaskResults(2, (other,)).digest()
    assert TaskResults(2, (OK_ROW,)).digest() != TaskResults(4, (OK_ROW,)).digest()


@pytest.mark.parametrize(
    ("record_type", "format_tag"),
    [
        (TaskResults, TASK_RESULTS_FORMAT),
        (ReduceManifest, REDUCE_MANIFEST_FORMAT),
        (PartitionResult, PARTITION_FORMAT),
        (Summary, SUMMARY_FORMAT),
    ],
)
@pytest.mark.parametrize(
    "data",
    ["not json", "[]", '{"format": "nodetask-result/1"}', '{"format": "%s"}'],
    ids=["not-json", "a-list", "another-format", "no-fields"],
)
def test_anything_else_is_refused_naming_the_format(record_type, format_tag, data):
    with pytest.raises(ValueError, match=f"not a {format_tag} record"):
        record_type.from_json(data.replace("%s", format_tag))


def edited(record, **changes) -> str:
    document = json.loads(record.to_json())
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize("partitions", [0, 3, 96, MAX_PARTITIONS * 2, "2", True])
def test_partitions_must_be_a_power_of_two_from_1_to_64(partitions):
    for record in (MANIFEST, PARTITION, SUMMARY, TaskResults(2, ())):
        with pytest.raises(ValueError, match="not a nodetask-"):
            type(record).from_json(edited(record, partitions=partitions))


def test_a_manifest_is_checked():
    with pytest.raises(ValueError, match="numwords must be at least 1"):
        ReduceManifest.from_json(edited(MANIFEST, numwords=0))
    with pytest.raises(ValueError, match="does not end with '/'"):
        ReduceSource("t1", "SET/tasks/t1", 1, ())
    with pytest.raises(ValueError, match="power of two"):
        ReduceSource("t1", "SET/tasks/t1/", 5, ())
    with pytest.raises(ValueError, match="listed twice"):
        ReduceManifest(1, 1, (MANIFEST.sources[0], MANIFEST.sources[0]))
    source = json.loads(MANIFEST.to_json())["sources"][0]
    with pytest.raises(ValueError, match=REDUCE_MANIFEST_FORMAT):
        ReduceManifest.from_json(edited(MANIFEST, sources=[{**source, "inputs": [1]}]))


def test_rows_and_partitions_are_checked():
    with pytest.raises(ValueError, match="appears twice"):
        TaskResults(1, (OK_ROW, OK_ROW))
    with pytest.raises(ValueError, match="partition 2 is not one of 2"):
        PartitionResult.from_json(edited(PARTITION, partition=2))
    with pytest.raises(ValueError, match=SUMMARY_FORMAT):
        Summary.from_json(edited(SUMMARY, rows=[{"id": "x", "result": {"format": "nope"}}]))
    with pytest.raises(ValueError, match=SUMMARY_FORMAT):
        Summary.from_json(edited(SUMMARY, top=[{"word": "a", "count": "9"}]))


def test_a_partition_result_records_its_cost_outside_its_digest():
    result = PartitionResult(0, 2, 10, 3, (("a", 5),), elapsed_seconds=1.5, peak_rss_bytes=123_456)
    again = PartitionResult.from_json(result.to_json())
    assert (again.elapsed_seconds, again.peak_rss_bytes) == (1.5, 123_456)
    slower = PartitionResult(0, 2, 10, 3, (("a", 5),), elapsed_seconds=9.0, peak_rss_bytes=1)
    assert slower.digest() == result.digest()  # a retried reduce converges
    assert PartitionResult(0, 2, 11, 3, (("a", 5),)).digest() != result.digest()
