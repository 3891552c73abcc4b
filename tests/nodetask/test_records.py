"""The output contract's records: what nodetask writes, its clients read back through one type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodetask import (
    ERROR_FORMAT,
    RESULT_FORMAT,
    BatchContext,
    ErrorRecord,
    Result,
    WordCountReport,
    count_file,
)


def report(tmp_path: Path, batch: BatchContext | None = None) -> WordCountReport:
    path = tmp_path / "book.txt"
    path.write_text("the cat and the hat and the bat\n", encoding="utf-8")
    return WordCountReport(
        input_name="book.txt",
        counts=count_file(str(path)),
        numwords=2,
        ignore_case=False,
        errors="strict",
        elapsed_seconds=0.1234,
        batch=batch or BatchContext(),
    )


@pytest.mark.parametrize("batch", [None, BatchContext(node_id="n1", task_id="t1", job_id="j", pool_id="p")])
def test_a_result_reads_back_as_written(tmp_path, batch):
    written = report(tmp_path, batch)
    result = Result.from_json(written.to_json())
    assert result.top == (("the", 3), ("and", 2))
    assert (result.input, result.numwords, result.total_words, result.distinct_words) == ("book.txt", 2, 8, 5)
    assert result.batch == (batch.as_dict() if batch else None)
    assert result.to_json() == written.to_json()
    assert json.loads(written.to_json())["format"] == RESULT_FORMAT


def test_an_error_record_reads_back_as_written():
    record = ErrorRecord("latin1.txt", 65, "latin1.txt is not UTF-8")
    assert ErrorRecord.from_json(record.to_json().encode("utf-8")) == record
    assert json.loads(record.to_json())["format"] == ERROR_FORMAT


@pytest.mark.parametrize(
    "data",
    [
        "{}",
        "[]",
        json.dumps({"format": ERROR_FORMAT, "input": "a", "exit_code": 1, "error": "e"}),
        json.dumps({"format": RESULT_FORMAT, "input": "a"}),
        "not json",
    ],
)
def test_anything_else_is_not_a_result(data):
    with pytest.raises(ValueError, match="not a"):
        Result.from_json(data)


def test_a_result_is_not_an_error_record(tmp_path):
    with pytest.raises(ValueError, match=ERROR_FORMAT):
        ErrorRecord.from_json(report(tmp_path).to_json())
