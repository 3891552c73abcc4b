"""The batchwords library against Azurite and localbatch."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.identity import DeviceCodeCredential
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient, UserDelegationKey

import batchwords._jobset as jobset_module
from batchwords import (
    BlobInfo,
    ConfigError,
    DeadlineError,
    JobSpec,
    NotFoundError,
    Storage,
    StorageError,
    SubmitError,
    TaskCounts,
    TaskLimits,
    resolve_credentials,
)
from batchwords._packing import plan_tasks
from batchwords._storage import sas_lifetime
from batchwords._tasks import MAX_ID, build_task, input_id_for
from tests.support.emulators import upload_samples
from tests.support.words import DATA, all_words, ranked

pytestmark = pytest.mark.azurite


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
        first = input_id_for("books/Alice in Wonderland (1865).txt", md5)
        assert first == input_id_for("books/Alice in Wonderland (1865).txt", md5)
        assert first.startswith("books-Alice-in-Wonderland-1865-txt-")
        assert len(input_id_for("x" * 500, md5)) == MAX_ID
        assert input_id_for("a.txt", md5) != input_id_for("a.txt", "AAAAAAAAAAAAAAAAAAAAAA==")

    def test_names_that_collapse_are_an_error_naming_both(self):
        md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
        blobs = [BlobInfo("a b.txt", 1, md5, "u1"), BlobInfo("a-b.txt", 1, md5, "u2")]
        with pytest.raises(ConfigError, match=r"'a b.txt' and 'a-b.txt' both map"):
            plan_tasks(blobs)

    def test_every_bad_field_is_named_at_once(self):
        with pytest.raises(ConfigError) as bad:
            JobSpec(
                job_set="bad id!",
                pool_id="pool",
                input_container="in",
                output_container="out",
                numwords=0,
                limits=TaskLimits(max_retries=0, max_wall_clock=timedelta(0)),
            )
        assert [name for name, _ in bad.value.problems] == [
            "job_set",
            "numwords",
            "max_retries",
            "max_wall_clock",
        ]
        assert "max_retries must be at least 1" in str(bad.value)

    def test_inputs_without_md5_are_named(self):
        with pytest.raises(ConfigError, match=r"'a\.txt' has no MD5"):
            plan_tasks([BlobInfo("a.txt", 1, "", "u")])

    def test_sas_lifetime_outlives_the_work(self):
        assert sas_lifetime(timedelta(minutes=30), 2) == timedelta(minutes=90) + timedelta(hours=1)
        # Tasks may queue for nodes until the job's own limit ends it: the SAS outlives that too.
        assert sas_lifetime(timedelta(minutes=30), 2, job_wall_clock=timedelta(hours=24)) == timedelta(
            hours=25
        )
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


def not_yet_authorized(code: str = "AuthorizationPermissionMismatch") -> HttpResponseError:
    """A 403 as Storage answers while a new role assignment has not applied yet."""
    error = HttpResponseError(message=f"{code}: This request is not authorized to perform this operation")
    error.status_code = 403
    error.error_code = code  # type: ignore[attr-defined]  # set by azure-storage-blob's error handling
    return error


class TestRolePropagation:
    """Azurite has no roles to propagate; the 403 Storage gives meanwhile is injected."""

    def test_a_403_while_a_role_applies_is_retried_with_backoff(self, emulators, mocker, caplog):
        spec = emulators.spec()
        upload_samples(emulators, spec)
        real = ContainerClient.list_blobs
        failures = [not_yet_authorized(), not_yet_authorized("AuthorizationFailure")]

        def list_blobs(self, *args, **kwargs):
            if failures:
                raise failures.pop(0)
            return real(self, *args, **kwargs)

        mocker.patch.object(ContainerClient, "list_blobs", list_blobs)
        slept = mocker.patch("batchwords._roles.time.sleep")
        assert len(emulators.storage.list_blobs(spec.input_container)) == len(list(DATA.glob("*.txt")))
        assert [call.args[0] for call in slept.call_args_list] == [2.0, 4.0]
        assert "waiting for a new role assignment to apply" in caplog.text

    def test_the_wait_is_bounded_and_other_refusals_are_not_retried(self, emulators, mocker):
        mocker.patch.object(ContainerClient, "list_blobs", side_effect=not_yet_authorized())
        mocker.patch("batchwords._roles.ROLE_WAIT_SECONDS", 0.0)
        with pytest.raises(StorageError, match="AuthorizationPermissionMismatch"):
            emulators.storage.list_blobs("input")
        slept = mocker.patch("batchwords._roles.time.sleep")
        mocker.patch.object(
            ContainerClient, "list_blobs", side_effect=not_yet_authorized("AuthenticationFailed")
        )
        with pytest.raises(StorageError, match="AuthenticationFailed"):
            emulators.storage.list_blobs("input")
        assert slept.call_count == 0


class TestUserDelegation:
    """Entra ID signs SAS with a user delegation key; Azurite serves none over plain http, so the
    key request (the one call counted here) is a stand-in; the signing itself is the SDK's."""

    def test_one_key_per_run_not_one_per_sas(self, mocker):
        now = datetime.now(UTC)
        key = UserDelegationKey()  # type: ignore[no-untyped-call]
        key.signed_oid, key.signed_tid, key.signed_service, key.signed_version = (
            "oid",
            "tid",
            "b",
            "2025-01-05",
        )
        key.signed_start = (now - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_expiry = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        key.value = base64.b64encode(b"k" * 32).decode()
        request = mocker.patch.object(BlobServiceClient, "get_user_delegation_key", return_value=key)
        storage = Storage("https://acct.blob.core.windows.net", mocker.Mock(spec=["get_token"]))
        lifetime = sas_lifetime(timedelta(minutes=30), 2)
        urls = [storage.input_sas_url("input", f"in{i}.txt", lifetime) for i in range(6)]
        tokens = [*(url.split("?", 1)[1] for url in urls), storage.output_sas("output", lifetime)]
        assert request.call_count == 1
        (_, expiry), _ = request.call_args
        assert expiry - now > timedelta(days=6)  # long enough for every SAS of the run
        assert all("skoid=oid" in token and "sig=" in token for token in tokens)

    def test_a_sas_longer_than_the_key_can_live_is_refused(self, mocker):
        storage = Storage("https://acct.blob.core.windows.net", mocker.Mock(spec=["get_token"]))
        with pytest.raises(ConfigError, match="at most 7 days"):
            storage.output_sas("output", timedelta(days=7))


class TestJobSet:
    def test_job_runs_to_completion_and_merged_top_words_are_exact(self, emulators, pool):
        spec = emulators.spec(job_set="job-1", numwords=15)
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)
        submitted = job_set.submit(inputs)
        assert len(inputs) == len(list(DATA.glob("*.txt")))
        assert len(submitted.added) == len(inputs)
        seen: list[object] = []
        counts, done = job_set.wait(timeout=120, poll_interval=0.2, progress=seen.append)
        assert done
        # One map task per input, then the reduce (one partition, the samples are small) and the summary.
        assert len(submitted.gather) == 2
        assert counts.succeeded == len(inputs) + 2
        assert counts.map.completed == len(inputs)
        assert counts.failed == 0
        assert seen[-1] == counts
        results = job_set.results()
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
            assert task.result.numwords == 15
        assert emulators.batch.get_job("job-1").state == "completed"
        sdk = BatchClient(emulators.localbatch.endpoint, emulators.localbatch.credential)
        assert (
            sdk.get_job("job-1").constraints.max_wall_clock_time
            == spec.job_max_wall_clock
            == timedelta(hours=24)
        )
        assert emulators.batch.cancel("job-1") is False  # already done
        again = emulators.job_set(spec).submit(inputs)  # a retried create converges
        assert again.job_id == "job-1"
        assert again.added == []
        assert sorted(again.already_there) == sorted(submitted.added + submitted.gather)
        assert emulators.batch.delete("job-1") is True
        assert emulators.batch.delete("job-1") is False  # gone is success
        with pytest.raises(NotFoundError, match="job job-1 does not exist"):
            emulators.batch.get_job("job-1")

    def test_changed_and_new_inputs_go_to_a_follow_up_job(self, emulators, tmp_path):
        spec = emulators.spec()
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)  # no pool: the tasks wait, so the job stays active
        job_set.submit(inputs)
        assert job_set.submit(inputs, known=inputs) is None
        folder = tmp_path / "more"
        folder.mkdir()
        (folder / "new.txt").write_text("new words", encoding="utf-8")
        changed = dict(inputs, **upload_samples(emulators, spec, folder))
        follow_up = job_set.submit(changed, known=inputs)
        assert follow_up.job_id == f"{spec.job_set}-1"
        # The first job's tasks have not run (no pool): its inputs are counted again with the
        # new one, so the follow-up's reduce gathers them all.
        expected = sorted(input_id_for(name, md5) for name, md5 in changed.items())
        assert sorted(follow_up.added) == expected
        assert job_set.job_ids == [spec.job_set, f"{spec.job_set}-1"]
        assert emulators.batch.get_job(follow_up.job_id).job_set == spec.job_set

    def test_inputs_that_changed_in_storage_are_refused(self, emulators):
        spec = emulators.spec()
        inputs = upload_samples(emulators, spec)
        name = next(iter(inputs))
        with pytest.raises(ConfigError, match=f"inputs changed in Storage since they were read: {name}"):
            emulators.job_set(spec).submit(dict(inputs, **{name: "AAAAAAAAAAAAAAAAAAAAAA=="}))
        with pytest.raises(ConfigError, match="not found in container"):
            emulators.job_set(spec).submit({"ghost.txt": "AAAAAAAAAAAAAAAAAAAAAA=="})

    def test_resubmit_adopts_the_job_and_adds_nothing(self, emulators):
        spec = emulators.spec(job_set="job-2")
        inputs = upload_samples(emulators, spec)
        first = emulators.job_set(spec).submit(inputs)  # no pool: the job stays active
        second = emulators.job_set(spec).submit(inputs)
        assert second.added == []
        assert sorted(second.already_there) == sorted(first.added + first.gather)
        assert len(emulators.batch.task_ids("job-2")) == len(inputs) + len(first.gather)

    def test_cancel_a_running_job(self, emulators):
        spec = emulators.spec(job_set="job-3")
        emulators.job_set(spec).submit(upload_samples(emulators, spec))
        assert emulators.batch.cancel("job-3") is True
        assert emulators.batch.get_job("job-3").state == "completed"
        assert emulators.batch.cancel("job-3") is False

    def test_wait_is_bounded(self, emulators):
        spec = emulators.spec(job_set="job-4")
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)
        job_set.submit(inputs)
        counts, done = job_set.wait(timeout=0.3, poll_interval=0.1)
        assert not done
        assert counts.active == len(inputs) + 2  # the map tasks, the reduce and the summary


