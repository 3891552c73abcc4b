"""The batchwords library against Azurite and localbatch."""

from __future__ import annotations

import string
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.identity import DeviceCodeCredential
from azure.storage.blob import BlobClient, ContainerClient

import batchwords._jobs as jobs_module
from batchwords import (
    BlobInfo,
    ConfigError,
    DeadlineError,
    SubmitError,
    TaskLimits,
    plan_tasks,
    resolve_credentials,
    sas_lifetime,
    task_id_for,
)
from batchwords._tasks import MAX_ID, build_task
from tests.emulators import DATA, upload_samples

pytestmark = pytest.mark.azurite


def all_words(folder: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(folder.glob("*.txt")):
        words = (w.strip(string.punctuation) for w in path.read_text(encoding="utf-8-sig").split())
        counts.update(w for w in words if w)
    return counts


def ranked(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


class TestCredentials:
    KEYS: ClassVar[dict[str, str]] = {
        "BATCHWORDS_BATCH_ACCOUNT": "localbatch",
        "BATCHWORDS_BATCH_KEY": "a2V5",
        "BATCHWORDS_STORAGE_ACCOUNT": "devstoreaccount1",
        "BATCHWORDS_STORAGE_KEY": "a2V5",
    }

    def test_shared_key_from_the_environment(self, caplog):
        caplog.set_level("INFO", logger="batchwords")
        credentials = resolve_credentials(self.KEYS)
        assert credentials.shared_key
        assert isinstance(credentials.batch, AzureNamedKeyCredential)
        assert "Shared Key" in credentials.source
        assert [r.message for r in caplog.records] == [f"credentials: {credentials.source}"]
        assert "a2V5" not in caplog.text

    def test_half_set_keys_name_what_is_missing(self):
        partial = {k: v for k, v in self.KEYS.items() if k != "BATCHWORDS_STORAGE_KEY"}
        with pytest.raises(ConfigError, match="BATCHWORDS_STORAGE_KEY missing"):
            resolve_credentials(partial)

    def test_entra_id_by_default(self):
        credentials = resolve_credentials({})
        assert not credentials.shared_key
        assert credentials.source.startswith("DefaultAzureCredential")

    def test_interactive_sign_in_is_opt_in(self, tmp_path):
        credentials = resolve_credentials({"BATCHWORDS_SIGN_IN": "device-code"}, state_dir=tmp_path)
        assert isinstance(credentials.batch, DeviceCodeCredential)
        assert credentials.batch is credentials.storage
        assert "persistent cache" in credentials.source

    def test_unknown_sign_in_mode(self, tmp_path):
        with pytest.raises(ConfigError, match="browser, device-code"):
            resolve_credentials({"BATCHWORDS_SIGN_IN": "carrier-pigeon"}, state_dir=tmp_path)


class TestTaskIds:
    def test_sanitised_deterministic_and_valid(self):
        md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
        first = task_id_for("books/Alice in Wonderland (1865).txt", md5)
        assert first == task_id_for("books/Alice in Wonderland (1865).txt", md5)
        assert first.startswith("books-Alice-in-Wonderland-1865-txt-")
        assert len(task_id_for("x" * 500, md5)) == MAX_ID
        assert task_id_for("a.txt", md5) != task_id_for("a.txt", "AAAAAAAAAAAAAAAAAAAAAA==")

    def test_names_that_collapse_are_an_error_naming_both(self):
        md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
        blobs = [BlobInfo("a b.txt", 1, md5, "u1"), BlobInfo("a-b.txt", 1, md5, "u2")]
        with pytest.raises(ConfigError, match=r"'a b.txt' and 'a-b.txt' both map"):
            plan_tasks(blobs)

    def test_limits(self):
        with pytest.raises(ConfigError, match="retries must be at least 1"):
            TaskLimits(max_retries=0)
        with pytest.raises(ConfigError, match="wall-clock"):
            TaskLimits(max_wall_clock=timedelta(0))

    def test_sas_lifetime_outlives_the_work(self):
        assert sas_lifetime(timedelta(minutes=30), 2) == timedelta(minutes=90) + timedelta(hours=1)
        with pytest.raises(ConfigError, match="shorter than the work"):
            sas_lifetime(timedelta(minutes=30), 2, requested=timedelta(minutes=60))


class TestStorage:
    def test_upload_skips_matching_md5_list_find_download(self, emulators, tmp_path):
        spec = emulators.spec()
        storage = emulators.storage
        storage.ensure_container(spec.input_container)
        folder = tmp_path / "in"
        (folder / "sub").mkdir(parents=True)
        (folder / "one.txt").write_text("one two", encoding="utf-8")
        (folder / "sub" / "two.txt").write_text("three", encoding="utf-8")
        first = storage.upload_folder(folder, spec.input_container)
        assert [(blob.name, uploaded) for blob, uploaded in first] == [
            ("one.txt", True),
            ("sub/two.txt", True),
        ]
        (folder / "one.txt").write_text("changed", encoding="utf-8")
        second = storage.upload_folder(folder, spec.input_container)
        assert [(blob.name, uploaded) for blob, uploaded in second] == [
            ("one.txt", True),
            ("sub/two.txt", False),
        ]
        assert [blob.name for blob in storage.list_blobs(spec.input_container)] == ["one.txt", "sub/two.txt"]
        assert [blob.name for blob in storage.find(spec.input_container, "two.txt")] == ["sub/two.txt"]
        assert [blob.name for blob in storage.find(spec.input_container, "sub/")] == ["sub/two.txt"]
        written = storage.download(spec.input_container, tmp_path / "out")
        assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
            "one.txt",
            "sub/two.txt",
        ]
        assert (tmp_path / "out" / "one.txt").read_text(encoding="utf-8") == "changed"

    def test_missing_folder(self, emulators, tmp_path):
        with pytest.raises(ConfigError, match="does not exist"):
            emulators.storage.upload_folder(tmp_path / "nope", "input")

    def test_sas_permissions(self, emulators, tmp_path):
        spec = emulators.spec()
        storage = emulators.storage
        upload_samples(emulators, spec)
        storage.ensure_container(spec.output_container)
        name = "alice_down_the_rabbit_hole.txt"
        read_url = storage.input_sas_url(spec.input_container, name, timedelta(hours=1))
        assert BlobClient.from_blob_url(read_url).download_blob().readall() == (DATA / name).read_bytes()
        with pytest.raises(HttpResponseError) as refused:
            BlobClient.from_blob_url(read_url).upload_blob(b"x", overwrite=True)
        assert refused.value.status_code == 403
        sas = storage.output_sas(spec.output_container, timedelta(hours=1))
        writer = ContainerClient.from_container_url(f"{storage.account_url}/{spec.output_container}?{sas}")
        writer.upload_blob("new.txt", b"data")
        with pytest.raises(HttpResponseError) as listing:
            list(writer.list_blobs())
        assert listing.value.status_code == 403
        with pytest.raises(HttpResponseError) as reading:
            writer.download_blob("new.txt").readall()
        assert reading.value.status_code == 403
        assert "se=" in sas
        assert "st=" in sas


class TestJobs:
    def test_job_runs_to_completion_and_merged_top_words_are_exact(self, emulators, pool):
        spec = emulators.spec(numwords=15)
        upload_samples(emulators, spec)
        manager = emulators.manager
        inputs = manager.input_blobs(spec)
        submitted = manager.submit("job-1", spec, inputs)
        assert len(submitted.added) == len(inputs) == len(list(DATA.glob("*.txt")))
        seen: list[object] = []
        counts, done = manager.wait(["job-1"], timeout=120, poll_interval=0.2, progress=seen.append)
        assert done
        assert counts.succeeded == len(inputs)
        assert counts.failed == 0
        assert seen[-1] == counts
        results = manager.collect(["job-1"], spec)
        expected = all_words(DATA)
        assert results.top_words == ranked(expected, 15)
        assert results.total_words == sum(expected.values())
        assert results.distinct_words == len(expected)
        assert not results.failed
        by_input = {task.input_name: task for task in results.tasks}
        assert set(by_input) == {path.name for path in DATA.glob("*.txt")}
        for task in results.tasks:
            assert task.state == "completed"
            assert task.exit_code == 0
            assert task.output_url.startswith(f"{emulators.storage.account_url}/{spec.output_container}/")
            assert "sig=" not in task.output_url
            assert task.result["numwords"] == 15
        assert manager.client.get_job("job-1").state == "completed"
        assert manager.cancel("job-1") is False  # already done
        again = manager.submit("job-1", spec, inputs)  # a retried create converges
        assert again.added == []
        assert len(again.already_there) == len(inputs)
        assert manager.delete("job-1") is True
        assert manager.delete("job-1") is False  # gone is success

    def test_resubmit_adopts_the_job_and_adds_nothing(self, emulators):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager  # no pool: the tasks wait, so the job stays active
        inputs = manager.input_blobs(spec)
        first = manager.submit("job-2", spec, inputs)
        second = manager.submit("job-2", spec, inputs)
        assert second.added == []
        assert sorted(second.already_there) == sorted(first.added)
        assert len(list(manager.client.list_tasks("job-2"))) == len(inputs)

    def test_cancel_a_running_job(self, emulators):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager
        manager.submit("job-3", spec, manager.input_blobs(spec))
        assert manager.cancel("job-3") is True
        assert manager.client.get_job("job-3").state == "completed"
        assert manager.cancel("job-3") is False

    def test_wait_is_bounded(self, emulators):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager
        manager.submit("job-4", spec, manager.input_blobs(spec))
        counts, done = manager.wait(["job-4"], timeout=0.3, poll_interval=0.1)
        assert not done
        assert counts.active == len(manager.input_blobs(spec))


class TestFaults:
    def test_throttling_converges_with_every_task_created_once(self, emulators):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager
        emulators.batch.throttle(6, status=503, retry_after=0)
        submitted = manager.submit("throttled", spec, manager.input_blobs(spec))
        ids = [task.id for task in manager.client.list_tasks("throttled")]
        assert sorted(ids) == sorted(submitted.added)
        assert len(ids) == len(set(ids)) == len(list(DATA.glob("*.txt")))

    def test_sustained_503_ends_at_the_deadline(self, emulators):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager
        inputs = manager.input_blobs(spec)
        manager.ensure_job("busy", spec)
        manager.submit_timeout = 2
        emulators.batch.throttle(100_000, status=503, retry_after=0)
        with pytest.raises(DeadlineError, match="submitting again adds only the missing tasks"):
            manager.submit("busy", spec, inputs)
        emulators.batch.throttle(0)

    def test_partial_failure_reports_the_rejected_ids(self, emulators, mocker):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        manager = emulators.manager
        inputs = manager.input_blobs(spec)
        real_build = build_task
        victim = task_id_for(inputs[0].name, inputs[0].md5)

        def build(task_id, blob, **kwargs):
            task = real_build(task_id, blob, **kwargs)
            if task_id == victim:  # a task the service refuses
                task.constraints.max_task_retry_count = -7
            return task

        mocker.patch.object(jobs_module, "build_task", side_effect=build)
        with pytest.raises(SubmitError) as failed:
            manager.submit("partial", spec, inputs)
        assert list(failed.value.rejected) == [victim]
        assert "InvalidPropertyValue" in failed.value.rejected[victim]
        assert victim in str(failed.value)
        added = {task.id for task in manager.client.list_tasks("partial")}
        assert len(added) == len(inputs) - 1

    def test_expired_output_sas_is_the_no_retry_exit_code(self, emulators, pool, mocker):
        spec = emulators.spec()
        upload_samples(emulators, spec, DATA)
        manager = emulators.manager
        real_sas = emulators.storage.output_sas
        mocker.patch.object(
            emulators.storage,
            "output_sas",
            side_effect=lambda container, lifetime: real_sas(container, timedelta(seconds=-1)),
        )
        inputs = manager.input_blobs(spec)[:1]
        manager.submit("expired", spec, inputs)
        _, done = manager.wait(["expired"], timeout=120, poll_interval=0.2)
        assert done
        (task,) = manager.collect(["expired"], spec).tasks
        assert task.exit_code == 4
        assert task.failure.startswith("FailureExitCode")
        assert "storage refused the upload" in task.stderr_tail
        assert "sig=" not in task.stderr_tail
