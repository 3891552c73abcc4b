"""Tasks sized as Batch recommends: small inputs packed into one task, each input still its own."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter

import pytest

from batchwords import TASK_BYTES, BlobInfo, ConfigError, parse_size
from batchwords._packing import MAX_INPUTS_PER_TASK, pack_id, plan_tasks
from batchwords._tasks import MAX_ID, input_id_for, task_prefix
from tests.support.emulators import upload_samples
from tests.support.words import all_words, ranked, tutorial_counts

KB = 1000


def blob(name: str, size: int, content: str | None = None) -> BlobInfo:
    digest = hashlib.md5((content or name).encode(), usedforsecurity=False).digest()
    return BlobInfo(name, size, base64.b64encode(digest).decode(), f"http://x/{name}")


def names(plans) -> list[list[str]]:
    return [[member.name for _, member in plan.inputs] for plan in plans]


class TestPlan:
    def test_small_inputs_share_a_task_and_large_ones_run_alone(self):
        inputs = [
            blob("b.txt", 40 * KB),
            blob("a.txt", 40 * KB),
            blob("big.txt", 500 * KB),
            blob("c.txt", 30 * KB),
        ]
        plans = plan_tasks(inputs, task_bytes=100 * KB)
        assert names(plans) == [["big.txt"], ["a.txt", "b.txt"], ["c.txt"]]
        # An input alone keeps its own id as the task id; a pack gets one from all of its ids.
        assert plans[0].task_id == input_id_for("big.txt", inputs[2].md5)
        assert plans[1].task_id == pack_id([input_id for input_id, _ in plans[1].inputs])
        assert plans[1].task_id.startswith("a-txt-and-1-")
        assert plans[1].display_name == "a.txt and 1 more"
        assert plans[1].size == 80 * KB

    def test_small_work_is_spread_over_the_pool_slots(self):
        inputs = [blob(f"t{index:03d}.txt", 40 * KB) for index in range(300)]
        plans = plan_tasks(inputs, task_bytes=256 * 1024 * KB, slots=4)
        assert [len(plan.inputs) for plan in plans] == [75, 75, 75, 75]
        assert sorted(name for group in names(plans) for name in group) == [b.name for b in inputs]

    def test_at_most_a_hundred_inputs_per_task(self):
        inputs = [blob(f"t{index:04d}.txt", 10) for index in range(3000)]
        plans = plan_tasks(inputs)
        assert len(plans) == 3000 // MAX_INPUTS_PER_TASK
        assert {len(plan.inputs) for plan in plans} == {MAX_INPUTS_PER_TASK}

    def test_long_names_keep_the_command_line_short(self):
        inputs = [blob("x" * 900 + f"{index:03d}.txt", 10) for index in range(60)]
        plans = plan_tasks(inputs)
        assert len(plans) > 1
        assert all(len(plan.task_id) <= MAX_ID for plan in plans)

    def test_ids_are_deterministic_and_change_with_any_member(self):
        inputs = [blob(f"t{index}.txt", 10) for index in range(5)]
        first = plan_tasks(inputs)
        assert plan_tasks(list(reversed(inputs))) == first  # a retried submission converges
        changed = [*inputs[:4], blob("t4.txt", 10, content="changed")]
        assert plan_tasks(changed)[0].task_id != first[0].task_id

    def test_bad_inputs_are_still_refused_by_name(self):
        with pytest.raises(ConfigError, match=r"'a\.txt' has no MD5"):
            plan_tasks([BlobInfo("a.txt", 1, "", "u")])

    def test_ids_that_differ_only_in_case_are_refused(self):
        # Batch task ids are case-insensitive: the two would be one task.
        inputs = [blob("A.txt", 1, content="same"), blob("a.txt", 1, content="same")]
        with pytest.raises(ConfigError, match="both map to task id"):
            plan_tasks(inputs)

    @pytest.mark.parametrize(
        ("text", "size"),
        [("100", 100), ("64MB", 64_000_000), ("256MiB", 256 * 1024**2), ("1 GiB", 1024**3), ("2kb", 2000)],
    )
    def test_sizes(self, text, size):
        assert parse_size(text) == size

    @pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "0", "-5MB", "1.5GB"])
    def test_bad_sizes_say_what_a_size_is(self, text):
        with pytest.raises(ValueError, match="size"):
            parse_size(text)


@pytest.mark.azurite
class TestPackedJob:
    def test_each_input_keeps_its_results_and_its_failure(self, emulators, pool, tmp_path):
        folder = tmp_path / "in"
        folder.mkdir()
        texts = {f"part{index}.txt": f"word{index} shared shared, end{index}.\n" for index in range(6)}
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        (folder / "sub").mkdir()
        (folder / "sub" / "part0.txt").write_text("same base name, other folder\n", encoding="utf-8")
        (folder / "broken.txt").write_bytes(b"words\x00binary")
        spec = emulators.spec(job_set="packed", numwords=3, task_bytes=TASK_BYTES)
        inputs = upload_samples(emulators, spec, folder)
        job_set = emulators.job_set(spec)
        submitted = job_set.submit(inputs)
        assert len(submitted.added) == 1  # eight small inputs, one task
        _, done = job_set.wait(timeout=120, poll_interval=0.2)
        assert done
        results = job_set.results()
        by_input = {task.input_name: task for task in results.tasks}
        assert set(by_input) == set(inputs)
        assert {task.task_id for task in results.tasks} == set(submitted.added)
        broken = by_input.pop("broken.txt")
        assert broken.failure.startswith("InputError: ")
        assert "looks like a binary file (NUL byte at offset 5)" in broken.failure
        assert broken.exit_code == 3
        assert broken.result is None
        for name, task in by_input.items():
            assert task.failure is None, name
            assert task.exit_code == 0  # counted, though its task exited 3 for broken.txt
            text = (folder / name).read_text(encoding="utf-8")
            assert task.result.total_words == sum(tutorial_counts(text).values())
            assert task.input_id == input_id_for(name, inputs[name])
            assert task.output_url.endswith(f"{task_prefix(spec.job_set, task.task_id)}results.json")
        expected = sum(
            (tutorial_counts(path.read_text(encoding="utf-8")) for path in folder.rglob("part*.txt")),
            start=Counter(),
        )
        assert results.top_words == ranked(expected, 3)
        assert results.total_words == sum(expected.values())
        # One results table and P partitions for the task, whatever it packs: no blob per input.
        written = {
            b.name for b in emulators.storage.list_blobs(spec.output_container, f"{spec.job_set}/tasks/")
        }
        (task_id,) = submitted.added
        assert written == {
            f"{task_prefix(spec.job_set, task_id)}{name}"
            for name in ("results.json", "part-00000-of-00001.parquet")
        }

    def test_a_changed_input_reruns_alone(self, emulators, pool, tmp_path):
        folder = tmp_path / "in"
        folder.mkdir()
        for index in range(5):
            (folder / f"f{index}.txt").write_text(f"alpha beta {index}\n", encoding="utf-8")
        spec = emulators.spec(job_set="rerun", task_bytes=TASK_BYTES)
        inputs = upload_samples(emulators, spec, folder)
        job_set = emulators.job_set(spec)
        job_set.submit(inputs)
        assert job_set.wait(timeout=120, poll_interval=0.2)[1]
        (folder / "f2.txt").write_text("gamma gamma\n", encoding="utf-8")
        changed = upload_samples(emulators, spec, folder)
        follow_up = job_set.submit(changed, known=inputs)
        assert follow_up.added == [input_id_for("f2.txt", changed["f2.txt"])]
        outputs = job_set.outputs(changed, wait_timeout=120, poll_interval=0.2)
        assert outputs.state == "succeeded"
        assert set(outputs.tasks) == set(changed)
        assert outputs.tasks["f2.txt"].task_id == follow_up.added[0]
        assert outputs.tasks["f2.txt"].result.top == (("gamma", 2),)
        expected = all_words(folder)
        assert outputs.top_words == ranked(expected, spec.numwords)
