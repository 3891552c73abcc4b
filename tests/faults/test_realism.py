"""The main job under localbatch's realism profile: counts that lag, slow allocation and
StartTasks, transient 500 and 503 answers (some after the change was made), preempted nodes,
deletes that take time. The results must still be exact."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from batchwords import offline
from localbatch import Realism
from tests.support.words import DATA, ranked, tutorial_counts

INPUTS = 24


def corpus(folder: Path) -> dict[str, Counter[str]]:
    """The samples plus generated texts (enough tasks for nodes to be preempted under them),
    with each one's counts by the tutorial's rule."""
    folder.mkdir()
    rng = random.Random(12)  # noqa: S311 (repeatable texts, not secrets)
    vocabulary = [f"word{i}" for i in range(300)] + ["the", "and", "of", "Batch,", "(node)"]
    texts = {path.name: path.read_text(encoding="utf-8-sig") for path in DATA.glob("*.txt")}
    for index in range(INPUTS - len(texts)):
        texts[f"generated_{index:02d}.txt"] = " ".join(rng.choices(vocabulary, k=3000))
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return {name: tutorial_counts(text) for name, text in texts.items()}


#: Everything on; dedicated nodes preempted often enough to hit running tasks; 10% errors.
PROFILE = Realism.azure(preempt_dedicated=True, preemption_rate=12.0, error_rate=0.1, seed=7)


@pytest.mark.realism(**PROFILE.as_kwargs())
def test_main_job_gives_exact_results_under_the_realism_profile(emulators, azurite, tmp_path):
    per_input = corpus(tmp_path / "inputs")
    expected = sum(per_input.values(), Counter[str]())
    given = offline.Services(emulators.localbatch.endpoint, azurite.account_url, emulators.credentials)

    options = offline.RunOptions(
        numwords=25, output_dir=tmp_path / "out", nodes=2, slots=2, given=given, say=print
    )
    run = offline.run_offline(tmp_path / "inputs", options)

    outputs = run.outputs
    assert outputs.state == "succeeded"
    assert sorted(outputs.tasks) == sorted(per_input)
    for name, task in outputs.tasks.items():
        assert (task.state, task.exit_code, task.failure) == ("completed", 0, None), name
        assert task.result is not None, name
        assert task.result.total_words == sum(per_input[name].values()), name
        assert list(task.result.top) == ranked(per_input[name], 25), name
    assert outputs.top_words == ranked(expected, 25)
    assert outputs.total_words == sum(expected.values())
    assert outputs.distinct_words == len(expected)
    # The profile did act on this run, or the test would prove nothing.
    events = emulators.localbatch.events
    print("realism events:", events)
    assert events.get("transient error", 0) + events.get("lost answer", 0) > 0
    assert events.get("preemption", 0) > 0


def test_each_part_of_the_profile_turns_on_alone():
    assert Realism() == Realism(task_counts_lag=0, allocation_delay=0, error_rate=0, preemption_rate=0)
    assert Realism(error_rate=0.1).preemption_rate == 0
    azure = Realism.azure()
    assert all(value for value in azure.as_kwargs().values() if not isinstance(value, bool | None))
    assert Realism.azure(error_rate=0).error_rate == 0


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ({"error_rate": 1.0}, "error_rate"),
        ({"task_counts_lag": -1}, "task_counts_lag"),
        ({"preemption_rate": float("nan")}, "preemption_rate"),
    ],
)
def test_impossible_parts_are_refused_by_name(parts, named):
    with pytest.raises(ValueError, match=named):
        Realism(**parts)


def test_a_seed_repeats_the_random_choices():
    first, second = Realism(seed=3), Realism(seed=3)
    assert [first.chance(0.5) for _ in range(50)] == [second.chance(0.5) for _ in range(50)]