class TestStaleTaskCounts:
    """The Batch API's task counts "may not always be up to date"; done means done anyway."""

    @pytest.mark.realism(task_counts_lag=3)
    def test_stale_zeros_never_end_a_wait_or_report_success(self, emulators, pool):
        spec = emulators.spec(job_set="lagging")
        inputs = upload_samples(emulators, spec)
        job_set = emulators.job_set(spec)
        job_set.submit(inputs)
        assert emulators.batch.task_counts([spec.job_set]) == TaskCounts()  # what the service says now
        early = job_set.outputs(inputs)
        assert (early.state, early.top_words, early.total_words) == ("running", [], 0)
        counts, done = job_set.wait(timeout=120, poll_interval=0.2)
        assert done
        tasks = len(inputs) + 2  # the map tasks, the reduce and the summary
        assert (counts.completed, counts.succeeded, counts.failed) == (tasks, tasks, 0)
        outputs = job_set.outputs(inputs)
        assert outputs.state == "succeeded"
        assert outputs.top_words == ranked(all_words(DATA), spec.numwords)
        assert set(outputs.tasks) == set(inputs)

    def test_a_job_that_is_gone_has_nothing_to_wait_for(self, emulators):
        counts, done = emulators.batch.wait(["no-such-job"], timeout=0)
        assert (counts, done) == (TaskCounts(), True)


