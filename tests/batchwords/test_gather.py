"""The gather on Batch, end to end on Azurite and localbatch: the reduce tasks wait for the map
tasks through Batch's task dependencies, the summary is exact against an independent count,
a map task writes 1 + P blobs, failures are named, and follow-up jobs merge old and new."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

import nodetask
from batchwords._counts import counts_path, fetch_counts
from batchwords._reduce import SUMMARY_TASK, in_reduce_stage
from batchwords._tasks import task_prefix
from batchwords.deploy import NodetaskRelease
from tests.support.emulators import upload_samples
from tests.support.words import ranked, tutorial_counts

pytestmark = pytest.mark.azurite

TEXTS = {
    "a.txt": "the cat sat on the mat, the end.\n",
    "b.txt": "The cat! the dog; a zebra and a yak\n",
    "c.txt": "yak yak zebra the\n",
    "d/e.txt": "mat mat mat cat dog\n",
    "f.txt": "one two three tie tie\n",
}


def _folder(root: Path, texts: dict[str, str]) -> Path:
    for name, text in texts.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def all_words(
    folder: Path, *, only: set[str] | None = None, exclude: frozenset[str] = frozenset()
) -> Counter[str]:
    """The independent oracle: the tutorial's rule over every file (by its name under ``folder``)."""
    counts: Counter[str] = Counter()
    for path in sorted(folder.rglob("*.txt")):
        name = path.relative_to(folder).as_posix()
        if (only is None or name in only) and name not in exclude:
            counts.update(tutorial_counts(path.read_text(encoding="utf-8")))
    return counts


def _wrapper(tmp_path: Path, release: NodetaskRelease, case: str) -> str:
    """A nodetask command that misbehaves for ``case`` (a shell ``case`` pattern over its
    arguments) and runs the real nodetask otherwise: a fault of the node, not of the code."""
    script = tmp_path / "nodetask-wrapper.sh"
    script.write_text(f'#!/bin/sh\ncase " $* " in\n{case}\nesac\nexec {release.command} "$@"\n')
    return f"/bin/sh {script}"


def test_the_summary_is_exact_and_each_map_task_writes_one_table_and_its_partitions(
    emulators, pool, tmp_path
):
    folder = _folder(tmp_path / "in", TEXTS)
    spec = emulators.spec(job_set="gather-exact", numwords=4, partitions=4)
    inputs = upload_samples(emulators, spec, folder)
    job_set = emulators.job_set(spec)
    submitted = job_set.submit(inputs)
    assert len(submitted.added) == len(TEXTS)  # task_bytes=1: one map task per input
    assert len(submitted.gather) == 4 + 1
    outputs = job_set.outputs(inputs, wait_timeout=120, poll_interval=0.2)

    expected = all_words(folder)
    assert outputs.state == "succeeded", outputs.failed
    assert outputs.top_words == ranked(expected, 4)
    assert outputs.total_words == sum(expected.values())
    assert outputs.distinct_words == len(expected)
    for name, task in outputs.tasks.items():
        assert task.result.top == tuple(ranked(all_words(folder, only={name}), 4))
    written = [
        blob.name for blob in emulators.storage.list_blobs(spec.output_container, "gather-exact/tasks/")
    ]
    for task_id in submitted.added:
        mine = sorted(name for name in written if name.startswith(task_prefix(spec.job_set, task_id)))
        assert [name.rsplit("/", 1)[1] for name in mine] == [
            *(nodetask.partition_name(p, 4) for p in range(4)),
            nodetask.TASK_RESULTS_NAME,
        ]
    # Batch's own record: the reduce waited for every map task, the summary for every reduce.
    listed = {str(task.id): task for task in emulators.batch.tasks(submitted.job_id)}
    reducers = [task_id for task_id in listed if in_reduce_stage(task_id) and task_id != SUMMARY_TASK]
    for task_id in reducers:
        assert sorted(listed[task_id].depends_on.task_ids) == sorted(submitted.added)
    assert sorted(listed[SUMMARY_TASK].depends_on.task_ids) == sorted(reducers)
    for task in listed.values():
        assert task.execution_info.start_time is not None
    last_map = max(listed[task_id].execution_info.end_time for task_id in submitted.added)
    assert all(listed[task_id].execution_info.start_time >= last_map for task_id in reducers)

    # Per-input counts, only on request: rebuilt from the partitions, exact.
    names = {task.input_id: name for name, task in outputs.tasks.items()}
    files = fetch_counts(emulators.storage, job_set.where, submitted.job_id, tmp_path / "out", names=names)
    assert len(files) == len(TEXTS)
    for name in TEXTS:
        data = counts_path(tmp_path / "out", name).read_bytes()
        assert nodetask.read_counts_file(data) == dict(all_words(folder, only={name}))
        assert gzip.decompress(data).startswith(b"word\tcount\n")


