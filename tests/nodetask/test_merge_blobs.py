"""The map and the merge against Azurite, as on Batch: map tasks upload with a create+write
SAS, the merge reads with a read SAS and writes its results with the create+write one."""

from __future__ import annotations

from collections import Counter

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
    TaskResults,
    input_counts,
    partition_name,
    partition_result_name,
)
from nodetask.__main__ import main
from tests.nodetask.storage import READ, download, make_sas
from tests.support.words import DATA, ranked, tutorial_counts

pytestmark = pytest.mark.azurite

SAMPLES = sorted(DATA.glob("*.txt"))
JOB = "SET/jobs/j1/"


@pytest.fixture
def sas_env(monkeypatch, azurite, container):
    """The write SAS and the read SAS in the environment, as the tasks' settings carry them."""
    write = make_sas(azurite, container.container_name)
    read = make_sas(azurite, container.container_name, permission=READ)
    monkeypatch.setenv("NODETASK_SAS_TOKEN", write)
    monkeypatch.setenv("NODETASK_READ_SAS", read)
    return write, read


def map_task(url: str, out, task: str, partitions: int, inputs) -> int:
    pairs = [arg for path, input_id in inputs for arg in ("--input", str(path), input_id)]
    prefix = f"SET/tasks/{task}/"
    argv = [*pairs, "--task-output", prefix, "--partitions", str(partitions), "--container-url", url]
    return main([*argv, "--output-dir", str(out), "--quiet"])


def test_map_upload_then_merge_partition_by_partition(azurite, container, sas_env, tmp_path, capsys):
    url = azurite.container_url(container.container_name)
    assert map_task(url, tmp_path / "a", "t1", 4, [(SAMPLES[0], "s0"), (SAMPLES[1], "s1")]) == ExitCode.OK
    assert map_task(url, tmp_path / "b", "t2", 1, [(SAMPLES[2], "s2")]) == ExitCode.OK
    names = sorted(blob.name for blob in container.list_blobs())
    assert names == sorted(
        [
            *(f"SET/tasks/t1/{partition_name(p, 4)}" for p in range(4)),
            "SET/tasks/t1/" + TASK_RESULTS_NAME,
            "SET/tasks/t2/" + partition_name(0, 1),
            "SET/tasks/t2/" + TASK_RESULTS_NAME,
        ]
    )
    assert (
        download(container, "SET/tasks/t1/" + TASK_RESULTS_NAME)
        == (tmp_path / "a/SET/tasks/t1" / TASK_RESULTS_NAME).read_bytes()
    )
    parts = [download(container, f"SET/tasks/t1/{partition_name(p, 4)}") for p in range(4)]
    assert input_counts(parts, "s1") == tutorial_counts(SAMPLES[1].read_text(encoding="utf-8-sig"))

    # A retried map task (another folder, other timings) converges on what is there.
    capsys.readouterr()
    assert map_task(url, tmp_path / "c", "t2", 1, [(SAMPLES[2], "s2")]) == ExitCode.OK
    assert capsys.readouterr().err.count("unchanged") == 2

    manifest = ReduceManifest(
        partitions=2,
        numwords=12,
        sources=(
            ReduceSource("t1", "SET/tasks/t1/", 4, ("s0", "s1")),
            ReduceSource("t2", "SET/tasks/t2/", 1, ("s2",)),
            ReduceSource("t3", "SET/tasks/t3/", 2, ("s3",)),  # failed before writing anything
        ),
    )
    container.upload_blob(JOB + MANIFEST_NAME, manifest.to_json().encode("utf-8"))
    merge = ["merge", "--manifest", JOB + MANIFEST_NAME, "--container-url", url, "--quiet"]
    for p in range(2):
        assert main([*merge, "--partition", str(p)]) == ExitCode.OK
    assert main([*merge, "--summary"]) == ExitCode.OK

    oracle: Counter[str] = Counter()
    for path in SAMPLES[:3]:
        oracle.update(tutorial_counts(path.read_text(encoding="utf-8-sig")))
    summary = Summary.from_json(download(container, JOB + SUMMARY_NAME))
    assert (summary.total_words, summary.distinct_words) == (sum(oracle.values()), len(oracle))
    assert list(summary.top) == ranked(oracle, 12)
    assert [(row.id, row.task_id, row.ok) for row in summary.rows] == [
        ("s0", "t1", True),
        ("s1", "t1", True),
        ("s2", "t2", True),
        ("s3", "t3", False),
    ]
    assert summary.failed[0].error is not None
    assert summary.failed[0].error.exit_code == ExitCode.NO_RESULTS
    written = sorted(blob.name for blob in container.list_blobs(name_starts_with=JOB))
    assert written == sorted(
        [JOB + MANIFEST_NAME, JOB + SUMMARY_NAME, *(JOB + partition_result_name(p, 2) for p in range(2))]
    )
    part = PartitionResult.from_json(download(container, JOB + partition_result_name(1, 2)))
    assert (part.partition, part.partitions) == (1, 2)
    err = capsys.readouterr().err
    assert "map task t3 wrote no results.json" in err
    assert all(sas not in err for sas in sas_env)  # never printed

    # The summary task retried: the same bytes, the blob is kept.
    assert main([*merge, "--summary"]) == ExitCode.OK
    assert "unchanged" in capsys.readouterr().err
    assert TaskResults.from_json(download(container, "SET/tasks/t1/" + TASK_RESULTS_NAME)).partitions == 4


def test_a_merge_with_a_write_only_sas_to_read_is_refused(azurite, container, sas_env, monkeypatch, capsys):
    url = azurite.container_url(container.container_name)
    container.upload_blob(JOB + MANIFEST_NAME, ReduceManifest(1, 3, ()).to_json().encode("utf-8"))
    monkeypatch.setenv("NODETASK_READ_SAS", sas_env[0])  # create+write cannot read
    code = main(["merge", "--manifest", JOB + MANIFEST_NAME, "--container-url", url, "--summary"])
    assert code == ExitCode.STORAGE_REFUSED
    err = capsys.readouterr().err
    assert "lacks read permission" in err
    assert "NODETASK_READ_SAS" in err