class TestFaults:
    def test_throttling_converges_with_every_task_created_once(self, emulators):
        spec = emulators.spec(job_set="throttled")
        inputs = upload_samples(emulators, spec)
        emulators.localbatch.throttle(6, status=503, retry_after=0)
        submitted = emulators.job_set(spec).submit(inputs)
        ids = emulators.batch.task_ids("throttled")
        assert sorted(ids) == sorted(submitted.added + submitted.gather)
        assert len(submitted.added) == len(list(DATA.glob("*.txt")))

    def test_sustained_503_ends_at_the_deadline(self, emulators):
        spec = emulators.spec(job_set="busy")
        inputs = upload_samples(emulators, spec)
        emulators.batch.ensure_job("busy", spec.pool_id, spec.job_set, spec.job_max_wall_clock)
        emulators.localbatch.throttle(100_000, status=503, retry_after=0)
        with pytest.raises(DeadlineError, match="submitting again adds only the missing tasks"):
            emulators.job_set(spec, submit_timeout=2).submit(inputs)
        emulators.localbatch.throttle(0)

    def test_partial_failure_reports_the_rejected_ids(self, emulators, mocker):
        spec = emulators.spec(job_set="partial")
        inputs = upload_samples(emulators, spec)
        real_build = build_task
        name, md5 = next(iter(inputs.items()))
        victim = input_id_for(name, md5)

        def build(plan, **kwargs):
            task = real_build(plan, **kwargs)
            if plan.task_id == victim:  # a task the service refuses
                task.constraints.max_task_retry_count = -7
            return task

        mocker.patch.object(jobset_module, "build_task", side_effect=build)
        with pytest.raises(SubmitError) as failed:
            emulators.job_set(spec).submit(inputs)
        assert list(failed.value.rejected) == [victim]
        assert "InvalidPropertyValue" in failed.value.rejected[victim]
        assert victim in str(failed.value)
        assert len(emulators.batch.task_ids("partial")) == len(inputs) - 1

    def test_expired_output_sas_is_the_no_retry_exit_code(self, emulators, pool, mocker):
        spec = emulators.spec(job_set="expired")
        inputs = upload_samples(emulators, spec, DATA)
        real_sas = emulators.storage.output_sas
        mocker.patch.object(
            emulators.storage,
            "output_sas",
            side_effect=lambda container, lifetime: real_sas(container, timedelta(seconds=-1)),
        )
        job_set = emulators.job_set(spec)
        job_set.submit(dict([next(iter(inputs.items()))]))
        _, done = job_set.wait(timeout=120, poll_interval=0.2)
        assert done
        (task,) = job_set.results().tasks
        assert task.exit_code == 4
        assert task.failure.startswith("FailureExitCode")
        assert "storage refused the upload" in task.stderr_tail
        assert "sig=" not in task.stderr_tail