def test_a_failed_map_task_is_named_and_the_reduce_merges_the_others(emulators, pool, tmp_path):
    folder = _folder(tmp_path / "in", TEXTS | {"crash.txt": "never counted\n"})
    command = _wrapper(tmp_path, emulators.release, '*" crash-"*) echo "node fault on purpose" >&2; exit 9;;')
    spec = emulators.spec(job_set="gather-map-fails", nodetask=None, nodetask_command=command)
    inputs = upload_samples(emulators, spec, folder)
    job_set = emulators.job_set(spec)
    job_set.submit(inputs)
    outputs = job_set.outputs(inputs, wait_timeout=120, poll_interval=0.2)

    assert outputs.state == "failed"
    assert outputs.failure is None  # the merge itself succeeded
    assert [name for name, task in outputs.tasks.items() if task.failure] == ["crash.txt"]
    crashed = outputs.tasks["crash.txt"]
    assert crashed.exit_code == 9
    assert "node fault on purpose" in crashed.stderr_tail
    expected = all_words(folder, exclude=frozenset({"crash.txt"}))
    assert outputs.total_words == sum(expected.values())
    assert outputs.top_words == ranked(expected, spec.numwords)


def test_a_failed_reduce_ends_the_job_and_is_named_with_its_stderr(emulators, pool, tmp_path):
    folder = _folder(tmp_path / "in", {"a.txt": TEXTS["a.txt"]})
    command = _wrapper(
        tmp_path, emulators.release, '*" --partition "*) echo "reduce fault on purpose" >&2; exit 3;;'
    )
    spec = emulators.spec(job_set="gather-reduce-fails", nodetask=None, nodetask_command=command)
    inputs = upload_samples(emulators, spec, folder)
    job_set = emulators.job_set(spec)
    job_set.submit(inputs)
    outputs = job_set.outputs(inputs, wait_timeout=120, poll_interval=0.2)

    assert outputs.state == "failed"
    assert outputs.failure.startswith("the reduce task _reduce-00000-of-00001 failed")
    assert "reduce fault on purpose" in outputs.failure
    assert outputs.top_words == []
    assert emulators.batch.get_job(job_set.job_ids[0]).state == "completed"  # ended by the failure
    summary = next(task for task in emulators.batch.tasks(job_set.job_ids[0]) if task.id == SUMMARY_TASK)
    assert summary.state == "active"  # blocked: never ran over a partial merge


def test_follow_up_jobs_merge_old_and_new_inputs_exactly(emulators, pool, tmp_path):
    folder = _folder(tmp_path / "in", TEXTS)
    spec = emulators.spec(job_set="gather-follow-up", numwords=5, partitions=2)
    first = upload_samples(emulators, spec, folder)
    job_set = emulators.job_set(spec)
    job_set.submit(first)
    assert job_set.wait(timeout=120, poll_interval=0.2)[1]

    (folder / "a.txt").write_text("zebra zebra zebra zebra\n", encoding="utf-8")  # changed in place
    (folder / "new.txt").write_text("brand new words words\n", encoding="utf-8")
    (folder / "c.txt").unlink()
    emulators.storage.delete_blob(spec.input_container, "c.txt")
    second = upload_samples(emulators, spec, folder)
    follow_up = job_set.submit(second, known=first)
    assert follow_up.job_id == f"{spec.job_set}-1"
    assert sorted(follow_up.added) == sorted(
        task.task_id for task in job_set.results(second).tasks if task.input_name in {"a.txt", "new.txt"}
    )
    outputs = job_set.outputs(second, wait_timeout=120, poll_interval=0.2)
    expected = all_words(folder)
    assert outputs.state == "succeeded"
    assert set(outputs.tasks) == set(second)
    assert outputs.top_words == ranked(expected, 5)
    assert outputs.total_words == sum(expected.values())
    assert outputs.distinct_words == len(expected)

    # An input removed and nothing new: a job of the reduce alone gathers the rest.
    (folder / "new.txt").unlink()
    third = {name: md5 for name, md5 in second.items() if name != "new.txt"}
    reduce_only = job_set.submit(third, known=second)
    assert reduce_only.added == []
    assert reduce_only.gather
    outputs = job_set.outputs(third, wait_timeout=120, poll_interval=0.2)
    expected = all_words(folder)
    assert outputs.state == "succeeded"
    assert outputs.total_words == sum(expected.values())
    assert outputs.top_words == ranked(expected, 5)
    assert job_set.submit(third, known=third) is None


def test_a_follow_up_counts_again_what_the_earlier_job_has_not_finished(emulators, pool, tmp_path):
    folder = _folder(tmp_path / "in", {"slow.txt": "slow slow words\n", "fast.txt": "fast words\n"})
    command = _wrapper(tmp_path, emulators.release, '*" slow-"*) sleep 4;;')
    spec = emulators.spec(job_set="gather-overlap", nodetask=None, nodetask_command=command)
    first = upload_samples(emulators, spec, folder)
    job_set = emulators.job_set(spec)
    job_set.submit(first)
    (folder / "late.txt").write_text("late words\n", encoding="utf-8")
    second = upload_samples(emulators, spec, folder)
    follow_up = job_set.submit(second, known=first)  # the slow task is still running
    recounted = {task.input_name for task in job_set.results(second).tasks if task.task_id in follow_up.added}
    assert {"late.txt", "slow.txt"} <= recounted
    outputs = job_set.outputs(second, wait_timeout=120, poll_interval=0.2)
    expected = all_words(folder)
    assert outputs.state == "succeeded"
    assert outputs.total_words == sum(expected.values())
    assert outputs.top_words == ranked(expected, spec.numwords)
