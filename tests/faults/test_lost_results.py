"""Result blobs gone after their task succeeded (deleted, or lost when Storage restarted)."""

from __future__ import annotations

import pytest

from batchwords._tasks import result_blob_names
from tests.support.emulators import upload_samples
from tests.support.words import DATA, all_words

pytestmark = pytest.mark.azurite


def test_a_success_whose_result_blobs_are_gone_is_reported_missing(emulators, pool):
    """Exit code 0 is not a result: a blob lost after the task (deleted, or Storage restarted
    without it) makes the task and the job set fail, and never silently shrinks the merge."""
    spec = emulators.spec(job_set="lost")
    inputs = upload_samples(emulators, spec)
    job_set = emulators.job_set(spec)
    job_set.submit(inputs)
    assert job_set.wait(timeout=120, poll_interval=0.2)[1]
    tasks = {task.input_name: task for task in job_set.results().tasks}
    first, second, *_ = sorted(tasks)
    result_name, _ = result_blob_names(spec.job_set, tasks[first].task_id, first)
    _, counts_name = result_blob_names(spec.job_set, tasks[second].task_id, second)
    emulators.storage.delete_blob(spec.output_container, result_name)
    emulators.storage.delete_blob(spec.output_container, counts_name)

    outputs = job_set.outputs(inputs)
    assert outputs.state == "failed"
    missing = {name: task.failure for name, task in outputs.tasks.items() if task.failure}
    assert set(missing) == {first, second}
    assert missing[first].startswith("ResultMissing: the task succeeded but " + result_name)
    assert counts_name in missing[second]
    kept = all_words(DATA, exclude={first, second})
    assert outputs.total_words == sum(kept.values())  # the merge says what it covers
