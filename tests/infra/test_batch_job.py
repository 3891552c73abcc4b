"""The BatchJob dynamic provider's verbs, called directly against Azurite + localbatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from batchwords import offline
from infra.batch_job import _BatchJobProvider
from tests.support.emulators import batch_job_props, upload_samples
from tests.support.pulumi_mocks import outs_of
from tests.support.words import DATA, all_words, ranked

pytestmark = pytest.mark.azurite


def assert_no_secret(text: str, env: dict[str, str]) -> None:
    assert "sig=" not in text
    for name, value in env.items():
        if name.endswith("_KEY"):
            assert value not in text


class TestCheck:
    def test_good_inputs(self, emulators, env):
        upload_samples(emulators, emulators.spec())
        result = _BatchJobProvider().check({}, batch_job_props(emulators))
        assert result.failures == []

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("numwords", 0, "numwords must be at least 1"),
            ("max_retries", 0, "max_retries must be at least 1"),
            ("max_wall_clock_minutes", 0, "max_wall_clock_minutes must be more than 0"),
            ("retention_hours", 0, "retention_hours must be positive"),
            ("job_max_wall_clock_hours", 0, "job_max_wall_clock_hours must be at least the task wall-clock"),
            ("job_max_wall_clock_hours", 200, "job_max_wall_clock_hours must be at most 144 hours"),
            ("wait_timeout_seconds", -1, "wait_timeout_seconds must not be negative"),
            ("job_id", "bad id!", "job_id must be 1 to 60"),
            ("inputs", {}, "inputs is empty"),
            (
                "inputs",
                {"a b.txt": "1B2M2Y8AsgTpgAmY7PhCfg==", "a-b.txt": "1B2M2Y8AsgTpgAmY7PhCfg=="},
                "both map",
            ),
        ],
    )
    def test_bad_field_is_named(self, emulators, env, field, value, message):
        upload_samples(emulators, emulators.spec())
        result = _BatchJobProvider().check({}, batch_job_props(emulators, **{field: value}))
        assert [(f.property, f.reason) for f in result.failures if message in f.reason] == [
            (field, next(f.reason for f in result.failures if message in f.reason))
        ]

    def test_every_bad_field_at_once(self, emulators, env):
        upload_samples(emulators, emulators.spec())
        result = _BatchJobProvider().check(
            {}, batch_job_props(emulators, numwords=0, job_id="bad id!", inputs={})
        )
        assert sorted(f.property for f in result.failures) == ["inputs", "job_id", "numwords"]

    def test_missing_field(self, emulators, env):
        upload_samples(emulators, emulators.spec())
        props = batch_job_props(emulators)
        del props["pool_id"]
        (failure,) = _BatchJobProvider().check({}, props).failures
        assert "pool_id" in failure.reason


class TestDiff:
    def test_inputs_update_in_place(self, emulators, env):
        upload_samples(emulators, emulators.spec())
        olds = batch_job_props(emulators)
        news = dict(olds, inputs={**olds["inputs"], "new.txt": "AAAAAAAAAAAAAAAAAAAAAA=="})
        diff = _BatchJobProvider().diff("id", olds, news)
        assert diff.changes is True
        assert diff.replaces == []

    @pytest.mark.parametrize(("field", "value"), [("numwords", 7), ("pool_id", "other"), ("job_id", "other")])
    def test_pool_numwords_job_id_replace(self, emulators, env, field, value):
        upload_samples(emulators, emulators.spec())
        olds = batch_job_props(emulators)
        diff = _BatchJobProvider().diff("id", olds, dict(olds, **{field: value}))
        assert diff.replaces == [field]
        assert diff.delete_before_replace is True

    def test_no_change(self, emulators, env):
        upload_samples(emulators, emulators.spec())
        olds = batch_job_props(emulators)
        assert _BatchJobProvider().diff("id", olds, dict(olds)).changes is False


def test_create_update_delete(emulators, env, pool, tmp_path, capsys):
    provider = _BatchJobProvider()
    spec = emulators.spec()
    upload_samples(emulators, spec)
    props = batch_job_props(emulators)
    created = provider.create(props)
    outs = outs_of(created)
    assert created.id == spec.job_set
    assert outs["state"] == "succeeded"
    assert outs["job_ids"] == [spec.job_set]
    assert outs["top_words"] == [list(item) for item in ranked(all_words(DATA), 5)]
    assert set(outs["tasks"]) == set(props["inputs"])
    assert all(task["exit_code"] == 0 and task["output_url"] for task in outs["tasks"].values())
    assert {task["state"] for task in outs["tasks"].values()} == {"completed"}
    assert_no_secret(str(outs), env)
    # Progress for Pulumi's verbose log: the provider host's stderr.
    # The provider packs small inputs: the four samples are one task.
    assert len({task["task_id"] for task in outs["tasks"].values()}) == 1
    # One map task, then the reduce and the summary.
    said = capsys.readouterr().err
    assert f"batchwords: job set {spec.job_set}: 3/3 tasks done, 0 failed (map 1/1, reduce 2/2)" in said

    # One more file: exactly one new task, in a follow-up job; outputs cover all inputs.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extra.txt").write_text("zebra " * 100, encoding="utf-8")
    emulators.storage.upload_folder(extra, spec.input_container)
    blob = next(b for b in emulators.storage.list_blobs(spec.input_container) if b.name == "extra.txt")
    news = dict(props, inputs={**props["inputs"], "extra.txt": blob.md5})
    updated = outs_of(provider.update(created.id, outs, news))
    assert updated["job_ids"] == [spec.job_set, f"{spec.job_set}-1"]
    follow_up = emulators.batch.tasks(f"{spec.job_set}-1")
    # Only the new input is counted; the reduce gathers it with the first job's results.
    assert [task.display_name for task in follow_up if not task.id.startswith("_")] == ["extra.txt"]
    assert len(emulators.batch.tasks(spec.job_set)) == 3  # untouched: one map task, its reduce, its summary
    everything = all_words(DATA) + all_words(extra)
    assert updated["top_words"] == [list(item) for item in ranked(everything, 5)]
    assert updated["top_words"][0] == ["zebra", 100]
    assert set(updated["tasks"]) == set(news["inputs"])
    assert_no_secret(str(updated), env)

    provider.delete(created.id, updated)
    remaining = [job.id for job in emulators.batch.list_jobs()]
    assert spec.job_set not in remaining
    assert f"{spec.job_set}-1" not in remaining
    assert emulators.storage.list_blobs(spec.output_container, f"{spec.job_set}/") == []
    provider.delete(created.id, updated)  # deleting again is success


def test_wait_is_bounded_and_read_completes_later(emulators, env):
    spec = emulators.spec()
    upload_samples(emulators, spec)
    # No pool: nothing runs, so a bounded wait must return what it knows.
    created = _BatchJobProvider().create(batch_job_props(emulators, wait_timeout_seconds=1))
    outs = outs_of(created)
    assert outs["state"] == "running"
    assert outs["top_words"] == []
    # The four small samples packed into one map task, the reduce and the summary.
    assert outs["task_counts"]["active"] == 3
    assert outs_of(_BatchJobProvider().read(str(created.id), outs))["state"] == "running"


def test_serialized_provider_runs_in_a_fresh_interpreter(emulators, env, pool, tmp_path):
    spec = emulators.spec()
    upload_samples(emulators, spec)
    serialized = serialize_provider(_BatchJobProvider())
    assert_no_secret(serialized, env)
    script = textwrap.dedent(
        """
        import base64, json, sys
        import dill
        provider = dill.loads(base64.b64decode(sys.argv[1]))
        props = json.loads(sys.argv[2])
        result = provider.create(props)
        print(json.dumps({"id": result.id, "state": result.outs["state"], "top": result.outs["top_words"]}))
        """
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", script, serialized, json.dumps(batch_job_props(emulators))],
        cwd=outside,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "id": spec.job_set,
        "state": "succeeded",
        "top": [list(i) for i in ranked(all_words(DATA), 5)],
    }


def test_provider_and_offline_run_give_identical_outputs(emulators, env, azurite, pool, tmp_path):
    """The offline run and `pulumi up`'s create verb share one JobSet: same inputs, same outputs."""
    given = offline.Services(emulators.localbatch.endpoint, azurite.account_url, emulators.credentials)
    options = offline.RunOptions(numwords=5, output_dir=tmp_path / "out", nodes=1, given=given, say=print)
    run = offline.run_offline(DATA, options)
    # The run deleted its job and containers; the provider submits the same job set again.
    spec = emulators.spec(
        job_set=offline.JOB_ID,
        input_container=offline.CONTAINERS["input"],
        output_container=offline.CONTAINERS["output"],
    )
    upload_samples(emulators, spec)
    # The offline pool's slots (1 node x 2 slots), so both pack the inputs into the same tasks.
    props = batch_job_props(emulators, spec=spec, pool_slots=2)
    provided = outs_of(_BatchJobProvider().create(props))
    expected = run.outputs.to_dict()
    assert {name: provided[name] for name in expected} == expected
    assert expected["state"] == "succeeded"
    assert len(expected["tasks"]) == len(list(DATA.glob("*.txt")))
