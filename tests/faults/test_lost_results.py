"""Results gone after their tasks succeeded (deleted, or lost when Storage restarted)."""

from __future__ import annotations

import pytest

from batchwords._counts import fetch_counts
from batchwords._exceptions import StorageError
from batchwords._reduce import summary_blob
from batchwords._tasks import task_prefix
from tests.support.emulators import upload_samples

pytestmark = pytest.mark.azurite


def test_a_job_whose_summary_is_gone_fails_and_says_so(emulators, pool, tmp_path):
    """Exit code 0 is not a result: the summary lost after the job makes the job set fail,
    naming the blob, and never reports an empty merge as the answer."""
    spec = emulators.spec(job_set="lost")
    inputs = upload_samples(emulators, spec)
    job_set = emulators.job_set(spec)
    job_set.submit(inputs)
    assert job_set.wait(timeout=120, poll_interval=0.2)[1]
    assert job_set.outputs(inputs).state == "succeeded"
    emulators.storage.delete_blob(spec.output_container, summary_blob(spec.job_set, job_set.job_ids[-1]))

    outputs = job_set.outputs(inputs)
    assert outputs.state == "failed"
    assert outputs.failure.startswith("ResultMissing: the job's summary ")
    assert summary_blob(spec.job_set, job_set.job_ids[-1]) in outputs.failure
    assert outputs.top_words == []
    assert outputs.total_words == 0


def test_counts_asked_for_whose_partition_is_gone_fail_naming_it(emulators, pool, tmp_path):
    spec = emulators.spec(job_set="lost-counts")
    inputs = upload_samples(emulators, spec)
    job_set = emulators.job_set(spec)
    job_set.submit(inputs)
    outputs = job_set.outputs(inputs, wait_timeout=120, poll_interval=0.2)
    assert outputs.state == "succeeded"
    name, task = sorted(outputs.tasks.items())[0]
    gone = f"{task_prefix(spec.job_set, task.task_id)}part-00000-of-00001.parquet"
    emulators.storage.delete_blob(spec.output_container, gone)
    with pytest.raises(StorageError, match=gone):
        fetch_counts(
            emulators.storage, job_set.where, job_set.job_ids[-1], tmp_path, names={task.input_id: name}
        )
